package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/envdrift/envdrift/internal/tlshint"
	"github.com/envdrift/envdrift/provider"
)

// Hints shown with classified errors.
const (
	hintLogin     = "run `az login`, or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, or use a managed identity"
	hintRBAC      = "give the identity the role \"Key Vault Secrets User\" on the vault (az role assignment create --role \"Key Vault Secrets User\" --assignee <identity> --scope <vault resource id>)"
	hintPolicy    = "add an access policy that grants the identity secret get on the vault (az keyvault set-policy --name VAULT --secret-permissions get --object-id <identity>)"
	hintForbidden = "the identity needs the role \"Key Vault Secrets User\" on the vault, or an access policy with secret get"
)

// maxMessage caps the service message kept in an error.
const maxMessage = 1000

// kvError is Key Vault's error body: {"error":{"code","message","innererror":{"code"}}}.
type kvError struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError *struct {
			Code string `json:"code"`
		} `json:"innererror"`
	} `json:"error"`
}

// classify turns an error from the azsecrets client into a *provider.Error.
// Key Vault and Entra error bodies never carry secret values or tokens, so
// their messages are safe to show.
func classify(ctx context.Context, ref provider.Ref, vaultURL string, err error) error {
	name := vaultName(ref, vaultURL)
	vault := "vault " + name

	// The caller's context ended: report that, wrapping ctx.Err() so
	// errors.Is(err, context.Canceled) holds.
	if cerr := ctx.Err(); cerr != nil {
		cause := err
		if !errors.Is(err, cerr) {
			cause = errors.Join(cerr, err)
		}
		return provider.NewError(provider.ErrUnavailable, Name, ref, "request to "+vault+" stopped: "+cerr.Error(), cause)
	}

	var ce *credentialError
	if errors.As(err, &ce) {
		return provider.NewError(provider.ErrUnauthenticated, Name, ref, ce.msg, err).WithHint(hintLogin)
	}

	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return classifyResponse(ref, name, re)
	}

	msg := err.Error()
	switch {
	case strings.Contains(msg, "doesn't match the requested domain"):
		return provider.NewError(provider.ErrInvalid, Name, ref,
			"Key Vault's authentication challenge names a resource outside the vault's domain ("+flatten(msg)+")", err).
			WithHint("if " + vaultURL + " is an emulator or local server you trust, set disable_challenge_resource_verification = true in [vault.azure]; otherwise check vault_url")
	case strings.Contains(msg, "WWW-Authenticate"):
		return provider.NewError(provider.ErrInvalid, Name, ref,
			vaultURL+" answered 401 without a Key Vault challenge: "+flatten(msg), err).
			WithHint("check that vault_url points at a Key Vault")
	case strings.HasPrefix(msg, "unmarshalling type"):
		return provider.NewError(provider.ErrUnavailable, Name, ref,
			vault+" returned a response that is not a Key Vault secret ("+flatten(msg)+")", err).
			WithHint("a proxy or captive portal may be answering instead of Key Vault; check HTTPS_PROXY and the network")
	}

	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return provider.NewError(provider.ErrNotFound, Name, ref,
			fmt.Sprintf("vault host %s does not exist (%s)", dnsErr.Name, dnsErr.Err), err).
			WithHint("check the vault name (vault_name / default_vault_name) and vault_url; a vault name resolves as <name>." + suffixOf(vaultURL))
	}

	if hint := tlsHint(err, vaultURL); hint != "" {
		return provider.NewError(provider.ErrUnavailable, Name, ref, "TLS: "+transportMessage(err), err).WithHint(hint)
	}

	if errors.Is(err, context.DeadlineExceeded) {
		return provider.NewError(provider.ErrUnavailable, Name, ref,
			"request to "+vault+" timed out: "+transportMessage(err), err).
			WithHint("check the network path to " + vaultURL + ", or raise the timeout")
	}
	return provider.NewError(provider.ErrUnavailable, Name, ref, "request to "+vault+" failed: "+transportMessage(err), err).
		WithHint("check the network path to " + vaultURL)
}

// classifyResponse classifies an HTTP error response from Key Vault.
func classifyResponse(ref provider.Ref, name string, re *azcore.ResponseError) error {
	vault := "vault " + name
	code, inner, message := parseKVError(re)
	msg := code
	if msg == "" {
		msg = fmt.Sprintf("HTTP %d %s", re.StatusCode, http.StatusText(re.StatusCode))
	}
	if inner != "" && inner != code {
		msg += " (" + inner + ")"
	}
	if message != "" {
		msg += ": " + message
	} else if code == "" {
		msg += " (the response is not a Key Vault error; a proxy may be in the way)"
	}
	mk := func(k error, hint string) error {
		e := provider.NewError(k, Name, ref, msg, re)
		if hint != "" {
			e = e.WithHint(hint)
		}
		return e
	}
	switch status := re.StatusCode; {
	case status == http.StatusNotFound:
		return mk(provider.ErrNotFound, "create the secret "+ref.Name+" in "+vault+", or check secret_name and vault_name")
	case status == http.StatusForbidden:
		return mk(provider.ErrPermissionDenied, forbiddenHint(inner, name))
	case status == http.StatusUnauthorized:
		return mk(provider.ErrUnauthenticated, "Key Vault rejected the token: check that the identity belongs to the vault's tenant; "+hintLogin)
	case status == http.StatusTooManyRequests:
		e := provider.NewError(provider.ErrThrottled, Name, ref, msg, re).
			WithHint("Key Vault is throttling requests to " + vault + ": lower --concurrency or try again shortly")
		if re.RawResponse != nil {
			e.RetryAfter = retryAfter(re.RawResponse.Header, time.Now())
		}
		return e
	case status == http.StatusRequestTimeout || status >= 500:
		return mk(provider.ErrUnavailable, "Key Vault or the network path to it is failing; try again later")
	default:
		return mk(provider.ErrInvalid, "")
	}
}

