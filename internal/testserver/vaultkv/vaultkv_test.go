package vaultkv_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/testserver"
	"github.com/envdrift/envdrift/internal/testserver/vaultkv"
)

func start(t *testing.T, tlsOn bool) *vaultkv.Server {
	t.Helper()
	var s *vaultkv.Server
	var err error
	if tlsOn {
		s, err = vaultkv.StartTLS()
	} else {
		s, err = vaultkv.Start()
	}
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// client builds the official client from the server's Env, as a user's
// environment would configure it.
func client(t *testing.T, s *vaultkv.Server) *vault.Client {
	t.Helper()
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg := vault.DefaultConfig()
	require.NoError(t, cfg.Error)
	cfg.MaxRetries = 0
	c, err := vault.NewClient(cfg)
	require.NoError(t, err)
	return c
}

func respErr(t *testing.T, err error) *vault.ResponseError {
	t.Helper()
	var re *vault.ResponseError
	require.True(t, errors.As(err, &re), "want a ResponseError, got %v", err)
	return re
}

func TestKVv2RoundTripThroughTheOfficialClient(t *testing.T) {
	s := start(t, false)
	c := client(t, s)
	ctx := context.Background()
	kv := c.KVv2("secret")

	w, err := kv.Put(ctx, "myapp/prod", map[string]any{"value": "k1"})
	require.NoError(t, err)
	assert.Equal(t, 1, w.VersionMetadata.Version)
	_, err = kv.Put(ctx, "myapp/prod", map[string]any{"value": "k2", "n": 3})
	require.NoError(t, err)

	got, err := kv.Get(ctx, "myapp/prod")
	require.NoError(t, err)
	assert.Equal(t, "k2", got.Data["value"])
	assert.Equal(t, 2, got.VersionMetadata.Version)

	_, err = kv.Get(ctx, "nope")
	assert.ErrorIs(t, err, vault.ErrSecretNotFound)

	// A KV v1 style read of a v2 mount: 404 with Vault's warning.
	sec, err := c.Logical().Read("secret/myapp/prod")
	require.NoError(t, err)
	require.NotNil(t, sec)
	assert.Contains(t, strings.Join(sec.Warnings, " "), "versioned K/V")

	// Soft delete: 404 carrying the metadata, as Vault sends it.
	require.NoError(t, kv.Delete(ctx, "myapp/prod"))
	got, err = kv.Get(ctx, "myapp/prod")
	require.NoError(t, err, "the client parses a deleted version's 404 body")
	assert.Nil(t, got.Data)
	assert.False(t, got.VersionMetadata.DeletionTime.IsZero())

	require.NoError(t, kv.Destroy(ctx, "myapp/prod", []int{2}))
	got, err = kv.Get(ctx, "myapp/prod")
	require.NoError(t, err)
	assert.True(t, got.VersionMetadata.Destroyed)

	assert.Equal(t, 1, s.Ops()[vaultkv.OpKVv2Delete])
	assert.GreaterOrEqual(t, s.Ops()[vaultkv.OpKVv2Read], 4)
}

func TestKVv1AndMountDetection(t *testing.T) {
	s := start(t, false)
	s.Mount("", "kv", 1)
	s.Mount("", "legacy", 0)
	c := client(t, s)
	ctx := context.Background()

	require.NoError(t, c.KVv1("kv").Put(ctx, "a/b", map[string]any{"value": "v1"}))
	got, err := c.KVv1("kv").Get(ctx, "a/b")
	require.NoError(t, err)
	assert.Equal(t, "v1", got.Data["value"])
	require.NoError(t, c.KVv1("kv").Delete(ctx, "a/b"))
	_, err = c.KVv1("kv").Get(ctx, "a/b")
	assert.ErrorIs(t, err, vault.ErrSecretNotFound)

	for mount, want := range map[string]any{"secret": "2", "kv": "1", "legacy": nil} {
		sec, err := c.Logical().Read("sys/internal/ui/mounts/" + mount + "/some/path")
		require.NoError(t, err, mount)
		assert.Equal(t, "kv", sec.Data["type"])
		assert.Equal(t, mount+"/", sec.Data["path"])
		if want == nil {
			assert.Nil(t, sec.Data["options"], mount)
		} else {
			assert.Equal(t, want, sec.Data["options"].(map[string]any)["version"], mount)
		}
	}
	// No mount: 403, not 404, as Vault does.
	_, err = c.Logical().Read("sys/internal/ui/mounts/nowhere/x")
	assert.Equal(t, 403, respErr(t, err).StatusCode)
	// A read outside any mount: 404 "no handler for route".
	_, err = c.Logical().ReadRaw("nowhere/x")
	re := respErr(t, err)
	assert.Equal(t, 404, re.StatusCode)
	assert.Contains(t, re.Errors[0], "no handler for route")
}

func TestTokens(t *testing.T) {
	s := start(t, false)
	c := client(t, s)
	_, err := s.PutValue("", "secret", "x", "v")
	require.NoError(t, err)

	sec, err := c.Auth().Token().LookupSelf()
	require.NoError(t, err)
	assert.Equal(t, s.Token(), sec.Data["id"], "lookup-self echoes the token, as Vault does")

	c.ClearToken()
	_, err = c.KVv2("secret").Get(context.Background(), "x")
	re := respErr(t, err)
	assert.Equal(t, 403, re.StatusCode)
	assert.Equal(t, []string{"permission denied"}, re.Errors)

	c.SetToken("hvs.not-a-token")
	_, err = c.KVv2("secret").Get(context.Background(), "x")
	re = respErr(t, err)
	assert.Equal(t, 403, re.StatusCode)
	assert.Contains(t, re.Errors[0], "invalid token")

	s.SetInvalidTokenDetail(false)
	_, err = c.Auth().Token().LookupSelf()
	re = respErr(t, err)
	assert.Equal(t, []string{"permission denied"}, re.Errors, "older Vault: a bare permission denied")

	s.AddToken("hvs.second")
	c.SetToken("hvs.second")
	_, err = c.KVv2("secret").Get(context.Background(), "x")
	require.NoError(t, err)
	s.RevokeToken("hvs.second")
	_, err = c.KVv2("secret").Get(context.Background(), "x")
	assert.Equal(t, 403, respErr(t, err).StatusCode)

	// Policy denial: 403 with a valid token.
	c.SetToken(s.Token())
	s.Deny("", "secret", "x")
	_, err = c.KVv2("secret").Get(context.Background(), "x")
	re = respErr(t, err)
	assert.Equal(t, 403, re.StatusCode)
	assert.Contains(t, re.Errors[0], "permission denied")
	assert.NotContains(t, re.Errors[0], "invalid token")
}

func TestNamespacesAreDistinct(t *testing.T) {
	s := start(t, false)
	s.Mount("team-a", "secret", 2)
	_, err := s.PutValue("", "secret", "app", "root-value")
	require.NoError(t, err)
	_, err = s.PutValue("team-a", "secret", "app", "ns-value")
	require.NoError(t, err)
	c := client(t, s)

	got, err := c.KVv2("secret").Get(context.Background(), "app")
	require.NoError(t, err)
	assert.Equal(t, "root-value", got.Data["value"])

	got, err = c.WithNamespace("team-a").KVv2("secret").Get(context.Background(), "app")
	require.NoError(t, err)
	assert.Equal(t, "ns-value", got.Data["value"])

	s.AddNamespace("team-b")
	_, err = c.WithNamespace("team-b").Logical().Read("sys/internal/ui/mounts/secret")
	assert.Equal(t, 403, respErr(t, err).StatusCode, "team-b has no mounts")

	resp, err := c.WithNamespace("team-c").Logical().ReadRaw("sys/internal/ui/mounts/secret/app")
	if resp != nil {
		resp.Body.Close()
	}
	re := respErr(t, err)
	assert.Equal(t, 404, re.StatusCode)
	assert.Equal(t, []string{"namespace not found"}, re.Errors, "a namespace that does not exist")
}

func TestFaults(t *testing.T) {
	s := start(t, false)
	c := client(t, s)
	_, err := s.PutValue("", "secret", "x", "v")
	require.NoError(t, err)
	kv := c.KVv2("secret")
	ctx := context.Background()

	s.Throttle(1)
	s.SetRetryAfter(7 * time.Second)
	resp, err := c.Logical().ReadRaw("secret/data/x")
	re := respErr(t, err)
	assert.Equal(t, 429, re.StatusCode)
	assert.Contains(t, re.Errors[0], "rate limit quota exceeded")
	assert.Equal(t, "7", resp.Header.Get("Retry-After"))

	s.FailWith("Vault is sealed")
	s.SetErrorStatus(503)
	_, err = kv.Get(ctx, "x")
	re = respErr(t, err)
	assert.Equal(t, 503, re.StatusCode)
	assert.Equal(t, []string{"Vault is sealed"}, re.Errors)
	s.Reset()

	s.Inject(testserver.FaultMalformed)
	r, err := http.Get(s.URL() + "/v1/secret/data/x")
	require.NoError(t, err)
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	assert.Contains(t, string(body), "<html>")
	s.Reset()

	s.Inject(testserver.FaultReset)
	_, err = kv.Get(ctx, "x")
	require.Error(t, err)
	s.Reset()

	s.Inject(testserver.FaultAuth)
	_, err = kv.Get(ctx, "x")
	assert.Contains(t, respErr(t, err).Errors[0], "invalid token")
	s.Reset()

	s.Inject(testserver.FaultStall)
	sctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = kv.Get(sctx, "x")
	require.Error(t, err)
	assert.Less(t, time.Since(start), 2*time.Second)
	s.Reset()

	_, err = kv.Get(ctx, "x")
	require.NoError(t, err)
}

func TestTLSAndEnv(t *testing.T) {
	s := start(t, true)
	assert.True(t, strings.HasPrefix(s.URL(), "https://127.0.0.1:"))
	env := strings.Join(s.Env(), "\n")
	assert.Contains(t, env, "VAULT_CACERT="+s.CAFile())
	assert.Contains(t, env, "HOME="+s.Home())
	c := client(t, s) // VAULT_CACERT makes the official client trust the server
	_, err := s.PutValue("", "secret", "x", "v")
	require.NoError(t, err)
	got, err := c.KVv2("secret").Get(context.Background(), "x")
	require.NoError(t, err)
	assert.Equal(t, "v", got.Data["value"])
}

func TestCloseReleasesStalledRequestsAndRemovesHome(t *testing.T) {
	s, err := vaultkv.Start()
	require.NoError(t, err)
	s.Inject(testserver.FaultStall)
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, s.URL()+"/v1/secret/data/x", nil)
		resp, err := http.DefaultClient.Do(req)
		if resp != nil {
			resp.Body.Close()
		}
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	home := s.Home()
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not release a stalled request")
	}
	<-done
	assert.NoDirExists(t, home)
}

