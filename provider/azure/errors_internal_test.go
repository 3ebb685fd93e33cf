package azure

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/provider"
)

func responseError(status int, header, body string) *azcore.ResponseError {
	req, _ := http.NewRequest(http.MethodGet, "https://kv1.vault.azure.net/secrets/app-key/?api-version=2026-04-01", nil)
	resp := &http.Response{
		StatusCode: status,
		Status:     http.StatusText(status),
		Header:     http.Header{},
		Body:       io.NopCloser(strings.NewReader(body)),
		Request:    req,
	}
	code := ""
	if header != "" {
		resp.Header.Set("x-ms-error-code", header)
		code = header
	}
	return &azcore.ResponseError{StatusCode: status, ErrorCode: code, RawResponse: resp}
}

func TestClassify_KeyVaultResponses(t *testing.T) {
	const vaultURL = "https://kv1.vault.azure.net/"
	cases := []struct {
		name   string
		status int
		body   string
		kind   string
		msg    string
		hint   string
	}{
		{"SecretNotFound", 404, `{"error":{"code":"SecretNotFound","message":"A secret with (name/id) app-key was not found in this key vault."}}`,
			"not_found", "SecretNotFound: A secret with (name/id) app-key was not found", "create the secret app-key in vault kv1"},
		{"ForbiddenByRbac", 403, `{"error":{"code":"Forbidden","message":"Caller is not authorized to perform action on resource.\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\n","innererror":{"code":"ForbiddenByRbac"}}}`,
			"permission_denied", "Forbidden (ForbiddenByRbac): Caller is not authorized to perform action on resource. Action:", `"Key Vault Secrets User" on the vault kv1`},
		{"ForbiddenByPolicy", 403, `{"error":{"code":"Forbidden","message":"The user, group or application 'appid=x' does not have secrets get permission on key vault 'kv1;location=westeurope'.","innererror":{"code":"ForbiddenByPolicy"}}}`,
			"permission_denied", "Forbidden (ForbiddenByPolicy): The user, group or application", "az keyvault set-policy --name kv1 --secret-permissions get"},
		{"ForbiddenByFirewall", 403, `{"error":{"code":"Forbidden","message":"Client address is not authorized and caller is not a trusted service.","innererror":{"code":"ForbiddenByFirewall"}}}`,
			"permission_denied", "ForbiddenByFirewall", "firewall"},
		{"ForbiddenByConnection", 403, `{"error":{"code":"Forbidden","message":"Public network access is disabled.","innererror":{"code":"ForbiddenByConnection"}}}`,
			"permission_denied", "ForbiddenByConnection", "private endpoint"},
		{"SecretDisabled", 403, `{"error":{"code":"Forbidden","message":"Operation get is not allowed on a disabled secret.","innererror":{"code":"SecretDisabled"}}}`,
			"permission_denied", "SecretDisabled", "--enabled true"},
		{"Forbidden without inner code", 403, `{"error":{"code":"Forbidden","message":"Access denied."}}`,
			"permission_denied", "Forbidden: Access denied.", "Key Vault Secrets User\" on the vault kv1, or an access policy with secret get"},
		{"Unauthorized", 401, `{"error":{"code":"Unauthorized","message":"AKV10032: Invalid issuer."}}`,
			"unauthenticated", "Unauthorized: AKV10032: Invalid issuer.", "az login"},
		{"Throttled", 429, `{"error":{"code":"Throttled","message":"Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached"}}`,
			"throttled", "Throttled: Request was not processed", "concurrency"},
		{"InternalServerError", 500, `{"error":{"code":"InternalServerError","message":"boom"}}`,
			"unavailable", "InternalServerError: boom", "try again"},
		{"ServiceUnavailable", 503, `{"error":{"code":"ServiceUnavailable","message":"The service is unavailable."}}`,
			"unavailable", "ServiceUnavailable: The service is unavailable.", ""},
		{"RequestTimeout", 408, ``, "unavailable", "HTTP 408 Request Timeout", ""},
		{"BadGateway from a proxy, HTML", 502, `<html><body><h1>502 Bad Gateway</h1></body></html>`,
			"unavailable", "HTTP 502 Bad Gateway (the response is not a Key Vault error; a proxy may be in the way)", ""},
		{"BadParameter", 400, `{"error":{"code":"BadParameter","message":"The request URI contains an invalid name: a_b"}}`,
			"invalid", "BadParameter: The request URI contains an invalid name: a_b", ""},
		{"Conflict", 409, `{"error":{"code":"Conflict","message":"Secret app-key is currently being deleted."}}`,
			"invalid", "Conflict: Secret app-key is currently being deleted.", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ref := provider.Ref{Name: "app-key"}
			err := classify(context.Background(), ref, vaultURL, responseError(c.status, "", c.body))
			var pe *provider.Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, c.kind, provider.KindOf(pe), "%v", err)
			assert.Equal(t, Name, pe.Provider)
			assert.Equal(t, ref, pe.Ref)
			assert.Contains(t, pe.Message, c.msg)
			assert.NotContains(t, pe.Message, "\n")
			assert.NotContains(t, pe.Message, "\r")
			if c.hint != "" {
				assert.Contains(t, pe.Hint, c.hint)
			}
			var re *azcore.ResponseError
			assert.ErrorAs(t, err, &re, "the SDK error stays reachable")
		})
	}
}

