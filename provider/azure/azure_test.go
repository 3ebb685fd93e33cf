package azure_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/limits"
	"github.com/envdrift/envdrift/internal/testserver"
	"github.com/envdrift/envdrift/internal/testserver/azurekv"
	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/azure"
	"github.com/envdrift/envdrift/provider/providertest"
)

// srv is the local Key Vault shared by the package's tests. TestMain starts
// it and exports its environment (credentials, authority host, proxy, CA)
// before the first HTTPS request, because Go reads the proxy settings and
// the system roots once per process.
var (
	srv       *azurekv.Server
	localSkip string
	// parentEnv is the environment before TestMain changed it; the
	// real-endpoint tier runs in a child process with it.
	parentEnv []string
)

func TestMain(m *testing.M) {
	if os.Getenv(realChildEnv) == "1" {
		// Child process of TestRealEndpoint: the caller's own environment,
		// no local server.
		localSkip = "real-endpoint child process"
		os.Exit(m.Run())
	}
	parentEnv = os.Environ()
	switch runtime.GOOS {
	case "linux", "freebsd", "openbsd", "netbsd", "dragonfly", "solaris", "illumos", "aix":
	default:
		localSkip = "the local Key Vault's CA is trusted through SSL_CERT_DIR, which Go honours only on Linux and the BSDs"
		os.Exit(m.Run())
	}
	s, err := azurekv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start local Key Vault:", err)
		os.Exit(1)
	}
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	srv = s
	code := m.Run()
	s.Close()
	os.Exit(code)
}

func needServer(t *testing.T) *azurekv.Server {
	t.Helper()
	if srv == nil {
		t.Skip(localSkip)
	}
	return srv
}

// localHarness runs the conformance suite against the local server.
type localHarness struct {
	testserver.Faults
	srv      *azurekv.Server
	settings azure.Settings
}

func (h *localHarness) MakeProvider(ctx context.Context) (provider.Provider, error) {
	d, lerr := provider.Default().Lookup(azure.Name)
	if lerr != nil {
		return nil, errors.New("azure provider not registered")
	}
	s := h.settings
	return d.Open(ctx, &s, fastRetry(provider.Options{}))
}

func (h *localHarness) CreateSecret(_ context.Context, vault, name string, value []byte) error {
	h.srv.SetSecret(vault, name, value)
	return nil
}

// CreateBinarySecret: Key Vault holds text only (secret values are JSON
// strings), so there is no binary secret to create.
func (h *localHarness) CreateBinarySecret(context.Context, string, string, []byte) error {
	return providertest.ErrUnsupported
}

func (h *localHarness) OtherVault() string { return "team-b" }

func (h *localHarness) DenyAccess(_ context.Context, vault, name string) error {
	h.srv.Deny(vault, name)
	return nil
}

// Conditional: Key Vault has no conditional write.
func (h *localHarness) Conditional() (create, update bool) { return false, false }

func (h *localHarness) Metadata(_ context.Context, vault, name string) (map[string]string, error) {
	return h.srv.Tags(vault, name), nil
}

func (h *localHarness) History(_ context.Context, vault, name string) ([][]byte, error) {
	return h.srv.Versions(vault, name), nil
}

func (h *localHarness) DenyWrite(_ context.Context, vault, name string) error {
	h.srv.DenyWrite(vault, name)
	return nil
}

func (h *localHarness) Writes() int { return h.srv.Writes() }

// Reset clears the faults and the challenge resource a test set.
func (h *localHarness) Reset() {
	h.Faults.Reset()
	h.srv.SetChallengeResource("")
}

