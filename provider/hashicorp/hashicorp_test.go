package hashicorp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/limits"
	"github.com/envdrift/envdrift/internal/testserver"
	"github.com/envdrift/envdrift/internal/testserver/vaultkv"
	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/hashicorp"
	"github.com/envdrift/envdrift/provider/providertest"
)

// startServer starts a local Vault and points the standard VAULT_*
// variables (and HOME) at it for the rest of the test.
func startServer(t *testing.T) *vaultkv.Server {
	t.Helper()
	s, err := vaultkv.Start()
	require.NoError(t, err)
	t.Cleanup(s.Close)
	setEnv(t, s)
	return s
}

func setEnv(t *testing.T, s *vaultkv.Server) {
	t.Helper()
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	for _, k := range []string{"VAULT_WRAP_TTL", "VAULT_MAX_RETRIES", "VAULT_CLIENT_TIMEOUT", "VAULT_CAPATH", "VAULT_SKIP_VERIFY"} {
		t.Setenv(k, "")
	}
}

func open(t *testing.T, s hashicorp.Settings, o provider.Options) provider.Provider {
	t.Helper()
	d, lerr := provider.Default().Lookup(hashicorp.Name)
	require.NoError(t, lerr, "the provider registers itself")
	p, err := d.Open(context.Background(), &s, fastRetry(o))
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.(io.Closer).Close() })
	return p
}

// fastRetry keeps the provider's retry counts but waits milliseconds
// between attempts, so tests against the local server never sleep through
// real backoff. Tests that set their own Options.Retry keep it.
func fastRetry(o provider.Options) provider.Options {
	if o.Retry == (provider.RetryPolicy{}) {
		o.Retry = provider.RetryPolicy{MinDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond}
	}
	return o
}

func fetch(p provider.Provider, vaultName, name string) (provider.Secret, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return p.Fetch(ctx, provider.Ref{Vault: vaultName, Name: name})
}

func put(t *testing.T, s *vaultkv.Server, ns, mount, path, value string) {
	t.Helper()
	_, err := s.PutValue(ns, mount, path, value)
	require.NoError(t, err)
}

func hintOf(t *testing.T, err error) string {
	t.Helper()
	var pe *provider.Error
	require.True(t, errors.As(err, &pe), "want a *provider.Error, got %T %v", err, err)
	return pe.Hint
}

func TestOpenDoesNoIOAndValidatesSettings(t *testing.T) {
	s := startServer(t)
	t.Setenv("VAULT_TOKEN", "")
	// No token anywhere, a URL that nothing listens on: Open still succeeds.
	_ = open(t, hashicorp.Settings{URL: "http://127.0.0.1:1"}, provider.Options{})
	_ = open(t, hashicorp.Settings{}, provider.Options{})
	assert.Zero(t, s.Requests())

	d, _ := provider.Default().Lookup(hashicorp.Name)
	for _, bad := range []hashicorp.Settings{{KVVersion: 3}, {KVVersion: -1}, {Mount: "a/../b"}} {
		_, err := d.Open(context.Background(), &bad, provider.Options{})
		assert.ErrorIs(t, err, provider.ErrInvalid, "%+v", bad)
	}
	// The settings table has no token key: tokens never come from files.
	st := reflect.TypeOf(hashicorp.Settings{})
	for i := 0; i < st.NumField(); i++ {
		assert.NotContains(t, strings.ToLower(st.Field(i).Tag.Get("toml")+st.Field(i).Name), "token")
	}
}

