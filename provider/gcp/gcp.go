// Package gcp is the envdrift provider for Google Cloud Secret Manager. It
// reads secrets with the generated gRPC client,
// cloud.google.com/go/secretmanager/apiv1.
//
// # Configuration
//
//	[vault.gcp]
//	project_id = "my-gcp-project"   # the default project
//	endpoint   = "secretmanager.me-central2.rep.googleapis.com:443"  # optional
//
// A mapping's vault_name names its project; the default project, for
// mappings without one, is in order: --project-id (Options.ProjectID),
// project_id, the GOOGLE_CLOUD_PROJECT environment variable,
// CLOUDSDK_CORE_PROJECT (gcloud's). A provider without one still serves mappings that name their
// project in vault_name. The endpoint is, in order: endpoint, the
// CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER environment variable (gcloud's
// override for the same API; a URL such as
// "https://secretmanager.me-central2.rep.googleapis.com/"), the global
// endpoint secretmanager.googleapis.com:443. An endpoint of the form
// secretmanager.LOCATION.rep.googleapis.com is regional: secret names are
// then read as regional secrets, projects/P/locations/LOCATION/secrets/NAME.
// --vault-url is not read: it names Azure and HashiCorp vaults, and the CLI
// passes it to every provider of a mixed configuration.
//
// # Local emulators
//
// An endpoint written as http://HOST:PORT is a local emulator: the client
// speaks plaintext gRPC to it (no TLS) and looks for no credentials, as
// emulators check none. Give such an endpoint its port. An emulator
// addressed without http:// is tried over TLS, and the failed handshake is
// reported as "answers in plaintext, not TLS", with the endpoint to write.
//
// # Credentials
//
// Application Default Credentials, resolved by the client library itself on
// the first Fetch (never by Open), once per provider: the JSON file named by
// GOOGLE_APPLICATION_CREDENTIALS (a service_account key, an authorized_user
// file, or an external_account file for workload identity federation, as
// google-github-actions/auth writes), then gcloud's
// application_default_credentials.json (`gcloud auth application-default
// login`), then the metadata server on Google Cloud (GCE, GKE, Cloud Run,
// Cloud Build). When none is found, or the credentials are rejected, every
// later Fetch of the provider returns the same unauthenticated error at once
// instead of retrying the chain.
//
// # vault_name routing
//
// A mapping's vault_name is the GCP project holding its secret; empty means
// the default project. The provider reads
// projects/PROJECT/secrets/NAME/versions/latest. One client serves every
// project: the project is part of each request. A secret name may also be a
// full resource name, projects/P/secrets/S or projects/P/secrets/S/versions/V
// (with /locations/L for regional secrets); P must then be the mapping's
// project, so a name cannot silently read from a project the configuration
// does not name.
//
// # Writing
//
// [Provider] is a [provider.Writer] (envdrift push): a create is
// CreateSecret with envdrift's marker and public key as annotations (a
// label value cannot hold a 66-character public key), refused atomically
// when the secret exists, then AddSecretVersion; an update is
// AddSecretVersion (not conditional) and, when there is metadata to
// record, UpdateSecret under the secret's etag. See [Provider.Put].
//
// # Retries and timeouts
//
// UNAVAILABLE and RESOURCE_EXHAUSTED are retried by the client's own retry
// loop (gax) with jittered exponential backoff from 200ms, capped at 2s, for
// at most 4 attempts; provider.Options.Retry overrides these (MinDelay is the
// first backoff). Options.Timeout (default 30s) bounds each attempt; an
// attempt that times out is not retried, so a stalled endpoint costs one
// timeout. The caller's context bounds the whole fetch.
package gcp

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/googleapis/gax-go/v2"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/envdrift/envdrift/internal/lazyre"
	"github.com/envdrift/envdrift/internal/limits"
	"github.com/envdrift/envdrift/internal/tlshint"
	"github.com/envdrift/envdrift/provider"
)

// Name is the provider's registry name.
const Name = "gcp"

// DefaultTimeout bounds each request attempt when Options.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Environment variables the provider reads.
const (
	// ProjectEnv names the default project when neither --project-id nor
	// project_id does.
	ProjectEnv = "GOOGLE_CLOUD_PROJECT"
	// GcloudProjectEnv is gcloud's core/project property, read after
	// ProjectEnv.
	GcloudProjectEnv = "CLOUDSDK_CORE_PROJECT"
	// EndpointEnv is gcloud's endpoint override for Secret Manager, read when
	// the endpoint setting is empty.
	EndpointEnv = "CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER"
)