// TestConformance runs the suite through the real azsecrets client and the
// real DefaultAzureCredential (EnvironmentCredential → the server's token
// endpoint), challenge flow included.
func TestConformance(t *testing.T) {
	s := needServer(t)
	opts := providertest.Options{LargePayload: azurekv.MaxValueSize}
	// The default vault at https://127.0.0.1:PORT/, as an emulator is
	// reached: its challenge names https://vault.azure.net, which does not
	// match the host, so verification must be switched off.
	t.Run("DirectWithVerificationOff", func(t *testing.T) {
		providertest.Run(t, &localHarness{Faults: testserver.Faults{S: s.Base}, srv: s, settings: azure.Settings{
			VaultURL:                             s.URL(),
			DisableChallengeResourceVerification: true,
		}}, opts)
	})
	// The default vault by its production URL,
	// https://envdrift-default.vault.azure.net/, reached through the
	// server's proxy: verification stays on and passes.
	t.Run("ByNameWithVerificationOn", func(t *testing.T) {
		providertest.Run(t, &localHarness{Faults: testserver.Faults{S: s.Base}, srv: s, settings: azure.Settings{
			VaultURL: s.VaultURL(azurekv.DefaultVault),
		}}, opts)
	})
}

func open(t *testing.T, s azure.Settings, opts provider.Options) provider.Provider {
	t.Helper()
	d, lerr := provider.Default().Lookup(azure.Name)
	require.NoError(t, lerr)
	p, err := d.Open(context.Background(), &s, fastRetry(opts))
	require.NoError(t, err)
	return p
}

// fastRetry keeps the provider's retry counts but waits milliseconds
// between attempts, so tests against the local server never sleep through
// real backoff; MaxDelay still lets the policy honour Key Vault's
// Retry-After of a second. Tests that set their own Options.Retry keep it.
func fastRetry(o provider.Options) provider.Options {
	if o.Retry == (provider.RetryPolicy{}) {
		o.Retry = provider.RetryPolicy{MinDelay: time.Millisecond, MaxDelay: maxRetryAfter}
	}
	return o
}

// maxRetryAfter is the longest Retry-After fastRetry waits out.
const maxRetryAfter = 2 * time.Second

func fetch(t *testing.T, p provider.Provider, vault, name string) (provider.Secret, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return p.Fetch(ctx, provider.Ref{Vault: vault, Name: name})
}

func providerError(t *testing.T, err error) *provider.Error {
	t.Helper()
	require.Error(t, err)
	var pe *provider.Error
	require.ErrorAs(t, err, &pe)
	return pe
}

func TestChallengeVerification_OnRejectsMismatchedResource(t *testing.T) {
	s := needServer(t)
	t.Cleanup(s.Reset)
	s.SetSecret("", "envdrift-verify", []byte(providertest.Key))

	tokensBefore := s.TokenRequests()
	p := open(t, azure.Settings{VaultURL: s.URL()}, provider.Options{})
	_, err := fetch(t, p, "", "envdrift-verify")
	pe := providerError(t, err)
	assert.Equal(t, "invalid", provider.KindOf(pe), "%v", err)
	assert.Contains(t, pe.Message, "challenge")
	assert.Contains(t, pe.Message, "https://vault.azure.net")
	assert.Contains(t, pe.Hint, "disable_challenge_resource_verification = true")
	assert.Equal(t, tokensBefore, s.TokenRequests(), "no token may be requested for a mismatched challenge")

	// The same vault with the documented switch: the fetch succeeds, so it
	// is the switch, not the server, that made the difference.
	p = open(t, azure.Settings{VaultURL: s.URL(), DisableChallengeResourceVerification: true}, provider.Options{})
	got, err := fetch(t, p, "", "envdrift-verify")
	require.NoError(t, err)
	assert.Equal(t, providertest.Key, string(got.Value))
}

