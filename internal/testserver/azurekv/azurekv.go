// Package azurekv is a local Azure Key Vault, with the Microsoft Entra ID
// token endpoint it needs, for envdrift's tests. The real azsecrets client
// and the real azidentity.DefaultAzureCredential talk to it unchanged, over
// TLS, through the standard environment variables returned by
// [Server.Env]:
//
//   - Key Vault REST (api-version 7.x and later): GET /secrets/{name}/ and
//     /secrets/{name}/{version}, PUT /secrets/{name} with tags and
//     contentType (every PUT a new version; tags kept per version; see
//     write.go); JSON secret bundles {"value","id","attributes","tags"};
//     409 Conflict (ObjectIsDeletedButRecoverable) for a soft-deleted
//     secret; errors {"error":{"code","message"}} with
//     Key Vault's codes and statuses (SecretNotFound 404, Forbidden 403 with
//     innererror ForbiddenByRbac, Unauthorized 401, Throttled 429 with
//     Retry-After, BadParameter 400, InternalServerError 500).
//   - Bearer challenge authentication: a request without a valid token gets
//     401 with WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/<tenant>",
//     resource="https://vault.azure.net", as Key Vault sends it; afterwards
//     requests must carry a token this server issued for that resource.
//   - Microsoft Entra ID: instance discovery (/common/discovery/instance),
//     OpenID configuration (/<tenant>/v2.0/.well-known/openid-configuration)
//     and the client-credentials token endpoint (POST
//     /<tenant>/oauth2/v2.0/token), which checks the client id and secret.
//
// # Addresses
//
// The server listens on one TLS port on 127.0.0.1. Requests to that address
// reach the default vault ([DefaultVault]) and the Entra endpoints. The same
// port is also an HTTPS proxy (HTTPS_PROXY in [Server.Env]) that accepts
// CONNECT only for the hosts it impersonates — <name>.vault.azure.net (and
// the .vault.azure.cn and .vault.usgovcloudapi.net sovereign suffixes) and
// login.microsoftonline.com — and serves them itself; every other CONNECT is
// refused, so nothing reaches the real Azure. A vault name therefore routes
// exactly as in production: https://team-b.vault.azure.net/ reaches the
// vault "team-b" of this server, whose challenge names the resource
// https://vault.azure.net and so passes the SDK's challenge-resource
// verification. The default vault at https://127.0.0.1:PORT/ does not (its
// host is not under vault.azure.net): clients reaching it directly must turn
// that verification off, as they must for any emulator.
//
// Trust: the server's certificate is signed by the test harness's throwaway
// CA, whose PEM file sits in a temporary directory; Env puts it in front of
// SSL_CERT_DIR, which Go (on Linux and the BSDs) reads when it first loads
// the system roots.
//
// Faults injected through the embedded [testserver.Base] become Key Vault
// responses: Throttle, and requests over a [testserver.Quota], → 429
// Throttled with Retry-After in whole seconds (at least 1, the time until
// the quota has a token again); Error → 500
// InternalServerError carrying Base.ErrorMessage(); Stall → no response
// until the client goes away; Reset → the connection is dropped; Malformed →
// 200 with an HTML page, as a captive proxy would send; Auth → 401
// Unauthorized with a fresh challenge.
package azurekv

import (
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/envdrift/envdrift/internal/testserver"
)

// Identities and limits of every server.
const (
	// DefaultVault is the name of the vault served at the server's own
	// address (and at https://envdrift-default.vault.azure.net/ through the
	// proxy).
	DefaultVault = "envdrift-default"
	// TenantID, ClientID and ClientSecret are the Microsoft Entra tenant and
	// the service principal the token endpoint accepts.
	TenantID     = "5f0c3c52-3d9a-4c7e-9a43-e7d1f5a0b001"
	ClientID     = "0b7c5e4a-8d21-4f0e-b5c6-2a9e3d7f4c10"
	ClientSecret = "envdrift-test-client-secret~not-a-real-one"
	// MaxValueSize is Key Vault's limit on a secret value, 25 KiB.
	MaxValueSize = 25 << 10
	// DefaultResource is the resource Key Vault names in its challenge.
	DefaultResource = "https://vault.azure.net"
)

// vaultSuffixes are the Key Vault DNS suffixes the proxy serves, each with
// the resource Key Vault names in its challenge there.
var vaultSuffixes = []string{"vault.azure.net", "vault.azure.cn", "vault.usgovcloudapi.net"}