// Retry policy: see the package documentation.
const (
	maxAttempts    = 4
	initialBackoff = 200 * time.Millisecond
	maxBackoff     = 2 * time.Second
)

// maxResponse is the largest AccessSecretVersion response the client
// accepts: the payload limit plus room for the name and checksum. A bigger
// message is refused by gRPC before it is read into memory.
const maxResponse = limits.MaxSecretSize + 4<<10

// Settings is the [vault.gcp] configuration table.
type Settings struct {
	// ProjectID is the default GCP project.
	ProjectID string `toml:"project_id"`
	// Endpoint overrides the Secret Manager endpoint, "host:port" or an
	// https URL: a regional endpoint, a Private Service Connect endpoint, or a
	// local test server; "http://host:port" is a plaintext local emulator
	// (no TLS, no credentials).
	Endpoint string `toml:"endpoint"`
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

// Provider reads secrets from GCP Secret Manager. It is safe for concurrent
// use.
type Provider struct {
	project       string
	projectSource string
	endpoint      string // host:port, "" for the library default
	plaintext     bool   // an http:// endpoint: a local emulator, no TLS, no credentials
	location      string // from a regional endpoint
	timeout       time.Duration
	retry         provider.RetryPolicy

	initOnce sync.Once
	ready    chan struct{}
	client   *secretmanager.Client
	initErr  *provider.Error
	closed   atomic.Bool

	principal string // who the credentials are, for hints; set by init

	authMu  sync.Mutex
	authErr *provider.Error
}

// New returns a provider for settings s and overrides opts. It reads the
// environment but does no network I/O and does not look for credentials.
func New(s Settings, opts provider.Options) (*Provider, error) {
	p := &Provider{timeout: opts.Timeout, retry: opts.Retry, ready: make(chan struct{})}
	if p.timeout <= 0 {
		p.timeout = DefaultTimeout
	}
	for _, c := range []struct{ v, source string }{
		{opts.ProjectID, "--project-id"},
		{s.ProjectID, "project_id in [vault.gcp]"},
		{os.Getenv(ProjectEnv), ProjectEnv},
		{os.Getenv(GcloudProjectEnv), GcloudProjectEnv},
	} {
		if v := strings.TrimSpace(c.v); v != "" {
			p.project, p.projectSource = v, c.source
			break
		}
	}
	if p.project != "" && !projectRE().MatchString(p.project) {
		return nil, provider.NewError(provider.ErrInvalid, Name, provider.Ref{},
			fmt.Sprintf("project %q (from %s) is not a GCP project ID", p.project, p.projectSource), nil).
			WithHint("use the project ID shown by `gcloud projects list`, e.g. my-project-123")
	}
	endpoint, source := strings.TrimSpace(s.Endpoint), "endpoint in [vault.gcp]"
	if endpoint == "" {
		endpoint, source = strings.TrimSpace(os.Getenv(EndpointEnv)), EndpointEnv
	}
	if endpoint != "" {
		hostport, location, plaintext, err := parseEndpoint(endpoint)
		if err != nil {
			return nil, provider.NewError(provider.ErrInvalid, Name, provider.Ref{},
				fmt.Sprintf("%s %q: %v", source, endpoint, err), nil).
				WithHint(`use host:port or an https URL, e.g. "secretmanager.me-central2.rep.googleapis.com:443", or http://host:port for a local emulator`)
		}
		p.endpoint, p.location, p.plaintext = hostport, location, plaintext
	}
	return p, nil
}

// Project returns the default project, "" when none is configured.
func (p *Provider) Project() string { return p.project }

// Endpoint returns the endpoint override as host:port, "" for the default
// global endpoint.
func (p *Provider) Endpoint() string { return p.endpoint }

// Location returns the location of a regional endpoint, "" otherwise.
func (p *Provider) Location() string { return p.location }

var regionalHostRE = lazyre.New(`^secretmanager\.([a-z0-9-]+)\.rep\.googleapis\.com$`)

// parseEndpoint turns "host", "host:port", "https://host[:port][/path]" or
// "http://host:port" into host:port (port 443 by default), the location of
// a regional endpoint, and whether it is a plaintext (emulator) endpoint.
func parseEndpoint(s string) (hostport, location string, plaintext bool, err error) {
	host := s
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", "", false, err
		}
		switch u.Scheme {
		case "https":
		case "http":
			plaintext = true
		default:
			return "", "", false, fmt.Errorf("scheme %q: Secret Manager is reached over TLS (https), or a local emulator over http", u.Scheme)
		}
		// A path (gcloud overrides may carry one, e.g. /v1/) means nothing
		// to a gRPC client and is ignored.
		if u.RawQuery != "" || u.User != nil || u.Fragment != "" {
			return "", "", false, errors.New("only a scheme, host and port are allowed")
		}
		host = u.Host
	}
	if host == "" || strings.ContainsAny(host, "/ ") {
		return "", "", false, errors.New("not a host name")
	}
	h, port, err := net.SplitHostPort(host)
	if err != nil {
		if plaintext {
			return "", "", false, errors.New("an http:// (emulator) endpoint needs a port")
		}
		h, port = strings.Trim(host, "[]"), "443"
	}
	if h == "" {
		return "", "", false, errors.New("missing host")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", "", false, fmt.Errorf("bad port %q", port)
	}
	if m := regionalHostRE().FindStringSubmatch(strings.ToLower(h)); m != nil {
		location = m[1]
	}
	return net.JoinHostPort(h, port), location, plaintext, nil
}