func TestChallengeVerification_OnRejectsForeignResourceForVaultHost(t *testing.T) {
	s := needServer(t)
	t.Cleanup(func() { s.SetChallengeResource("") })
	s.SetSecret("team-b", "envdrift-foreign", []byte("v"))

	// A server at team-b.vault.azure.net asking for a token for Azure
	// China's Key Vault is refused before any token is requested.
	s.SetChallengeResource("https://vault.azure.cn")
	tokensBefore := s.TokenRequests()
	p := open(t, azure.Settings{}, provider.Options{})
	_, err := fetch(t, p, "team-b", "envdrift-foreign")
	assert.Equal(t, "invalid", provider.KindOf(err), "%v", err)
	assert.Equal(t, tokensBefore, s.TokenRequests())

	// With verification off the client follows the challenge: it gets a
	// token for https://vault.azure.cn, which this vault then accepts.
	p = open(t, azure.Settings{DisableChallengeResourceVerification: true}, provider.Options{})
	got, err := fetch(t, p, "team-b", "envdrift-foreign")
	require.NoError(t, err)
	assert.Equal(t, "v", string(got.Value))
}

func TestSovereignSuffixDerivedFromVaultURL(t *testing.T) {
	s := needServer(t)
	s.SetSecret("cn-default", "envdrift-cn", []byte("china-default"))
	s.SetSecret("cn-other", "envdrift-cn", []byte("china-other"))
	p := open(t, azure.Settings{VaultURL: "https://cn-default.vault.azure.cn/"}, provider.Options{})
	got, err := fetch(t, p, "", "envdrift-cn")
	require.NoError(t, err)
	assert.Equal(t, "china-default", string(got.Value))
	got, err = fetch(t, p, "cn-other", "envdrift-cn")
	require.NoError(t, err, "a vault name next to a vault.azure.cn vault_url resolves under vault.azure.cn")
	assert.Equal(t, "china-other", string(got.Value))
}

func TestWrongClientSecret_UnauthenticatedOnceNotPerFetch(t *testing.T) {
	s := needServer(t)
	const wrong = "wrong-client-secret-value-0123456789"
	t.Setenv("AZURE_CLIENT_SECRET", wrong)
	s.SetSecret("", "envdrift-auth-a", []byte(providertest.Key))
	s.SetSecret("team-b", "envdrift-auth-b", []byte(providertest.Key))

	p := open(t, azure.Settings{VaultURL: s.URL(), DisableChallengeResourceVerification: true}, provider.Options{})
	before := s.TokenRequests()
	refs := []provider.Ref{
		{Name: "envdrift-auth-a"}, {Name: "envdrift-auth-a"}, {Vault: "team-b", Name: "envdrift-auth-b"},
		{Name: "envdrift-missing"}, {Vault: "team-b", Name: "envdrift-auth-a"},
	}
	for _, ref := range refs {
		_, err := fetch(t, p, ref.Vault, ref.Name)
		pe := providerError(t, err)
		assert.Equal(t, "unauthenticated", provider.KindOf(pe), "%v", err)
		assert.ErrorIs(t, err, provider.ErrUnauthenticated)
		assert.Contains(t, pe.Message, "invalid_client")
		assert.Contains(t, pe.Message, "AADSTS7000215")
		assert.Contains(t, pe.Hint, "az login")
		assert.Contains(t, pe.Hint, "AZURE_CLIENT_SECRET")
		assert.NotContains(t, err.Error(), wrong, "the client secret must never appear in an error")
		assert.NotContains(t, err.Error(), azurekv.ClientSecret)
	}
	assert.Equal(t, 1, s.TokenRequests()-before, "the credential chain runs once per provider, not once per fetch")

	// Concurrent fetches on a fresh provider share the one failure too.
	p = open(t, azure.Settings{VaultURL: s.URL(), DisableChallengeResourceVerification: true}, provider.Options{})
	before = s.TokenRequests()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := fetch(t, p, "", "envdrift-auth-a")
			assert.Equal(t, "unauthenticated", provider.KindOf(err))
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, s.TokenRequests()-before)
}

