package hashicorp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	vault "github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/api/auth/approle"
	"github.com/hashicorp/vault/api/auth/kubernetes"

	"github.com/envdrift/envdrift/provider"
)

// Auth methods, the values of auth_method.
const (
	AuthToken      = "token"
	AuthAppRole    = "approle"
	AuthKubernetes = "kubernetes"
	AuthJWT        = "jwt"
)

// DefaultServiceAccountTokenFile is where Kubernetes mounts a pod's service
// account token: the kubernetes method's jwt_file when none is set.
const DefaultServiceAccountTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// maxCredentialSize bounds a credential read from a file or variable: a
// secret ID or wrapping token is under 100 bytes, a JWT a few KiB.
const maxCredentialSize = 64 << 10

// revokeTimeout bounds the revocation of a login token at Close.
const revokeTimeout = 5 * time.Second

// credential is where one login credential comes from: a file or an
// environment variable (never the configuration file itself).
type credential struct {
	key  string // the settings key that names the source, for messages
	file string
	env  string
}

func (c credential) String() string {
	if c.file != "" {
		return c.key + " " + c.file
	}
	return c.key + " " + c.env
}

// read returns the credential, trimmed of surrounding white space.
func (c credential) read() (string, error) {
	var v string
	if c.file != "" {
		f, err := os.Open(c.file)
		if err != nil {
			return "", fmt.Errorf("cannot read %s: %s", c, describeFSError(err))
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxCredentialSize+1))
		if err != nil {
			return "", fmt.Errorf("cannot read %s: %s", c, describeFSError(err))
		}
		if len(b) > maxCredentialSize {
			return "", fmt.Errorf("%s is larger than %d bytes: not a Vault credential", c, maxCredentialSize)
		}
		v = string(b)
	} else {
		v = lookupEnv(c.env)
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", fmt.Errorf("%s is empty", c)
	}
	if strings.IndexFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return "", fmt.Errorf("%s contains non-printable characters", c)
	}
	return v, nil
}

// loginMethod is the validated login configuration of a provider.
type loginMethod struct {
	method   string // AuthAppRole, AuthKubernetes or AuthJWT
	mount    string // the auth mount, without "auth/"
	role     string // kubernetes and jwt role
	roleID   string // approle role ID, when given literally
	roleIDC  *credential
	secret   credential // approle secret ID, kubernetes or jwt token
	wrapped  bool       // the approle secret ID is a response-wrapping token
	loginURL string     // "auth/<mount>/login", for messages
}

// describe names the method and its mount for messages: "approle login at
// auth/approle".
func (m *loginMethod) describe() string {
	return m.method + " login at auth/" + m.mount
}

