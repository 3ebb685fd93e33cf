package hashicorp

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/provider"
)

var testRef = provider.Ref{Vault: "secret", Name: "myapp/prod"}

func newTestProvider(t *testing.T, token string) *Provider {
	t.Helper()
	p, err := New(Settings{}, provider.Options{})
	require.NoError(t, err)
	p.token, p.tokenSrc = token, srcEnv
	return p
}

func TestVaultText(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{}, ""},
		{[]string{"permission denied"}, "permission denied"},
		{[]string{"1 error occurred:\n\t* permission denied\n\n"}, "permission denied"},
		{[]string{"2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"}, "permission denied; invalid token"},
		{[]string{"Vault is sealed", "second"}, "Vault is sealed; second"},
	} {
		assert.Equal(t, c.want, vaultText(c.in), "%q", c.in)
	}
}

func TestStatusClassification(t *testing.T) {
	p := newTestProvider(t, "hvs.x")
	for _, c := range []struct {
		status int
		errs   []string
		kind   string
		hint   string
	}{
		{429, []string{`request path "secret/data/x": rate limit quota exceeded`}, "throttled", "--concurrency"},
		{401, nil, "unauthenticated", "set VAULT_TOKEN or run `vault login`"},
		{500, []string{"internal error"}, "unavailable", ""},
		{502, []string{"upstream"}, "unavailable", ""},
		{503, []string{"Vault is sealed"}, "unavailable", "vault operator unseal"},
		{503, []string{"Vault is in standby mode"}, "unavailable", "standby"},
		{503, []string{"node not active but active cluster node not found"}, "unavailable", ""},
		{307, nil, "unavailable", "active Vault node"},
		{400, []string{"invalid request"}, "invalid", ""},
		{405, []string{"unsupported operation"}, "invalid", "KV secrets engine"},
		{412, []string{"required index state not present"}, "unavailable", ""},
	} {
		t.Run(fmt.Sprint(c.status, c.errs), func(t *testing.T) {
			err := p.statusError(testRef, &reply{path: "secret/data/myapp/prod", status: c.status, errs: c.errs})
			assert.Equal(t, c.kind, provider.KindOf(err))
			assert.Equal(t, Name, err.Provider)
			assert.Equal(t, testRef, err.Ref)
			assert.Contains(t, err.Message, fmt.Sprintf("secret/data/myapp/prod: %d %s", c.status, http.StatusText(c.status)))
			if txt := vaultText(c.errs); txt != "" {
				assert.Contains(t, err.Message, txt, "Vault's own message is kept")
			}
			if c.hint == "" {
				return
			}
			assert.Contains(t, err.Hint, c.hint)
			var se *StatusError
			assert.True(t, errors.As(err, &se))
			assert.Equal(t, c.status, se.Code)
		})
	}
}

// RawErrorBodiesAreNeverEchoed: a non-JSON error page (a proxy's) may
// reflect request headers, the token among them.
func TestRawErrorBodiesAreNeverEchoed(t *testing.T) {
	p := newTestProvider(t, "hvs.x")
	err := p.statusError(testRef, &reply{path: "secret/data/a", status: 502, raw: true, contentType: "text/html"})
	assert.Equal(t, "unavailable", provider.KindOf(err))
	assert.Contains(t, err.Message, "not Vault's JSON")
	assert.Contains(t, err.Message, "text/html")
}

func TestDeniedWithInvalidTokenTextIsUnauthenticatedWithoutALookup(t *testing.T) {
	p := newTestProvider(t, "hvs.expired-token-value")
	err := p.denied(context.Background(), testRef, &reply{path: "secret/data/myapp/prod", status: 403,
		errs: []string{"2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"}}, "secret", "myapp/prod", 2)
	assert.Equal(t, "unauthenticated", provider.KindOf(err))
	assert.Contains(t, err.Message, "rejected the token from VAULT_TOKEN")
	assert.Contains(t, err.Message, "permission denied; invalid token")
	assert.Contains(t, err.Hint, hintLogin)
	assert.NotContains(t, err.Error(), "hvs.expired-token-value")
	cached := p.cachedAuthErr()
	require.NotNil(t, cached, "the verdict is cached for later fetches")
	assert.Equal(t, "unauthenticated", provider.KindOf(cached))
}

