// Package azure is the envdrift provider for Azure Key Vault secrets. It
// reads the latest version of a secret with the azsecrets client and
// authenticates with azidentity's DefaultAzureCredential.
//
// # Configuration
//
//	[vault.azure]
//	vault_url = "https://my-keyvault.vault.azure.net/"   # the default vault
//	# vault_dns_suffix = "vault.azure.cn"                # sovereign clouds, emulators
//	# disable_challenge_resource_verification = false    # emulators only
//
// vault_url is the vault used by mappings that name none; --vault-url
// (provider.Options.URL) overrides it. Secrets are read with GET
// /secrets/{name}/ (the latest version) and returned byte for byte; an empty
// value is returned as such for the caller to reject.
//
// # Vault names
//
// A mapping's vault_name (or the default_vault_name) is a Key Vault name
// and really selects the vault: name becomes https://<name>.<suffix>/, where
// suffix is vault_dns_suffix, else the part of vault_url's host after the
// vault's own name (so a vault_url in Azure China routes names to
// .vault.azure.cn), else vault.azure.net. The suffix may carry a port, for
// emulators that serve vaults as <name>.localhost:8443. Names are checked
// against Key Vault's rules (3–24 letters, digits and dashes) before any
// request; one azsecrets client is built per distinct vault and reused.
//
// # Credentials
//
// DefaultAzureCredential is built on the first fetch, once per provider,
// never by Open. It tries, in order: environment variables (a client secret
// or certificate: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET or
// AZURE_CLIENT_CERTIFICATE_PATH), workload identity (AKS, or any
// AZURE_FEDERATED_TOKEN_FILE), managed identity, the Azure CLI (`az
// login`), the Azure Developer CLI (`azd auth login`) and Azure PowerShell.
// AZURE_TOKEN_CREDENTIALS narrows the chain ("dev", "prod", or one
// credential's name). Library callers may pass their own credential in
// [Settings].Credential. A credential failure is remembered for the life of
// the provider: every later fetch reports it without running the chain
// again, so 200 mappings cost one failed login, not 200.
//
// Key Vault tells the client which tenant and resource to get a token for in
// a 401 challenge. The SDK checks that the challenge's resource matches the
// vault's domain (vault.azure.net for https://x.vault.azure.net/) and
// refuses to send a token otherwise. An emulator or local server on another
// host (https://127.0.0.1:8443/) fails that check; for those only, set
// disable_challenge_resource_verification = true. Never set it for a
// vault_url you do not trust: the check is what keeps a token for your
// vaults from being handed to another host.
//
// # Writing
//
// [Provider] is a [provider.Writer] (envdrift push) built on Set Secret:
// each write is a new version carrying the previous version's tags plus
// envdrift's marker and public key. Key Vault has no conditional write, so
// PutResult.Checked is always false. Publishing needs the role "Key Vault
// Secrets Officer" or an access policy with secret get and set. See
// [Provider.Put].
//
// # Retries and timeouts
//
// The azcore retry policy of the Key Vault clients retries throttling (429,
// honouring Retry-After; a Retry-After beyond the cap is reported as
// throttled at once), 408, 500, 502, 503, 504 and connection failures: up to
// 3 retries, exponential backoff from 300 ms capped at 4 s. A failure that
// retrying soon would not change (reach.Unreachable: connection refused,
// no such host, a certificate that cannot be verified) is reported at once.
// Throttled errors carry the Retry-After Key Vault sent
// (provider.Error.RetryAfter).
// provider.Options.Retry overrides these (MaxAttempts counts the first try;
// MaxDelay is also the longest Retry-After the policy waits out).
// provider.Options.Timeout bounds each attempt — the
// challenge, the token request and the secret request together — and
// defaults to [DefaultTimeout]; the caller's context bounds the whole fetch.
// Token requests keep azidentity's own retry policies, inside that bound.
//
// # Trusted certificates
//
// The SDK uses Go's system roots. A TLS-inspecting proxy or an emulator with
// its own CA needs that CA in the system store, or (Linux and BSD) in
// SSL_CERT_FILE / SSL_CERT_DIR. HTTPS_PROXY and NO_PROXY are honoured.
package azure

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/envdrift/envdrift/internal/limits"
	"github.com/envdrift/envdrift/internal/reach"
	"github.com/envdrift/envdrift/provider"
)

// Name is the provider's registry name.
const Name = "azure"

// DefaultDNSSuffix is the Key Vault DNS suffix of Azure's public cloud.
const DefaultDNSSuffix = "vault.azure.net"

// DefaultTimeout bounds one attempt of a fetch when provider.Options.Timeout
// is zero.
const DefaultTimeout = 15 * time.Second

// Retry policy of the Key Vault clients.
const (
	maxRetries    = 3
	retryDelay    = 300 * time.Millisecond
	maxRetryDelay = 4 * time.Second
)