// newLoginMethod validates the auth settings. It does no I/O: files and
// variables are read at login time.
func newLoginMethod(s Settings, baseDir string) (*loginMethod, error) {
	method := strings.ToLower(strings.TrimSpace(s.AuthMethod))
	bad := func(msg, hint string) error {
		return provider.NewError(provider.ErrInvalid, Name, provider.Ref{}, msg, nil).WithHint(hint)
	}
	abs := func(p string) string {
		p = strings.TrimSpace(p)
		if p != "" && !filepath.IsAbs(p) && baseDir != "" {
			p = filepath.Join(baseDir, p)
		}
		return p
	}
	set := map[string]bool{
		"auth_mount": s.AuthMount != "", "role": s.Role != "", "role_id": s.RoleID != "",
		"role_id_file": s.RoleIDFile != "", "role_id_env": s.RoleIDEnv != "",
		"secret_id_file": s.SecretIDFile != "", "secret_id_env": s.SecretIDEnv != "",
		"secret_id_wrapped": s.SecretIDWrapped, "jwt_file": s.JWTFile != "", "jwt_env": s.JWTEnv != "",
	}
	allowed := map[string][]string{
		AuthToken:      nil,
		AuthAppRole:    {"auth_mount", "role_id", "role_id_file", "role_id_env", "secret_id_file", "secret_id_env", "secret_id_wrapped"},
		AuthKubernetes: {"auth_mount", "role", "jwt_file", "jwt_env"},
		AuthJWT:        {"auth_mount", "role", "jwt_file", "jwt_env"},
	}
	if method == "" {
		method = AuthToken
	}
	keys, ok := allowed[method]
	if !ok {
		hint := `auth_method is "token" (the default), "approle", "kubernetes" or "jwt"`
		if method == "oidc" {
			hint = `an OIDC ID token logs in with auth_method = "jwt" (the interactive browser flow of "oidc" is not supported)`
		}
		return nil, bad(fmt.Sprintf("auth_method = %q is not supported", s.AuthMethod), hint)
	}
	for _, k := range slices.Sorted(maps.Keys(set)) {
		if set[k] && !slices.Contains(keys, k) {
			return nil, bad(fmt.Sprintf("%s is set, but auth_method = %q does not use it", k, method),
				fmt.Sprintf("remove %s from [vault.hashicorp], or set auth_method to the method it belongs to", k))
		}
	}
	if method == AuthToken {
		return nil, nil
	}
	m := &loginMethod{method: method, mount: strings.Trim(strings.TrimSpace(s.AuthMount), "/"), role: strings.TrimSpace(s.Role)}
	if m.mount == "" {
		m.mount = method
	}
	if err := checkPath("auth_mount", m.mount); err != nil {
		return nil, bad(err.Error(), "auth_mount is the path the auth method is enabled at, without \"auth/\", e.g. \"approle\"")
	}
	m.loginURL = "auth/" + m.mount + "/login"
	one := func(what string, c ...credential) (*credential, error) {
		var got []credential
		for _, x := range c {
			if x.file != "" || x.env != "" {
				got = append(got, x)
			}
		}
		if len(got) > 1 {
			return nil, bad(fmt.Sprintf("%s and %s are both set: give one source for the %s", got[0].key, got[1].key, what),
				"keep one of them")
		}
		if len(got) == 0 {
			return nil, nil
		}
		return &got[0], nil
	}
	switch method {
	case AuthAppRole:
		rid, err := one("role ID", credential{key: "role_id_file", file: abs(s.RoleIDFile)}, credential{key: "role_id_env", env: strings.TrimSpace(s.RoleIDEnv)})
		if err != nil {
			return nil, err
		}
		m.roleID, m.roleIDC = strings.TrimSpace(s.RoleID), rid
		switch {
		case m.roleID != "" && rid != nil:
			return nil, bad("role_id and "+rid.key+" are both set: give one source for the role ID", "keep one of them")
		case m.roleID == "" && rid == nil:
			return nil, bad("auth_method = \"approle\" needs the role ID: set role_id, role_id_file or role_id_env", "`vault read auth/approle/role/<role>/role-id` shows it")
		}
		sid, err := one("secret ID", credential{key: "secret_id_file", file: abs(s.SecretIDFile)}, credential{key: "secret_id_env", env: strings.TrimSpace(s.SecretIDEnv)})
		if err != nil {
			return nil, err
		}
		if sid == nil {
			return nil, bad("auth_method = \"approle\" needs the secret ID: set secret_id_file or secret_id_env (a secret ID is never read from the configuration file)",
				"point secret_id_file at a file holding the secret ID (or a wrapping token, with secret_id_wrapped = true), or secret_id_env at a variable")
		}
		m.secret, m.wrapped = *sid, s.SecretIDWrapped
	case AuthKubernetes, AuthJWT:
		if m.role == "" && method == AuthKubernetes {
			return nil, bad("auth_method = \"kubernetes\" needs role: the Vault role bound to this pod's service account", "set role in [vault.hashicorp]")
		}
		tok, err := one("token", credential{key: "jwt_file", file: abs(s.JWTFile)}, credential{key: "jwt_env", env: strings.TrimSpace(s.JWTEnv)})
		if err != nil {
			return nil, err
		}
		switch {
		case tok != nil:
			m.secret = *tok
		case method == AuthKubernetes:
			m.secret = credential{key: "jwt_file", file: DefaultServiceAccountTokenFile}
		default:
			return nil, bad("auth_method = \"jwt\" needs the ID token: set jwt_file or jwt_env (a token is never read from the configuration file)",
				"in GitHub Actions, write the job's OIDC token to a file (see docs/providers/hashicorp.md); in GitLab CI, name the id_tokens variable in jwt_env")
		}
	}
	return m, nil
}