func TestNoCredentials_Unauthenticated(t *testing.T) {
	s := needServer(t)
	t.Setenv("AZURE_CLIENT_SECRET", "")
	s.SetSecret("", "envdrift-nocred", []byte("x"))
	p := open(t, azure.Settings{VaultURL: s.URL(), DisableChallengeResourceVerification: true}, provider.Options{})
	before := s.TokenRequests()
	_, err := fetch(t, p, "", "envdrift-nocred")
	pe := providerError(t, err)
	assert.Equal(t, "unauthenticated", provider.KindOf(pe), "%v", err)
	assert.Contains(t, pe.Message, "EnvironmentCredential")
	assert.Contains(t, pe.Hint, "az login")
	assert.NotContains(t, pe.Message, "\n")
	assert.Equal(t, before, s.TokenRequests())
}

func TestInvalidCredentialSelection_FailsOnFetchNotOpen(t *testing.T) {
	s := needServer(t)
	t.Setenv("AZURE_TOKEN_CREDENTIALS", "NoSuchCredential")
	p := open(t, azure.Settings{VaultURL: s.URL(), DisableChallengeResourceVerification: true}, provider.Options{})
	_, err := fetch(t, p, "", "envdrift-nocred")
	pe := providerError(t, err)
	assert.Equal(t, "unauthenticated", provider.KindOf(pe), "%v", err)
	assert.Contains(t, pe.Message, "AZURE_TOKEN_CREDENTIALS")
}

func TestOpen_DoesNoNetworkIO(t *testing.T) {
	s := needServer(t)
	reqs, entra, tunnels := s.Requests(), s.EntraRequests(), s.ProxyConnects()
	t.Setenv("AZURE_TOKEN_CREDENTIALS", "NoSuchCredential") // building the credential would fail
	p := open(t, azure.Settings{VaultURL: s.URL()}, provider.Options{})
	require.NotNil(t, p)
	assert.Equal(t, reqs, s.Requests())
	assert.Equal(t, entra, s.EntraRequests())
	assert.Equal(t, tunnels, s.ProxyConnects())
}

func TestRouting_TwoNamedVaultsAndOneClientPerVault(t *testing.T) {
	s := needServer(t)
	const name = "envdrift-route"
	s.SetSecret("", name, []byte("default"))
	s.SetSecret("team-a", name, []byte("alpha"))
	s.SetSecret("team-b", name, []byte("bravo"))

	p := open(t, azure.Settings{VaultURL: s.URL(), DisableChallengeResourceVerification: true}, provider.Options{})
	tokens := s.TokenRequests()
	for range 3 {
		for vault, want := range map[string]string{"": "default", "team-a": "alpha", "team-b": "bravo", "TEAM-B": "bravo"} {
			got, err := fetch(t, p, vault, name)
			require.NoError(t, err, vault)
			assert.Equal(t, want, string(got.Value), "vault %q", vault)
		}
	}
	assert.Equal(t, 1, s.TokenRequests()-tokens, "one token serves every vault of the same cloud")

	// Each vault's client is built once: only its first request is the
	// unauthenticated one that elicits the challenge.
	s.SetSecret("team-c", name, []byte("charlie"))
	before, challenges := s.Ops()["GetSecret"], s.Challenges()
	for range 5 {
		got, err := fetch(t, p, "team-c", name)
		require.NoError(t, err)
		assert.Equal(t, "charlie", string(got.Value))
	}
	assert.Equal(t, 6, s.Ops()["GetSecret"]-before, "1 challenge + 5 reads: the client for team-c is reused")
	assert.Equal(t, 1, s.Challenges()-challenges)

	// A vault that holds no such secret answers 404.
	_, err := fetch(t, p, "team-d", name)
	assert.ErrorIs(t, err, provider.ErrNotFound)
	assert.Contains(t, err.Error(), "team-d/"+name)
}