// Fetch reads the latest version of ref (or the version a full resource
// name names).
func (p *Provider) Fetch(ctx context.Context, ref provider.Ref) (provider.Secret, error) {
	c, name, project, err := p.prepare(ctx, ref)
	if err != nil {
		return provider.Secret{}, err
	}
	resp, err := c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: name})
	if err != nil {
		return provider.Secret{}, p.classify(ctx, ref, project, err)
	}
	return p.payload(ref, resp)
}

// prepare checks ref and returns the client, the version resource name
// ref reads and its project.
func (p *Provider) prepare(ctx context.Context, ref provider.Ref) (*secretmanager.Client, string, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", "", cancelled(ref, err)
	}
	if p.closed.Load() {
		return nil, "", "", provider.NewError(provider.ErrUnavailable, Name, ref, "provider is closed", nil)
	}
	name, project, perr := p.resourceName(ref)
	if perr != nil {
		return nil, "", "", perr
	}
	if e := p.cachedAuthError(); e != nil {
		return nil, "", "", e.forRef(ref)
	}
	c, err := p.getClient(ctx)
	if err != nil {
		var pe *provider.Error
		if errors.As(err, &pe) {
			return nil, "", "", cachedError{pe}.forRef(ref)
		}
		return nil, "", "", cancelled(ref, err)
	}
	return c, name, project, nil
}

func (p *Provider) payload(ref provider.Ref, resp *secretmanagerpb.AccessSecretVersionResponse) (provider.Secret, error) {
	pl := resp.GetPayload()
	if pl == nil {
		return provider.Secret{}, provider.NewError(provider.ErrInvalid, Name, ref,
			"the response for "+resp.GetName()+" carries no payload", nil)
	}
	data := pl.GetData()
	if len(data) > limits.MaxSecretSize {
		return provider.Secret{}, tooLarge(ref, len(data))
	}
	if pl.DataCrc32C != nil {
		if got := int64(crc32.Checksum(data, castagnoli())); got != pl.GetDataCrc32C() {
			return provider.Secret{}, provider.NewError(provider.ErrUnavailable, Name, ref,
				fmt.Sprintf("payload of %s failed its integrity check: data_crc32c is %d but the %d bytes received have CRC32C %d (corrupted in transit)",
					resp.GetName(), pl.GetDataCrc32C(), len(data), got), nil).
				WithHint("retry; if it persists, check proxies between this machine and " + p.endpointName())
		}
	}
	version := resp.GetName()
	if i := strings.LastIndexByte(version, '/'); i >= 0 {
		version = version[i+1:]
	}
	return provider.Secret{Value: data, Version: version}, nil
}

// castagnoli is the CRC-32C table Secret Manager's checksums use, built on
// first use (0.17 ms at start-up otherwise).
var castagnoli = sync.OnceValue(func() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) })