// impersonatedHosts are the public host names (besides 127.0.0.1) the
// server's certificate is valid for, and the only ones its proxy accepts
// CONNECT requests to. Everything else is refused, so a test can never reach
// the real Azure through it.
var impersonatedHosts = []string{
	"login.microsoftonline.com",
	"*.vault.azure.net",
	"*.vault.azure.cn",
	"*.vault.usgovcloudapi.net",
}

// publicLoginHosts are the Entra hosts whose instance metadata is aliased.
var publicLoginHosts = []string{"login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"}

var secretNameRE = regexp.MustCompile(`^[0-9a-zA-Z-]{1,127}$`)

// Server is a running local Key Vault and Entra token endpoint.
type Server struct {
	*testserver.Base

	mu            sync.Mutex
	tokens        map[string]issuedToken
	history       map[secretKey][]version
	softDeleted   map[secretKey]bool // deleted but recoverable (write.go)
	resource      string             // challenge resource override; "" = per host
	tokenRequests int
	entraRequests int
	challenges    int
	connects      int
	transports    []*http.Transport
}

type issuedToken struct {
	audience string
	expires  time.Time
}

type secretKey struct{ vault, name string }

type version struct {
	id          string
	value       []byte
	created     time.Time
	tags        map[string]string
	contentType string
}

// Start starts a server on a random port of 127.0.0.1.
func Start() (*Server, error) {
	s := &Server{
		Base:    testserver.NewBase(DefaultVault),
		tokens:  map[string]issuedToken{},
		history: map[secretKey][]version{},

		softDeleted: map[secretKey]bool{},
	}
	err := s.Serve(s, testserver.ServeOptions{TLS: true, Hosts: impersonatedHosts, TempDirPrefix: "envdrift-azurekv-"})
	if err != nil {
		return nil, err
	}
	if _, err := testserver.WriteCA(s.Dir()); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the server: it releases stalled requests, closes every
// connection (those of [Server.HTTPClient]'s clients included), waits for
// every handler to return and removes the CA file. It is safe to call more
// than once.
func (s *Server) Close() {
	s.Base.Close()
	s.mu.Lock()
	transports := s.transports
	s.transports = nil
	s.mu.Unlock()
	for _, t := range transports {
		t.CloseIdleConnections()
	}
}

// URL returns the server's own address with a trailing slash,
// https://127.0.0.1:PORT/: the default vault's URL, and the Entra authority
// host.
func (s *Server) URL() string { return "https://" + s.Addr() + "/" }

// VaultURL returns the URL of vault name as a client would build it from
// the vault name: https://<name>.vault.azure.net/, reached through the
// server's proxy. "" returns URL().
func (s *Server) VaultURL(name string) string {
	if name == "" {
		return s.URL()
	}
	return "https://" + name + ".vault.azure.net/"
}

// CAFile returns the path of the PEM file holding the server's CA
// certificate. It is removed by Close.
func (s *Server) CAFile() string { return filepath.Join(s.Dir(), testserver.CAFileName) }

// CACertPEM returns the server's CA certificate in PEM form.
func (s *Server) CACertPEM() []byte {
	pemBytes, _ := testserver.CACertPEM() // Start has made it
	return pemBytes
}

// Env returns the environment an Azure SDK client (or an envdrift process)
// needs to reach and authenticate against this server:
//
//   - AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET: the service
//     principal the token endpoint accepts, read by EnvironmentCredential.
//   - AZURE_AUTHORITY_HOST: this server, so tokens come from its endpoint.
//   - AZURE_TOKEN_CREDENTIALS=EnvironmentCredential: DefaultAzureCredential
//     tries nothing else (no managed identity probe, no Azure CLI).
//   - AZURE_REGIONAL_AUTHORITY_NAME and AZURE_ADDITIONALLY_ALLOWED_TENANTS
//     emptied, so the caller's own settings cannot interfere.
//   - HTTPS_PROXY: this server, which serves <vault>.vault.azure.net and
//     login.microsoftonline.com (MSAL's instance discovery) itself and
//     refuses every other host; NO_PROXY keeps loopback direct.
//   - SSL_CERT_DIR: the directory holding the server's CA in front of the
//     system directories, read by Go on Linux and the BSDs.
//
// Go caches proxy and root-certificate settings on first use, so in-process
// tests must apply these before the first HTTPS request (in TestMain).
func (s *Server) Env() []string {
	return []string{
		"AZURE_TENANT_ID=" + TenantID,
		"AZURE_CLIENT_ID=" + ClientID,
		"AZURE_CLIENT_SECRET=" + ClientSecret,
		"AZURE_AUTHORITY_HOST=" + s.URL(),
		"AZURE_TOKEN_CREDENTIALS=EnvironmentCredential",
		"AZURE_REGIONAL_AUTHORITY_NAME=",
		"AZURE_ADDITIONALLY_ALLOWED_TENANTS=",
		"HTTPS_PROXY=https://" + s.Addr(),
		"NO_PROXY=127.0.0.1,localhost,::1",
		"SSL_CERT_DIR=" + testserver.CertDirValue(s.Dir()),
	}
}

// HTTPClient returns an HTTP client that trusts the server's CA and sends
// requests for the impersonated hosts through the server's proxy, for tests
// that talk to the server without changing the process environment. Close
// closes its idle connections.
func (s *Server) HTTPClient() *http.Client {
	proxyURL, _ := url.Parse("https://" + s.Addr())
	pool, _ := testserver.CAPool() // Start has made it
	t := &http.Transport{
		Proxy: func(r *http.Request) (*url.URL, error) {
			if impersonates(r.URL.Hostname()) {
				return proxyURL, nil
			}
			return nil, nil
		},
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}
	s.mu.Lock()
	s.transports = append(s.transports, t)
	s.mu.Unlock()
	return &http.Client{Transport: t}
}

// SetChallengeResource makes every challenge name resource instead of the
// one Key Vault names for the requested host (https://vault.azure.net, or
// the sovereign cloud's), and makes the vault accept only tokens issued for
// it. "" restores the default. Tests use it to check that clients reject a
// challenge for a resource that does not match the vault's domain.
func (s *Server) SetChallengeResource(resource string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resource = resource
}

// TokenRequests returns how many requests the token endpoint received.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenRequests
}