func TestVaultNameRoutesBetweenMounts(t *testing.T) {
	s := startServer(t)
	s.Mount("", "kv", 1)
	s.Mount("", "team-b", 2)
	s.Mount("", "apps/prod", 2) // nested mount path
	put(t, s, "", "secret", "myapp/prod", "from-secret")
	put(t, s, "", "kv", "myapp/prod", "from-kv-v1")
	put(t, s, "", "team-b", "myapp/prod", "from-team-b")
	put(t, s, "", "apps/prod", "myapp", "from-nested")
	p := open(t, hashicorp.Settings{}, provider.Options{})

	for i := 0; i < 2; i++ {
		for vaultName, want := range map[string]string{"": "from-secret", "secret": "from-secret", "kv": "from-kv-v1", "team-b": "from-team-b"} {
			got, err := fetch(p, vaultName, "myapp/prod")
			require.NoError(t, err, vaultName)
			assert.Equal(t, want, string(got.Value), vaultName)
		}
	}
	got, err := fetch(p, "apps/prod", "myapp")
	require.NoError(t, err)
	assert.Equal(t, "from-nested", string(got.Value))

	ops := s.Ops()
	assert.Equal(t, 4, ops[vaultkv.OpMounts], "one version detection per mount, cached")
	assert.Equal(t, 2, ops[vaultkv.OpKVv1Read])
	assert.Equal(t, 7, ops[vaultkv.OpKVv2Read])

	// The configured mount is the default for an empty vault_name.
	p2 := open(t, hashicorp.Settings{Mount: "team-b"}, provider.Options{})
	got, err = fetch(p2, "", "myapp/prod")
	require.NoError(t, err)
	assert.Equal(t, "from-team-b", string(got.Value))
}

func TestKVVersionAutoDetectionVsExplicit(t *testing.T) {
	s := startServer(t)
	s.Mount("", "kv", 1)
	s.Mount("", "legacy", 0) // `vault secrets enable kv`: no version option
	put(t, s, "", "secret", "a", "v2-value")
	put(t, s, "", "kv", "a", "v1-value")
	put(t, s, "", "legacy", "a", "legacy-value")

	auto := open(t, hashicorp.Settings{}, provider.Options{})
	for mount, want := range map[string]string{"secret": "v2-value", "kv": "v1-value", "legacy": "legacy-value"} {
		got, err := fetch(auto, mount, "a")
		require.NoError(t, err, mount)
		assert.Equal(t, want, string(got.Value))
	}
	assert.Equal(t, 3, s.Ops()[vaultkv.OpMounts])

	before := s.Ops()[vaultkv.OpMounts]
	v2 := open(t, hashicorp.Settings{KVVersion: 2}, provider.Options{})
	got, err := fetch(v2, "", "a")
	require.NoError(t, err)
	assert.Equal(t, "v2-value", string(got.Value))
	assert.Equal(t, "1", got.Version)
	v1 := open(t, hashicorp.Settings{KVVersion: 1, Mount: "kv"}, provider.Options{})
	got, err = fetch(v1, "", "a")
	require.NoError(t, err)
	assert.Equal(t, "v1-value", string(got.Value))
	assert.Empty(t, got.Version, "KV v1 has no versions")
	assert.Equal(t, before, s.Ops()[vaultkv.OpMounts], "an explicit kv_version skips detection")

	// Wrong explicit versions are explained.
	_, err = fetch(v1, "secret", "a")
	assert.ErrorIs(t, err, provider.ErrNotFound)
	assert.Contains(t, err.Error(), "versioned K/V")
	assert.Contains(t, hintOf(t, err), "kv_version = 2")
	_, err = fetch(v2, "kv", "a")
	assert.ErrorIs(t, err, provider.ErrNotFound)
	assert.Contains(t, hintOf(t, err), "kv_version = 1")
}

func TestMountThatIsReallyAMountPlusPathIsExplained(t *testing.T) {
	s := startServer(t)
	put(t, s, "", "secret", "myapp/prod", "x")
	p := open(t, hashicorp.Settings{Mount: "secret/myapp"}, provider.Options{})
	_, err := fetch(p, "", "prod")
	assert.ErrorIs(t, err, provider.ErrInvalid)
	assert.Contains(t, err.Error(), `the KV mount is "secret"`)
	assert.Contains(t, hintOf(t, err), "myapp/prod")
}