func tooLarge(ref provider.Ref, n int) error {
	size := "more than " + strconv.Itoa(limits.MaxSecretSize)
	if n > 0 {
		size = strconv.Itoa(n)
	}
	return provider.NewError(provider.ErrInvalid, Name, ref,
		fmt.Sprintf("payload is %s bytes, over envdrift's %d-byte secret limit", size, limits.MaxSecretSize), nil).
		WithHint("store only the dotenvx private key (or the .env.keys text) in the secret")
}

func cancelled(ref provider.Ref, err error) error {
	return provider.NewError(provider.ErrUnavailable, Name, ref, "fetch abandoned: "+err.Error(), err)
}

// Close releases the client's connections. Fetches after Close fail.
func (p *Provider) Close() error {
	p.closed.Store(true)
	p.initOnce.Do(func() { close(p.ready) }) // never initialised: nothing to close
	<-p.ready
	if p.client != nil {
		return p.client.Close()
	}
	return nil
}

// getClient builds the client on first use, once. Callers wait for it
// while honouring their own context; the build itself runs detached, so a
// caller that gives up does not poison the provider for the others.
func (p *Provider) getClient(ctx context.Context) (*secretmanager.Client, error) {
	p.initOnce.Do(func() { go p.init() })
	select {
	case <-p.ready:
		if p.initErr != nil {
			return nil, p.initErr
		}
		if p.client == nil {
			return nil, provider.NewError(provider.ErrUnavailable, Name, provider.Ref{}, "provider is closed", nil)
		}
		return p.client, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *Provider) init() {
	defer close(p.ready)
	if !p.plaintext {
		p.principal = describePrincipal()
	}
	opts := []option.ClientOption{
		option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(p.boundAttempt)),
		option.WithGRPCDialOption(grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxResponse))),
	}
	if p.endpoint != "" {
		opts = append(opts, option.WithEndpoint(p.endpoint))
	}
	if p.plaintext {
		// A local emulator: plaintext gRPC, and no credentials to look
		// for or send.
		opts = append(opts, option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	}
	// NewClient resolves Application Default Credentials (files only, plus
	// the metadata-server probe); the connection itself is made on first
	// use.
	c, err := secretmanager.NewClient(context.Background(), opts...)
	if err != nil {
		p.initErr = p.clientError(err)
		return
	}
	c.CallOptions.AccessSecretVersion = []gax.CallOption{gax.WithRetry(p.newRetryer)}
	// GetSecret only reads. The writes are not retried: a write whose
	// answer was lost may have been applied.
	c.CallOptions.GetSecret = []gax.CallOption{gax.WithRetry(p.newRetryer)}
	p.client = c
}

// clientError classifies a failure to build the client: in practice, no
// usable Application Default Credentials.
func (p *Provider) clientError(err error) *provider.Error {
	msg := err.Error()
	if strings.Contains(msg, "could not find default credentials") {
		return provider.NewError(provider.ErrUnauthenticated, Name, provider.Ref{},
			"no Application Default Credentials: "+msg, err).WithHint(adcHint)
	}
	if strings.Contains(msg, "credentials") {
		where := os.Getenv("GOOGLE_APPLICATION_CREDENTIALS")
		hint := adcHint
		if where != "" {
			hint = "check the credentials file GOOGLE_APPLICATION_CREDENTIALS=" + where + ", or " + adcHint
		}
		return provider.NewError(provider.ErrUnauthenticated, Name, provider.Ref{},
			"unusable Application Default Credentials: "+msg, err).WithHint(hint)
	}
	return provider.NewError(provider.ErrInvalid, Name, provider.Ref{}, "cannot create the Secret Manager client: "+msg, err)
}

const adcHint = "run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS"

// boundAttempt gives every attempt (each try of the retry loop) its own
// deadline of p.timeout.
func (p *Provider) boundAttempt(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	actx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	return invoker(actx, method, req, reply, cc, opts...)
}

// retryer retries UNAVAILABLE and RESOURCE_EXHAUSTED, as the generated
// client's default does, with a tighter backoff and an attempt cap.
type retryer struct {
	bo          gax.Backoff
	attempts    int
	maxAttempts int
}

// newRetryer returns a retryer for one call, with the provider's policy.
func (p *Provider) newRetryer() gax.Retryer {
	return &retryer{
		bo: gax.Backoff{
			Initial:    cmp.Or(max(p.retry.MinDelay, 0), initialBackoff),
			Max:        cmp.Or(max(p.retry.MaxDelay, 0), maxBackoff),
			Multiplier: 2,
		},
		maxAttempts: cmp.Or(max(p.retry.MaxAttempts, 0), maxAttempts),
	}
}

