// Package hashicorp is the envdrift provider for HashiCorp Vault's KV secrets
// engine (version 1 and 2), built on the official client,
// github.com/hashicorp/vault/api.
//
// # Configuration
//
//	[vault.hashicorp]
//	url        = "https://vault.example.com:8200" # else VAULT_ADDR
//	mount      = "secret"                         # the KV mount; default "secret"
//	kv_version = 2                                # 1 or 2; absent = detect per mount
//	namespace  = "team-a"                         # Vault Enterprise / HCP; else VAULT_NAMESPACE
//
// Precedence: --vault-url ([provider.Options].URL) beats url, which beats
// VAULT_AGENT_ADDR and VAULT_ADDR (in the client's own order), which beat
// the client's default https://127.0.0.1:8200. namespace beats
// VAULT_NAMESPACE. TLS comes from the client's standard variables
// VAULT_CACERT, VAULT_CAPATH, VAULT_CLIENT_CERT, VAULT_CLIENT_KEY,
// VAULT_TLS_SERVER_NAME and VAULT_SKIP_VERIFY (read by api.DefaultConfig).
// Response wrapping (VAULT_WRAP_TTL) is switched off: envdrift needs the
// secret itself.
//
// # Credentials
//
// No credential is ever read from the configuration file; auth_method
// chooses how the token is obtained:
//
//	auth_method = "token"       # the default
//	auth_method = "approle"     # role_id | role_id_file | role_id_env, secret_id_file | secret_id_env, secret_id_wrapped
//	auth_method = "kubernetes"  # role, jwt_file (default: the pod's service account token) | jwt_env
//	auth_method = "jwt"         # role, jwt_file | jwt_env (a CI provider's OIDC ID token)
//	auth_mount  = "approle"     # where the method is enabled; default its name
//
// With "token", the token is, in order: the --token flag
// ([provider.Options].Token), the VAULT_TOKEN variable, then the file
// ~/.vault-token that `vault login` writes (HOME is honoured). Without any,
// requests go out without a token (a Vault Agent with use_auto_auth_token
// accepts that); Vault's refusal is then reported as unauthenticated with the
// hint "set VAULT_TOKEN or run `vault login`".
//
// With a login method, VAULT_TOKEN and ~/.vault-token are not read (--token
// still wins). The login runs once, on the first Fetch, shared by every
// concurrent fetch, through the official modules (api/auth/approle,
// api/auth/kubernetes; jwt writes auth/<mount>/login itself). A run that
// outlasts half the token's lease has it renewed by the client's
// LifetimeWatcher; [Provider.Close] revokes it (auth/token/revoke-self). A
// refused login is unauthenticated, naming the method, the mount and Vault's
// message; later fetches fail at once with it. Files and variables are read
// at login time; relative file paths resolve against
// [provider.Options].BaseDir.
//
// Credentials are resolved on the first Fetch, never by Open, and no token,
// secret ID, wrapping token or JWT appears in an error.
//
// # Namespaces
//
// With a namespace set, the first Fetch asks sys/health what the server is:
// a server that ignores namespaces (Vault Community Edition, OpenBao before
// 2.3) would answer from its root namespace, so every fetch fails with
// ErrInvalid instead. A 404 "namespace not found" is reported as the
// namespace missing (ErrInvalid), never as a missing secret.
//
// # vault_name routing
//
// A mapping's vault_name (or default_vault_name) is the KV mount to read
// from, overriding mount. The secret name is the path inside the mount and
// may contain slashes ("myapp/prod"). Each mount's KV version is detected
// once, on first use, as the vault CLI does (GET
// sys/internal/ui/mounts/<mount>; Vault answers it per mount), unless
// kv_version is set.
// KV v2 reads GET <mount>/data/<path> (the latest version; a deleted or
// destroyed latest version is reported as not found, with its version
// number); KV v1 reads GET <mount>/<path>. One client serves every mount.
//
// # The value
//
// A KV secret is a set of fields. Fetch returns:
//
//  1. the field "value", if there is one: a string as stored, byte for byte;
//     any other JSON value (number, object…) as its JSON encoding;
//  2. else, when exactly one field is named DOTENV_PRIVATE_KEY… and its value
//     is a single-line string, the line NAME=value: the field's name is kept,
//     so a key labelled for another environment is recognised and refused
//     by envdrift's normaliser rather than installed;
//  3. else the whole field object as JSON (keys sorted), which envdrift's
//     normaliser reads when it holds DOTENV_PRIVATE_KEY_* fields.
//
// So `vault kv put secret/myapp value=<key>` and
// `vault kv put secret/myapp DOTENV_PRIVATE_KEY_PRODUCTION=<key>` both work.
//
// # Errors
//
// 404 is not found; 403 is told apart with the error text ("invalid token",
// sent by current Vault) or, for older servers, one lazily made and cached
// auth/token/lookup-self request: a rejected token is unauthenticated, a
// valid one is permission denied, with the policy that would allow the read
// as the hint (path "<mount>/data/<path>" { capabilities = ["read"] } for
// KV v2). 429 is throttled; 5xx (sealed, standby, internal errors) is
// unavailable with Vault's own error messages. Once the token is known to be
// rejected, later fetches fail at once without a request.
//
// # Writing
//
// [Provider] is a [provider.Writer] (envdrift push): KV v2 writes are
// check-and-set (cas=0 for a create, the version read for an update) and
// record envdrift's marker and the public key in the secret's
// custom_metadata; KV v1 writes are plain, and carry no metadata. See
// [Provider.Put]. A push needs create and update on the data path and, for
// KV v2, on <mount>/metadata/<path>.
//
// # Retries and timeouts
//
// Retries are the client's own (go-retryablehttp with the client's default
// retry policy): connection errors, 412, 429 and 5xx except 501 are retried
// up to 3 times (VAULT_MAX_RETRIES overrides) with exponential backoff from
// 250 ms, jittered and capped at 3 s; a Retry-After header is honoured up to
// that cap ("Retry-After: 0", Vault's rounded-down wait of under a second,
// gets the backoff). A failure that retrying soon would not change
// (reach.Unreachable: connection refused, no such host, a certificate
// that cannot be verified) is not retried. [provider.Options].Retry overrides the attempts (beating
// VAULT_MAX_RETRIES), the first backoff and the cap. [provider.Options].Timeout (else VAULT_CLIENT_TIMEOUT, else 30 s)
// bounds each request to Vault including its retries; a Fetch makes one
// request, plus one mount detection per mount and at most one token check
// per provider.
package hashicorp

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vault "github.com/hashicorp/vault/api"

	"github.com/envdrift/envdrift/internal/reach"
	"github.com/envdrift/envdrift/provider"
)