func TestNamespace(t *testing.T) {
	s := startServer(t)
	s.Mount("team-a", "secret", 2)
	put(t, s, "", "secret", "app", "root-value")
	put(t, s, "team-a", "secret", "app", "ns-value")

	cases := []struct {
		name, setting, env, want string
	}{
		{"none", "", "", "root-value"},
		{"setting", "team-a", "", "ns-value"},
		{"VAULT_NAMESPACE", "", "team-a", "ns-value"},
		{"setting beats VAULT_NAMESPACE", "team-a/", "team-x", "ns-value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("VAULT_NAMESPACE", c.env)
			p := open(t, hashicorp.Settings{Namespace: c.setting}, provider.Options{})
			got, err := fetch(p, "", "app")
			require.NoError(t, err)
			assert.Equal(t, c.want, string(got.Value))
		})
	}
	// A namespace without the mount: Vault refuses the mount lookup.
	s.AddNamespace("team-b")
	p := open(t, hashicorp.Settings{Namespace: "team-b"}, provider.Options{})
	_, err := fetch(p, "", "app")
	assert.ErrorIs(t, err, provider.ErrPermissionDenied)
	assert.Contains(t, hintOf(t, err), `namespace "team-b"`)
}

func TestTokenPrecedence(t *testing.T) {
	s := startServer(t)
	put(t, s, "", "secret", "app", "v")
	good, bad := "hvs.good-token-for-precedence", "hvs.bad-token-for-precedence"
	s.AddToken(good)
	tokenFile := filepath.Join(s.Home(), ".vault-token")

	cases := []struct {
		name            string
		flag, env, file string
		ok              bool
		source          string
	}{
		{"--token beats VAULT_TOKEN and the file", good, bad, bad, true, ""},
		{"VAULT_TOKEN beats the file", "", good, bad, true, ""},
		{"~/.vault-token last", "", "", good + "\n", true, ""},
		{"a wrong --token is used, not skipped", bad, good, good, false, "--token"},
		{"a wrong VAULT_TOKEN is used, not skipped", "", bad, good, false, "VAULT_TOKEN"},
		{"a wrong token file", "", "", bad, false, "~/.vault-token"},
		{"no token at all", "", "", "", false, "no Vault token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("VAULT_TOKEN", c.env)
			_ = os.Remove(tokenFile)
			if c.file != "" {
				require.NoError(t, os.WriteFile(tokenFile, []byte(c.file), 0o600))
			}
			p := open(t, hashicorp.Settings{}, provider.Options{Token: c.flag})
			got, err := fetch(p, "", "app")
			if c.ok {
				require.NoError(t, err)
				assert.Equal(t, "v", string(got.Value))
				return
			}
			assert.ErrorIs(t, err, provider.ErrUnauthenticated)
			assert.Contains(t, err.Error(), c.source)
			assert.Contains(t, hintOf(t, err), "set VAULT_TOKEN or run `vault login`")
		})
	}
}

func TestURLPrecedence(t *testing.T) {
	a := startServer(t)
	b, err := vaultkv.Start()
	require.NoError(t, err)
	t.Cleanup(b.Close)
	const tok = "hvs.shared-token"
	for _, s := range []*vaultkv.Server{a, b} {
		s.AddToken(tok)
	}
	put(t, a, "", "secret", "app", "from-a")
	put(t, b, "", "secret", "app", "from-b")
	t.Setenv("VAULT_TOKEN", tok)
	// VAULT_ADDR = a (from startServer); an agent address that nothing
	// listens on must lose to an explicit url.
	t.Setenv("VAULT_AGENT_ADDR", "http://127.0.0.1:1")

	cases := []struct {
		name      string
		setting   string
		flag      string
		agentAddr string
		want      string
	}{
		{"VAULT_ADDR", "", "", "", "from-a"},
		{"url beats VAULT_ADDR and VAULT_AGENT_ADDR", b.URL(), "", "http://127.0.0.1:1", "from-b"},
		{"--vault-url beats url", b.URL(), a.URL(), "", "from-a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("VAULT_AGENT_ADDR", c.agentAddr)
			p := open(t, hashicorp.Settings{URL: c.setting}, provider.Options{URL: c.flag})
			got, err := fetch(p, "", "app")
			require.NoError(t, err)
			assert.Equal(t, c.want, string(got.Value))
		})
	}
}