// Retry implements gax.Retryer.
func (r *retryer) Retry(err error) (time.Duration, bool) {
	r.attempts++
	if r.attempts >= r.maxAttempts {
		return 0, false
	}
	st, ok := status.FromError(err)
	if !ok {
		return 0, false
	}
	switch st.Code() {
	case codes.Unavailable:
		if isTLSFailure(st.Message()) {
			return 0, false
		}
	case codes.ResourceExhausted:
		if isTooLarge(st.Message()) {
			return 0, false
		}
	default:
		return 0, false
	}
	return r.bo.Pause(), true
}

// tlsHint names the cause of a failed TLS handshake with endpoint from
// gRPC's message (gRPC flattens the crypto/tls and crypto/x509 errors into
// it).
func tlsHint(msg, endpoint string) string {
	switch tlshint.ClassifyText(msg) {
	case tlshint.Plaintext:
		return endpoint + " answers in plaintext, not TLS: for a local emulator, set endpoint = \"http://" + endpoint + "\" in [vault.gcp] (plaintext, no credentials)"
	case tlshint.WrongHost:
		return "the certificate of " + endpoint + " is for another host name: use a host name the certificate names in endpoint"
	case tlshint.Expired:
		return "the certificate of " + endpoint + " has expired (or is not yet valid): it must be renewed; if it is current, check this machine's clock"
	}
	return "the TLS certificate of " + endpoint + " is not trusted; if a proxy re-signs TLS, add its CA with SSL_CERT_FILE or SSL_CERT_DIR"
}

func isTLSFailure(msg string) bool {
	return strings.Contains(msg, "x509:") || strings.Contains(msg, "tls:") || strings.Contains(msg, "certificate")
}

// isTooLarge recognises gRPC's client-side refusal of a message over
// MaxCallRecvMsgSize (reported as RESOURCE_EXHAUSTED, but not throttling).
func isTooLarge(msg string) bool {
	return strings.Contains(msg, "received message larger than max")
}

// cachedError turns a provider-wide error into one for a given ref.
type cachedError struct{ *provider.Error }

func (c cachedError) forRef(ref provider.Ref) error {
	e := *c.Error // the same class, message and hint, for ref
	e.Ref = ref
	return &e
}

func (p *Provider) cachedAuthError() *cachedError {
	p.authMu.Lock()
	defer p.authMu.Unlock()
	if p.authErr == nil {
		return nil
	}
	return &cachedError{p.authErr}
}

func (p *Provider) rememberAuthError(e *provider.Error) {
	p.authMu.Lock()
	defer p.authMu.Unlock()
	if p.authErr == nil {
		p.authErr = e
	}
}

// The name patterns are compiled on first use, not at program start:
// their counted repetitions ({1,255}, {0,62}) expand into large programs,
// and compiling the four took about 1 ms and 430 KB of allocations in every
// envdrift process, --version included (GODEBUG=inittrace=1).
var (
	secretIDRE = lazyre.New(`^[A-Za-z0-9_-]{1,255}$`)
	versionRE  = lazyre.New(`^(latest|[0-9]+|[A-Za-z0-9_-]{1,63})$`)
	projectRE  = lazyre.New(`^(?:[a-z][a-z0-9.:-]{0,61}[a-z0-9]|[0-9]{1,20})$`)
	locationRE = lazyre.New(`^[a-z][a-z0-9-]{0,62}$`)
)

