// Package aws is the envdrift provider for AWS Secrets Manager, built on the
// AWS SDK for Go v2.
//
// # Configuration
//
//	[vault.aws]
//	region       = "eu-west-1"               # optional
//	endpoint_url = "https://vpce-…"          # optional: VPC endpoint, LocalStack
//	profile      = "prod"                    # optional: shared config profile
//
// The region used for a mapping without a vault_name is, first match wins:
// --region (provider.Options.Region), the region setting, the SDK's own
// resolution (AWS_REGION, AWS_DEFAULT_REGION, the profile's region in the
// shared config file), and finally us-east-1. Explicit regions (--region, the
// setting, vault_name, an ARN's region) must look like an AWS region name
// ("us-west-2", "us-gov-east-1"); a value such as an Azure vault name is
// refused as ErrInvalid instead of being turned into a host name.
//
// The endpoint is --vault-url (provider.Options.URL), else endpoint_url, else
// whatever the SDK resolves: AWS_ENDPOINT_URL_SECRETS_MANAGER,
// AWS_ENDPOINT_URL, the profile's endpoint_url, then the public regional
// endpoint. A configured endpoint is used for every region; requests are
// still signed for the region they address.
//
// # Credentials
//
// The SDK's default credential chain, resolved lazily on the first fetch and
// once per provider. The first configured source wins: the profile setting
// (an explicitly chosen profile wins over credential variables, as in the
// SDK); AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; web
// identity (AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE, as GitHub Actions
// and GitLab CI OIDC set up); the AWS_PROFILE (else default) profile of the
// shared config and credentials files (static keys, IAM Identity Center/SSO,
// assume-role, credential_process); ECS/EKS container credentials; and EC2
// instance roles through IMDS. Open does no I/O. If the chain fails, the
// failure is kept: every later fetch of the same provider returns the same
// unauthenticated error at once rather than running the chain again, so 200
// mappings produce one credential lookup, not 200. Build a new provider to
// try again.
//
// # vault_name routing
//
// A mapping's vault_name (or default_vault_name) is the AWS region that holds
// the secret; the provider keeps one Secrets Manager client per region and
// reuses it. A secret name may also be a full or partial secret ARN
// (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME[-xxxxxx]); the ARN's
// region then wins over vault_name, the region setting and --region, because
// that is the only region where the ARN can be read.
//
// # Payloads
//
// SecretString is returned byte for byte. SecretBinary is accepted when it is
// valid UTF-8 text and refused as ErrInvalid otherwise (the error gives its
// length, never its bytes). Payloads over limits.MaxSecretSize are refused.
//
// # Batches
//
// [Provider] implements provider.BatchFetcher with BatchGetSecretValue: the
// secrets of each region are asked for in groups of up to 20 (a group of one
// uses GetSecretValue), following NextToken, and each entry of the response's
// Errors list becomes the error of that secret. If the caller may not call
// BatchGetSecretValue (AccessDeniedException — common when a policy grants
// only secretsmanager:GetSecretValue), or the endpoint does not have it
// (UnknownOperationException from an endpoint that predates it, HTTP 501
// from LocalStack), the provider falls back to one GetSecretValue per
// secret after that first answer and stays on that path for its lifetime:
// one failing batch call per provider, however many chunks and concurrent
// calls; [Provider.BatchFallback] and [Provider.Notices] tell the caller
// that this happened. A batch issues at most 8 requests at a time.
//
// # Writing
//
// [Provider] is a [provider.Writer] (envdrift push): a create is
// CreateSecret with envdrift's tags, refused atomically when the name
// exists; an update is PutSecretValue (not conditional) plus TagResource.
// Every write carries a ClientRequestToken so that retries are idempotent.
// See [Provider.Put].
//
// # Retries and timeouts
//
// The SDK's standard retryer, tuned: at most 4 attempts per request, with
// exponential backoff and jitter capped at 3 s. Throttling
// (ThrottlingException), 5xx responses and connection errors are retried,
// except a failure that retrying soon would not change
// (reach.Unreachable: connection refused, no such host, a certificate
// that cannot be verified);
// AWS_MAX_ATTEMPTS (or max_attempts in the profile) still overrides the
// attempt count. provider.Options.Retry overrides these: MaxAttempts (which
// beats AWS_MAX_ATTEMPTS), MaxDelay as the backoff cap, and MinDelay as the
// first backoff, doubling from there (without it the SDK's own jittered
// backoff of up to 2^attempt seconds applies). Secrets Manager sends no
// Retry-After; the SDK's retry quota still stops retries when too many fail. provider.Options.Timeout bounds each attempt (connect, send,
// and read the whole response; default [DefaultTimeout]), so a stalled
// connection is abandoned and retried. The caller's context bounds the
// request as a whole.
//
// # Errors
//
// Every failure is a *provider.Error whose Message is the service's error
// code and message, and whose Hint names the action to take (for permission
// errors, the IAM action and the secret's ARN pattern).
package aws

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/envdrift/envdrift/internal/lazyre"
	"github.com/envdrift/envdrift/internal/limits"
	"github.com/envdrift/envdrift/internal/reach"
	"github.com/envdrift/envdrift/provider"
)