// Settings is the [vault.azure] configuration table.
type Settings struct {
	// VaultURL is the default vault, e.g. https://my-keyvault.vault.azure.net/.
	// provider.Options.URL (--vault-url) overrides it.
	VaultURL string `toml:"vault_url"`
	// VaultDNSSuffix is the DNS suffix that turns a vault name into a vault
	// URL: https://<name>.<suffix>/. Default: derived from VaultURL's host,
	// else vault.azure.net. Examples: vault.azure.cn (Azure China),
	// vault.usgovcloudapi.net (Azure US Government), localhost:8443 (an
	// emulator serving <name>.localhost:8443).
	VaultDNSSuffix string `toml:"vault_dns_suffix"`
	// DisableChallengeResourceVerification turns off the SDK's check that
	// the resource in Key Vault's authentication challenge matches the
	// vault's domain. Only for emulators and local servers whose host is not
	// under the Key Vault domain; default false (verification on).
	DisableChallengeResourceVerification bool `toml:"disable_challenge_resource_verification"`
	// Credential, when set by a library caller, replaces
	// DefaultAzureCredential. It cannot be set from a configuration file.
	Credential azcore.TokenCredential `toml:"-"`
}

// Driver returns the provider's driver, for a caller's own
// [provider.Registry]. Importing the package registers it in
// [provider.Default].
func Driver() provider.Driver {
	return provider.NewDriver(Name, func(_ context.Context, s *Settings, opts provider.Options) (provider.Provider, error) {
		p, err := New(s, opts)
		if err != nil {
			return nil, err
		}
		return p, nil
	})
}

func init() { provider.Default().Register(Driver()) }

// Provider reads secrets from Azure Key Vault. It is safe for concurrent
// use.
type Provider struct {
	defaultURL string // normalised vault URL, "" when none is configured
	// urlOverride: the default vault URL came from provider.Options.URL.
	urlOverride bool
	suffix      string // DNS suffix for vault names, may carry a port
	verify      bool   // challenge-resource verification
	timeout     time.Duration
	retry       provider.RetryPolicy
	cred        *cachedCredential

	mu      sync.Mutex
	clients map[string]*azsecrets.Client
}

// New returns a provider for s and opts. It validates the settings and does
// no network I/O; the credential and clients are built on first use.
func New(s *Settings, opts provider.Options) (*Provider, error) {
	if s == nil {
		s = &Settings{}
	}
	p := &Provider{
		verify:  !s.DisableChallengeResourceVerification,
		timeout: opts.Timeout,
		retry:   opts.Retry,
		clients: map[string]*azsecrets.Client{},
	}
	if p.timeout <= 0 {
		p.timeout = DefaultTimeout
	}
	raw, from := s.VaultURL, "vault_url"
	if opts.URL != "" {
		raw, from = opts.URL, "--vault-url"
		p.urlOverride = true
	}
	if raw != "" {
		u, err := normaliseVaultURL(raw)
		if err != nil {
			return nil, provider.NewError(provider.ErrInvalid, Name, provider.Ref{},
				fmt.Sprintf("%s %q: %v", from, raw, err), nil).
				WithHint("use the vault's URI from the portal, e.g. https://my-keyvault.vault.azure.net/")
		}
		p.defaultURL = u
	}
	switch {
	case s.VaultDNSSuffix != "":
		suffix, err := normaliseSuffix(s.VaultDNSSuffix)
		if err != nil {
			return nil, provider.NewError(provider.ErrInvalid, Name, provider.Ref{},
				fmt.Sprintf("vault_dns_suffix %q: %v", s.VaultDNSSuffix, err), nil).
				WithHint("give a host name suffix such as vault.azure.cn, optionally with a port")
		}
		p.suffix = suffix
	case p.defaultURL != "":
		p.suffix = suffixFromURL(p.defaultURL)
	}
	if p.suffix == "" {
		p.suffix = DefaultDNSSuffix
	}
	cred := s.Credential
	p.cred = newCachedCredential(func() (azcore.TokenCredential, error) {
		if cred != nil {
			return cred, nil
		}
		// The credentials keep azidentity's own retry policies (managed
		// identity's are tuned for IMDS); each token request runs inside a
		// Key Vault attempt and is bounded by its timeout.
		return azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
			ClientOptions: azcore.ClientOptions{Telemetry: policy.TelemetryOptions{ApplicationID: "envdrift"}},
		})
	})
	return p, nil
}

// DefaultVaultURL returns the vault used for refs without a vault name, ""
// when none is configured.
func (p *Provider) DefaultVaultURL() string { return p.defaultURL }

// DNSSuffix returns the suffix vault names are resolved with.
func (p *Provider) DNSSuffix() string { return p.suffix }