// retryAfter is the wait a throttled answer asks for: Key Vault's
// Retry-After (whole seconds, or an HTTP date), or the millisecond headers
// other Azure services send; zero when there is none.
func retryAfter(h http.Header, now time.Time) time.Duration {
	for _, name := range []string{"Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
		if ms, err := strconv.ParseInt(h.Get(name), 10, 64); err == nil && ms > 0 {
			return time.Duration(ms) * time.Millisecond
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(max(s, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// forbiddenHint says what fixes a 403, by Key Vault's inner error code.
func forbiddenHint(inner, name string) string {
	switch inner {
	case "ForbiddenByRbac":
		return strings.Replace(hintRBAC, "on the vault", "on the vault "+name, 1)
	case "ForbiddenByPolicy", "AccessDenied":
		return strings.Replace(hintPolicy, "VAULT", name, 1)
	case "ForbiddenByFirewall":
		return "the firewall of the vault " + name + " does not allow this client's address: add it under Networking, or run from an allowed network"
	case "ForbiddenByConnection":
		return "public network access to the vault " + name + " is disabled: connect through its private endpoint"
	case "SecretDisabled":
		return "the secret is disabled: enable it (az keyvault secret set-attributes --vault-name " + name + " --name NAME --enabled true)"
	}
	return strings.Replace(hintForbidden, "the vault", "the vault "+name, 1)
}

// parseKVError extracts code, inner code and message from a Key Vault error
// body. The message is flattened to one line.
func parseKVError(re *azcore.ResponseError) (code, inner, message string) {
	code = re.ErrorCode
	if re.RawResponse == nil {
		return code, "", ""
	}
	body, err := runtime.Payload(re.RawResponse)
	if err != nil || len(body) == 0 {
		return code, "", ""
	}
	var e kvError
	if json.Unmarshal(body, &e) != nil {
		return code, "", ""
	}
	if e.Error.Code != "" {
		code = e.Error.Code
	}
	if e.Error.InnerError != nil {
		inner = e.Error.InnerError.Code
	}
	return code, inner, flatten(e.Error.Message)
}

// entraError is Microsoft Entra's OAuth error body.
type entraError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// credentialMessage summarises a credential failure on one line: the token
// endpoint's own error when there is one, else azidentity's message.
func credentialMessage(err error) string {
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil {
		if body, perr := runtime.Payload(afe.RawResponse); perr == nil {
			var e entraError
			if json.Unmarshal(body, &e) == nil && e.Error != "" {
				desc := e.Description
				if i := strings.Index(desc, " Trace ID:"); i >= 0 {
					desc = desc[:i]
				}
				where := ""
				if req := afe.RawResponse.Request; req != nil {
					where = " from " + req.URL.Host + req.URL.Path
				}
				return flatten(fmt.Sprintf("authentication failed: HTTP %d%s: %s: %s", afe.RawResponse.StatusCode, where, e.Error, desc))
			}
		}
	}
	return flatten(err.Error())
}

// flatten puts a multi-line message on one line and caps its length.
func flatten(s string) string {
	var parts []string
	for _, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.Trim(line, "-") == "" {
			continue
		}
		parts = append(parts, line)
	}
	out := strings.Join(parts, " ")
	if len(out) > maxMessage {
		out = out[:maxMessage] + "…"
	}
	return out
}

// transportMessage is the innermost useful text of a transport error,
// without the request URL the http package prefixes.
func transportMessage(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return flatten(ue.Err.Error())
	}
	return flatten(err.Error())
}

// vaultName names the vault in messages: the ref's vault name, else the
// first label of the vault URL's host (the vault's name in Azure), else the
// host.
func vaultName(ref provider.Ref, vaultURL string) string {
	if ref.Vault != "" {
		return ref.Vault
	}
	u, err := url.Parse(vaultURL)
	if err != nil || u.Host == "" {
		return vaultURL
	}
	host := u.Hostname()
	if net.ParseIP(host) == nil {
		if label, _, ok := strings.Cut(host, "."); ok {
			return label
		}
	}
	return u.Host
}

func suffixOf(vaultURL string) string {
	if s := suffixFromURL(vaultURL); s != "" {
		return s
	}
	return DefaultDNSSuffix
}

// tlsHint names the cause of a failed TLS connection to vaultURL, "" when
// err is not one.
func tlsHint(err error, vaultURL string) string {
	switch tlshint.Classify(err) {
	case tlshint.UnknownAuthority:
		return "the certificate of " + vaultURL + " is signed by an authority this machine does not trust; a TLS-inspecting proxy may be in the way: add its CA to the system store (or SSL_CERT_FILE)"
	case tlshint.WrongHost:
		return "the certificate of " + vaultURL + " is for another host name: use a host name it names in vault_url (https://<vault>." + suffixOf(vaultURL) + "/)"
	case tlshint.Expired:
		return "the certificate of " + vaultURL + " has expired or is not yet valid; if it is current, check this machine's clock"
	case tlshint.OtherCertificate:
		return "the certificate of " + vaultURL + " was refused; a TLS-inspecting proxy may be in the way: add its CA to the system store (or SSL_CERT_FILE)"
	case tlshint.Plaintext:
		return vaultURL + " answers in plaintext, not TLS: Key Vault (and the clients' bearer authentication) needs an https server; check vault_url"
	}
	return ""
}
