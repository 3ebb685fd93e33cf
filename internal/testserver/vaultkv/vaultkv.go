// Package vaultkv is a local HashiCorp Vault server for envdrift's tests. It
// speaks the part of Vault's HTTP API that envdrift and the official
// github.com/hashicorp/vault/api client use, closely enough that the real
// client accepts it unchanged:
//
//   - token authentication through the X-Vault-Token header (or an
//     "Authorization: Bearer" header), answered as Vault answers it: a
//     missing or unknown token gets 403 with {"errors":["permission denied"]}
//     (unknown tokens also carry "invalid token", as Vault 1.17 and later
//     send; see [Server.SetInvalidTokenDetail]);
//   - GET /v1/auth/token/lookup-self;
//   - GET /v1/sys/internal/ui/mounts/<path>, the pre-flight request the vault
//     CLI uses to learn a mount's type and KV version (403 for a path under
//     no mount, as Vault does so that mounts cannot be enumerated);
//   - KV version 1 mounts: GET, PUT/POST and DELETE /v1/<mount>/<path>;
//   - KV version 2 mounts: GET, PUT/POST and DELETE /v1/<mount>/data/<path>
//     with Vault's response envelope (data.data, data.metadata with
//     custom_metadata), ?version=N reads of earlier versions, soft deletes
//     answered with 404 plus the version metadata, and
//     PUT/POST /v1/<mount>/destroy/<path>;
//   - check-and-set on KV v2 writes (options.cas: 0 creates only, N updates
//     only version N; a mismatch is 400 "check-and-set parameter did not
//     match the current version"), and GET and PUT/POST
//     /v1/<mount>/metadata/<path> with custom_metadata and Vault's limits
//     on it (see write.go); [Server.DenyWrite] refuses writes of one path
//     with 403 while reads go on, and [Server.Writes] counts write requests;
//   - the X-Vault-Namespace header: a mount in namespace "team-a" is distinct
//     from a root-namespace mount of the same path;
//   - response wrapping: a GET with X-Vault-Wrap-TTL gets only wrap_info.
//
// Injected faults ([testserver.Fault]) become Vault's own responses: Throttle,
// and a request over a [testserver.Quota], is the 429 of a rate limit quota,
// {"errors":["request path \"<path>\": rate limit quota exceeded"]}, with
// Vault's rate limit headers (see [Server.SetRateLimitHeaders]); Error is
// 500 (or the status set
// with [Server.SetErrorStatus], e.g. 503 for a sealed Vault) with
// {"errors":[message]}, Malformed is a 200 HTML page such as a proxy's login
// page, Auth is the invalid-token 403, Reset drops the connection and Stall
// hangs until the client goes away.
//
// The handlers see a request through the routing table in [Server.route]:
// each endpoint names its operation and says whether it needs a token, so
// new endpoints (login methods, sys paths) and a policy check between
// authentication and the handler each have one place to go.
//
// The server starts with one KV v2 mount, "secret", like `vault server -dev`.
// Secrets are kept in the embedded [testserver.Base] under the vault key
// [VaultKey](namespace, mount) as the JSON object of their fields.
package vaultkv

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/envdrift/envdrift/internal/testserver"
)

// DefaultMount is the KV v2 mount every server starts with.
const DefaultMount = "secret"

// Operation names counted in [testserver.Base.Ops].
const (
	OpLookupSelf  = "LookupSelf"       // GET auth/token/lookup-self
	OpMounts      = "InternalUIMounts" // GET sys/internal/ui/mounts/<path>
	OpKVv1Read    = "KVv1Read"
	OpKVv1Write   = "KVv1Write"
	OpKVv1Delete  = "KVv1Delete"
	OpKVv2Read    = "KVv2Read"
	OpKVv2Write   = "KVv2Write"
	OpKVv2Delete  = "KVv2Delete"
	OpKVv2Destroy = "KVv2Destroy"
	// OpKVv2MetadataRead and OpKVv2MetadataWrite are GET and POST/PUT of
	// <mount>/metadata/<path> (see write.go).
	OpKVv2MetadataRead  = "KVv2MetadataRead"
	OpKVv2MetadataWrite = "KVv2MetadataWrite"
	OpOther             = "Other"
)

// versionedKVWarning is the warning Vault adds when a KV v2 mount is read
// with a KV v1 style path.
const versionedKVWarning = "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv get' for this operation."