// Name is the provider's registry name.
const Name = "aws"

// Defaults and limits.
const (
	// DefaultRegion is used when no region is configured anywhere.
	DefaultRegion = "us-east-1"
	// DefaultTimeout bounds each attempt of a request when
	// provider.Options.Timeout is zero.
	DefaultTimeout = 10 * time.Second
	// MaxAttempts is the number of attempts per request (one try and three
	// retries).
	MaxAttempts = 4
	// MaxBackoff caps the delay between two attempts.
	MaxBackoff = 3 * time.Second
	// BatchSize is the most secrets one BatchGetSecretValue call asks for,
	// the service's limit.
	BatchSize = 20
	// batchWorkers bounds the requests one FetchBatch call has in flight.
	batchWorkers = 8
)

// Settings is the [vault.aws] configuration table.
type Settings struct {
	// Region is the default region (vault_name overrides it per mapping).
	Region string `toml:"region"`
	// EndpointURL replaces the Secrets Manager endpoint, e.g. a VPC
	// interface endpoint or http://localhost:4566 for LocalStack.
	EndpointURL string `toml:"endpoint_url"`
	// Profile selects a profile of the shared config files, like AWS_PROFILE.
	Profile string `toml:"profile"`
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

// Provider reads secrets from AWS Secrets Manager. It is safe for concurrent
// use. Build it with [New] (or through the provider registry).
type Provider struct {
	region string // explicit default region; "" = the SDK's resolution
	// regionOverride: the default region came from provider.Options.Region.
	regionOverride bool
	endpoint       string // explicit endpoint; "" = the SDK's resolution
	profile        string
	timeout        time.Duration
	retry          provider.RetryPolicy
	creds          *stickyCredentials
	transport      *http.Transport // shared by the clients of every region
	http           *http.Client

	mu      sync.Mutex
	loaded  bool
	loading chan struct{}
	cfg     awssdk.Config
	loadErr *provider.Error
	clients map[string]*secretsmanager.Client

	sdkLog sdkLogger

	batchOK     atomic.Bool
	batchDenied atomic.Pointer[provider.Error]
	// probing is closed when the batch call in flight that will tell
	// whether batches are allowed ends; nil when none is in flight.
	probeMu sync.Mutex
	probing chan struct{}
}

var (
	// regionRE accepts AWS region names: "us-east-1", "us-gov-west-1",
	// "cn-north-1", "eusc-de-east-1".
	regionRE = lazyre.New(`^[a-z]{2,4}(-[a-z0-9]+)+-[0-9]{1,2}$`)
	// hostLabelRE is what the SDK can put in a host name; regions that come
	// from the environment or the shared config only have to pass this.
	hostLabelRE = lazyre.New(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
)

func invalid(ref provider.Ref, msg, hint string) *provider.Error {
	return provider.NewError(provider.ErrInvalid, Name, ref, msg, nil).WithHint(hint)
}

const regionHint = "for the aws provider, vault_name, default_vault_name, [vault.aws] region and --region name an AWS region, e.g. us-west-2"

// New returns a provider for settings s and the command-line overrides in
// opts (Region, URL as the endpoint, Timeout per attempt). It validates the
// settings and does no I/O: credentials and clients are set up on the first
// fetch.
func New(s Settings, opts provider.Options) (*Provider, error) {
	region := strings.TrimSpace(opts.Region)
	what := "--region"
	if region == "" {
		region, what = strings.TrimSpace(s.Region), "[vault.aws] region"
	}
	if region != "" && !regionRE().MatchString(region) {
		return nil, invalid(provider.Ref{}, fmt.Sprintf("%s %q is not an AWS region name", what, region), regionHint)
	}
	endpoint := strings.TrimSpace(opts.URL)
	what = "--vault-url"
	if endpoint == "" {
		endpoint, what = strings.TrimSpace(s.EndpointURL), "[vault.aws] endpoint_url"
	}
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, invalid(provider.Ref{}, fmt.Sprintf("%s %q is not an http(s) URL", what, endpoint),
				"use the endpoint's full URL, e.g. https://vpce-0123-abcd.secretsmanager.us-east-1.vpce.amazonaws.com or http://localhost:4566")
		}
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Provider{
		region:         region,
		regionOverride: strings.TrimSpace(opts.Region) != "",
		endpoint:       endpoint,
		profile:        strings.TrimSpace(s.Profile),
		timeout:        timeout,
		retry:          opts.Retry,
		clients:        map[string]*secretsmanager.Client{},
	}, nil
}

// Close releases idle connections. The provider stays usable.
func (p *Provider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.transport != nil {
		p.transport.CloseIdleConnections()
	}
	return nil
}

// httpClient returns the HTTP client every region's Secrets Manager client
// shares, built once from the transport the SDK configured (proxy settings,
// AWS_CA_BUNDLE, connect and TLS timeouts) with the per-attempt timeout on
// top. Called with p.mu held.
func (p *Provider) httpClient(sdk awssdk.HTTPClient) *http.Client {
	if p.http != nil {
		return p.http
	}
	b, ok := sdk.(*awshttp.BuildableClient)
	if !ok {
		b = awshttp.NewBuildableClient()
	}
	p.transport = b.GetTransport()
	p.http = &http.Client{
		Transport: p.transport,
		Timeout:   p.timeout,
		// Secrets Manager does not redirect; a redirect comes from a
		// captive portal or a proxy and is not followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return p.http
}

// Region returns the region used for secrets without a vault name, resolving
// the SDK configuration if that has not happened yet (it reads the shared
// config files, but makes no network call).
func (p *Provider) Region(ctx context.Context) (string, error) {
	cfg, err := p.setup(ctx)
	if err != nil {
		return "", err
	}
	return cfg.Region, nil
}

// BatchFallback reports whether this provider stopped using
// BatchGetSecretValue: because the caller may not call it
// (AccessDeniedException) or because the endpoint does not have it
// (UnknownOperationException, HTTP 501 Not Implemented). From that first
// answer on, it reads every secret with GetSecretValue. It returns nil
// while batches work (or were never tried), and otherwise the error that
// caused the fallback; for a refusal, its Hint names the permission to
// grant.
func (p *Provider) BatchFallback() error {
	if e := p.batchDenied.Load(); e != nil {
		return e
	}
	return nil
}

// Notices returns the things the user should hear once per run: the AWS
// SDK's warnings (each once, at most five), and a line saying that batched
// reads were refused or are not supported by the endpoint, so that the
// provider fell back to one request per secret. The caller names the
// provider.
func (p *Provider) Notices() []string {
	notices := p.sdkLog.notices()
	e := p.batchDenied.Load()
	if e == nil {
		return notices
	}
	const fellBack = "so secrets were read one at a time with GetSecretValue"
	if errors.Is(e, provider.ErrPermissionDenied) {
		return append(notices, "BatchGetSecretValue is not allowed (AccessDeniedException), "+fellBack+
			"; grant secretsmanager:BatchGetSecretValue (Resource \"*\") to read up to 20 secrets per request")
	}
	why := "HTTP 501 Not Implemented"
	var apiErr smithy.APIError
	if errors.As(e, &apiErr) && apiErr.ErrorCode() == "UnknownOperationException" {
		why = apiErr.ErrorCode()
	}
	endpoint := p.endpoint
	if endpoint == "" {
		endpoint = "the Secrets Manager endpoint"
	}
	return append(notices, endpoint+" does not support BatchGetSecretValue ("+why+"), "+fellBack)
}

// setup loads the SDK configuration once. A failure is kept for the
// provider's lifetime, except a cancellation of the caller's context.
func (p *Provider) setup(ctx context.Context) (awssdk.Config, error) {
	for {
		p.mu.Lock()
		if p.loaded {
			cfg, err := p.cfg, p.loadErr
			p.mu.Unlock()
			if err != nil {
				return cfg, err
			}
			return cfg, nil
		}
		if p.loading == nil {
			ch := make(chan struct{})
			p.loading = ch
			p.mu.Unlock()
			cfg, err := p.load(ctx)
			p.mu.Lock()
			p.loading = nil
			if err == nil || ctx.Err() == nil {
				p.loaded, p.cfg, p.loadErr = true, cfg, err
			}
			p.mu.Unlock()
			close(ch)
			if err != nil {
				return cfg, err
			}
			return cfg, nil
		}
		ch := p.loading
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return awssdk.Config{}, cancelled(provider.Ref{}, ctx.Err())
		}
	}
}

func (p *Provider) load(ctx context.Context) (awssdk.Config, *provider.Error) {
	opts := []func(*config.LoadOptions) error{
		config.WithDefaultRegion(DefaultRegion),
		config.WithAppID("envdrift"),
		// The SDK's warnings become notices, told once at the end of the
		// run; its default logger would print them to stderr in the
		// middle of envdrift's output. Nothing is logged per request.
		config.WithLogger(&p.sdkLog),
		config.WithClientLogMode(0),
	}
	if p.region != "" {
		opts = append(opts, config.WithRegion(p.region))
	}
	if p.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(p.profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		if ctx.Err() != nil {
			return cfg, cancelled(provider.Ref{}, ctx.Err())
		}
		return cfg, configError(err, p.profile)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if !hostLabelRE().MatchString(cfg.Region) {
		return cfg, invalid(provider.Ref{}, fmt.Sprintf("the region %q from the environment or shared config is not an AWS region name", cfg.Region),
			"fix AWS_REGION / AWS_DEFAULT_REGION or the profile's region, or set [vault.aws] region")
	}
	p.creds = &stickyCredentials{inner: cfg.Credentials}
	return cfg, nil
}

// client returns the Secrets Manager client for region ("" = the default
// region) and the region it resolved to.
func (p *Provider) client(ctx context.Context, region string) (*secretsmanager.Client, string, error) {
	cfg, err := p.setup(ctx)
	if err != nil {
		return nil, "", err
	}
	if region == "" {
		region = cfg.Region
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.clients[region]; c != nil {
		return c, region, nil
	}
	c := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		o.Region = region
		o.Credentials = p.creds
		o.HTTPClient = p.httpClient(o.HTTPClient)
		// Set here rather than in LoadDefaultConfig, so that AWS_MAX_ATTEMPTS
		// (or max_attempts in the profile) still overrides the default
		// attempt count; an explicit provider.Options.Retry.MaxAttempts
		// overrides both.
		o.Retryer = p.retryer()
		if p.retry.MaxAttempts > 0 {
			o.RetryMaxAttempts = p.retry.MaxAttempts
		}
		if p.endpoint != "" {
			o.BaseEndpoint = awssdk.String(p.endpoint)
		}
	})
	p.clients[region] = c
	return c, region, nil
}

// retryer is the SDK's standard retryer (retry quota and all) with the
// provider's attempts and backoff. A failure that retrying soon would not
// change (reach.Unreachable: connection refused, no such host, a
// certificate that cannot be verified) is not retried.
func (p *Provider) retryer() awssdk.Retryer {
	return retry.NewStandard(func(so *retry.StandardOptions) {
		so.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) awssdk.Ternary {
			if reach.Unreachable(err) {
				return awssdk.FalseTernary
			}
			return awssdk.UnknownTernary
		})}, so.Retryables...)
		so.MaxAttempts = cmp.Or(max(p.retry.MaxAttempts, 0), MaxAttempts)
		so.MaxBackoff = cmp.Or(max(p.retry.MaxDelay, 0), MaxBackoff)
		if p.retry.MinDelay > 0 {
			so.Backoff = backoff{min: p.retry.MinDelay, max: so.MaxBackoff}
		}
	})
}