func TestQuota_OverQuotaIsVaults429WithRateLimitHeaders(t *testing.T) {
	s := start(t, false)
	c := client(t, s)
	_, err := s.PutValue("", "secret", "app", "v")
	require.NoError(t, err)
	now := time.Unix(1_700_000_000, 0)
	s.SetClock(func() time.Time { return now })
	s.SetQuota(testserver.Quota{Rate: 0.25, Burst: 2}) // a token every 4 s

	resp, err := c.Logical().ReadRawWithContext(context.Background(), "secret/data/app")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "2", resp.Header.Get("X-Ratelimit-Limit"))
	assert.Equal(t, "1", resp.Header.Get("X-Ratelimit-Remaining"))
	assert.Equal(t, "4", resp.Header.Get("X-Ratelimit-Reset"))
	assert.Empty(t, resp.Header.Get("Retry-After"), "only a 429 carries Retry-After")

	_, err = c.KVv2("secret").Get(context.Background(), "app")
	require.NoError(t, err)
	resp, err = c.Logical().ReadRawWithContext(context.Background(), "secret/data/app")
	re := respErr(t, err)
	assert.Equal(t, http.StatusTooManyRequests, re.StatusCode)
	assert.Equal(t, []string{`request path "secret/data/app": rate limit quota exceeded`}, re.Errors)
	assert.Equal(t, "4", resp.Header.Get("Retry-After"))
	assert.Equal(t, "0", resp.Header.Get("X-Ratelimit-Remaining"))

	raw, err := http.Get(s.URL() + "/v1/secret/data/app")
	require.NoError(t, err)
	body, _ := io.ReadAll(raw.Body)
	raw.Body.Close()
	assert.JSONEq(t, `{"errors":["request path \"secret/data/app\": rate limit quota exceeded"]}`, string(body),
		"the quota answers before the token is checked")

	// A Vault without enable_rate_limit_response_headers sends no headers.
	s.SetRateLimitHeaders(false)
	resp, err = c.Logical().ReadRawWithContext(context.Background(), "secret/data/app")
	assert.Equal(t, http.StatusTooManyRequests, respErr(t, err).StatusCode)
	assert.Empty(t, resp.Header.Get("Retry-After"))
	assert.Empty(t, resp.Header.Get("X-Ratelimit-Limit"))
}

func TestRefuseAfter_TheClientFindsNothingListening(t *testing.T) {
	s := start(t, false)
	c := client(t, s)
	_, err := s.PutValue("", "secret", "app", "v")
	require.NoError(t, err)
	s.RefuseAfter(1)
	_, err = c.KVv2("secret").Get(context.Background(), "app")
	require.NoError(t, err, "the last request is answered")
	_, err = c.KVv2("secret").Get(context.Background(), "app")
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
}