// EntraRequests returns how many requests the Microsoft Entra endpoints
// (instance discovery, OpenID configuration, token) received.
func (s *Server) EntraRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entraRequests
}

// Challenges returns how many 401 responses with a bearer challenge the
// vaults sent.
func (s *Server) Challenges() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.challenges
}

// ProxyConnects returns how many CONNECT tunnels the proxy accepted.
func (s *Server) ProxyConnects() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connects
}

// ServeHTTP dispatches a request by its host: a vault host, the server's
// own address (default vault for /secrets/..., Entra otherwise), or an Entra
// host reached through the proxy. CONNECT requests open proxy tunnels.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		s.connect(w, r)
		return
	}
	host := strings.ToLower(hostOnly(r.Host))
	if vault, resource, ok := vaultForHost(host); ok {
		s.serveVault(w, r, vault, resource)
		return
	}
	if isLoopback(host) && strings.HasPrefix(r.URL.Path, "/secrets") {
		s.serveVault(w, r, DefaultVault, DefaultResource)
		return
	}
	if isLoopback(host) || host == "login.microsoftonline.com" {
		s.serveEntra(w, r)
		return
	}
	http.Error(w, "unknown host "+host, http.StatusMisdirectedRequest)
}

// connect opens a tunnel for an impersonated host and serves it with TLS.
func (s *Server) connect(w http.ResponseWriter, r *http.Request) {
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil || port != "443" || !impersonates(strings.ToLower(host)) {
		http.Error(w, "envdrift azurekv proxy: CONNECT "+r.Host+" refused: only Key Vault and Entra hosts are served locally", http.StatusForbidden)
		return
	}
	s.mu.Lock()
	s.connects++
	s.mu.Unlock()
	s.Tunnel(w)
}

// ---- Key Vault ----

func (s *Server) challengeResource(hostResource string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resource != "" {
		return s.resource
	}
	return hostResource
}

func (s *Server) serveVault(w http.ResponseWriter, r *http.Request, vault, hostResource string) {
	resource := s.challengeResource(hostResource)
	name, ver, op, ok := parseSecretPath(r.Method, r.URL.Path)
	if !ok {
		kvError(w, http.StatusBadRequest, "BadParameter", "", fmt.Sprintf("The request URI %s is not a supported Key Vault secrets operation.", r.URL.Path))
		return
	}
	switch v := s.Begin(r, op); v.Fault {
	case testserver.FaultThrottle:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(v.RetryAfter)))
		kvError(w, http.StatusTooManyRequests, "Throttled", "", "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached")
		return
	case testserver.FaultError:
		kvError(w, http.StatusInternalServerError, "InternalServerError", "", s.ErrorMessage())
		return
	case testserver.FaultMalformed:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "<!DOCTYPE html>\n<html><head><title>Access Denied</title></head><body><h1>Web page blocked</h1><p>The page you requested is blocked by the network proxy.</p></body></html>\n")
		return
	case testserver.FaultAuth:
		s.challenge(w, resource, "[TokenExpired] Error validating token: 'S2S12086'.")
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		kvError(w, http.StatusBadRequest, "BadParameter", "", "The api-version query parameter (?api-version=) is required for all requests.")
		return
	}
	if msg := s.checkToken(r, resource); msg != "" {
		s.challenge(w, resource, msg)
		return
	}
	if !secretNameRE.MatchString(name) {
		kvError(w, http.StatusBadRequest, "BadParameter", "", "The request URI contains an invalid name: "+name)
		return
	}
	base := "https://" + r.Host
	switch op {
	case "GetSecret":
		s.getSecret(w, vault, name, ver, base)
	case "SetSecret":
		s.setSecret(w, r, vault, name, base)
	}
}

