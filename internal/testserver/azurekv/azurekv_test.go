package azurekv_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/testserver"
	"github.com/envdrift/envdrift/internal/testserver/azurekv"
)

func start(t *testing.T) (*azurekv.Server, *http.Client) {
	t.Helper()
	s, err := azurekv.Start()
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s, s.HTTPClient()
}

func do(t *testing.T, c *http.Client, method, u, token, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func token(t *testing.T, s *azurekv.Server, c *http.Client, secret, scope string) (*http.Response, map[string]any) {
	t.Helper()
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {azurekv.ClientID},
		"client_secret": {secret},
		"scope":         {scope},
	}
	resp, b := do(t, c, http.MethodPost, s.URL()+azurekv.TenantID+"/oauth2/v2.0/token", "", form.Encode())
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), string(b))
	return resp, m
}

func kvErr(t *testing.T, b []byte) (code, inner, msg string) {
	t.Helper()
	var e struct {
		Error struct {
			Code, Message string
			InnerError    *struct{ Code string } `json:"innererror"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(b, &e), string(b))
	if e.Error.InnerError != nil {
		inner = e.Error.InnerError.Code
	}
	return e.Error.Code, inner, e.Error.Message
}

func TestChallengeTokenAndSecretOverTheWire(t *testing.T) {
	s, c := start(t)
	ver := s.SetSecret("", "app-key", []byte("v1 <&> ü"))

	// No token: Key Vault's 401 with the challenge its SDKs parse.
	resp, b := do(t, c, http.MethodGet, s.URL()+"secrets/app-key/?api-version=2026-04-01", "", "")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, `Bearer authorization="https://login.microsoftonline.com/`+azurekv.TenantID+`", resource="https://vault.azure.net"`,
		resp.Header.Get("WWW-Authenticate"))
	code, _, msg := kvErr(t, b)
	assert.Equal(t, "Unauthorized", code)
	assert.Contains(t, msg, "AKV10000")
	assert.Equal(t, 1, s.Challenges())

	// Wrong client secret: Entra's invalid_client.
	resp, m := token(t, s, c, "nope", "https://vault.azure.net/.default")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, "invalid_client", m["error"])
	assert.Contains(t, m["error_description"], "AADSTS7000215")

	// The right one, with the OpenID scopes MSAL adds.
	resp, m = token(t, s, c, azurekv.ClientSecret, "https://vault.azure.net/.default openid profile offline_access")
	require.Equal(t, http.StatusOK, resp.StatusCode, m)
	assert.Equal(t, "Bearer", m["token_type"])
	tok := m["access_token"].(string)
	require.NotEmpty(t, tok)
	assert.Equal(t, 2, s.TokenRequests())

	resp, b = do(t, c, http.MethodGet, s.URL()+"secrets/app-key/?api-version=2026-04-01", tok, "")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	assert.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
	var bundle struct {
		Value      string
		ID         string
		Attributes struct{ Enabled bool }
	}
	require.NoError(t, json.Unmarshal(b, &bundle))
	assert.Equal(t, "v1 <&> ü", bundle.Value)
	assert.Equal(t, strings.TrimSuffix(s.URL(), "/")+"/secrets/app-key/"+ver, bundle.ID)
	assert.True(t, bundle.Attributes.Enabled)

	// Older versions stay readable by id; unknown ids are 404.
	s.SetSecret("", "app-key", []byte("v2"))
	_, b = do(t, c, http.MethodGet, s.URL()+"secrets/app-key/"+ver+"?api-version=2026-04-01", tok, "")
	require.NoError(t, json.Unmarshal(b, &bundle))
	assert.Equal(t, "v1 <&> ü", bundle.Value)
	resp, b = do(t, c, http.MethodGet, s.URL()+"secrets/app-key/0123?api-version=2026-04-01", tok, "")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	code, _, _ = kvErr(t, b)
	assert.Equal(t, "SecretNotFound", code)

	// A token for another resource is refused with a fresh challenge.
	_, m = token(t, s, c, azurekv.ClientSecret, "https://vault.azure.cn/.default")
	resp, b = do(t, c, http.MethodGet, s.URL()+"secrets/app-key/?api-version=2026-04-01", m["access_token"].(string), "")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.NotEmpty(t, resp.Header.Get("WWW-Authenticate"))
	_, _, msg = kvErr(t, b)
	assert.Contains(t, msg, "Invalid audience")

	// Missing api-version, bad names, unknown secrets, denied secrets.
	resp, _ = do(t, c, http.MethodGet, s.URL()+"secrets/app-key/", tok, "")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, b = do(t, c, http.MethodGet, s.URL()+"secrets/bad_name/?api-version=7.5", tok, "")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	code, _, _ = kvErr(t, b)
	assert.Equal(t, "BadParameter", code)
	resp, b = do(t, c, http.MethodGet, s.URL()+"secrets/missing/?api-version=7.5", tok, "")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	_, _, msg = kvErr(t, b)
	assert.Contains(t, msg, "A secret with (name/id) missing was not found in this key vault")
	s.Deny("", "app-key")
	resp, b = do(t, c, http.MethodGet, s.URL()+"secrets/app-key/?api-version=7.5", tok, "")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	code, inner, msg := kvErr(t, b)
	assert.Equal(t, "Forbidden", code)
	assert.Equal(t, "ForbiddenByRbac", inner)
	assert.Contains(t, msg, "Microsoft.KeyVault/vaults/secrets/getSecret/action")
	assert.Equal(t, map[string]int{"GetSecret": 9}, s.Ops())
}

func TestProxyRoutesVaultNamesAndRefusesOtherHosts(t *testing.T) {
	s, c := start(t)
	s.SetSecret("team-b", "k", []byte("bravo"))
	_, m := token(t, s, c, azurekv.ClientSecret, "https://vault.azure.net/.default")
	tok := m["access_token"].(string)

	resp, b := do(t, c, http.MethodGet, s.VaultURL("team-b")+"secrets/k/?api-version=7.5", tok, "")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	assert.Contains(t, string(b), `"value":"bravo"`)
	assert.Contains(t, string(b), `"id":"https://team-b.vault.azure.net/secrets/k/`)
	resp, _ = do(t, c, http.MethodGet, s.VaultURL("team-a")+"secrets/k/?api-version=7.5", tok, "")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "team-a is another vault")
	assert.Equal(t, 2, s.ProxyConnects())

	// Sovereign clouds challenge for their own resource.
	resp, _ = do(t, c, http.MethodGet, "https://kv.vault.azure.cn/secrets/k/?api-version=7.5", "", "")
	assert.Equal(t, `Bearer authorization="https://login.microsoftonline.com/`+azurekv.TenantID+`", resource="https://vault.azure.cn"`,
		resp.Header.Get("WWW-Authenticate"))

	// Instance discovery, as MSAL asks login.microsoftonline.com for it.
	resp, b = do(t, c, http.MethodGet, "https://login.microsoftonline.com/common/discovery/instance?api-version=1.1&authorization_endpoint="+
		url.QueryEscape(s.URL()+azurekv.TenantID+"/oauth2/v2.0/authorize"), "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(b), s.URL()+azurekv.TenantID+"/v2.0/.well-known/openid-configuration")

	// Anything else is refused by the proxy: nothing reaches the internet.
	proxy, _ := url.Parse(strings.TrimSuffix(s.URL(), "/"))
	other := &http.Client{Transport: &http.Transport{
		Proxy:           http.ProxyURL(proxy),
		TLSClientConfig: c.Transport.(*http.Transport).TLSClientConfig,
	}}
	defer other.CloseIdleConnections()
	_, err := other.Get("https://example.com/")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Forbidden")
}

func TestOpenIDConfiguration(t *testing.T) {
	s, c := start(t)
	resp, b := do(t, c, http.MethodGet, s.URL()+azurekv.TenantID+"/v2.0/.well-known/openid-configuration", "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, s.URL()+azurekv.TenantID+"/v2.0", m["issuer"])
	assert.Equal(t, s.URL()+azurekv.TenantID+"/oauth2/v2.0/token", m["token_endpoint"])
	resp, b = do(t, c, http.MethodGet, s.URL()+"other-tenant/v2.0/.well-known/openid-configuration", "", "")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, string(b), "AADSTS90002")
}

func TestFaultsInKeyVaultsFormat(t *testing.T) {
	s, c := start(t)
	s.SetSecret("", "k", []byte("x"))
	_, m := token(t, s, c, azurekv.ClientSecret, "https://vault.azure.net/.default")
	tok := m["access_token"].(string)
	get := func() (*http.Response, []byte) {
		return do(t, c, http.MethodGet, s.URL()+"secrets/k/?api-version=7.5", tok, "")
	}

	s.Throttle(1)
	resp, b := get()
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	code, _, msg := kvErr(t, b)
	assert.Equal(t, "Throttled", code)
	assert.Contains(t, msg, "VaultRequestTypeLimitReached")
	resp, _ = get()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the throttle lasts n requests")

	s.FailWith("disk on fire")
	resp, b = get()
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	code, _, msg = kvErr(t, b)
	assert.Equal(t, "InternalServerError", code)
	assert.Equal(t, "disk on fire", msg)
	s.Reset()

	s.Inject(testserver.FaultMalformed)
	resp, b = get()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html"))
	assert.Error(t, json.Unmarshal(b, new(map[string]any)))
	s.Reset()

	s.Inject(testserver.FaultAuth)
	resp, b = get()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.NotEmpty(t, resp.Header.Get("WWW-Authenticate"))
	code, _, _ = kvErr(t, b)
	assert.Equal(t, "Unauthorized", code)
	s.Reset()

	s.Inject(testserver.FaultReset)
	_, err := c.Get(s.URL() + "secrets/k/?api-version=7.5")
	assert.Error(t, err, "the connection is dropped")
	s.Reset()

	s.Inject(testserver.FaultStall)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"secrets/k/?api-version=7.5", nil)
	_, err = c.Do(req)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	s.Reset()
}

// The real SDK client and credential, configured through options rather
// than the environment: ClientSecretCredential against the server's
// authority (instance discovery reaches the impersonated
// login.microsoftonline.com), SetSecret and GetSecret through the proxy.
func TestSDKRoundTrip(t *testing.T) {
	s, c := start(t)
	client := sdkClient(t, s, c, "team-b")
	ctx := context.Background()
	v := "DOTENV_PRIVATE_KEY_PRODUCTION=abc\n"
	set, err := client.SetSecret(ctx, "app-key", azsecrets.SetSecretParameters{Value: &v}, nil)
	require.NoError(t, err)
	got, err := client.GetSecret(ctx, "app-key", "", nil)
	require.NoError(t, err)
	assert.Equal(t, v, *got.Value)
	assert.Equal(t, set.ID.Version(), got.ID.Version())
	stored, ok := s.Get("team-b", "app-key")
	require.True(t, ok)
	assert.Equal(t, v, string(stored.Value))

	big := strings.Repeat("x", azurekv.MaxValueSize+1)
	_, err = client.SetSecret(ctx, "too-big", azsecrets.SetSecretParameters{Value: &big}, nil)
	var re *azcore.ResponseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "BadParameter", re.ErrorCode)
}