// Server is a running local Vault server.
type Server struct {
	*testserver.Base

	scheme string
	caFile string // PEM CA certificate for StartTLS servers

	noTokenDetail      atomic.Bool
	errorStatus        atomic.Int32
	noRateLimitHeaders atomic.Bool
	flavor             atomic.Int32 // a Flavor

	mu         sync.Mutex
	rootToken  string
	tokens     map[string]tokenEntry
	mounts     map[mountKey]int // KV version: 0 (no options, v1), 1 or 2
	meta       map[secretKey]*versionMeta
	namespaces map[string]bool // existing namespaces besides the root
	policies   map[string][]Rule
	auths      map[mountKey]*authMount
	wrapped    map[string]wrapped // response-wrapped answers by wrapping token
	issued     []string           // tokens issued by logins
	loginTTL   time.Duration

	// writeMu serialises writes, so that a check-and-set compares and
	// writes as one step, as Vault's per-key lock makes it.
	writeMu sync.Mutex
}

// tokenEntry is what the server knows about a token it accepts.
type tokenEntry struct {
	// policies are the token's policies, as auth/token/lookup-self reports
	// them; their rules decide what the token may do (see policy.go).
	policies  []string
	renewable bool
	login     bool // issued by a login
}

type mountKey struct{ ns, path string }

type secretKey struct{ vault, path string }

type versionMeta struct {
	version   int
	created   time.Time
	deleted   time.Time
	destroyed bool
	// data holds every version's fields, data[i] being version i+1.
	data [][]byte
	// custom is the secret's custom_metadata (nil when never set).
	custom map[string]string
	// exists is false for a secret whose metadata was written before any
	// version (POST metadata/<path> on a new path).
	versionless bool
}

// Start starts a plain-HTTP server on 127.0.0.1 with a random port, as
// `vault server -dev` listens.
func Start() (*Server, error) { return start(false) }

// StartTLS starts an HTTPS server. The test CA's certificate is written to
// a file that [Server.Env] passes as VAULT_CACERT, so the client's standard
// TLS settings are exercised.
func StartTLS() (*Server, error) { return start(true) }

func start(tlsOn bool) (*Server, error) {
	s := &Server{
		Base:       testserver.NewBase(DefaultMount),
		scheme:     "http://",
		rootToken:  "hvs.envdrift-test-" + randomHex(12),
		tokens:     map[string]tokenEntry{},
		mounts:     map[mountKey]int{{"", DefaultMount}: 2},
		meta:       map[secretKey]*versionMeta{},
		namespaces: map[string]bool{},
		policies: map[string][]Rule{
			PolicyDefault: defaultPolicy,
			PolicyAllKV:   allKVPolicy,
		},
		auths:    map[mountKey]*authMount{},
		wrapped:  map[string]wrapped{},
		loginTTL: 768 * time.Hour,
	}
	s.errorStatus.Store(http.StatusInternalServerError)
	s.tokens[s.rootToken] = tokenEntry{policies: []string{"root"}}
	if err := s.Serve(http.HandlerFunc(s.serve), testserver.ServeOptions{TLS: tlsOn, TempDirPrefix: "vaultkv-home-"}); err != nil {
		return nil, err
	}
	if tlsOn {
		s.scheme = "https://"
		ca, err := testserver.WriteCA(s.Home())
		if err != nil {
			s.Close()
			return nil, err
		}
		s.caFile = ca
	}
	return s, nil
}

// URL returns the server's address, e.g. "http://127.0.0.1:41234".
func (s *Server) URL() string { return s.scheme + s.Addr() }

// Token returns the server's root token: it may read every secret that is
// not denied with [Server.Deny].
func (s *Server) Token() string { return s.rootToken }

// Home returns the temporary directory [Server.Env] sets as HOME. A test
// writes <Home>/.vault-token to exercise the vault CLI's token file.
func (s *Server) Home() string { return s.Dir() }

// CAFile returns the path of the CA certificate of a StartTLS server, "" for
// a plain-HTTP one.
func (s *Server) CAFile() string { return s.caFile }