// resourceName builds the secret version resource name for ref, and returns
// the project it addresses.
func (p *Provider) resourceName(ref provider.Ref) (name, project string, _ error) {
	invalid := func(msg, hint string) (string, string, error) {
		return "", "", provider.NewError(provider.ErrInvalid, Name, ref, msg, nil).WithHint(hint)
	}
	project = strings.TrimSpace(ref.Vault)
	if project == "" {
		project = p.project
	} else if !projectRE().MatchString(project) {
		return invalid(fmt.Sprintf("vault_name %q is not a GCP project ID", ref.Vault),
			"for the gcp provider vault_name is the project ID holding the secret")
	}
	secret := ref.Name
	if secret == "" {
		return invalid("empty secret name", "set secret_name in the mapping")
	}

	location, version := p.location, "latest"
	if strings.HasPrefix(secret, "projects/") {
		r, ok := parseResource(secret)
		if !ok {
			return invalid(fmt.Sprintf("%q is not a Secret Manager resource name", secret),
				"use a secret ID, projects/PROJECT/secrets/NAME, or projects/PROJECT/secrets/NAME/versions/VERSION")
		}
		if project != "" && r.project != project {
			return invalid(fmt.Sprintf("resource name %q is in project %q, but this mapping reads project %q", secret, r.project, project),
				fmt.Sprintf("set vault_name = %q on the mapping, or use the short secret name %q", r.project, r.secret))
		}
		if r.location != "" {
			switch {
			case p.location != "" && r.location != p.location:
				return invalid(fmt.Sprintf("regional secret %q is in %s, but the endpoint %s serves %s", secret, r.location, p.endpoint, p.location),
					"set endpoint = \"secretmanager."+r.location+".rep.googleapis.com:443\" in [vault.gcp]")
			case p.endpoint == "":
				return invalid(fmt.Sprintf("regional secret %q needs its regional endpoint", secret),
					"set endpoint = \"secretmanager."+r.location+".rep.googleapis.com:443\" in [vault.gcp]")
			}
		} else if p.location != "" {
			return invalid(fmt.Sprintf("%q names a global secret, but the endpoint %s is regional (%s)", secret, p.endpoint, p.location),
				"use projects/"+r.project+"/locations/"+p.location+"/secrets/"+r.secret+", or remove the regional endpoint")
		}
		project, location, secret = r.project, r.location, r.secret
		if r.version != "" {
			version = r.version
		}
	} else if !secretIDRE().MatchString(secret) {
		return invalid(fmt.Sprintf("secret name %q is not a Secret Manager secret ID (letters, digits, '-' and '_', at most 255)", secret),
			"use the secret ID, or a full name projects/PROJECT/secrets/NAME")
	}
	if project == "" {
		return invalid("no GCP project for secret "+strconv.Quote(secret),
			"set project_id in [vault.gcp], pass --project-id, set "+ProjectEnv+", or set vault_name on the mapping")
	}
	name = "projects/" + project
	if location != "" {
		name += "/locations/" + location
	}
	return name + "/secrets/" + secret + "/versions/" + version, project, nil
}

type resource struct{ project, location, secret, version string }

// parseResource parses projects/P[/locations/L]/secrets/S[/versions/V].
func parseResource(s string) (resource, bool) {
	var r resource
	parts := strings.Split(s, "/")
	if len(parts) < 4 || parts[0] != "projects" || !projectRE().MatchString(parts[1]) {
		return r, false
	}
	r.project, parts = parts[1], parts[2:]
	if parts[0] == "locations" {
		if len(parts) < 4 || !locationRE().MatchString(parts[1]) {
			return r, false
		}
		r.location, parts = parts[1], parts[2:]
	}
	if len(parts) < 2 || parts[0] != "secrets" || !secretIDRE().MatchString(parts[1]) {
		return r, false
	}
	r.secret, parts = parts[1], parts[2:]
	switch {
	case len(parts) == 0:
	case len(parts) == 2 && parts[0] == "versions" && versionRE().MatchString(parts[1]):
		r.version = parts[1]
	default:
		return r, false
	}
	return r, true
}

func (p *Provider) endpointName() string {
	if p.endpoint != "" {
		return p.endpoint
	}
	return "secretmanager.googleapis.com:443"
}

// codeNames are the canonical names Google APIs print for gRPC codes.
var codeNames = map[codes.Code]string{
	codes.Canceled:           "CANCELLED",
	codes.Unknown:            "UNKNOWN",
	codes.InvalidArgument:    "INVALID_ARGUMENT",
	codes.DeadlineExceeded:   "DEADLINE_EXCEEDED",
	codes.NotFound:           "NOT_FOUND",
	codes.AlreadyExists:      "ALREADY_EXISTS",
	codes.PermissionDenied:   "PERMISSION_DENIED",
	codes.ResourceExhausted:  "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.Aborted:            "ABORTED",
	codes.OutOfRange:         "OUT_OF_RANGE",
	codes.Unimplemented:      "UNIMPLEMENTED",
	codes.Internal:           "INTERNAL",
	codes.Unavailable:        "UNAVAILABLE",
	codes.DataLoss:           "DATA_LOSS",
	codes.Unauthenticated:    "UNAUTHENTICATED",
}