func TestClassify_ErrorCodeHeaderWithoutBody(t *testing.T) {
	err := classify(context.Background(), provider.Ref{Vault: "team-b", Name: "k"}, "https://team-b.vault.azure.net/",
		responseError(404, "SecretNotFound", ""))
	assert.ErrorIs(t, err, provider.ErrNotFound)
	assert.Contains(t, err.Error(), "SecretNotFound")
	assert.Contains(t, err.Error(), "vault team-b")
}

func TestClassify_TransportAndClientErrors(t *testing.T) {
	const vaultURL = "https://kv1.vault.azure.net/"
	urlErr := func(err error) error {
		return &url.Error{Op: "Get", URL: vaultURL + "secrets/k/", Err: err}
	}
	cases := []struct {
		name string
		err  error
		kind string
		msg  string
		hint string
	}{
		{"vault does not exist (NXDOMAIN)", urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "kv1.vault.azure.net", IsNotFound: true}}),
			"not_found", "vault host kv1.vault.azure.net does not exist", "<name>.vault.azure.net"},
		{"DNS server unreachable", urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "i/o timeout", Name: "kv1.vault.azure.net", IsTimeout: true}}),
			"unavailable", "request to vault kv1 failed", "network"},
		{"connection refused", urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}),
			"unavailable", "connection refused", "network"},
		{"per-attempt timeout", urlErr(context.DeadlineExceeded), "unavailable", "timed out", "timeout"},
		{"unknown CA", urlErr(x509.UnknownAuthorityError{}), "unavailable", "TLS:", "SSL_CERT_FILE"},
		{"challenge mismatch", errors.New(`challenge resource "https://vault.azure.net" doesn't match the requested domain. Set DisableChallengeResourceVerification to true in your client options to disable.`),
			"invalid", "challenge", "disable_challenge_resource_verification = true"},
		{"401 without a challenge", errors.New("response has no WWW-Authenticate header for challenge authentication"),
			"invalid", "without a Key Vault challenge", "vault_url"},
		{"HTML where JSON was expected", errors.New("unmarshalling type *azsecrets.Secret: invalid character '<' looking for beginning of value"),
			"unavailable", "not a Key Vault secret", "proxy"},
		{"credential unavailable", newCredentialError(errors.New("DefaultAzureCredential: failed to acquire a token.\nAttempted credentials:\n\tEnvironmentCredential: missing environment variable AZURE_TENANT_ID\n\tAzureCLICredential: Azure CLI not found on path")),
			"unauthenticated", "DefaultAzureCredential: failed to acquire a token. Attempted credentials: EnvironmentCredential: missing environment variable AZURE_TENANT_ID AzureCLICredential: Azure CLI not found on path",
			"run `az login`, or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, or use a managed identity"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := classify(context.Background(), provider.Ref{Name: "k"}, vaultURL, c.err)
			var pe *provider.Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, c.kind, provider.KindOf(pe), "%v", err)
			assert.Contains(t, pe.Message, c.msg)
			assert.Contains(t, pe.Hint, c.hint)
			assert.NotContains(t, pe.Message, "\n")
		})
	}
}