// Name is the provider's registry name.
const Name = "hashicorp"

// DefaultMount is the KV mount used when neither mount nor vault_name names
// one: the mount `vault server -dev` creates.
const DefaultMount = "secret"

// DefaultTimeout bounds each request to Vault, retries included, when
// neither [provider.Options].Timeout nor VAULT_CLIENT_TIMEOUT is set.
const DefaultTimeout = 30 * time.Second

// maxIdleConnsPerHost is how many idle connections to the Vault server the
// client keeps: enough for the most fetches envdrift runs at once
// (the most envdrift allows, 256), so that connections are reused between rounds
// rather than closed and dialled again.
const maxIdleConnsPerHost = 256

// Retry tuning; see the package documentation.
const (
	maxRetries   = 3
	minRetryWait = 250 * time.Millisecond
	maxRetryWait = 3 * time.Second
)

// Settings is the [vault.hashicorp] configuration table. It deliberately
// has no token field: tokens are secrets and come from --token, VAULT_TOKEN
// or ~/.vault-token.
type Settings struct {
	// URL is Vault's address, e.g. "https://vault.example.com:8200".
	// --vault-url overrides it; when both are empty VAULT_ADDR is used.
	URL string `toml:"url"`
	// Mount is the KV secrets engine mount; default "secret". A mapping's
	// vault_name overrides it.
	Mount string `toml:"mount"`
	// KVVersion is the KV engine version, 1 or 2. 0 (absent) detects it
	// per mount.
	KVVersion int `toml:"kv_version"`
	// Namespace is the Vault Enterprise / HCP Vault namespace; when empty
	// VAULT_NAMESPACE is used.
	Namespace string `toml:"namespace"`

	// AuthMethod is how envdrift gets its token: "token" (the default:
	// --token, VAULT_TOKEN, ~/.vault-token), or a login with "approle",
	// "kubernetes" or "jwt". See the package documentation.
	AuthMethod string `toml:"auth_method"`
	// AuthMount is the path the auth method is enabled at, without
	// "auth/"; default the method's name ("approle", "kubernetes", "jwt").
	AuthMount string `toml:"auth_mount"`
	// Role is the Vault role of a kubernetes or jwt login.
	Role string `toml:"role"`
	// RoleID is the AppRole role ID; or name where it is with RoleIDFile
	// or RoleIDEnv.
	RoleID     string `toml:"role_id"`
	RoleIDFile string `toml:"role_id_file"`
	RoleIDEnv  string `toml:"role_id_env"`
	// SecretIDFile and SecretIDEnv name the file or the environment
	// variable that holds the AppRole secret ID (one of them; the secret ID
	// itself is never in the configuration file).
	SecretIDFile string `toml:"secret_id_file"`
	SecretIDEnv  string `toml:"secret_id_env"`
	// SecretIDWrapped says the secret ID source holds a response-wrapping
	// token, unwrapped (once) at login.
	SecretIDWrapped bool `toml:"secret_id_wrapped"`
	// JWTFile and JWTEnv name the file or variable holding the token of a
	// kubernetes login (default: the pod's service account token file) or
	// of a jwt login (a CI provider's ID token; required).
	JWTFile string `toml:"jwt_file"`
	JWTEnv  string `toml:"jwt_env"`
}