// VaultURL returns the URL of the vault called name: the default vault for
// "", else https://<name>.<suffix>/. Names that are not valid Key Vault
// names are refused with ErrInvalid.
func (p *Provider) VaultURL(name string) (string, error) {
	if name == "" {
		if p.defaultURL == "" {
			return "", provider.NewError(provider.ErrInvalid, Name, provider.Ref{},
				"no vault configured", nil).
				WithHint("set vault_url in [vault.azure], pass --vault-url, or give the mapping a vault_name")
		}
		return p.defaultURL, nil
	}
	if !validVaultName(name) {
		return "", provider.NewError(provider.ErrInvalid, Name, provider.Ref{},
			fmt.Sprintf("%q is not a Key Vault name", name), nil).
			WithHint("vault_name is the vault's name (3-24 letters, digits and dashes, starting with a letter), not its URL")
	}
	return "https://" + strings.ToLower(name) + "." + p.suffix + "/", nil
}

// Fetch reads the latest version of the secret ref.Name from the vault
// ref.Vault (the default vault when empty).
func (p *Provider) Fetch(ctx context.Context, ref provider.Ref) (provider.Secret, error) {
	client, vaultURL, err := p.prepare(ctx, ref)
	if err != nil {
		return provider.Secret{}, err
	}
	resp, err := client.GetSecret(ctx, ref.Name, "", nil)
	if err != nil {
		return provider.Secret{}, classify(ctx, ref, vaultURL, err)
	}
	return secretOf(ref, vaultURL, resp.Secret)
}

// secretOf checks a secret bundle Key Vault returned and takes its value
// and version.
func secretOf(ref provider.Ref, vaultURL string, resp azsecrets.Secret) (provider.Secret, error) {
	if resp.Value == nil {
		// Key Vault always sends "value" (possibly ""); a 200 without one
		// (an empty body, another service's JSON) is not a secret.
		return provider.Secret{}, provider.NewError(provider.ErrUnavailable, Name, ref,
			"vault "+vaultName(ref, vaultURL)+" answered without a secret value", nil).
			WithHint("a proxy or another service may be answering instead of Key Vault; check vault_url and HTTPS_PROXY")
	}
	if len(*resp.Value) > limits.MaxSecretSize {
		return provider.Secret{}, provider.NewError(provider.ErrInvalid, Name, ref,
			fmt.Sprintf("the secret is %d bytes, larger than envdrift's %d-byte limit", len(*resp.Value), limits.MaxSecretSize), nil)
	}
	sec := provider.Secret{Value: []byte(*resp.Value)}
	if resp.ID != nil {
		sec.Version = resp.ID.Version()
	}
	return sec, nil
}

// prepare checks ref and returns the client of its vault.
func (p *Provider) prepare(ctx context.Context, ref provider.Ref) (*azsecrets.Client, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", provider.NewError(provider.ErrUnavailable, Name, ref, "cancelled before the request: "+err.Error(), err)
	}
	if !validSecretName(ref.Name) {
		return nil, "", provider.NewError(provider.ErrInvalid, Name, ref,
			fmt.Sprintf("%q is not a Key Vault secret name", ref.Name), nil).
			WithHint("Key Vault secret names have 1-127 letters, digits and dashes")
	}
	vaultURL, err := p.VaultURL(ref.Vault)
	if err != nil {
		pe := err.(*provider.Error)
		pe.Ref = ref
		return nil, "", pe
	}
	client, err := p.client(vaultURL)
	if err != nil {
		return nil, "", provider.NewError(provider.ErrInvalid, Name, ref, err.Error(), err)
	}
	return client, vaultURL, nil
}

// Notices implements provider.Noticer: it reminds the user, once per run,
// that challenge-resource verification is off.
func (p *Provider) Notices() []string {
	if p.verify {
		return nil
	}
	return []string{"azure: challenge-resource verification is off (disable_challenge_resource_verification = true): " +
		"Key Vault tokens are sent to whatever host the vault URL names; use this only with an emulator or a local server you trust"}
}

// client returns the cached azsecrets client for vaultURL, creating it on
// first use. Creating a client does no I/O.
func (p *Provider) client(vaultURL string) (*azsecrets.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[vaultURL]; ok {
		return c, nil
	}
	c, err := azsecrets.NewClient(vaultURL, p.cred, &azsecrets.ClientOptions{
		ClientOptions:                        p.clientOptions(),
		DisableChallengeResourceVerification: !p.verify,
	})
	if err != nil {
		return nil, err
	}
	p.clients[vaultURL] = c
	return c, nil
}