func TestTransportClassification(t *testing.T) {
	p := newTestProvider(t, "hvs.x")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	e := p.transportError(cancelled, testRef, "secret/data/a", errors.New("whatever"))
	assert.Equal(t, "unavailable", provider.KindOf(e))
	assert.ErrorIs(t, e, context.Canceled)

	e = p.transportError(context.Background(), testRef, "secret/data/a", context.DeadlineExceeded)
	assert.ErrorIs(t, e, context.DeadlineExceeded)
	assert.Contains(t, e.Hint, "--timeout")

	e = p.transportError(context.Background(), testRef, "secret/data/a",
		&url.Error{Op: "Get", URL: "https://vault:8200/v1/secret/data/a", Err: x509.UnknownAuthorityError{}})
	assert.Equal(t, "unavailable", provider.KindOf(e))
	assert.Contains(t, e.Hint, "VAULT_CACERT")

	e = p.transportError(context.Background(), testRef, "secret/data/a",
		&url.Error{Op: "Get", URL: "http://127.0.0.1:1/v1/secret/data/a", Err: errors.New("dial tcp 127.0.0.1:1: connect: connection refused")})
	assert.Contains(t, e.Message, "cannot reach Vault")
	assert.Contains(t, e.Message, "connection refused")
	assert.Contains(t, e.Hint, "VAULT_ADDR")
}

func TestRedactScrubsTheToken(t *testing.T) {
	p := newTestProvider(t, "hvs.SECRETTOKEN")
	e := p.newErr(provider.ErrUnavailable, testRef, "server said hvs.SECRETTOKEN twice: hvs.SECRETTOKEN", nil, "try hvs.SECRETTOKEN")
	assert.NotContains(t, e.Error(), "hvs.SECRETTOKEN")
	assert.Contains(t, e.Message, "[redacted token]")
}

func TestExtractValue(t *testing.T) {
	raw := func(s string) map[string]json.RawMessage {
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(s), &m))
		return m
	}
	for _, c := range []struct{ in, want string }{
		{`{"value":"abc"}`, "abc"},
		{`{"value":"line1\nline2\n"}`, "line1\nline2\n"},
		{`{"value":12345678901234567890}`, "12345678901234567890"},
		{`{"value":true}`, "true"},
		{`{"value":{"b":1,"a":"x\u003cy"}}`, `{"a":"x<y","b":1}`},
		{`{"DOTENV_PRIVATE_KEY":"k"}`, "DOTENV_PRIVATE_KEY=k"},
		{`{"DOTENV_PRIVATE_KEY_PRODUCTION":"k","comment":"rotated"}`, "DOTENV_PRIVATE_KEY_PRODUCTION=k"},
		{`{"DOTENV_PRIVATE_KEY_PRODUCTION":7}`, `{"DOTENV_PRIVATE_KEY_PRODUCTION":7}`},
		{`{"DOTENV_PRIVATE_KEY_PRODUCTION":null}`, `{"DOTENV_PRIVATE_KEY_PRODUCTION":null}`},
		{`{"DOTENV_PRIVATE_KEY_A":"a","DOTENV_PRIVATE_KEY_B":"b"}`, `{"DOTENV_PRIVATE_KEY_A":"a","DOTENV_PRIVATE_KEY_B":"b"}`},
		{`{"key":"k"}`, `{"key":"k"}`},
	} {
		got, err := extractValue(raw(c.in))
		require.NoError(t, err, c.in)
		assert.Equal(t, c.want, string(got), c.in)
	}
	_, err := extractValue(nil)
	assert.Error(t, err)
	_, err = extractValue(raw(`{"value":null}`))
	assert.ErrorContains(t, err, "null")
}