func TestValueShapes(t *testing.T) {
	s := startServer(t)
	s.Mount("", "kv", 1)
	key := providertest.Key
	cases := []struct {
		name string
		data map[string]any
		want string
	}{
		{"value field, as stored", map[string]any{"value": "DOTENV_PRIVATE_KEY=" + key + "\n"}, "DOTENV_PRIVATE_KEY=" + key + "\n"},
		{"value field wins over others", map[string]any{"value": key, "DOTENV_PRIVATE_KEY_PRODUCTION": "other", "note": "x"}, key},
		{"non-string value is JSON", map[string]any{"value": 42}, "42"},
		{"object value is JSON", map[string]any{"value": map[string]any{"DOTENV_PRIVATE_KEY_CI": key}}, `{"DOTENV_PRIVATE_KEY_CI":"` + key + `"}`},
		{"single key field keeps its name", map[string]any{"DOTENV_PRIVATE_KEY_PRODUCTION": key}, "DOTENV_PRIVATE_KEY_PRODUCTION=" + key},
		{"single key field among metadata", map[string]any{"DOTENV_PRIVATE_KEY_MY-APP": key, "owner": "team-a", "rotated": 3}, "DOTENV_PRIVATE_KEY_MY-APP=" + key},
		{"several key fields: the whole object", map[string]any{"DOTENV_PRIVATE_KEY_STAGING": "s", "DOTENV_PRIVATE_KEY_PRODUCTION": "p"},
			`{"DOTENV_PRIVATE_KEY_PRODUCTION":"p","DOTENV_PRIVATE_KEY_STAGING":"s"}`},
		{"other shapes: the whole object, unescaped", map[string]any{"private_key": "a<b&c", "n": 1.5, "list": []any{1, "x"}},
			`{"list":[1,"x"],"n":1.5,"private_key":"a<b&c"}`},
		{"multi-line key field: the whole object", map[string]any{"DOTENV_PRIVATE_KEY": "a\nb"}, `{"DOTENV_PRIVATE_KEY":"a\nb"}`},
	}
	for _, mount := range []string{"secret", "kv"} {
		p := open(t, hashicorp.Settings{Mount: mount}, provider.Options{})
		for i, c := range cases {
			t.Run(mount+"/"+c.name, func(t *testing.T) {
				name := fmt.Sprintf("shape-%d", i)
				_, err := s.PutData("", mount, name, c.data)
				require.NoError(t, err)
				got, err := fetch(p, "", name)
				require.NoError(t, err)
				assert.Equal(t, c.want, string(got.Value))
			})
		}
		_, err := s.PutData("", mount, "empty", map[string]any{})
		require.NoError(t, err)
		_, err = fetch(p, "", "empty")
		assert.ErrorIs(t, err, provider.ErrInvalid)
		assert.Contains(t, err.Error(), "no fields")
	}
}

func TestLargeAndOversizedValues(t *testing.T) {
	s := startServer(t)
	p := open(t, hashicorp.Settings{}, provider.Options{})
	exact := strings.Repeat("a", limits.MaxSecretSize)
	put(t, s, "", "secret", "exact", exact)
	got, err := fetch(p, "", "exact")
	require.NoError(t, err)
	assert.Len(t, got.Value, limits.MaxSecretSize)

	put(t, s, "", "secret", "huge", exact+"b")
	_, err = fetch(p, "", "huge")
	assert.ErrorIs(t, err, provider.ErrInvalid)
	assert.Contains(t, err.Error(), "limit")
}

func TestDeletedAndDestroyedLatestVersion(t *testing.T) {
	s := startServer(t)
	p := open(t, hashicorp.Settings{}, provider.Options{})
	put(t, s, "", "secret", "myapp/prod", "v1")
	put(t, s, "", "secret", "myapp/prod", "v2")
	got, err := fetch(p, "", "myapp/prod")
	require.NoError(t, err)
	assert.Equal(t, "2", got.Version)

	s.DeleteLatest("", "secret", "myapp/prod")
	_, err = fetch(p, "", "myapp/prod")
	assert.ErrorIs(t, err, provider.ErrNotFound)
	assert.Contains(t, err.Error(), "latest version (2)")
	assert.Contains(t, err.Error(), "was deleted at")
	assert.Contains(t, hintOf(t, err), "vault kv undelete -mount=secret -versions=2 myapp/prod")

	s.DestroyLatest("", "secret", "myapp/prod")
	_, err = fetch(p, "", "myapp/prod")
	assert.ErrorIs(t, err, provider.ErrNotFound)
	assert.Contains(t, err.Error(), "destroyed")

	put(t, s, "", "secret", "myapp/prod", "v3")
	got, err = fetch(p, "", "myapp/prod")
	require.NoError(t, err)
	assert.Equal(t, "v3", string(got.Value))
	assert.Equal(t, "3", got.Version)
}