// Driver returns the provider's driver, for a caller's own
// [provider.Registry]. Importing the package registers it in
// [provider.Default].
func Driver() provider.Driver {
	return provider.NewDriver(Name, func(_ context.Context, s *Settings, opts provider.Options) (provider.Provider, error) {
		return New(*s, opts)
	})
}

func init() { provider.Default().Register(Driver()) }

// Provider reads secrets from Vault KV mounts. It is safe for concurrent use.
type Provider struct {
	settings Settings
	opts     provider.Options
	mount    string

	initOnce   sync.Once
	client     *vault.Client
	httpClient *http.Client
	token      string // resolved token; never printed
	tokenSrc   string // where it came from: "--token", "VAULT_TOKEN", "~/.vault-token", the login, or ""
	initErr    *provider.Error
	auth       *loginMethod // nil for the token method

	secretsMu sync.Mutex
	secrets   []string // credentials and login tokens to scrub from messages

	mu       sync.Mutex
	versions map[string]*flight[mountInfo] // per mount
	tokCheck *flight[tokenVerdict]
	authErr  *provider.Error // cached: the token is known to be rejected

	loginFlight *flight[struct{}]
	session     *session
	nsFlight    *flight[struct{}]

	// throttledAt is when Vault last answered 429 (UnixNano; 0 never): a
	// request that runs out of time soon after was throttled, not lost.
	throttledAt atomic.Int64
}

// New returns a provider for s and opts. It validates the settings and does
// no network I/O; the client and the token are set up on the first Fetch.
func New(s Settings, opts provider.Options) (*Provider, error) {
	if s.KVVersion != 0 && s.KVVersion != 1 && s.KVVersion != 2 {
		return nil, provider.NewError(provider.ErrInvalid, Name, provider.Ref{},
			fmt.Sprintf("kv_version = %d: Vault KV has versions 1 and 2", s.KVVersion), nil).
			WithHint("set kv_version to 1 or 2 in [vault.hashicorp], or remove it to detect the version")
	}
	mount := strings.Trim(s.Mount, "/")
	if mount == "" {
		mount = DefaultMount
	}
	if err := checkPath("mount", mount); err != nil {
		return nil, provider.NewError(provider.ErrInvalid, Name, provider.Ref{}, err.Error(), nil).
			WithHint("set mount in [vault.hashicorp] to the KV mount path, e.g. \"secret\"")
	}
	auth, err := newLoginMethod(s, opts.BaseDir)
	if err != nil {
		return nil, err
	}
	return &Provider{
		settings: s,
		opts:     opts,
		mount:    mount,
		auth:     auth,
		versions: map[string]*flight[mountInfo]{},
	}, nil
}

// Fetch reads the latest value of ref.Name from the KV mount ref.Vault (the
// configured mount when empty).
func (p *Provider) Fetch(ctx context.Context, ref provider.Ref) (provider.Secret, error) {
	info, name, err := p.prepare(ctx, ref)
	if err != nil {
		return provider.Secret{}, err
	}
	return p.read(ctx, ref, info, name)
}