// classify turns a failed AccessSecretVersion into a provider error.
func (p *Provider) classify(ctx context.Context, ref provider.Ref, project string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return cancelled(ref, ctxErr)
	}
	st, ok := status.FromError(err)
	if !ok {
		return provider.NewError(provider.ErrUnavailable, Name, ref, err.Error(), err)
	}
	reason := ""
	if ae, ok := apierror.FromError(err); ok {
		reason = ae.Reason()
	}
	// gRPC appends the body of a non-gRPC response (a proxy's HTML page) to
	// the message; it is noise at best, so it is left out.
	msg, _, cut := strings.Cut(st.Message(), "\ndata: ")
	if cut {
		msg += " (response body omitted)"
	}
	e := classifyStatus(st.Code(), msg, reason, ref, project, p.principal, p.endpointName(), p.timeout)
	e.Err = err
	if errors.Is(e, provider.ErrUnauthenticated) {
		if file := os.Getenv("GOOGLE_APPLICATION_CREDENTIALS"); file != "" && strings.Contains(msg, "per-RPC creds failed") {
			// The credentials file could not produce a token: say which.
			e.Hint = "the credentials in GOOGLE_APPLICATION_CREDENTIALS=" + file + " could not get a token " +
				"(workload identity federation: check the pool, provider and service-account binding); or " + adcHint
		}
		p.rememberAuthError(e)
	}
	return e
}

// classifyStatus is the error table: gRPC code (and ErrorInfo reason) to
// kind, message and hint.
func classifyStatus(code codes.Code, msg, reason string, ref provider.Ref, project, principal, endpoint string, timeout time.Duration) *provider.Error {
	name, ok := codeNames[code]
	if !ok {
		name = code.String()
	}
	message := name + ": " + msg
	newErr := func(k error, hint string) *provider.Error {
		return provider.NewError(k, Name, ref, message, nil).WithHint(hint)
	}
	secret, version := ref.Name, "latest"
	if r, ok := parseResource(secret); ok {
		secret = r.secret
		if r.version != "" {
			version = r.version
		}
	}
	switch code {
	case codes.NotFound:
		return newErr(provider.ErrNotFound, fmt.Sprintf("check the secret name and the project (vault_name); `gcloud secrets list --project %s` lists its secrets", project))
	case codes.FailedPrecondition:
		// The version exists but is DISABLED or DESTROYED: for envdrift the
		// key is not there.
		destroyed := strings.Contains(msg, "DESTROYED state")
		switch {
		case version != "latest" && destroyed:
			return newErr(provider.ErrNotFound, fmt.Sprintf("version %s of %s was destroyed and cannot come back: pin another version in the secret name, or drop /versions/%s to read the latest", version, secret, version))
		case version != "latest":
			return newErr(provider.ErrNotFound, fmt.Sprintf("version %s of %s is disabled: enable it (`gcloud secrets versions enable %s --secret %s --project %s`) or pin another version", version, secret, version, secret, project))
		case destroyed:
			return newErr(provider.ErrNotFound, fmt.Sprintf("versions/latest is the newest version even when it is destroyed: add a new version (`gcloud secrets versions add %s --project %s --data-file=-`)", secret, project))
		}
		return newErr(provider.ErrNotFound, fmt.Sprintf("versions/latest is the newest version even when it is disabled: enable it (`gcloud secrets versions enable VERSION --secret %s --project %s`) or add a new version", secret, project))
	case codes.PermissionDenied:
		if reason == "SERVICE_DISABLED" || strings.Contains(msg, "has not been used in project") || strings.Contains(msg, "is disabled") {
			return newErr(provider.ErrPermissionDenied, "enable the API: `gcloud services enable secretmanager.googleapis.com --project "+project+"`")
		}
		who := principal
		if who == "" {
			who = "the account envdrift runs as"
		}
		return newErr(provider.ErrPermissionDenied, fmt.Sprintf("grant roles/secretmanager.secretAccessor on the secret or project %s to %s", project, who))
	case codes.Unauthenticated:
		return newErr(provider.ErrUnauthenticated, adcHint)
	case codes.ResourceExhausted:
		if isTooLarge(msg) {
			return provider.NewError(provider.ErrInvalid, Name, ref,
				fmt.Sprintf("payload is over envdrift's %d-byte secret limit (%s)", limits.MaxSecretSize, msg), nil).
				WithHint("store only the dotenvx private key (or the .env.keys text) in the secret")
		}
		return newErr(provider.ErrThrottled, "Secret Manager quota for project "+project+" exceeded: lower --concurrency, or request more quota")
	case codes.InvalidArgument, codes.OutOfRange:
		return newErr(provider.ErrInvalid, "check the secret name: a secret ID, or projects/PROJECT/secrets/NAME[/versions/VERSION]")
	case codes.Unimplemented:
		return newErr(provider.ErrInvalid, "the endpoint "+endpoint+" does not serve the Secret Manager API; check endpoint in [vault.gcp]")
	case codes.DeadlineExceeded:
		return provider.NewError(provider.ErrUnavailable, Name, ref,
			fmt.Sprintf("%s: no response from %s within %s (%s)", name, endpoint, timeout, msg), nil).
			WithHint("check network access to " + endpoint + ", or raise --timeout")
	case codes.Unavailable:
		if isTLSFailure(msg) {
			return newErr(provider.ErrUnavailable, tlsHint(msg, endpoint))
		}
		return newErr(provider.ErrUnavailable, "check network access to "+endpoint)
	default: // Internal, Unknown, Aborted, DataLoss, Canceled by the server
		return newErr(provider.ErrUnavailable, "")
	}
}