func TestNotFoundHints(t *testing.T) {
	s := startServer(t)
	put(t, s, "", "secret", "myapp/prod", "x")
	p := open(t, hashicorp.Settings{}, provider.Options{})
	_, err := fetch(p, "", "secret/myapp/prod")
	assert.ErrorIs(t, err, provider.ErrNotFound)
	assert.Contains(t, hintOf(t, err), `try "myapp/prod"`)
	_, err = fetch(p, "", "data/myapp/prod")
	assert.Contains(t, hintOf(t, err), `try "myapp/prod"`)

	// With kv_version set there is no mount lookup: a missing mount is
	// Vault's 404 "no handler for route".
	p2 := open(t, hashicorp.Settings{KVVersion: 2}, provider.Options{})
	_, err = fetch(p2, "nowhere", "x")
	assert.ErrorIs(t, err, provider.ErrNotFound)
	assert.Contains(t, err.Error(), "no handler for route")
}

func TestAuthAndPermissionClassification(t *testing.T) {
	t.Run("missing token", func(t *testing.T) {
		s := startServer(t)
		t.Setenv("VAULT_TOKEN", "")
		put(t, s, "", "secret", "app", "v")
		p := open(t, hashicorp.Settings{}, provider.Options{})
		_, err := fetch(p, "", "app")
		assert.ErrorIs(t, err, provider.ErrUnauthenticated)
		assert.Contains(t, err.Error(), "no Vault token")
		assert.Equal(t, "set VAULT_TOKEN or run `vault login`", hintOf(t, err))
	})

	t.Run("invalid token, current Vault", func(t *testing.T) {
		s := startServer(t)
		t.Setenv("VAULT_TOKEN", "hvs.expired")
		put(t, s, "", "secret", "app", "v")
		p := open(t, hashicorp.Settings{}, provider.Options{})
		_, err := fetch(p, "", "app")
		assert.ErrorIs(t, err, provider.ErrUnauthenticated)
		assert.Contains(t, err.Error(), "rejected the token from VAULT_TOKEN")
		assert.Contains(t, hintOf(t, err), "set VAULT_TOKEN or run `vault login`")
		assert.Zero(t, s.Ops()[vaultkv.OpLookupSelf], `"invalid token" in the answer is enough`)

		// Known bad: later fetches fail at once, without a request.
		n := s.Requests()
		for i := 0; i < 5; i++ {
			_, err = fetch(p, "", fmt.Sprintf("other-%d", i))
			assert.ErrorIs(t, err, provider.ErrUnauthenticated)
			assert.Contains(t, err.Error(), fmt.Sprintf("other-%d", i), "the cached error names this secret")
		}
		assert.Equal(t, n, s.Requests())
	})

	t.Run("invalid token, older Vault: lookup-self decides", func(t *testing.T) {
		s := startServer(t)
		s.SetInvalidTokenDetail(false)
		t.Setenv("VAULT_TOKEN", "hvs.expired")
		put(t, s, "", "secret", "app", "v")
		p := open(t, hashicorp.Settings{KVVersion: 2}, provider.Options{})
		_, err := fetch(p, "", "app")
		assert.ErrorIs(t, err, provider.ErrUnauthenticated)
		assert.Equal(t, 1, s.Ops()[vaultkv.OpLookupSelf])
	})

	t.Run("revoked after a success", func(t *testing.T) {
		s := startServer(t)
		s.AddToken("hvs.short-lived")
		t.Setenv("VAULT_TOKEN", "hvs.short-lived")
		put(t, s, "", "secret", "app", "v")
		p := open(t, hashicorp.Settings{}, provider.Options{})
		_, err := fetch(p, "", "app")
		require.NoError(t, err)
		s.RevokeToken("hvs.short-lived")
		_, err = fetch(p, "", "app")
		assert.ErrorIs(t, err, provider.ErrUnauthenticated)
	})

	t.Run("policy denial, KV v2 and v1", func(t *testing.T) {
		s := startServer(t)
		s.SetInvalidTokenDetail(false)
		s.Mount("", "kv", 1)
		put(t, s, "", "secret", "myapp/prod", "v")
		put(t, s, "", "kv", "myapp/prod", "v")
		s.Deny("", "secret", "myapp/prod")
		s.Deny("", "kv", "myapp/prod")
		p := open(t, hashicorp.Settings{}, provider.Options{})
		for i := 0; i < 3; i++ {
			_, err := fetch(p, "", "myapp/prod")
			assert.ErrorIs(t, err, provider.ErrPermissionDenied)
			assert.Contains(t, err.Error(), "permission denied")
			assert.Equal(t, `the token's policies must allow: path "secret/data/myapp/prod" { capabilities = ["read"] }`, hintOf(t, err))
		}
		_, err := fetch(p, "kv", "myapp/prod")
		assert.ErrorIs(t, err, provider.ErrPermissionDenied)
		assert.Contains(t, hintOf(t, err), `path "kv/myapp/prod" { capabilities = ["read"] }`)
		assert.Equal(t, 1, s.Ops()[vaultkv.OpLookupSelf], "the token is checked once per provider")
	})

	t.Run("mount that does not exist", func(t *testing.T) {
		startServer(t)
		p := open(t, hashicorp.Settings{}, provider.Options{})
		_, err := fetch(p, "no-such-mount", "app")
		assert.ErrorIs(t, err, provider.ErrPermissionDenied)
		assert.Contains(t, err.Error(), `mount "no-such-mount" does not exist`)
		assert.Contains(t, hintOf(t, err), "kv_version")
	})
}