// Env returns the environment a Vault client (or the envdrift binary) needs
// to reach and authenticate against the server: VAULT_ADDR, VAULT_TOKEN,
// VAULT_CACERT for TLS servers, HOME set to a temporary directory so the
// user's own ~/.vault-token is never read, and VAULT_NAMESPACE and
// VAULT_AGENT_ADDR emptied so an ambient setting cannot redirect requests.
func (s *Server) Env() []string {
	env := []string{
		"VAULT_ADDR=" + s.URL(),
		"VAULT_TOKEN=" + s.rootToken,
		"HOME=" + s.Home(),
		"VAULT_NAMESPACE=",
		"VAULT_AGENT_ADDR=",
	}
	if s.caFile != "" {
		env = append(env, "VAULT_CACERT="+s.caFile)
	}
	return env
}

// AddToken makes token valid, with the policies [PolicyDefault] and
// [PolicyAllKV]: it may read and write every secret that is not denied, as
// the root token may. [Server.AddTokenWithPolicies] gives a token exactly
// the policies a test defines with [Server.SetPolicy].
func (s *Server) AddToken(token string) {
	s.AddTokenWithPolicies(token, PolicyDefault, PolicyAllKV)
}

// RevokeToken makes token invalid, as an expired or revoked token is.
func (s *Server) RevokeToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, token)
}

// SetInvalidTokenDetail chooses how an unknown token is refused: with
// "permission denied" and "invalid token" (on, the default, as current Vault
// releases answer) or with a bare "permission denied" (off, as older releases
// answer, where only auth/token/lookup-self tells a bad token from a policy
// denial).
func (s *Server) SetInvalidTokenDetail(on bool) { s.noTokenDetail.Store(!on) }

// SetErrorStatus sets the HTTP status of FaultError responses (default 500;
// 503 is what a sealed or standby Vault answers).
func (s *Server) SetErrorStatus(code int) { s.errorStatus.Store(int32(code)) }

// SetRateLimitHeaders chooses whether requests under a [testserver.Quota]
// get Vault's rate limit response headers, as with the quota configuration
// enable_rate_limit_response_headers: X-Ratelimit-Limit,
// X-Ratelimit-Remaining and X-Ratelimit-Reset on every answer, and
// Retry-After (whole seconds, rounded down as Vault does, so often 0) on a
// 429. On by default; off answers as a Vault with the default
// configuration, whose 429 carries no header at all.
func (s *Server) SetRateLimitHeaders(on bool) { s.noRateLimitHeaders.Store(!on) }

// Mount enables a KV mount at path in namespace ("" is the root namespace).
// version is 2 or 1 for KV v2 or v1; 0 mounts KV v1 without a version
// option, as `vault secrets enable kv` does.
func (s *Server) Mount(namespace, path string, version int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ns := normNS(namespace)
	s.addNamespaceLocked(ns)
	s.mounts[mountKey{ns, strings.Trim(path, "/")}] = version
}

// VaultKey is the vault name under which the embedded Base stores the
// secrets of mount in namespace.
func VaultKey(namespace, mount string) string {
	mount = strings.Trim(mount, "/")
	if ns := normNS(namespace); ns != "" {
		return ns + "//" + mount
	}
	return mount
}

// PutData writes a secret's fields, as `vault kv put` does: on a KV v2 mount
// it becomes a new, live version. It returns the version number (0 for KV
// v1). Values are encoded as JSON (strings, numbers, nested objects…).
func (s *Server) PutData(namespace, mount, path string, data map[string]any) (int, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return 0, err
	}
	return s.putRaw(namespace, mount, path, raw)
}

// PutValue writes a secret with the single field "value".
func (s *Server) PutValue(namespace, mount, path, value string) (int, error) {
	return s.PutData(namespace, mount, path, map[string]any{"value": value})
}

func (s *Server) putRaw(namespace, mount, path string, raw []byte) (int, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.putRawLocked(namespace, mount, path, raw)
}

// putRawLocked writes a new version; the caller holds s.writeMu.
func (s *Server) putRawLocked(namespace, mount, path string, raw []byte) (int, error) {
	mount, path = strings.Trim(mount, "/"), strings.Trim(path, "/")
	vk := VaultKey(namespace, mount)
	prev, _ := s.Get(vk, path)
	s.PutSecret(vk, path, testserver.Secret{Value: raw, Denied: prev.Denied})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mounts[mountKey{normNS(namespace), mount}] != 2 {
		return 0, nil
	}
	k := secretKey{vk, path}
	m := s.meta[k]
	if m == nil {
		m = &versionMeta{}
		s.meta[k] = m
	}
	if m.version == 0 && len(prev.Value) > 0 && !m.versionless {
		// A value stored straight into the Base was served as version 1.
		m.version, m.data = 1, [][]byte{prev.Value}
	}
	m.version++
	m.versionless = false
	m.data = append(m.data, append([]byte(nil), raw...))
	m.created = time.Now().UTC()
	m.deleted, m.destroyed = time.Time{}, false
	return m.version, nil
}