func TestClassify_CancelledContextWrapsCtxErr(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := classify(ctx, provider.Ref{Name: "k"}, "https://kv1.vault.azure.net/", errors.New("transport: use of closed connection"))
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, "unavailable", provider.KindOf(err))
}

func TestCredentialMessage_EntraErrorBody(t *testing.T) {
	// The token endpoint's JSON error, as azidentity attaches it.
	req, _ := http.NewRequest(http.MethodPost, "https://login.microsoftonline.com/tenant/oauth2/v2.0/token", nil)
	body := `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Trace ID: 1 Correlation ID: 2 Timestamp: 3","error_codes":[7000215]}`
	resp := &http.Response{StatusCode: 401, Status: "401 Unauthorized", Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: req}
	got := credentialMessage(&azidentity.AuthenticationFailedError{RawResponse: resp})
	assert.Equal(t, "authentication failed: HTTP 401 from login.microsoftonline.com/tenant/oauth2/v2.0/token: invalid_client: AADSTS7000215: Invalid client secret provided.", got)
}

func TestFlatten(t *testing.T) {
	assert.Equal(t, "a b c", flatten("a\r\n b\n\n---\nc  "))
	long := flatten(strings.Repeat("x", 5000))
	assert.LessOrEqual(t, len(long), maxMessage+len("…"))
}

func TestRetryAfter_SecondsDatesAndMilliseconds(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	assert.Equal(t, 7*time.Second, retryAfter(h("Retry-After", "7"), now))
	assert.Equal(t, 30*time.Second, retryAfter(h("Retry-After", now.Add(30*time.Second).Format(http.TimeFormat)), now))
	assert.Equal(t, 1500*time.Millisecond, retryAfter(h("Retry-After", "2", "Retry-After-Ms", "1500"), now), "the finer header wins")
	assert.Equal(t, 250*time.Millisecond, retryAfter(h("x-ms-retry-after-ms", "250"), now))
	assert.Zero(t, retryAfter(h(), now))
	assert.Zero(t, retryAfter(h("Retry-After", "soon"), now))
	assert.Zero(t, retryAfter(h("Retry-After", now.Add(-time.Minute).Format(http.TimeFormat)), now), "a date in the past is no wait")
}

func TestShouldRetry_NotWhatRetryingSoonWouldNotChange(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, refused := http.Get("http://" + addr + "/")
	require.Error(t, refused)
	assert.False(t, shouldRetry(nil, refused), "connection refused")
	assert.False(t, shouldRetry(nil, &url.Error{Op: "Get", URL: "https://kv1.vault.azure.net/",
		Err: &net.DNSError{Err: "no such host", Name: "kv1.vault.azure.net", IsNotFound: true}}), "a vault host that does not exist")
	assert.True(t, shouldRetry(nil, &url.Error{Op: "Get", URL: "https://kv1.vault.azure.net/", Err: io.ErrUnexpectedEOF}), "a dropped connection")
	for _, code := range []int{408, 429, 500, 502, 503, 504} {
		assert.True(t, shouldRetry(&http.Response{StatusCode: code}, nil), "%d", code)
	}
	for _, code := range []int{200, 401, 403, 404, 409} {
		assert.False(t, shouldRetry(&http.Response{StatusCode: code}, nil), "%d", code)
	}
}