// TestTokenNeverAppearsInErrors drives every failure path with a server that
// echoes the token back wherever Vault could.
func TestTokenNeverAppearsInErrors(t *testing.T) {
	s := startServer(t)
	const tok = "hvs.CAESIEnvdriftRedactionCanary0123456789abcdefXYZ"
	s.AddToken(tok)
	s.Mount("", "kv", 1)
	put(t, s, "", "secret", "denied", "v")
	s.Deny("", "secret", "denied")

	check := func(t *testing.T, err error) {
		t.Helper()
		require.Error(t, err)
		for e := err; e != nil; e = errors.Unwrap(e) {
			assert.NotContains(t, e.Error(), tok)
			assert.NotContains(t, fmt.Sprintf("%+v %#v", e, e), tok)
		}
		assert.NotContains(t, hintOf(t, err), tok)
	}
	scenarios := []struct {
		name  string
		setup func()
		opts  provider.Options
		env   string
		ref   provider.Ref
		kind  string
		want  string
	}{
		{"not found", func() {}, provider.Options{}, tok, provider.Ref{Name: "missing"}, "not_found", ""},
		{"policy denial (lookup-self echoes the token)", func() { s.SetInvalidTokenDetail(false) }, provider.Options{}, tok, provider.Ref{Name: "denied"}, "permission_denied", ""},
		{"server error echoing the token", func() { s.FailWith("backend said: token " + tok + " is odd") }, provider.Options{}, tok, provider.Ref{Name: "denied"}, "unavailable", "token [redacted token] is odd"},
		{"sealed echoing the token", func() { s.SetErrorStatus(503); s.FailWith("sealed; " + tok) }, provider.Options{}, tok, provider.Ref{Name: "x"}, "unavailable", "sealed; [redacted token]"},
		{"malformed answer", func() { s.Inject(testserver.FaultMalformed) }, provider.Options{}, tok, provider.Ref{Name: "x"}, "unavailable", ""},
		{"throttled", func() { s.Throttle(100) }, provider.Options{}, tok, provider.Ref{Name: "x"}, "throttled", ""},
		{"revoked token from --token", func() { s.RevokeToken(tok) }, provider.Options{Token: tok}, "", provider.Ref{Name: "x"}, "unauthenticated", "--token"},
		{"revoked token, older Vault", func() { s.RevokeToken(tok); s.SetInvalidTokenDetail(false) }, provider.Options{}, tok, provider.Ref{Name: "x"}, "unauthenticated", "VAULT_TOKEN"},
		{"no mount", func() {}, provider.Options{}, tok, provider.Ref{Vault: "nope", Name: "x"}, "permission_denied", ""},
		{"unreachable", func() {}, provider.Options{URL: "http://127.0.0.1:1"}, tok, provider.Ref{Name: "x"}, "unavailable", ""},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			s.Reset()
			s.SetErrorStatus(500)
			s.SetInvalidTokenDetail(true)
			s.AddToken(tok)
			t.Setenv("VAULT_TOKEN", sc.env)
			sc.setup()
			defer s.Reset()
			p := open(t, hashicorp.Settings{}, sc.opts)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := p.Fetch(ctx, sc.ref)
			check(t, err)
			assert.Equal(t, sc.kind, provider.KindOf(err), "%v", err)
			assert.Contains(t, err.Error(), sc.want)
		})
	}
}