func TestEnv(t *testing.T) {
	s, _ := start(t)
	env := map[string]string{}
	for _, kv := range s.Env() {
		k, v, ok := strings.Cut(kv, "=")
		require.True(t, ok, kv)
		env[k] = v
	}
	assert.Equal(t, azurekv.TenantID, env["AZURE_TENANT_ID"])
	assert.Equal(t, azurekv.ClientID, env["AZURE_CLIENT_ID"])
	assert.Equal(t, azurekv.ClientSecret, env["AZURE_CLIENT_SECRET"])
	assert.Equal(t, s.URL(), env["AZURE_AUTHORITY_HOST"])
	assert.Equal(t, "EnvironmentCredential", env["AZURE_TOKEN_CREDENTIALS"])
	assert.Equal(t, strings.TrimSuffix(s.URL(), "/"), env["HTTPS_PROXY"])
	first, _, _ := strings.Cut(env["SSL_CERT_DIR"], string(os.PathListSeparator))
	assert.Equal(t, s.CAFile(), filepath.Join(first, testserver.CAFileName), "the CA's directory comes first")
	pem, err := os.ReadFile(s.CAFile())
	require.NoError(t, err)
	assert.Equal(t, s.CACertPEM(), pem)
}

func TestCloseReleasesStallsAndLeavesNothingBehind(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := azurekv.Start()
	require.NoError(t, err)
	c := s.HTTPClient()
	s.SetSecret("team-b", "k", []byte("x"))
	s.Inject(testserver.FaultStall)
	done := make(chan error, 2)
	for _, u := range []string{s.URL(), s.VaultURL("team-b")} {
		go func() {
			resp, err := c.Get(u + "secrets/k/?api-version=7.5")
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
	}
	time.Sleep(100 * time.Millisecond)
	dir := s.CAFile()
	start := time.Now()
	s.Close()
	s.Close() // idempotent
	assert.Less(t, time.Since(start), 2*time.Second, "Close releases stalled requests")
	for range 2 {
		<-done
	}
	_, err = os.Stat(dir)
	assert.True(t, os.IsNotExist(err), "the CA file is removed")
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "goroutines left behind")
}