// DeleteLatest soft-deletes the latest version of a KV v2 secret, as
// `vault kv delete` does; reads then get 404 with the version's metadata.
func (s *Server) DeleteLatest(namespace, mount, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.meta[secretKey{VaultKey(namespace, mount), strings.Trim(path, "/")}]; m != nil {
		m.deleted = time.Now().UTC()
	}
}

// DestroyLatest permanently destroys the latest version of a KV v2 secret,
// as `vault kv destroy` does.
func (s *Server) DestroyLatest(namespace, mount, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.meta[secretKey{VaultKey(namespace, mount), strings.Trim(path, "/")}]; m != nil {
		m.destroyed = true
	}
}

// Deny makes reads of the secret fail with Vault's policy denial (403,
// "permission denied"), as a policy without read on the path does.
func (s *Server) Deny(namespace, mount, path string) {
	s.Base.Deny(VaultKey(namespace, mount), strings.Trim(path, "/"))
}

// --- HTTP ---------------------------------------------------------------

// request is one API request as the endpoint handlers see it.
type request struct {
	w     http.ResponseWriter
	r     *http.Request
	ns    string // the namespace (X-Vault-Namespace), "" for the root
	path  string // the API path after /v1/, without surrounding slashes
	token string // the client token, once it has been accepted
}

// endpoint is what a request addresses: the operation it counts as in
// [testserver.Base.Ops] and the handler that answers it.
type endpoint struct {
	op string
	// public endpoints are served without a token (as Vault serves
	// sys/health or auth/<mount>/login); the others need a valid token.
	public bool
	// acl, when set, is the path the token's policies must allow the
	// request's capability on (see capability); otherwise the handler
	// checks what it needs itself.
	acl string
	// exists tells a write whether it creates or updates (for the
	// capability it needs); nil means it creates.
	exists func() bool
	serve  func(*request)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	p, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok {
		writeErrors(w, http.StatusNotFound, "404 page not found")
		return
	}
	req := &request{w: w, r: r, ns: normNS(r.Header.Get("X-Vault-Namespace")), path: strings.Trim(p, "/")}
	if s.getFlavor() == VaultCommunity {
		req.ns = "" // Vault Community serves every request from the root namespace
	}
	ep := s.route(req.ns, req.path, r.Method)

	v := s.Begin(r, ep.op)
	s.quotaHeaders(w, v)
	switch v.Fault {
	case testserver.FaultThrottle:
		// Vault's rate limit quota answer; the path in the message is the
		// request path without the /v1/ prefix.
		writeErrors(w, http.StatusTooManyRequests, fmt.Sprintf("request path %q: rate limit quota exceeded", req.path))
		return
	case testserver.FaultError:
		writeErrors(w, int(s.errorStatus.Load()), s.ErrorMessage())
		return
	case testserver.FaultMalformed:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "<!DOCTYPE html>\n<html><head><title>Sign in - Corporate Proxy</title></head>"+
			"<body><form method=\"post\"><input name=\"user\"></form></body></html>\n")
		return
	case testserver.FaultAuth:
		s.refuseToken(w, true)
		return
	}
	if !s.namespaceExists(req.ns) {
		writeErrors(w, http.StatusNotFound, MsgNamespaceNotFound)
		return
	}
	if !ep.public && !s.authenticate(req) {
		return
	}
	if ep.acl != "" && !s.allowed(s.policiesOf(req.token), ep.acl, capabilityFor(r, ep.exists)) {
		writeErrors(w, http.StatusForbidden, PermissionDenied)
		return
	}
	if ttl := r.Header.Get("X-Vault-Wrap-TTL"); ttl != "" && r.Method == http.MethodGet {
		// Response wrapping: Vault keeps the answer in a cubbyhole and
		// returns only a single-use wrapping token.
		e := envelope(nil, nil)
		e["wrap_info"] = map[string]any{
			"token": "hvs.wrapping-" + randomHex(8), "accessor": randomHex(8), "ttl": 300,
			"creation_time": time.Now().UTC().Format(time.RFC3339Nano), "creation_path": req.path,
		}
		writeJSON(w, http.StatusOK, e)
		return
	}
	ep.serve(req)
}