func TestThrottlingIsRetriedAndRetryAfterIsCapped(t *testing.T) {
	s := startServer(t)
	put(t, s, "", "secret", "app", "v")
	p := open(t, hashicorp.Settings{KVVersion: 2}, provider.Options{})

	s.SetRetryAfter(time.Hour) // an hour: the provider waits at most a few seconds
	s.Throttle(1)
	start := time.Now()
	got, err := fetch(p, "", "app")
	require.NoError(t, err)
	assert.Equal(t, "v", string(got.Value))
	assert.Less(t, time.Since(start), 5*time.Second)

	s.SetRetryAfter(0)
	s.Throttle(100)
	before := s.Ops()[vaultkv.OpKVv2Read]
	_, err = fetch(p, "", "app")
	assert.ErrorIs(t, err, provider.ErrThrottled)
	assert.Contains(t, err.Error(), "rate limit quota exceeded")
	assert.Contains(t, hintOf(t, err), "--concurrency")
	assert.Equal(t, 4, s.Ops()[vaultkv.OpKVv2Read]-before, "one attempt and 3 retries")
}

func TestServerFailures(t *testing.T) {
	s := startServer(t)
	put(t, s, "", "secret", "app", providertest.Key)
	p := open(t, hashicorp.Settings{KVVersion: 2}, provider.Options{})

	s.SetErrorStatus(503)
	s.FailWith("Vault is sealed")
	_, err := fetch(p, "", "app")
	assert.ErrorIs(t, err, provider.ErrUnavailable)
	assert.Contains(t, err.Error(), "503 Service Unavailable: Vault is sealed")
	assert.Contains(t, hintOf(t, err), "vault operator unseal")
	s.Reset()

	s.Inject(testserver.FaultMalformed)
	_, err = fetch(p, "", "app")
	assert.ErrorIs(t, err, provider.ErrUnavailable)
	assert.Contains(t, err.Error(), "text/html")
	assert.NotContains(t, err.Error(), "Corporate Proxy", "a page that is not Vault's is never echoed")
	assert.Contains(t, hintOf(t, err), "proxy")
	s.Reset()

	s.Inject(testserver.FaultReset)
	_, err = fetch(p, "", "app")
	assert.ErrorIs(t, err, provider.ErrUnavailable)
	assert.Contains(t, err.Error(), "cannot reach Vault")
	s.Reset()

	got, err := fetch(p, "", "app")
	require.NoError(t, err)
	assert.Equal(t, providertest.Key, string(got.Value))
}

func TestTimeoutBoundsEachRequest(t *testing.T) {
	s := startServer(t)
	put(t, s, "", "secret", "app", "v")
	p := open(t, hashicorp.Settings{KVVersion: 2}, provider.Options{Timeout: 300 * time.Millisecond})
	s.Inject(testserver.FaultStall)
	start := time.Now()
	_, err := fetch(p, "", "app")
	assert.ErrorIs(t, err, provider.ErrUnavailable)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "timeout")
	assert.Less(t, time.Since(start), 3*time.Second)
}

func TestCancelledContext(t *testing.T) {
	startServer(t)
	p := open(t, hashicorp.Settings{}, provider.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.Fetch(ctx, provider.Ref{Name: "app"})
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, err, provider.ErrUnavailable)
}