// backoff waits min before the first retry and twice as long before each
// next one, capped at max, with up to half of each wait taken off at random.
type backoff struct{ min, max time.Duration }

// BackoffDelay implements retry.BackoffDelayer; attempt counts from 1.
func (b backoff) BackoffDelay(attempt int, _ error) (time.Duration, error) {
	d := b.min
	for i := 1; i < attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	return d/2 + rand.N(d/2+1), nil
}

// target is where a ref is read: the region (possibly "" = default) and the
// SecretId sent to the service.
type target struct{ region, id string }

func resolveTarget(ref provider.Ref) (target, *provider.Error) {
	if strings.TrimSpace(ref.Name) == "" {
		return target{}, invalid(ref, "empty secret name", "set secret_name in the mapping")
	}
	if strings.HasPrefix(ref.Name, "arn:") {
		a, err := arn.Parse(ref.Name)
		if err != nil || a.Service != "secretsmanager" || !strings.HasPrefix(a.Resource, "secret:") || len(a.Resource) == len("secret:") {
			return target{}, invalid(ref, "not a Secrets Manager secret ARN",
				"use a secret name, or an ARN of the form arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME")
		}
		if !regionRE().MatchString(a.Region) {
			return target{}, invalid(ref, fmt.Sprintf("the ARN's region %q is not an AWS region name", a.Region), regionHint)
		}
		return target{region: a.Region, id: ref.Name}, nil
	}
	if ref.Vault != "" && !regionRE().MatchString(ref.Vault) {
		return target{}, invalid(ref, fmt.Sprintf("vault name %q is not an AWS region name", ref.Vault), regionHint)
	}
	return target{region: ref.Vault, id: ref.Name}, nil
}