// authMethod builds the official client's auth method from the credential
// values, which the caller has read.
func (m *loginMethod) authMethod(roleID, secret string) (vault.AuthMethod, error) {
	switch m.method {
	case AuthAppRole:
		opts := []approle.LoginOption{approle.WithMountPath(m.mount)}
		if m.wrapped {
			opts = append(opts, approle.WithWrappingToken())
		}
		return approle.NewAppRoleAuth(roleID, &approle.SecretID{FromString: secret}, opts...)
	case AuthKubernetes:
		// The token is passed as a value: the module's own file option
		// reads the file in its constructor, and its error names the path
		// only through ours.
		return kubernetes.NewKubernetesAuth(m.role, kubernetes.WithMountPath(m.mount), kubernetes.WithServiceAccountToken(secret))
	default:
		return &jwtAuth{mount: m.mount, role: m.role, jwt: secret}, nil
	}
}

// jwtAuth logs in to a JWT/OIDC auth method with a signed token (a CI
// provider's ID token), as `vault write auth/<mount>/login role=… jwt=…`.
type jwtAuth struct {
	mount, role, jwt string
}

var _ vault.AuthMethod = (*jwtAuth)(nil)

// Login implements [vault.AuthMethod].
func (a *jwtAuth) Login(ctx context.Context, c *vault.Client) (*vault.Secret, error) {
	data := map[string]any{"jwt": a.jwt}
	if a.role != "" {
		data["role"] = a.role
	}
	return c.Logical().WriteWithContext(ctx, "auth/"+a.mount+"/login", data)
}

// session is the state of a login: the token it gave, for renewal and
// revocation. It never appears in a message.
type session struct {
	mu      sync.Mutex
	token   string
	watcher *vault.LifetimeWatcher
	timer   *time.Timer
	closed  bool
}

// login runs the configured login once for all concurrent callers: each
// waits with its own ctx; a login cut short by its owner's cancellation is
// forgotten so that the next caller tries again, and any other failure is
// kept (every later fetch fails at once with it).
func (p *Provider) login(ctx context.Context, ref provider.Ref) *provider.Error {
	if p.auth == nil || p.opts.Token != "" {
		return nil
	}
	return p.settleOnce(ctx, ref, &p.loginFlight, p.auth.loginURL, p.doLogin)
}

// doLogin reads the credentials, logs in and installs the token.
func (p *Provider) doLogin(ctx context.Context) *provider.Error {
	m := p.auth
	fail := func(msg string, cause error, hint string) *provider.Error {
		return p.newErr(provider.ErrUnauthenticated, provider.Ref{}, m.describe()+" failed: "+msg, cause, hint)
	}
	roleID := m.roleID
	if m.roleIDC != nil {
		v, err := m.roleIDC.read()
		if err != nil {
			return fail(err.Error(), nil, "set "+m.roleIDC.key+" to where the role ID is")
		}
		roleID = v
	}
	secret, err := m.secret.read()
	if err != nil {
		hint := "set " + m.secret.key + " to where the credential is"
		if m.method == AuthKubernetes && m.secret.file == DefaultServiceAccountTokenFile {
			hint = "outside a Kubernetes pod (or with automountServiceAccountToken: false), set jwt_file or jwt_env to a service account token"
		}
		return fail(err.Error(), nil, hint)
	}
	p.addSecret(secret)
	am, err := m.authMethod(roleID, secret)
	if err != nil {
		return fail(p.redact(err.Error()), nil, "")
	}
	c := p.client
	c.ClearToken() // a login sends no token, whatever VAULT_TOKEN says
	s, err := c.Auth().Login(ctx, am)
	if err != nil {
		return p.loginError(ctx, err)
	}
	tok := s.Auth.ClientToken
	p.addSecret(tok)
	p.mu.Lock()
	p.session = &session{token: tok}
	sess := p.session
	p.mu.Unlock()
	p.tokenSrc = m.describe()
	p.watch(sess, s)
	return nil
}