// quotaHeaders sets the rate limit headers of a request under a quota, as
// Vault does with enable_rate_limit_response_headers (see
// [Server.SetRateLimitHeaders]); an injected throttle carries Retry-After
// when one is set ([testserver.Base.SetRetryAfter]).
func (s *Server) quotaHeaders(w http.ResponseWriter, v testserver.Verdict) {
	on := !s.noRateLimitHeaders.Load()
	h := w.Header()
	switch {
	case v.Quota != nil && on:
		h.Set("X-Ratelimit-Limit", strconv.Itoa(v.Quota.Limit))
		h.Set("X-Ratelimit-Remaining", strconv.Itoa(v.Quota.Remaining))
		h.Set("X-Ratelimit-Reset", strconv.Itoa(int(v.Quota.Reset/time.Second)))
		if v.Fault == testserver.FaultThrottle {
			h.Set("Retry-After", strconv.Itoa(int(v.RetryAfter/time.Second)))
		}
	case v.Quota == nil && v.Fault == testserver.FaultThrottle && v.RetryAfter > 0:
		h.Set("Retry-After", strconv.Itoa(int((v.RetryAfter+time.Second-1)/time.Second)))
	}
}

// authenticate accepts the request's token (X-Vault-Token, or an
// "Authorization: Bearer" header) or answers as Vault does for a missing or
// unknown one.
func (s *Server) authenticate(req *request) bool {
	token := req.r.Header.Get("X-Vault-Token")
	if token == "" {
		if b, ok := strings.CutPrefix(req.r.Header.Get("Authorization"), "Bearer "); ok {
			token = b
		}
	}
	if token == "" {
		writeErrors(req.w, http.StatusForbidden, "permission denied")
		return false
	}
	s.mu.Lock()
	_, valid := s.tokens[token]
	s.mu.Unlock()
	if !valid {
		s.refuseToken(req.w, false)
		return false
	}
	req.token = token
	return true
}

// refuseToken answers as Vault does for an invalid, expired or revoked
// token. forced is the FaultAuth case, which always carries the detail.
func (s *Server) refuseToken(w http.ResponseWriter, forced bool) {
	if forced || !s.noTokenDetail.Load() {
		writeErrors(w, http.StatusForbidden, "2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n")
		return
	}
	writeErrors(w, http.StatusForbidden, "permission denied")
}

