package vaultkv

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Auth methods: AppRole, Kubernetes and JWT logins at auth/<mount>/login,
// response-wrapped secret IDs unwrapped at sys/wrapping/unwrap, and a
// token's renew-self and revoke-self, answered with Vault's bodies.
//
// The credentials are opaque strings here: a Kubernetes or JWT role
// accepts the exact tokens a test registers, where Vault would verify a
// signature (through the Kubernetes TokenReview API or the issuer's keys).
// A rejected one is refused as Vault refuses it.

// Auth method types for [Server.EnableAuth].
const (
	AuthAppRole    = "approle"
	AuthKubernetes = "kubernetes"
	AuthJWT        = "jwt"
)

// Operation names of the auth endpoints, counted in [testserver.Base.Ops].
const (
	OpLogin      = "Login"      // PUT/POST auth/<mount>/login
	OpRenewSelf  = "RenewSelf"  // PUT/POST auth/token/renew-self
	OpRevokeSelf = "RevokeSelf" // PUT/POST auth/token/revoke-self
	OpUnwrap     = "Unwrap"     // PUT/POST sys/wrapping/unwrap
	OpHealth     = "Health"     // GET sys/health
)

// Messages Vault's auth methods answer a failed login with (HTTP 400
// unless noted).
const (
	// MsgInvalidRoleOrSecretID is AppRole's answer to an unknown role ID or
	// a wrong, used up or expired secret ID.
	MsgInvalidRoleOrSecretID = "invalid role or secret ID"
	// MsgWrappingTokenInvalid is sys/wrapping/unwrap's answer to a
	// wrapping token that was already used, expired or never existed.
	MsgWrappingTokenInvalid = "wrapping token is not valid or does not exist"
)

type authMount struct {
	kind  string
	roles map[string]*loginRole // by role name
}

type loginRole struct {
	name     string
	roleID   string          // AppRole
	secrets  map[string]bool // AppRole secret IDs; Kubernetes and JWT tokens accepted
	policies []string
}

type wrapped struct {
	data map[string]any
}

// EnableAuth enables an auth method of kind (AuthAppRole, AuthKubernetes or
// AuthJWT) at auth/<path> in namespace.
func (s *Server) EnableAuth(namespace, path, kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ns := normNS(namespace)
	s.namespaces[ns] = true
	s.auths[mountKey{ns, strings.Trim(path, "/")}] = &authMount{kind: kind, roles: map[string]*loginRole{}}
}

func (s *Server) role(namespace, mount, name string) *loginRole {
	a := s.auths[mountKey{normNS(namespace), strings.Trim(mount, "/")}]
	if a == nil {
		panic(fmt.Sprintf("vaultkv: no auth method at auth/%s in namespace %q: call EnableAuth first", mount, namespace))
	}
	r := a.roles[name]
	if r == nil {
		r = &loginRole{name: name, secrets: map[string]bool{}}
		a.roles[name] = r
	}
	return r
}

// AddAppRole creates the AppRole role name at auth/<mount> whose logins get
// policies, and returns its role ID.
func (s *Server) AddAppRole(namespace, mount, name string, policies ...string) (roleID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.role(namespace, mount, name)
	if r.roleID == "" {
		r.roleID = uuid()
	}
	r.policies = slices.Clone(policies)
	return r.roleID
}

// NewSecretID issues a secret ID for the AppRole role name.
func (s *Server) NewSecretID(namespace, mount, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := uuid()
	s.role(namespace, mount, name).secrets[id] = true
	return id
}

// WrapSecretID issues a secret ID for the AppRole role name and returns it
// response-wrapped, as `vault write -wrap-ttl=60s -f
// auth/approle/role/<name>/secret-id` does: a single-use wrapping token
// that sys/wrapping/unwrap exchanges for the secret ID.
func (s *Server) WrapSecretID(namespace, mount, name string) string {
	id := s.NewSecretID(namespace, mount, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := "hvs.wrap-" + randomHex(12)
	s.wrapped[tok] = wrapped{data: map[string]any{"secret_id": id, "secret_id_accessor": uuid(), "secret_id_ttl": 0, "secret_id_num_uses": 0}}
	return tok
}

// AddLoginRole creates the Kubernetes or JWT role name at auth/<mount>
// whose logins get policies and that accepts the token jwt (a service
// account token or a CI ID token; more may be added by calling again).
func (s *Server) AddLoginRole(namespace, mount, name, jwt string, policies ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.role(namespace, mount, name)
	r.secrets[jwt] = true
	r.policies = slices.Clone(policies)
}

// IssuedTokens returns the client tokens logins have issued, oldest first.
func (s *Server) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issued)
}

// TokenValid reports whether token is currently accepted.
func (s *Server) TokenValid(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.tokens[token]
	return ok
}

// SetLoginTTL sets the lease (lease_duration) of the tokens logins issue;
// default 768h, Vault's default max TTL. A renewal extends it by the same.
func (s *Server) SetLoginTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loginTTL = d
}