// prepare checks ref, sets the client up and learns the mount's KV
// version: what every request about a secret needs first.
func (p *Provider) prepare(ctx context.Context, ref provider.Ref) (mountInfo, string, error) {
	if err := ctx.Err(); err != nil {
		return mountInfo{}, "", provider.NewError(provider.ErrUnavailable, Name, ref, "cancelled before the request", err)
	}
	mount := strings.Trim(ref.Vault, "/")
	if mount == "" {
		mount = p.mount
	}
	name := strings.Trim(ref.Name, "/")
	if err := checkPath("vault name (KV mount)", mount); err != nil {
		return mountInfo{}, "", provider.NewError(provider.ErrInvalid, Name, ref, err.Error(), nil)
	}
	if err := checkPath("secret name", name); err != nil {
		return mountInfo{}, "", provider.NewError(provider.ErrInvalid, Name, ref, err.Error(), nil).
			WithHint("the secret name is a path inside the KV mount, e.g. myapp/prod")
	}
	if err := p.init(); err != nil {
		return mountInfo{}, "", withRef(err, ref)
	}
	if err := p.cachedAuthErr(); err != nil {
		return mountInfo{}, "", withRef(err, ref)
	}
	if err := p.checkNamespace(ctx, ref); err != nil {
		return mountInfo{}, "", err
	}
	if err := p.login(ctx, ref); err != nil {
		return mountInfo{}, "", err
	}
	info, err := p.mountInfo(ctx, ref, mount, name)
	if err != nil {
		return mountInfo{}, "", err
	}
	return info, name, nil
}

// Close revokes the token a login obtained (auth/token/revoke-self; a
// token given with --token, VAULT_TOKEN or ~/.vault-token is left alone)
// and releases idle connections. It returns the revocation's failure, if
// any; the provider is done either way.
func (p *Provider) Close() error {
	err := p.endSession()
	p.mu.Lock()
	hc := p.httpClient
	p.mu.Unlock()
	if hc != nil {
		hc.CloseIdleConnections()
	}
	return err
}

// init builds the client and resolves the token, once.
func (p *Provider) init() *provider.Error {
	p.initOnce.Do(func() {
		c, err := p.newClient()
		if err != nil {
			p.initErr = err
			return
		}
		p.mu.Lock()
		p.client = c
		p.httpClient = c.CloneConfig().HttpClient
		p.mu.Unlock()
	})
	return p.initErr
}

func (p *Provider) newClient() (*vault.Client, *provider.Error) {
	cfg := vault.DefaultConfig() // reads VAULT_ADDR, VAULT_CACERT, … and configures TLS
	if cfg.Error != nil {
		return nil, provider.NewError(provider.ErrInvalid, Name, provider.Ref{},
			"Vault client configuration from the environment: "+cfg.Error.Error(), nil).
			WithHint("check the VAULT_* environment variables (VAULT_CACERT, VAULT_CLIENT_CERT, VAULT_SKIP_VERIFY, …)")
	}
	if t, ok := cfg.HttpClient.Transport.(*http.Transport); ok {
		// The default keeps GOMAXPROCS+1 idle connections: with more
		// fetches in flight, every round would close and redial the rest.
		t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, maxIdleConnsPerHost)
	}
	addr := p.opts.URL
	if addr == "" {
		addr = p.settings.URL
	}
	if addr != "" {
		cfg.Address = addr
		cfg.AgentAddress = "" // an explicit url beats VAULT_AGENT_ADDR too
	}
	if p.opts.Timeout > 0 {
		cfg.Timeout = p.opts.Timeout
	} else if lookupEnv("VAULT_CLIENT_TIMEOUT") == "" {
		cfg.Timeout = DefaultTimeout
	}
	switch r := p.opts.Retry; {
	case r.MaxAttempts > 0:
		cfg.MaxRetries = r.MaxAttempts - 1
	case lookupEnv("VAULT_MAX_RETRIES") == "":
		cfg.MaxRetries = maxRetries
	}
	cfg.MinRetryWait = cmp.Or(max(p.opts.Retry.MinDelay, 0), minRetryWait)
	cfg.MaxRetryWait = cmp.Or(max(p.opts.Retry.MaxDelay, 0), maxRetryWait)
	cfg.Backoff = backoff
	cfg.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
			p.throttledAt.Store(time.Now().UnixNano())
		}
		return checkRetry(ctx, resp, err)
	}

	c, err := vault.NewClient(cfg)
	if err != nil {
		return nil, provider.NewError(provider.ErrInvalid, Name, provider.Ref{},
			"Vault client: "+err.Error(), nil).WithHint("check url in [vault.hashicorp], --vault-url or VAULT_ADDR")
	}
	// Never wrap responses, whatever VAULT_WRAP_TTL says.
	c.SetWrappingLookupFunc(func(string, string) string { return "" })
	if p.settings.Namespace != "" {
		c.SetNamespace(strings.Trim(p.settings.Namespace, "/"))
	}
	var tok, src string
	if p.auth == nil || p.opts.Token != "" {
		// With a login method, VAULT_TOKEN and ~/.vault-token are not
		// read: the login gives the token (--token still beats it).
		var perr *provider.Error
		tok, src, perr = resolveToken(p.opts.Token)
		if perr != nil {
			return nil, perr
		}
	}
	p.token, p.tokenSrc = tok, src
	if tok == "" {
		c.ClearToken()
	} else {
		c.SetToken(tok)
	}
	return c, nil
}