// Fetch reads the current version (AWSCURRENT) of the secret ref names.
func (p *Provider) Fetch(ctx context.Context, ref provider.Ref) (provider.Secret, error) {
	t, perr := resolveTarget(ref)
	if perr != nil {
		return provider.Secret{}, perr
	}
	if err := ctx.Err(); err != nil {
		return provider.Secret{}, cancelled(ref, err)
	}
	c, region, err := p.client(ctx, t.region)
	if err != nil {
		return provider.Secret{}, withRef(err, ref)
	}
	if err := p.creds.failed(); err != nil {
		return provider.Secret{}, err.providerError(ref)
	}
	return p.getOne(ctx, c, ref, region, t.id)
}

func (p *Provider) getOne(ctx context.Context, c *secretsmanager.Client, ref provider.Ref, region, id string) (provider.Secret, error) {
	out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: awssdk.String(id)})
	if err != nil {
		return provider.Secret{}, p.classify(ctx, ref, region, opGet, err)
	}
	return payload(ref, out.SecretString, out.SecretBinary, out.VersionId)
}

// payload turns a secret version into a provider.Secret.
func payload(ref provider.Ref, str *string, bin []byte, version *string) (provider.Secret, error) {
	var v []byte
	switch {
	case str != nil:
		v = []byte(*str)
	case bin != nil:
		if len(bin) <= limits.MaxSecretSize && !utf8.Valid(bin) {
			return provider.Secret{}, invalid(ref,
				fmt.Sprintf("the secret holds SecretBinary (%d bytes) that is not UTF-8 text", len(bin)),
				"store the dotenvx key as text: aws secretsmanager put-secret-value --secret-id NAME --secret-string KEY")
		}
		v = bin
	default:
		return provider.Secret{}, invalid(ref, "the secret's current version has neither SecretString nor SecretBinary",
			"put a value: aws secretsmanager put-secret-value --secret-id NAME --secret-string KEY")
	}
	if len(v) > limits.MaxSecretSize {
		return provider.Secret{}, invalid(ref,
			fmt.Sprintf("the secret is %d bytes, over the %d-byte limit", len(v), limits.MaxSecretSize),
			"store only the dotenvx private key (or a .env.keys text) in the secret")
	}
	return provider.Secret{Value: v, Version: awssdk.ToString(version)}, nil
}