// loginError classifies a failed login: Vault's refusal is
// unauthenticated, with Vault's own words and a hint for the method.
func (p *Provider) loginError(ctx context.Context, err error) *provider.Error {
	m := p.auth
	var re *vault.ResponseError
	if !errors.As(err, &re) {
		if strings.Contains(err.Error(), "did not return ClientToken") {
			return p.newErr(provider.ErrUnauthenticated, provider.Ref{},
				m.describe()+" failed: Vault's answer carries no client token", nil,
				"a login that needs multi-factor authentication cannot run unattended; use a role without MFA")
		}
		return p.transportError(ctx, provider.Ref{}, m.loginURL, err)
	}
	path := m.loginURL
	if u, perr := url.Parse(re.URL); perr == nil && strings.HasPrefix(u.Path, "/v1/") {
		path = strings.TrimPrefix(u.Path, "/v1/")
	}
	r := &reply{path: path, status: re.StatusCode, errs: re.Errors, raw: re.RawError}
	if r.raw {
		if len(re.Errors) > 0 && len(re.Errors[0]) < 200 {
			r.rawText = re.Errors[0] // only matched, never shown
		}
		r.errs = nil
	}
	if nsErr := p.namespaceAnswer(provider.Ref{}, r); nsErr != nil {
		return nsErr
	}
	switch {
	case plainToTLS(r), re.StatusCode == http.StatusTooManyRequests, re.StatusCode >= 500 && !r.mentions("missing role"):
		e := p.statusError(provider.Ref{}, r)
		e.Message = p.redact(m.describe() + " failed: " + e.Message)
		return e
	}
	var hint string
	switch {
	case path == "sys/wrapping/unwrap":
		hint = "the wrapping token in " + m.secret.String() + " was used already, expired or never existed: have a new wrapped secret ID delivered (wrapping tokens work once)"
	case re.StatusCode == http.StatusForbidden && r.mentions("permission denied") && m.method != AuthKubernetes:
		hint = fmt.Sprintf("is an auth method of type %s enabled at auth/%s? Vault refuses logins to a path without one; check auth_mount", m.method, m.mount)
	case m.method == AuthAppRole:
		hint = "check the role ID and the secret ID in " + m.secret.String() + "; a secret ID can be used up, expired or bound to other addresses (secret_id_num_uses, secret_id_ttl, secret_id_bound_cidrs)"
	case m.method == AuthKubernetes:
		hint = fmt.Sprintf("check that role %q exists at auth/%s and binds this service account and Kubernetes namespace (bound_service_account_names, bound_service_account_namespaces), and that the token in %s is current", m.role, m.mount, m.secret.String())
	default:
		hint = fmt.Sprintf("check role %q at auth/%s: its bound_audiences and bound_claims must match the token in %s, which must not have expired", m.role, m.mount, m.secret.String())
	}
	return p.newErr(provider.ErrUnauthenticated, provider.Ref{}, m.describe()+" failed: "+r.describe(), &StatusError{Code: re.StatusCode}, hint)
}

// watch renews the login token, as the client's LifetimeWatcher does, once
// the run has lasted half the token's lease: a short run never renews.
func (p *Provider) watch(sess *session, s *vault.Secret) {
	if s.Auth == nil || !s.Auth.Renewable || s.Auth.LeaseDuration <= 0 {
		return
	}
	w, err := p.client.NewLifetimeWatcher(&vault.LifetimeWatcherInput{Secret: s})
	if err != nil {
		return
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	sess.watcher = w
	sess.timer = time.AfterFunc(time.Duration(s.Auth.LeaseDuration)*time.Second/2, func() {
		sess.mu.Lock()
		defer sess.mu.Unlock()
		if !sess.closed {
			go w.Start()
		}
	})
}

// endSession stops renewing and revokes the login token (auth/token/
// revoke-self): a token envdrift obtained is not left valid after the run.
func (p *Provider) endSession() error {
	p.mu.Lock()
	sess := p.session
	p.mu.Unlock()
	if sess == nil {
		return nil
	}
	sess.mu.Lock()
	if sess.closed {
		sess.mu.Unlock()
		return nil
	}
	sess.closed = true
	if sess.timer != nil {
		sess.timer.Stop()
	}
	if sess.watcher != nil {
		sess.watcher.Stop()
	}
	sess.mu.Unlock()
	timeout := revokeTimeout
	if p.opts.Timeout > 0 {
		timeout = min(timeout, p.opts.Timeout)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := p.client.Auth().Token().RevokeSelfWithContext(ctx, ""); err != nil {
		return p.newErr(provider.ErrUnavailable, provider.Ref{},
			"could not revoke the token of the "+p.auth.describe()+" (it stays valid until its TTL ends): "+p.redact(err.Error()), nil, "")
	}
	return nil
}