// route maps a request to its endpoint. It does not look at the token:
// authentication happens after fault injection, as in Vault the seal check
// comes before the token check. New endpoints (login, sys paths) are new
// cases here.
func (s *Server) route(ns, p, method string) endpoint {
	switch {
	case p == "auth/token/lookup-self":
		return endpoint{op: OpLookupSelf, acl: p, serve: func(req *request) {
			if req.r.Method != http.MethodGet {
				writeErrors(req.w, http.StatusMethodNotAllowed, "unsupported operation")
				return
			}
			s.lookupSelf(req.w, req.token)
		}}
	case p == "auth/token/renew-self":
		return endpoint{op: OpRenewSelf, acl: p, exists: func() bool { return true }, serve: s.renewSelf}
	case p == "auth/token/revoke-self":
		return endpoint{op: OpRevokeSelf, acl: p, exists: func() bool { return true }, serve: s.revokeSelf}
	case p == "sys/health":
		return endpoint{op: OpHealth, public: true, serve: s.health}
	case p == "sys/wrapping/unwrap":
		return endpoint{op: OpUnwrap, public: true, serve: s.unwrap}
	case strings.HasPrefix(p, "sys/internal/ui/mounts/") || p == "sys/internal/ui/mounts":
		return endpoint{op: OpMounts, serve: func(req *request) {
			s.internalUIMounts(req, strings.TrimPrefix(strings.TrimPrefix(p, "sys/internal/ui/mounts"), "/"))
		}}
	case strings.HasPrefix(p, "auth/") && strings.HasSuffix(p, "/login"):
		mount := strings.TrimSuffix(strings.TrimPrefix(p, "auth/"), "/login")
		s.mu.Lock()
		a := s.auths[mountKey{ns, mount}]
		s.mu.Unlock()
		if a != nil {
			return endpoint{op: OpLogin, public: true, serve: func(req *request) { s.login(req, a) }}
		}
		// No such auth method: the path is not a login path, so it needs
		// a token like any other.
	}
	if head, _, _ := builtinMount(p); head == "sys" || head == "cubbyhole" || head == "identity" {
		return endpoint{op: OpOther, acl: p, serve: func(req *request) {
			if head == "sys" {
				writeErrors(req.w, http.StatusNotFound, MsgUnsupportedPath)
				return
			}
			writeErrors(req.w, http.StatusNotFound) // nothing stored here
		}}
	}
	mount, version, rest, ok := s.findMount(ns, p)
	if !ok {
		return endpoint{op: OpOther, acl: p, serve: func(req *request) {
			writeErrors(req.w, http.StatusNotFound, fmt.Sprintf("no handler for route %q. route entry not found.", p))
		}}
	}
	vk := VaultKey(ns, mount)
	existing := func(path string) func() bool {
		return func() bool { sec, ok := s.Get(vk, path); return ok && len(sec.Value) > 0 }
	}
	if version != 2 {
		op := map[string]string{http.MethodGet: OpKVv1Read, http.MethodPut: OpKVv1Write, http.MethodPost: OpKVv1Write, http.MethodDelete: OpKVv1Delete}[method]
		if op == "" {
			op = OpOther
		}
		return endpoint{op: op, acl: p, exists: existing(rest), serve: func(req *request) { s.kv1(req.w, req.r, ns, mount, vk, rest) }}
	}
	sub, secretPath, _ := strings.Cut(rest, "/")
	switch {
	case sub == "data" && method == http.MethodGet:
		return endpoint{op: OpKVv2Read, acl: p, serve: func(req *request) {
			s.kv2Read(req.w, vk, secretPath, req.r.URL.Query().Get("version"))
		}}
	case sub == "data" && (method == http.MethodPut || method == http.MethodPost):
		return endpoint{op: OpKVv2Write, acl: p, exists: existing(secretPath), serve: func(req *request) { s.kv2Write(req.w, req.r, ns, mount, secretPath) }}
	case sub == "metadata" && method == http.MethodGet:
		return endpoint{op: OpKVv2MetadataRead, acl: p, serve: func(req *request) { s.kv2MetadataRead(req.w, vk, secretPath) }}
	case sub == "metadata" && (method == http.MethodPut || method == http.MethodPost):
		return endpoint{op: OpKVv2MetadataWrite, acl: p, exists: existing(secretPath), serve: func(req *request) { s.kv2MetadataWrite(req.w, req.r, vk, secretPath) }}
	case sub == "data" && method == http.MethodDelete:
		return endpoint{op: OpKVv2Delete, acl: p, serve: func(req *request) {
			s.DeleteLatest(ns, mount, secretPath)
			req.w.WriteHeader(http.StatusNoContent)
		}}
	case sub == "destroy" && (method == http.MethodPut || method == http.MethodPost):
		return endpoint{op: OpKVv2Destroy, acl: p, exists: func() bool { return true }, serve: func(req *request) {
			s.DestroyLatest(ns, mount, secretPath)
			req.w.WriteHeader(http.StatusNoContent)
		}}
	default:
		return endpoint{op: OpOther, acl: p, serve: func(req *request) {
			// Vault answers a KV v1 style read of a KV v2 mount with 404,
			// no data and a warning.
			writeJSON(req.w, http.StatusNotFound, envelope(nil, []string{versionedKVWarning}))
		}}
	}
}

// findMount returns the longest mount of namespace ns that p lies under.
func (s *Server) findMount(ns, p string) (mount string, version int, rest string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.mounts {
		if k.ns != ns {
			continue
		}
		if (p == k.path || strings.HasPrefix(p, k.path+"/")) && len(k.path) > len(mount) {
			mount, version, ok = k.path, v, true
		}
	}
	if ok {
		rest = strings.TrimPrefix(strings.TrimPrefix(p, mount), "/")
	}
	return mount, version, rest, ok
}

// policiesOf returns the policies of an accepted token.
func (s *Server) policiesOf(token string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[token].policies
}