// withRef returns err with its Ref set to ref when it is a *provider.Error
// not yet tied to a secret.
func withRef(err error, ref provider.Ref) error {
	var pe *provider.Error
	if errors.As(err, &pe) {
		cp := *pe
		cp.Ref = ref
		return &cp
	}
	return err
}

func cancelled(ref provider.Ref, err error) *provider.Error {
	return provider.NewError(provider.ErrUnavailable, Name, ref, "request cancelled: "+err.Error(), err)
}

var _ provider.Describer = (*Provider)(nil)

// OverridesVault reports whether provider.Options.Region named the default
// region (see provider.VaultOverrider).
func (p *Provider) OverridesVault() bool { return p.regionOverride }

// Describe returns where requests for vault (a region; "" for the default
// region) go: "region R", with the endpoint when one is set ("region R at
// http://localhost:4566"). It does no I/O: a default region not yet
// resolved is taken from AWS_REGION or AWS_DEFAULT_REGION, else described
// as the profile's.
func (p *Provider) Describe(vault string) string {
	region := strings.TrimSpace(vault)
	if region == "" {
		region = p.region
	}
	if region == "" {
		p.mu.Lock()
		if p.loaded && p.loadErr == nil {
			region = p.cfg.Region
		}
		p.mu.Unlock()
	}
	if region == "" {
		region = cmp.Or(os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"))
	}
	s := "region " + region
	if region == "" {
		s = "the profile's region"
	}
	endpoint := cmp.Or(p.endpoint, os.Getenv("AWS_ENDPOINT_URL_SECRETS_MANAGER"), os.Getenv("AWS_ENDPOINT_URL"))
	if endpoint != "" {
		s += " at " + endpoint
	}
	return s
}