func (p *Provider) clientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{
		Retry: policy.RetryOptions{
			MaxRetries:    p.retries(),
			RetryDelay:    cmp.Or(max(p.retry.MinDelay, 0), retryDelay),
			MaxRetryDelay: cmp.Or(max(p.retry.MaxDelay, 0), maxRetryDelay),
			TryTimeout:    p.timeout,
			ShouldRetry:   shouldRetry,
		},
		Telemetry: policy.TelemetryOptions{ApplicationID: "envdrift"},
	}
}

// retryStatusCodes are the answers azcore retries by default.
var retryStatusCodes = []int{
	http.StatusRequestTimeout,
	http.StatusTooManyRequests,
	http.StatusInternalServerError,
	http.StatusBadGateway,
	http.StatusServiceUnavailable,
	http.StatusGatewayTimeout,
}

// shouldRetry is azcore's retry decision, except that a failure that will
// not change within seconds (reach.Unreachable: connection refused, no
// such host, a certificate that cannot be verified) is not retried: the
// retries would only delay the error.
func shouldRetry(resp *http.Response, err error) bool {
	if err != nil {
		return !reach.Unreachable(err)
	}
	return slices.Contains(retryStatusCodes, resp.StatusCode)
}

// retries maps the policy's attempts onto azcore's retries, where 0
// means azcore's default and -1 means none.
func (p *Provider) retries() int32 {
	switch n := p.retry.MaxAttempts; {
	case n <= 0:
		return maxRetries
	case n == 1:
		return -1
	default:
		return int32(n - 1)
	}
}

// Key Vault's naming rules, checked by hand rather than with regular
// expressions: compiling `{1,127}` at start-up cost every envdrift process,
// --version included, about half a millisecond.

// validSecretName: 1–127 characters, letters, digits and dashes.
func validSecretName(name string) bool {
	return len(name) >= 1 && len(name) <= 127 && strings.IndexFunc(name, func(r rune) bool { return !isAlnum(r) && r != '-' }) < 0
}

// validVaultName: 3–24 characters, letters, digits and single dashes,
// starting with a letter and ending with a letter or digit.
func validVaultName(name string) bool {
	if len(name) < 3 || len(name) > 24 || strings.Contains(name, "--") {
		return false
	}
	first, last := rune(name[0]), rune(name[len(name)-1])
	return (first >= 'a' && first <= 'z' || first >= 'A' && first <= 'Z') && isAlnum(last) && validSecretName(name)
}

func isAlnum(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}

// normaliseVaultURL checks that raw is an https URL with a host and returns
// it with a lower-case host and a trailing slash, the form clients are
// cached under.
func normaliseVaultURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("not a URL")
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("the scheme must be https (Key Vault refuses tokens over plain HTTP)")
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("no host")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("a vault URL has no user, query or fragment")
	}
	if p := strings.ToLower(u.Path); p == "/secrets" || strings.HasPrefix(p, "/secrets/") {
		return "", fmt.Errorf("this is a secret's URL; vault_url is the vault's URI, e.g. https://my-keyvault.vault.azure.net/")
	}
	u.Host = strings.ToLower(u.Host)
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.RawPath = ""
	return u.String(), nil
}

// normaliseSuffix accepts "vault.azure.cn", ".vault.azure.cn" or
// "localhost:8443".
func normaliseSuffix(raw string) (string, error) {
	s := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(raw), "."))
	if s == "" {
		return "", fmt.Errorf("empty")
	}
	u, err := url.Parse("https://x." + s + "/")
	if err != nil || u.Host != "x."+s || u.Path != "/" {
		return "", fmt.Errorf("not a host name suffix")
	}
	if host := u.Hostname(); net.ParseIP(strings.TrimPrefix(host, "x.")) != nil {
		return "", fmt.Errorf("an IP address cannot hold vault names")
	}
	return s, nil
}

// suffixFromURL returns the part of the vault URL's host after the vault's
// own name (with the port), or "" when the host is an IP address or a
// single label.
func suffixFromURL(vaultURL string) string {
	u, err := url.Parse(vaultURL)
	if err != nil {
		return ""
	}
	host := u.Hostname()
	if net.ParseIP(host) != nil {
		return ""
	}
	_, rest, ok := strings.Cut(host, ".")
	if !ok || rest == "" {
		return ""
	}
	if port := u.Port(); port != "" {
		rest += ":" + port
	}
	return rest
}

var _ provider.Describer = (*Provider)(nil)

// OverridesVault reports whether provider.Options.URL named the default
// vault (see provider.VaultOverrider).
func (p *Provider) OverridesVault() bool { return p.urlOverride }

// Describe returns the URL of the vault requests for vault go to: the
// default vault for "", else https://<vault>.<suffix>/. It does no I/O; a
// vault it cannot resolve is described as "".
func (p *Provider) Describe(vault string) string {
	u, err := p.VaultURL(vault)
	if err != nil {
		return ""
	}
	return u
}