func (s *Server) lookupSelf(w http.ResponseWriter, token string) {
	s.mu.Lock()
	policies := s.tokens[token].policies
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, envelope(map[string]any{
		"accessor":         "acc" + randomHex(10),
		"creation_time":    time.Now().Unix(),
		"creation_ttl":     0,
		"display_name":     "token",
		"entity_id":        "",
		"expire_time":      nil,
		"explicit_max_ttl": 0,
		"id":               token, // Vault echoes the token here: clients must never print it
		"meta":             nil,
		"num_uses":         0,
		"orphan":           true,
		"path":             "auth/token/create",
		"policies":         policies,
		"renewable":        false,
		"ttl":              0,
		"type":             "service",
	}, nil))
}

// internalUIMounts serves sys/internal/ui/mounts/<p>: the mount p lies
// under, if the token may do anything under it. Otherwise, and when no
// mount holds p, Vault refuses (rather than answering 404, so that the
// endpoint cannot be used to list mounts) with its preflight message.
func (s *Server) internalUIMounts(req *request, p string) {
	w, ns := req.w, req.ns
	p = strings.Trim(p, "/")
	refuse := func() {
		writeErrors(w, http.StatusForbidden, fmt.Sprintf("preflight capability check returned 403, please ensure client's policies grant access to path %q", p+"/"))
	}
	mount, version, _, ok := s.findMount(ns, p)
	kind := "kv"
	if !ok {
		mount, kind, ok = builtinMount(p)
	}
	if !ok || !s.hasMountAccess(s.policiesOf(req.token), mount) {
		refuse()
		return
	}
	var options any
	if version > 0 {
		options = map[string]any{"version": strconv.Itoa(version)}
	}
	writeJSON(w, http.StatusOK, envelope(map[string]any{
		"accessor":                "kv_" + randomHex(4),
		"config":                  map[string]any{"default_lease_ttl": 0, "force_no_cache": false, "max_lease_ttl": 0},
		"description":             "key/value secret storage",
		"external_entropy_access": false,
		"local":                   false,
		"options":                 options,
		"path":                    mount + "/",
		"plugin_version":          "",
		"running_plugin_version":  "v0.0.0+builtin",
		"running_sha256":          "",
		"seal_wrap":               false,
		"type":                    kind,
		"uuid":                    randomHex(16),
	}, nil))
}