// login serves PUT/POST auth/<mount>/login.
func (s *Server) login(req *request, a *authMount) {
	if req.r.Method != http.MethodPut && req.r.Method != http.MethodPost {
		writeErrors(req.w, http.StatusMethodNotAllowed, "1 error occurred:\n\t* unsupported operation\n\n")
		return
	}
	raw, ok := readObject(req.w, req.r)
	if !ok {
		return
	}
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	str := func(k string) string { v, _ := body[k].(string); return v }

	s.mu.Lock()
	var role *loginRole
	var fail string
	code := http.StatusBadRequest
	switch a.kind {
	case AuthAppRole:
		roleID, secretID := str("role_id"), str("secret_id")
		switch {
		case roleID == "":
			fail = "missing role_id"
		case secretID == "":
			fail = "missing secret_id"
		}
		for _, r := range a.roles {
			if fail == "" && r.roleID == roleID {
				role = r
			}
		}
		if fail == "" && (role == nil || !role.secrets[secretID]) {
			role, fail = nil, MsgInvalidRoleOrSecretID
		}
	case AuthKubernetes:
		name, jwt := str("role"), str("jwt")
		role = a.roles[name]
		switch {
		case name == "":
			fail = "missing role"
		case jwt == "":
			fail = "missing jwt"
		case role == nil:
			fail = fmt.Sprintf("invalid role name %q", name)
		case !role.secrets[jwt]:
			// The service account token did not pass the TokenReview.
			fail, code = "permission denied", http.StatusForbidden
		}
	case AuthJWT:
		name, jwt := str("role"), str("jwt")
		role = a.roles[name]
		switch {
		case jwt == "":
			fail = "missing token"
		case name == "":
			fail = "missing role"
		case role == nil:
			fail = fmt.Sprintf("role %q could not be found", name)
		case !role.secrets[jwt]:
			fail = "error validating token: failed to verify id token signature"
		}
	}
	if fail != "" {
		s.mu.Unlock()
		writeErrors(req.w, code, fail)
		return
	}
	token := "hvs." + a.kind + "-" + randomHex(16)
	policies := append([]string{PolicyDefault}, role.policies...)
	s.tokens[token] = tokenEntry{policies: policies, renewable: true, login: true}
	s.issued = append(s.issued, token)
	ttl := s.loginTTL
	s.mu.Unlock()

	meta := map[string]any{"role": role.name}
	if a.kind == AuthAppRole {
		meta = map[string]any{"role_name": role.name}
	}
	e := envelope(nil, nil)
	e["auth"] = map[string]any{
		"client_token":    token,
		"accessor":        randomHex(12),
		"policies":        policies,
		"token_policies":  policies,
		"metadata":        meta,
		"lease_duration":  int(ttl / time.Second),
		"renewable":       true,
		"entity_id":       uuid(),
		"token_type":      "service",
		"orphan":          true,
		"mfa_requirement": nil,
		"num_uses":        0,
	}
	e["mount_type"] = ""
	writeJSON(req.w, http.StatusOK, e)
}

// renewSelf serves auth/token/renew-self.
func (s *Server) renewSelf(req *request) {
	s.mu.Lock()
	te := s.tokens[req.token]
	ttl := s.loginTTL
	s.mu.Unlock()
	if !te.renewable {
		writeErrors(req.w, http.StatusBadRequest, "lease is not renewable")
		return
	}
	e := envelope(nil, nil)
	e["auth"] = map[string]any{
		"client_token":   req.token,
		"accessor":       randomHex(12),
		"policies":       te.policies,
		"token_policies": te.policies,
		"lease_duration": int(ttl / time.Second),
		"renewable":      true,
		"token_type":     "service",
		"orphan":         true,
	}
	e["mount_type"] = "token"
	writeJSON(req.w, http.StatusOK, e)
}

// revokeSelf serves auth/token/revoke-self.
func (s *Server) revokeSelf(req *request) {
	s.mu.Lock()
	delete(s.tokens, req.token)
	s.mu.Unlock()
	req.w.WriteHeader(http.StatusNoContent)
}

// unwrap serves sys/wrapping/unwrap: the wrapping token comes as the
// request's token or, from a client holding another token, as "token" in
// the body. It is single use.
func (s *Server) unwrap(req *request) {
	if req.r.Method != http.MethodPut && req.r.Method != http.MethodPost {
		writeErrors(req.w, http.StatusMethodNotAllowed, "1 error occurred:\n\t* unsupported operation\n\n")
		return
	}
	tok := req.r.Header.Get("X-Vault-Token")
	var body struct {
		Token string `json:"token"`
	}
	if raw, err := readBody(req.r); err == nil && len(raw) > 0 {
		_ = json.Unmarshal(raw, &body)
	}
	if body.Token != "" {
		tok = body.Token
	}
	s.mu.Lock()
	w, ok := s.wrapped[tok]
	delete(s.wrapped, tok)
	s.mu.Unlock()
	if !ok {
		writeErrors(req.w, http.StatusBadRequest, MsgWrappingTokenInvalid)
		return
	}
	writeJSON(req.w, http.StatusOK, envelope(w.data, nil))
}

func uuid() string {
	h := randomHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