func (p *Provider) cachedAuthErr() *provider.Error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.authErr
}

func (p *Provider) setAuthErr(e *provider.Error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.authErr == nil {
		p.authErr = e
	}
}

// namespace is the namespace requests go to, for messages.
func (p *Provider) namespace() string {
	if p.client == nil {
		return ""
	}
	return strings.Trim(p.client.Namespace(), "/")
}

// address is Vault's address, for messages.
func (p *Provider) address() string {
	if p.client == nil {
		return ""
	}
	return p.client.Address()
}

// withRef returns a copy of a cached error naming ref.
func withRef(e *provider.Error, ref provider.Ref) *provider.Error {
	c := *e
	c.Ref = ref
	return &c
}

// checkPath refuses empty paths, empty/"."/".." segments and control
// characters: the client cleans paths, so "a/../sys/x" would otherwise
// address another endpoint.
func checkPath(what, p string) error {
	if p == "" {
		return fmt.Errorf("empty %s", what)
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%s %q has an empty, \".\" or \"..\" path segment", what, p)
		}
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s %q contains a control character", what, p)
		}
	}
	return nil
}

// checkRetry is the client's default retry policy, except that a failure
// that retrying soon would not change (reach.Unreachable: connection
// refused, no such host, a certificate that cannot be verified) is
// reported at once instead of after every retry's backoff.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if err != nil && reach.Unreachable(err) {
		return false, nil
	}
	return vault.DefaultRetryPolicy(ctx, resp, err)
}

// backoff is exponential from min, jittered ±20 %, capped at max; a
// Retry-After header on 429/503 is honoured up to max. Vault rounds the
// wait of a rate limit quota down to whole seconds, so "Retry-After: 0"
// means under a second: the exponential backoff applies to it, or a
// throttled client would send its retries back to back.
func backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := retryAfter(resp.Header.Get("Retry-After")); ok && d > 0 {
			return min(d, maxWait)
		}
	}
	d := minWait
	for i := 0; i < attempt && d < maxWait; i++ {
		d *= 2
	}
	d = time.Duration(float64(d) * (0.8 + 0.4*jitter()))
	return min(d, maxWait)
}

var _ provider.Describer = (*Provider)(nil)

// Describe returns where requests for vault (a KV mount; "" for the
// configured mount) go: Vault's address, the mount and, when one is set,
// the namespace ("https://vault:8200, mount secret, namespace team-a"). It
// does no I/O; before the first Fetch the address is resolved as the
// client will resolve it (--vault-url, url, VAULT_AGENT_ADDR, VAULT_ADDR,
// the client's default).
func (p *Provider) Describe(vault string) string {
	mount := strings.Trim(vault, "/")
	if mount == "" {
		mount = p.mount
	}
	addr := cmp.Or(p.opts.URL, p.settings.URL, lookupEnv("VAULT_AGENT_ADDR"), lookupEnv("VAULT_ADDR"), "https://127.0.0.1:8200")
	s := addr + ", mount " + mount
	if ns := p.configuredNamespace(); ns != "" {
		s += ", namespace " + ns
	}
	return s
}

// configuredNamespace is the namespace requests carry: namespace in the
// settings, else VAULT_NAMESPACE ("" and "root" mean the root namespace).
func (p *Provider) configuredNamespace() string {
	ns := strings.Trim(cmp.Or(strings.TrimSpace(p.settings.Namespace), strings.TrimSpace(lookupEnv("VAULT_NAMESPACE"))), "/")
	if ns == "root" {
		return ""
	}
	return ns
}