func TestBackoffIsBoundedAndHonoursRetryAfter(t *testing.T) {
	for attempt := 0; attempt < 10; attempt++ {
		d := backoff(minRetryWait, maxRetryWait, attempt, nil)
		assert.GreaterOrEqual(t, d, time.Duration(float64(minRetryWait)*0.8))
		assert.LessOrEqual(t, d, maxRetryWait)
	}
	assert.Less(t, backoff(minRetryWait, maxRetryWait, 0, nil), backoff(minRetryWait, maxRetryWait, 3, nil)+time.Nanosecond)

	resp := &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"1"}}}
	assert.Equal(t, time.Second, backoff(minRetryWait, maxRetryWait, 0, resp))
	resp.Header.Set("Retry-After", "86400")
	assert.Equal(t, maxRetryWait, backoff(minRetryWait, maxRetryWait, 0, resp))
	// Vault rounds the wait down to whole seconds: "0" (like a date in the
	// past) means under a second, and the exponential backoff applies, so
	// that a throttled client does not send its retries back to back.
	for _, v := range []string{"0", time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)} {
		resp.Header.Set("Retry-After", v)
		assert.GreaterOrEqual(t, backoff(minRetryWait, maxRetryWait, 0, resp), time.Duration(float64(minRetryWait)*0.8), v)
	}
	resp.Header.Set("Retry-After", "soon")
	assert.LessOrEqual(t, backoff(minRetryWait, maxRetryWait, 0, resp), maxRetryWait)
}

func TestCheckPath(t *testing.T) {
	for _, ok := range []string{"a", "myapp/prod", "apps/team-a/x.y", "with space", "ünï"} {
		assert.NoError(t, checkPath("secret name", ok), ok)
	}
	for _, bad := range []string{"", "a//b", "../x", "a/..", "./a", "a/./b", "a\x00b", "a\tb"} {
		assert.Error(t, checkPath("secret name", bad), "%q", bad)
	}
}

func TestResolveTokenPrecedence(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("USERPROFILE", home)
	file := filepath.Join(home, ".vault-token")

	t.Setenv("VAULT_TOKEN", "")
	tok, src, err := resolveToken("")
	require.Nil(t, err)
	assert.Empty(t, tok)
	assert.Empty(t, src)

	require.NoError(t, os.WriteFile(file, []byte("  from-file\n"), 0o600))
	tok, src, err = resolveToken("")
	require.Nil(t, err)
	assert.Equal(t, "from-file", tok)
	assert.Equal(t, srcFile, src)

	t.Setenv("VAULT_TOKEN", "from-env")
	tok, src, _ = resolveToken("")
	assert.Equal(t, "from-env", tok)
	assert.Equal(t, srcEnv, src)

	tok, src, _ = resolveToken("from-flag")
	assert.Equal(t, "from-flag", tok)
	assert.Equal(t, srcFlag, src)

	_, _, err = resolveToken("bad\x01token")
	require.NotNil(t, err)
	assert.Equal(t, "unauthenticated", provider.KindOf(err))
	assert.NotContains(t, err.Error(), "bad\x01token")

	if os.Geteuid() != 0 {
		t.Setenv("VAULT_TOKEN", "")
		require.NoError(t, os.Chmod(file, 0))
		_, _, err = resolveToken("")
		require.NotNil(t, err)
		assert.Equal(t, "unauthenticated", provider.KindOf(err))
		assert.Contains(t, err.Message, "permission denied")
	}
}

func TestCheckRetry_NotWhatRetryingSoonWouldNotChange(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, refused := http.Get("http://" + addr + "/v1/secret/data/x")
	require.Error(t, refused)
	retry, err := checkRetry(context.Background(), nil, refused)
	assert.NoError(t, err)
	assert.False(t, retry, "connection refused is reported at once")

	retry, _ = checkRetry(context.Background(), nil, &url.Error{Op: "Get", URL: "http://vault:8200/", Err: io.ErrUnexpectedEOF})
	assert.True(t, retry, "a dropped connection is retried")
	retry, _ = checkRetry(context.Background(), &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{}}, nil)
	assert.True(t, retry, "429 is retried")
	retry, _ = checkRetry(context.Background(), &http.Response{StatusCode: http.StatusForbidden, Header: http.Header{}}, nil)
	assert.False(t, retry)
}