func TestInvalidNamesAreRefusedWithoutARequest(t *testing.T) {
	s := startServer(t)
	p := open(t, hashicorp.Settings{}, provider.Options{})
	for _, ref := range []provider.Ref{
		{Name: ""}, {Name: "a//b"}, {Name: "../sys/policy/root"}, {Name: "a/./b"},
		{Name: "a\nb"}, {Vault: "x/../sys", Name: "a"},
	} {
		_, err := p.Fetch(context.Background(), ref)
		assert.ErrorIs(t, err, provider.ErrInvalid, "%q", ref)
	}
	assert.Zero(t, s.Requests())
}

func TestConcurrentFirstFetchesShareOneDetection(t *testing.T) {
	s := startServer(t)
	for i := 0; i < 20; i++ {
		put(t, s, "", "secret", fmt.Sprintf("k%d", i), fmt.Sprint(i))
	}
	s.SetLatency(50 * time.Millisecond)
	p := open(t, hashicorp.Settings{}, provider.Options{})
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Go(func() {
			got, err := fetch(p, "", fmt.Sprintf("k%d", i))
			assert.NoError(t, err)
			assert.Equal(t, fmt.Sprint(i), string(got.Value))
		})
	}
	wg.Wait()
	assert.Equal(t, 1, s.Ops()[vaultkv.OpMounts])
}

func TestTLSFromStandardVariables(t *testing.T) {
	s, err := vaultkv.StartTLS()
	require.NoError(t, err)
	t.Cleanup(s.Close)
	setEnv(t, s)
	put(t, s, "", "secret", "app", "v")
	got, err := fetch(open(t, hashicorp.Settings{}, provider.Options{}), "", "app")
	require.NoError(t, err, "VAULT_CACERT makes the client trust the server")
	assert.Equal(t, "v", string(got.Value))

	t.Setenv("VAULT_CACERT", "")
	_, err = fetch(open(t, hashicorp.Settings{}, provider.Options{}), "", "app")
	assert.ErrorIs(t, err, provider.ErrUnavailable)
	assert.Contains(t, hintOf(t, err), "VAULT_CACERT")

	t.Setenv("VAULT_SKIP_VERIFY", "true")
	_, err = fetch(open(t, hashicorp.Settings{}, provider.Options{}), "", "app")
	require.NoError(t, err)
}

func TestResponseWrappingIsNeverRequested(t *testing.T) {
	s := startServer(t)
	t.Setenv("VAULT_WRAP_TTL", "5m")
	put(t, s, "", "secret", "app", "v")
	got, err := fetch(open(t, hashicorp.Settings{}, provider.Options{}), "", "app")
	require.NoError(t, err)
	assert.Equal(t, "v", string(got.Value))
}

// TestMissingMountErrorsNameEachSecretsOwnPath fetches several secrets of a
// mount that does not exist at once: each error's hint names its own path,
// not the path of whichever fetch looked the mount up first.
func TestMissingMountErrorsNameEachSecretsOwnPath(t *testing.T) {
	startServer(t)
	p := open(t, hashicorp.Settings{}, provider.Options{})
	names := []string{"app/alpha", "app/bravo", "app/charlie", "app/delta"}
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = fetch(p, "nowhere", n)
		}()
	}
	wg.Wait()
	for i, n := range names {
		require.Error(t, errs[i])
		assert.ErrorIs(t, errs[i], provider.ErrPermissionDenied)
		assert.Contains(t, hintOf(t, errs[i]), n)
		for j, other := range names {
			if j != i {
				assert.NotContains(t, errs[i].Error(), other)
			}
		}
	}
}

func TestRetryPolicy_MaxAttemptsBeatsVaultMaxRetries(t *testing.T) {
	s := startServer(t)
	put(t, s, "", "secret", "app", "v")
	t.Setenv("VAULT_MAX_RETRIES", "5")
	p := open(t, hashicorp.Settings{KVVersion: 2}, provider.Options{Retry: provider.RetryPolicy{MaxAttempts: 2, MaxDelay: time.Millisecond}})
	s.FailWith("backend down")
	before := s.Ops()[vaultkv.OpKVv2Read]
	_, err := fetch(p, "", "app")
	assert.ErrorIs(t, err, provider.ErrUnavailable)
	assert.Equal(t, 2, s.Ops()[vaultkv.OpKVv2Read]-before, "one attempt and one retry")
}