// checkToken returns "" when r carries a live token issued for resource,
// else Key Vault's message for the failure.
func (s *Server) checkToken(r *http.Request, resource string) string {
	auth := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(auth, " ")
	if auth == "" || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "AKV10000: Request is missing a Bearer or PoP token."
	}
	s.mu.Lock()
	t, ok := s.tokens[tok]
	s.mu.Unlock()
	switch {
	case !ok:
		return "AKV10022: Invalid token: the token was not issued by the tenant's identity provider."
	case time.Now().After(t.expires):
		return "[TokenExpired] Error validating token: 'S2S12086'."
	case t.audience != resource:
		return fmt.Sprintf("AKV10022: Invalid audience. Expected %s, found: %s.", resource, t.audience)
	}
	return ""
}

func (s *Server) challenge(w http.ResponseWriter, resource, msg string) {
	s.mu.Lock()
	s.challenges++
	s.mu.Unlock()
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization="https://login.microsoftonline.com/%s", resource="%s"`, TenantID, resource))
	kvError(w, http.StatusUnauthorized, "Unauthorized", "", msg)
}

func parseSecretPath(method, path string) (name, ver, op string, ok bool) {
	rest, found := strings.CutPrefix(path, "/secrets/")
	if !found {
		return "", "", "", false
	}
	parts := strings.Split(rest, "/")
	switch {
	case method == http.MethodGet && len(parts) == 1:
		return parts[0], "", "GetSecret", parts[0] != ""
	case method == http.MethodGet && len(parts) == 2:
		return parts[0], parts[1], "GetSecret", parts[0] != ""
	case method == http.MethodPut && (len(parts) == 1 || len(parts) == 2 && parts[1] == ""):
		return parts[0], "", "SetSecret", parts[0] != ""
	}
	return "", "", "", false
}

func kvHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("x-ms-request-id", newUUID())
	h.Set("x-ms-keyvault-region", "local")
	h.Set("x-ms-keyvault-service-version", "1.9.0.0")
}

func kvError(w http.ResponseWriter, status int, code, inner, msg string) {
	kvHeaders(w)
	e := map[string]any{"code": code, "message": msg}
	if inner != "" {
		e["innererror"] = map[string]any{"code": inner}
	}
	writeJSON(w, status, map[string]any{"error": e})
}

func notFound(w http.ResponseWriter, nameOrID string) {
	kvError(w, http.StatusNotFound, "SecretNotFound", "", fmt.Sprintf(
		"A secret with (name/id) %s was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182", nameOrID))
}

func forbidden(w http.ResponseWriter, vault, name, action string) {
	kvError(w, http.StatusForbidden, "Forbidden", "ForbiddenByRbac", fmt.Sprintf(
		"Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\n"+
			"Caller: appid=%s;oid=3f1e9a27-0c4d-4b8e-9e55-7d2a6c1b8f00;iss=https://sts.windows.net/%s/\r\n"+
			"Action: 'Microsoft.KeyVault/vaults/secrets/%s/action'\r\n"+
			"Resource: '/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/envdrift-test/providers/microsoft.keyvault/vaults/%s/secrets/%s'\r\n"+
			"Assignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: %s;location=local\r\n",
		ClientID, TenantID, action, vault, strings.ToLower(name), vault))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// ---- Microsoft Entra ID ----

func (s *Server) serveEntra(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.entraRequests++
	s.mu.Unlock()
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/common/discovery/instance":
		s.instanceDiscovery(w, r)
	case r.Method == http.MethodGet && len(segs) == 4 && segs[1] == "v2.0" && segs[2] == ".well-known" && segs[3] == "openid-configuration":
		s.openIDConfiguration(w, r, segs[0])
	case r.Method == http.MethodPost && len(segs) == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" && segs[3] == "token":
		s.token(w, r, segs[0])
	default:
		entraError(w, r, http.StatusNotFound, "invalid_request", 90027, "The endpoint "+r.URL.Path+" is not served by this identity provider.")
	}
}

func (s *Server) instanceDiscovery(w http.ResponseWriter, r *http.Request) {
	ae, err := url.Parse(r.URL.Query().Get("authorization_endpoint"))
	if err != nil || ae.Host == "" || ae.Scheme != "https" {
		entraError(w, r, http.StatusBadRequest, "invalid_instance", 50049, "Unknown or invalid instance.")
		return
	}
	host := strings.ToLower(ae.Host)
	tenant, _, _ := strings.Cut(strings.TrimPrefix(ae.Path, "/"), "/")
	meta := map[string]any{"preferred_network": host, "preferred_cache": host, "aliases": []string{host}}
	for _, h := range publicLoginHosts {
		if h == host {
			meta = map[string]any{"preferred_network": "login.microsoftonline.com", "preferred_cache": "login.windows.net", "aliases": publicLoginHosts}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": "https://" + host + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata":                  []any{meta},
	})
}

func (s *Server) openIDConfiguration(w http.ResponseWriter, r *http.Request, tenant string) {
	if !strings.EqualFold(tenant, TenantID) {
		entraError(w, r, http.StatusBadRequest, "invalid_tenant", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	base := "https://" + r.Host + "/" + TenantID
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                base + "/v2.0",
		"request_uri_parameter_supported":       false,
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"tenant_region_scope":                   "WW",
		"cloud_instance_name":                   "microsoftonline.com",
		"cloud_graph_host_name":                 "graph.windows.net",
		"msgraph_host":                          "graph.microsoft.com",
	})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request, tenant string) {
	s.mu.Lock()
	s.tokenRequests++
	s.mu.Unlock()
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		entraError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	f := r.PostForm
	switch {
	case !strings.EqualFold(tenant, TenantID):
		entraError(w, r, http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
	case f.Get("grant_type") != "client_credentials":
		entraError(w, r, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+f.Get("grant_type")+"'.")
	case f.Get("client_id") != ClientID:
		entraError(w, r, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.", f.Get("client_id"), TenantID))
	case f.Get("client_secret") == "":
		entraError(w, r, http.StatusUnauthorized, "invalid_client", 7000216, "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
	case subtle.ConstantTimeCompare([]byte(f.Get("client_secret")), []byte(ClientSecret)) != 1:
		entraError(w, r, http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", ClientID))
	default:
		// MSAL adds the OpenID scopes, which Entra ignores for this grant;
		// exactly one resource/.default scope must remain.
		scope := f.Get("scope")
		var resources []string
		for _, sc := range strings.Fields(scope) {
			switch sc {
			case "openid", "profile", "offline_access":
			default:
				resources = append(resources, sc)
			}
		}
		var resource string
		ok := len(resources) == 1
		if ok {
			resource, ok = strings.CutSuffix(resources[0], "/.default")
		}
		if !ok || !strings.HasPrefix(resource, "https://") {
			entraError(w, r, http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope))
			return
		}
		tok := newToken()
		s.mu.Lock()
		s.tokens[tok] = issuedToken{audience: resource, expires: time.Now().Add(time.Hour)}
		s.mu.Unlock()
		w.Header().Set("Cache-Control", "no-store, no-cache")
		writeJSON(w, http.StatusOK, map[string]any{
			"token_type":     "Bearer",
			"expires_in":     3599,
			"ext_expires_in": 3599,
			"access_token":   tok,
		})
	}
}

func entraError(w http.ResponseWriter, r *http.Request, status int, code string, aadsts int, msg string) {
	trace, corr := newUUID(), newUUID()
	now := time.Now().UTC().Format("2006-01-02 15:04:05Z")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	writeJSON(w, status, map[string]any{
		"error":             code,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", aadsts, msg, trace, corr, now),
		"error_codes":       []int{aadsts},
		"timestamp":         now,
		"trace_id":          trace,
		"correlation_id":    corr,
		"error_uri":         fmt.Sprintf("https://%s/error?code=%d", r.Host, aadsts),
	})
}

// ---- helpers ----

// vaultForHost maps <name>.<suffix> to the vault name and the resource Key
// Vault names in its challenge for that cloud.
func vaultForHost(host string) (vault, resource string, ok bool) {
	for _, suffix := range vaultSuffixes {
		if name, found := strings.CutSuffix(host, "."+suffix); found && name != "" && !strings.Contains(name, ".") {
			return name, "https://" + suffix, true
		}
	}
	return "", "", false
}

func impersonates(host string) bool {
	if host == "login.microsoftonline.com" {
		return true
	}
	_, _, ok := vaultForHost(host)
	return ok
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}

func newID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "kv." + base64.RawURLEncoding.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// retryAfterSeconds is the Retry-After Key Vault sends for a wait of d: whole
// seconds, rounded up, at least one.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}