func (s *Server) kv1(w http.ResponseWriter, r *http.Request, ns, mount, vk, p string) {
	switch r.Method {
	case http.MethodGet:
		sec, ok := s.Get(vk, p)
		if !ok || p == "" || len(sec.Value) == 0 {
			writeErrors(w, http.StatusNotFound)
			return
		}
		if sec.Denied {
			writeErrors(w, http.StatusForbidden, "1 error occurred:\n\t* permission denied\n\n")
			return
		}
		e := envelope(fields(sec.Value), nil)
		e["lease_duration"] = 2764800
		writeJSON(w, http.StatusOK, e)
	case http.MethodPut, http.MethodPost:
		if s.refuseWrite(w, vk, p) {
			return
		}
		raw, ok := readObject(w, r)
		if !ok {
			return
		}
		if _, err := s.putRaw(ns, mount, p, raw); err != nil {
			writeErrors(w, http.StatusInternalServerError, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		s.Base.PutSecret(vk, p, testserver.Secret{}) // Base has no delete; an empty secret reads as absent
		w.WriteHeader(http.StatusNoContent)
	default:
		writeErrors(w, http.StatusMethodNotAllowed, "unsupported operation")
	}
}

func (s *Server) kv2Read(w http.ResponseWriter, vk, p, version string) {
	sec, ok := s.Get(vk, p)
	s.mu.Lock()
	var m versionMeta
	if mm := s.meta[secretKey{vk, p}]; mm != nil {
		m = *mm
		m.custom = maps.Clone(mm.custom)
	}
	s.mu.Unlock()
	if !ok || p == "" || len(sec.Value) == 0 {
		writeErrors(w, http.StatusNotFound)
		return
	}
	if m.version == 0 { // stored through Base.Put: serve it as version 1
		m.version, m.created = 1, time.Now().UTC()
	}
	if sec.Denied {
		writeErrors(w, http.StatusForbidden, "1 error occurred:\n\t* permission denied\n\n")
		return
	}
	if version != "" && version != strconv.Itoa(m.version) {
		// An earlier version, read with ?version=N.
		n, err := strconv.Atoi(version)
		if err != nil || n < 1 || n > len(m.data) {
			writeErrors(w, http.StatusNotFound)
			return
		}
		writeJSON(w, http.StatusOK, envelope(map[string]any{"data": fields(m.data[n-1]), "metadata": map[string]any{
			"created_time": m.created.Format(time.RFC3339Nano), "custom_metadata": m.custom,
			"deletion_time": "", "destroyed": false, "version": n,
		}}, nil))
		return
	}
	deletion := ""
	if !m.deleted.IsZero() {
		deletion = m.deleted.Format(time.RFC3339Nano)
	}
	meta := map[string]any{
		"created_time":    m.created.Format(time.RFC3339Nano),
		"custom_metadata": m.custom,
		"deletion_time":   deletion,
		"destroyed":       m.destroyed,
		"version":         m.version,
	}
	if deletion != "" || m.destroyed {
		writeJSON(w, http.StatusNotFound, envelope(map[string]any{"data": nil, "metadata": meta}, nil))
		return
	}
	writeJSON(w, http.StatusOK, envelope(map[string]any{"data": fields(sec.Value), "metadata": meta}, nil))
}

func (s *Server) kv2Write(w http.ResponseWriter, r *http.Request, ns, mount, p string) {
	raw, ok := readObject(w, r)
	if !ok {
		return
	}
	var body struct {
		Data    json.RawMessage `json:"data"`
		Options struct {
			CAS json.RawMessage `json:"cas"`
		} `json:"options"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || len(body.Data) == 0 || body.Data[0] != '{' {
		writeErrors(w, http.StatusBadRequest, "no data provided")
		return
	}
	vk := VaultKey(ns, mount)
	if s.refuseWrite(w, vk, p) {
		return
	}
	s.writeMu.Lock()
	if msg := s.checkAndSet(vk, p, body.Options.CAS); msg != "" {
		s.writeMu.Unlock()
		writeErrors(w, http.StatusBadRequest, msg)
		return
	}
	v, err := s.putRawLocked(ns, mount, p, body.Data)
	s.writeMu.Unlock()
	if err != nil {
		writeErrors(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, envelope(map[string]any{
		"created_time":    time.Now().UTC().Format(time.RFC3339Nano),
		"custom_metadata": s.customMetadata(vk, p),
		"deletion_time":   "",
		"destroyed":       false,
		"version":         v,
	}, nil))
}

// --- helpers ------------------------------------------------------------

// fields returns a stored secret's fields as raw JSON. Bytes stored through
// Base.Put that are not a JSON object are served as the field "value".
func fields(stored []byte) json.RawMessage {
	trimmed := bytes.TrimSpace(stored)
	if len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(trimmed) {
		return json.RawMessage(trimmed)
	}
	raw, _ := json.Marshal(map[string]string{"value": string(stored)})
	return raw
}

// readObject reads a request body that must be a JSON object, or answers
// 400 as Vault does.
func readObject(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	raw, err := readBody(r)
	if err != nil {
		writeErrors(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' || !json.Valid(raw) {
		writeErrors(w, http.StatusBadRequest, "failed to parse JSON input: the body must be a JSON object")
		return nil, false
	}
	return raw, true
}

func readBody(r *http.Request) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r.Body, 32<<20))
}

func envelope(data any, warnings []string) map[string]any {
	return map[string]any{
		"request_id":     requestID(),
		"lease_id":       "",
		"renewable":      false,
		"lease_duration": 0,
		"data":           data,
		"wrap_info":      nil,
		"warnings":       warnings,
		"auth":           nil,
		"mount_type":     "kv",
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		code, body = http.StatusInternalServerError, []byte(`{"errors":["encoding response"]}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}

func writeErrors(w http.ResponseWriter, code int, msgs ...string) {
	if msgs == nil {
		msgs = []string{}
	}
	writeJSON(w, code, map[string]any{"errors": msgs})
}

func normNS(ns string) string {
	ns = strings.Trim(ns, "/")
	if ns == "root" {
		return ""
	}
	return ns
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

func requestID() string {
	h := randomHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Mounts returns the configured mounts, keyed by [VaultKey], with their KV
// version.
func (s *Server) Mounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.mounts))
	for k, v := range s.mounts {
		out[VaultKey(k.ns, k.path)] = v
	}
	return out
}