// sdkClient is the real azsecrets client, without retries, for vault
// ("" is the default vault, reached directly).
func sdkClient(t *testing.T, s *azurekv.Server, c *http.Client, vault string) *azsecrets.Client {
	t.Helper()
	copts := azcore.ClientOptions{
		Transport: c,
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: s.URL()},
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}
	cred, err := azidentity.NewClientSecretCredential(azurekv.TenantID, azurekv.ClientID, azurekv.ClientSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: copts})
	require.NoError(t, err)
	client, err := azsecrets.NewClient(s.VaultURL(vault), cred, &azsecrets.ClientOptions{ClientOptions: copts, DisableChallengeResourceVerification: vault == ""})
	require.NoError(t, err)
	return client
}

func TestQuota_OverQuotaIs429ThrottledWithRetryAfter(t *testing.T) {
	s, c := start(t)
	s.SetSecret("team-b", "k", []byte("v"))
	client := sdkClient(t, s, c, "team-b")
	_, err := client.GetSecret(context.Background(), "k", "", nil) // challenge and token first
	require.NoError(t, err)

	now := time.Unix(1_700_000_000, 0)
	s.SetClock(func() time.Time { return now })
	s.SetQuota(testserver.Quota{Rate: 0.4, Burst: 1}) // a token every 2.5 s
	_, err = client.GetSecret(context.Background(), "k", "", nil)
	require.NoError(t, err)
	_, err = client.GetSecret(context.Background(), "k", "", nil)
	var re *azcore.ResponseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, http.StatusTooManyRequests, re.StatusCode)
	assert.Equal(t, "Throttled", re.ErrorCode)
	assert.Equal(t, "3", re.RawResponse.Header.Get("Retry-After"), "whole seconds, rounded up")
	code, _, msg := kvErr(t, mustRead(t, re.RawResponse))
	assert.Equal(t, "Throttled", code)
	assert.Contains(t, msg, "too many requests")
}

func mustRead(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

func TestRefuseAfter_TheSDKFindsNothingListening(t *testing.T) {
	s, c := start(t)
	s.SetSecret("", "k", []byte("v"))
	client := sdkClient(t, s, c, "")
	_, err := client.GetSecret(context.Background(), "k", "", nil)
	require.NoError(t, err)
	s.RefuseAfter(1)
	_, err = client.GetSecret(context.Background(), "k", "", nil)
	require.NoError(t, err, "the last request is answered")
	_, err = client.GetSecret(context.Background(), "k", "", nil)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
}