// describePrincipal names who the Application Default Credentials are, for
// permission hints. It reads only the type and identity fields of the
// credentials file, never its keys.
func describePrincipal() string {
	path := os.Getenv("GOOGLE_APPLICATION_CREDENTIALS")
	if path == "" {
		path = wellKnownADCFile()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("GOOGLE_APPLICATION_CREDENTIALS") == "" {
			return "the attached service account (metadata server)"
		}
		return ""
	}
	var f struct {
		Type                           string `json:"type"`
		ClientEmail                    string `json:"client_email"`
		ServiceAccountImpersonationURL string `json:"service_account_impersonation_url"`
		Audience                       string `json:"audience"`
	}
	if json.Unmarshal(b, &f) != nil {
		return ""
	}
	if email := impersonatedEmail(f.ServiceAccountImpersonationURL); email != "" {
		return "serviceAccount:" + email
	}
	switch f.Type {
	case "service_account":
		if f.ClientEmail != "" {
			return "serviceAccount:" + f.ClientEmail
		}
	case "authorized_user":
		return "your user account (from `gcloud auth application-default login`)"
	case "external_account":
		if f.Audience != "" {
			return "the federated principal of " + strings.TrimPrefix(f.Audience, "//iam.googleapis.com/")
		}
	}
	return ""
}

var impersonationRE = lazyre.New(`serviceAccounts/([^/:]+):generateAccessToken`)

func impersonatedEmail(u string) string {
	if m := impersonationRE().FindStringSubmatch(u); m != nil {
		if e, err := url.PathUnescape(m[1]); err == nil {
			return e
		}
	}
	return ""
}

// wellKnownADCFile is where `gcloud auth application-default login` writes
// credentials, as the auth library looks for it.
func wellKnownADCFile() string {
	if runtime.GOOS == "windows" {
		return filepath.Join(os.Getenv("APPDATA"), "gcloud", "application_default_credentials.json")
	}
	home := os.Getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".config", "gcloud", "application_default_credentials.json")
}

var _ provider.Describer = (*Provider)(nil)

// OverridesVault reports whether provider.Options.ProjectID named the
// default project (see provider.VaultOverrider).
func (p *Provider) OverridesVault() bool { return p.projectSource == "--project-id" }

// Describe returns where requests for vault (a project; "" for the default
// project) go: "project P", followed by the endpoint when one is set
// ("project P at localhost:8085 (plaintext)"). It does no I/O.
func (p *Provider) Describe(vault string) string {
	project := strings.TrimSpace(vault)
	if project == "" {
		project = p.project
	}
	s := "project " + project
	if project == "" {
		s = "no project configured"
	}
	if p.endpoint != "" {
		s += " at " + p.endpoint
	}
	if p.plaintext {
		s += " (plaintext emulator)"
	}
	return s
}