func TestFetch_ErrorsThroughTheRealClient(t *testing.T) {
	s := needServer(t)
	s.SetSecret("", "envdrift-errs", []byte(providertest.Key))
	p := open(t, azure.Settings{VaultURL: s.URL(), DisableChallengeResourceVerification: true}, provider.Options{})
	// Warm the client so that faults hit the authenticated request.
	_, err := fetch(t, p, "", "envdrift-errs")
	require.NoError(t, err)

	cases := []struct {
		name   string
		inject func()
		kind   string
		msg    string
		hint   string
	}{
		{"NotFound", func() {}, "not_found", "SecretNotFound: A secret with (name/id) envdrift-nope was not found", "create the secret"},
		{"Denied", func() { s.Deny("", "envdrift-nope"); t.Cleanup(func() { s.Delete("", "envdrift-nope") }) }, "permission_denied", "Forbidden (ForbiddenByRbac): Caller is not authorized", "Key Vault Secrets User"},
		{"TokenRejected", func() { s.Inject(testserver.FaultAuth) }, "unauthenticated", "Unauthorized: [TokenExpired]", "az login"},
		{"ServerError", func() { s.FailWith("backend on fire") }, "unavailable", "InternalServerError: backend on fire", "try again later"},
		{"MalformedProxyPage", func() { s.Inject(testserver.FaultMalformed) }, "unavailable", "not a Key Vault secret", "proxy"},
		{"ConnectionReset", func() { s.Inject(testserver.FaultReset) }, "unavailable", "failed", "network"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Cleanup(s.Reset)
			c.inject()
			_, err := fetch(t, p, "", "envdrift-nope")
			pe := providerError(t, err)
			assert.Equal(t, c.kind, provider.KindOf(pe), "%v", err)
			assert.Contains(t, pe.Message, c.msg)
			assert.Contains(t, pe.Hint, c.hint)
			assert.Equal(t, azure.Name, pe.Provider)
			assert.Equal(t, "envdrift-nope", pe.Ref.Name)
			assert.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestFetch_ThrottlingThatOutlastsTheRetriesIsThrottled(t *testing.T) {
	s := needServer(t)
	t.Cleanup(s.Reset)
	s.SetSecret("", "envdrift-throttle", []byte("x"))
	// Two attempts: each throttled answer asks for a second's pause, which
	// the policy waits out.
	retry := provider.RetryPolicy{MaxAttempts: 2, MinDelay: time.Millisecond, MaxDelay: maxRetryAfter}
	p := open(t, azure.Settings{VaultURL: s.URL(), DisableChallengeResourceVerification: true}, provider.Options{Retry: retry})
	_, err := fetch(t, p, "", "envdrift-throttle")
	require.NoError(t, err)
	s.Throttle(100)
	before := s.Requests()
	_, err = fetch(t, p, "", "envdrift-throttle")
	pe := providerError(t, err)
	assert.Equal(t, "throttled", provider.KindOf(pe), "%v", err)
	assert.Contains(t, pe.Message, "Throttled: Request was not processed because too many requests were received")
	assert.Equal(t, 2, s.Requests()-before, "one attempt and one retry")
}

func TestFetch_RetryAfterBeyondMaxDelayIsThrottledAtOnce(t *testing.T) {
	s := needServer(t)
	t.Cleanup(s.Reset)
	s.SetSecret("", "envdrift-throttle-long", []byte("x"))
	retry := provider.RetryPolicy{MinDelay: time.Millisecond, MaxDelay: 500 * time.Millisecond}
	p := open(t, azure.Settings{VaultURL: s.URL(), DisableChallengeResourceVerification: true}, provider.Options{Retry: retry})
	_, err := fetch(t, p, "", "envdrift-throttle-long")
	require.NoError(t, err)
	s.Throttle(1) // Retry-After: 1, longer than MaxDelay
	before := s.Requests()
	_, err = fetch(t, p, "", "envdrift-throttle-long")
	assert.Equal(t, "throttled", provider.KindOf(err), "%v", err)
	assert.Equal(t, 1, s.Requests()-before, "a Retry-After beyond MaxDelay is not waited out")
	var pe *provider.Error
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, time.Second, pe.RetryAfter, "the error carries the wait Key Vault asked for, for the caller to honour")
}

func TestFetch_TimeoutBoundsEachAttempt(t *testing.T) {
	s := needServer(t)
	t.Cleanup(s.Reset)
	s.SetSecret("", "envdrift-slow", []byte("x"))
	// No warm-up fetch: with a 200 ms bound, a token acquisition on a busy
	// machine could itself time out. The stall hits the first (challenge)
	// request of each attempt just the same.
	p := open(t, azure.Settings{VaultURL: s.URL(), DisableChallengeResourceVerification: true},
		provider.Options{Timeout: 200 * time.Millisecond})
	s.Inject(testserver.FaultStall)
	before := s.Requests()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Fetch(ctx, provider.Ref{Name: "envdrift-slow"})
	assert.Less(t, time.Since(start), 2500*time.Millisecond)
	assert.Equal(t, "unavailable", provider.KindOf(err), "%v", err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.GreaterOrEqual(t, s.Requests()-before, 2, "a stalled attempt is cut off by the timeout and retried")
}

func TestFetch_ValuesVersionsAndLimits(t *testing.T) {
	s := needServer(t)
	p := open(t, azure.Settings{VaultURL: s.URL(), DisableChallengeResourceVerification: true}, provider.Options{})

	ver := s.SetSecret("", "envdrift-versioned", []byte("v1"))
	got, err := fetch(t, p, "", "envdrift-versioned")
	require.NoError(t, err)
	assert.Equal(t, ver, got.Version)

	// An empty value is returned, not refused: the caller decides.
	s.SetSecret("", "envdrift-empty", nil)
	got, err = fetch(t, p, "", "envdrift-empty")
	require.NoError(t, err)
	assert.NotNil(t, got.Value)
	assert.Empty(t, got.Value)

	// Unicode, newlines, quotes and JSON-looking text come back byte for byte.
	odd := "DOTENV_PRIVATE_KEY=\"" + providertest.Key + "\"\r\n{\"value\": \"<&>\"}\tü€😀\\n"
	s.SetSecret("", "envdrift-odd", []byte(odd))
	got, err = fetch(t, p, "", "envdrift-odd")
	require.NoError(t, err)
	assert.Equal(t, odd, string(got.Value))

	// A payload over envdrift's limit is refused without echoing it.
	big := strings.Repeat("k", limits.MaxSecretSize+1)
	s.SetSecret("", "envdrift-huge", []byte(big))
	_, err = fetch(t, p, "", "envdrift-huge")
	assert.ErrorIs(t, err, provider.ErrInvalid)
	assert.Contains(t, err.Error(), "limit")
	assert.Less(t, len(err.Error()), 500)
}

func TestFetch_InvalidNamesAreRefusedBeforeAnyRequest(t *testing.T) {
	s := needServer(t)
	p := open(t, azure.Settings{VaultURL: s.URL(), DisableChallengeResourceVerification: true}, provider.Options{})
	before := s.Requests()
	for _, ref := range []provider.Ref{
		{Name: ""}, {Name: "under_score"}, {Name: "a/b"}, {Name: "../secrets"}, {Name: strings.Repeat("a", 128)},
		{Vault: "ab", Name: "ok"}, {Vault: "evil.example.com", Name: "ok"}, {Vault: "https://x.vault.azure.net/", Name: "ok"},
		{Vault: "1starts-with-digit", Name: "ok"}, {Vault: "double--dash", Name: "ok"}, {Vault: "ends-with-dash-", Name: "ok"},
	} {
		_, err := p.Fetch(context.Background(), ref)
		assert.ErrorIs(t, err, provider.ErrInvalid, "%+v", ref)
	}
	assert.Equal(t, before, s.Requests())
}

func TestFetch_CancelledContext(t *testing.T) {
	s := needServer(t)
	p := open(t, azure.Settings{VaultURL: s.URL(), DisableChallengeResourceVerification: true}, provider.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.Fetch(ctx, provider.Ref{Name: "envdrift-any"})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, "unavailable", provider.KindOf(err))
}
