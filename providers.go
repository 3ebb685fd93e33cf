package envdrift

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/envdrift/envdrift/provider"
)

// providerSet is the concrete side of the provider contract for one run of
// a verb (Sync, Push, LoadEnv): it opens each provider once, through the
// caller's registry, when the first request needs it; turns panics into
// errors; gives every error a class and the provider's name; sends every
// request through its endpoint's breaker and limiter (see endpoint), so
// that a dead endpoint fails the run's other requests at once and a
// throttling one slows the run down instead of failing it; and closes
// everything once when the run ends, collecting the providers' notices.
type providerSet struct {
	reg         *provider.Registry
	cfg         *Config
	overrides   provider.Options
	defaultName string
	// maxInFlight is the run's concurrency: the most requests one endpoint
	// gets at once.
	maxInFlight int

	// onRequest, when set, hears about every request, after it returns.
	onRequest func(Request)

	mu        sync.Mutex
	provs     map[string]provider.Provider
	errs      map[string]error
	endpoints map[endpointKey]*endpoint
	closed    bool
}

func newProviderSet(reg *provider.Registry, cfg *Config, overrides provider.Options, defaultName string) *providerSet {
	return &providerSet{reg: reg, cfg: cfg, overrides: overrides, defaultName: defaultName,
		maxInFlight: defaultConcurrency,
		provs:       map[string]provider.Provider{}, errs: map[string]error{}, endpoints: map[endpointKey]*endpoint{}}
}

// endpointKey names an endpoint: the provider, and where its requests for
// a vault go (provider.Describer), else the vault.
type endpointKey struct{ provider, where string }

// endpoint returns the endpoint requests of the named provider for vault
// go to, made on first use.
func (ps *providerSet) endpoint(ctx context.Context, name, vault string) *endpoint {
	k := endpointKey{name, ps.describe(ctx, name, vault)}
	if k.where == "" {
		k.where = "vault " + vault
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	e := ps.endpoints[k]
	if e == nil {
		patience := ps.overrides.Timeout
		if patience <= 0 {
			patience = defaultThrottlePatience
		}
		e = newEndpoint(ps.maxInFlight, patience)
		ps.endpoints[k] = e
	}
	return e
}

// do sends one request for ref through its endpoint: it waits for the
// limiter, fails at once when the endpoint is down, and sends req again
// while the endpoint throttles it and the endpoint's patience (or ctx's
// deadline) lasts. It returns req's last error. When ctx is cancelled, it
// returns ctx's error; when ctx's deadline passes while a throttled
// request waits to be sent again, the throttled error.
func (ps *providerSet) do(ctx context.Context, name string, ref provider.Ref, req func() error) error {
	e := ps.endpoint(ctx, name, ref.Vault)
	var last error
	for try := 1; ; try++ {
		p, err := e.acquire(ctx, ref)
		if err != nil {
			if last != nil && errors.Is(err, context.DeadlineExceeded) {
				return last
			}
			return err
		}
		err = req()
		o := judge(ctx, err)
		e.release(p, o, err)
		if last != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// Throttled until the deadline cut the last try short.
			return last
		}
		if o != outcomeThrottled || !e.retryable(ctx) {
			return err
		}
		last = err
		if !backoff(ctx, try, err) {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return last
			}
			return ctx.Err()
		}
	}
}

// errClosed is returned by a providerSet used after close.
var errClosed = errors.New("envdrift: providers used after the run ended")

// get opens (once per run) the provider registered under name.
func (ps *providerSet) get(ctx context.Context, name string) (provider.Provider, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return nil, errClosed
	}
	if p, ok := ps.provs[name]; ok {
		return p, nil
	}
	if err, ok := ps.errs[name]; ok {
		return nil, err
	}
	p, err := ps.open(ctx, name)
	if err != nil {
		if provider.KindOf(err) == "" {
			err = provider.NewError(provider.ErrInvalid, name, provider.Ref{}, err.Error(), err)
		}
		ps.errs[name] = err
		return nil, err
	}
	ps.provs[name] = p
	return p, nil
}

func (ps *providerSet) open(ctx context.Context, name string) (p provider.Provider, err error) {
	d, err := ps.reg.Lookup(name)
	if err != nil {
		return nil, err
	}
	opts := ps.overrides
	opts.BaseDir = ps.cfg.Dir
	if name != ps.defaultName {
		// An override URL names one vault of the default provider; a
		// mapping that picks another provider uses that provider's own table.
		opts.URL = ""
	}
	settings, err := ps.settings(name, d)
	if err != nil {
		return nil, err
	}
	defer func() {
		if v := recover(); v != nil {
			p, err = nil, newPanicError("provider "+name, v)
		}
	}()
	return d.Open(ctx, settings, opts)
}

// settings returns the provider's settings: the configuration's value when
// it has the driver's type, else the [vault.<name>] table the file held
// decoded for this driver, else the zero settings.
func (ps *providerSet) settings(name string, d provider.Driver) (any, error) {
	fresh := d.NewSettings()
	if s, ok := ps.cfg.Settings[name]; ok && s != nil && reflect.TypeOf(s) == reflect.TypeOf(fresh) {
		return s, nil
	}
	if dec := ps.cfg.decoders[name]; dec != nil {
		if err := dec(fresh); err != nil {
			return nil, fmt.Errorf("[vault.%s]: %w", name, err)
		}
	}
	return fresh, nil
}

// describe returns where requests for vault of the named provider go, ""
// when the provider cannot say (or cannot be opened).
func (ps *providerSet) describe(ctx context.Context, name, vault string) string {
	p, err := ps.get(ctx, name)
	if err != nil {
		return ""
	}
	if d, ok := p.(provider.Describer); ok {
		return d.Describe(vault)
	}
	return ""
}

// observe tells onRequest about a request that started at start.
func (ps *providerSet) observe(name, op string, start time.Time, err error, refs ...provider.Ref) {
	if ps.onRequest == nil {
		return
	}
	secrets := make([]string, len(refs))
	for i, r := range refs {
		secrets[i] = r.String()
	}
	ps.onRequest(Request{Provider: name, Op: op, Secrets: secrets, Duration: time.Since(start), Err: err})
}

// fetch is Provider.Fetch through the endpoint (see do), turning a panic
// into an error.
func (ps *providerSet) fetch(ctx context.Context, name string, ref provider.Ref) (provider.Secret, error) {
	p, err := ps.get(ctx, name)
	if err != nil {
		return provider.Secret{}, err
	}
	if err := ctx.Err(); err != nil {
		return provider.Secret{}, err
	}
	var sec provider.Secret
	err = ps.do(ctx, name, ref, func() (err error) {
		sec, err = ps.fetchOnce(ctx, p, name, ref)
		return err
	})
	if err != nil {
		return provider.Secret{}, err
	}
	return sec, nil
}

// fetchOnce is one Provider.Fetch that turns a panic into an error.
func (ps *providerSet) fetchOnce(ctx context.Context, p provider.Provider, name string, ref provider.Ref) (sec provider.Secret, err error) {
	start := time.Now()
	defer func() { ps.observe(name, "read", start, err, ref) }()
	defer func() {
		if v := recover(); v != nil {
			sec, err = provider.Secret{}, providerPanic(name, ref, newPanicError("provider "+name, v))
		}
	}()
	return p.Fetch(ctx, ref)
}

// batcher returns the provider's batch capability, if it has one.
func (ps *providerSet) batcher(ctx context.Context, name string) (provider.BatchFetcher, bool) {
	p, err := ps.get(ctx, name)
	if err != nil {
		return nil, false
	}
	b, ok := p.(provider.BatchFetcher)
	return b, ok
}

// fetchBatch is BatchFetcher.FetchBatch through the endpoint of refs'
// vault (all of refs are in one vault): the batch is one request for the
// limiter and the breaker, the worst of its results its outcome, and the
// secrets the endpoint throttled are asked for again, as do does. It turns
// a panic into an error for every secret of the batch, and always returns
// one result per ref.
func (ps *providerSet) fetchBatch(ctx context.Context, name string, refs []provider.Ref) []provider.Result {
	results := make([]provider.Result, len(refs))
	b, ok := ps.batcher(ctx, name)
	if !ok {
		for i, ref := range refs {
			results[i].Secret, results[i].Err = ps.fetch(ctx, name, ref)
		}
		return results
	}
	if len(refs) == 0 {
		return results
	}
	e := ps.endpoint(ctx, name, refs[0].Vault)
	pending := make([]int, len(refs))
	for i := range pending {
		pending[i] = i
	}
	for try := 1; len(pending) > 0; try++ {
		p, err := e.acquire(ctx, refs[pending[0]])
		if err != nil {
			for _, i := range pending {
				switch {
				case results[i].Err != nil && errors.Is(err, context.DeadlineExceeded):
					// Throttled until the deadline: keep that error.
				case ctx.Err() != nil:
					results[i].Err = err
				default:
					results[i].Err = errorFor(err, refs[i])
				}
			}
			return results
		}
		sub := make([]provider.Ref, len(pending))
		for j, i := range pending {
			sub[j] = refs[i]
		}
		got := ps.fetchBatchOnce(ctx, b, name, sub)
		o, oerr := outcomeNone, error(nil)
		for j, i := range pending {
			r := judge(ctx, got[j].Err)
			if r > o {
				o, oerr = r, got[j].Err
			}
			if r == outcomeNone && results[i].Err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				continue // throttled until the deadline cut the last try short
			}
			results[i] = got[j]
		}
		e.release(p, o, oerr)
		var again []int
		if o == outcomeThrottled && e.retryable(ctx) {
			for _, i := range pending {
				if errors.Is(results[i].Err, provider.ErrThrottled) {
					again = append(again, i)
				}
			}
		}
		if len(again) > 0 && !backoff(ctx, try, oerr) {
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				for _, i := range again {
					results[i].Err = ctx.Err()
				}
			}
			break
		}
		pending = again
	}
	return results
}

// fetchBatchOnce is one BatchFetcher.FetchBatch that turns a panic into an
// error for every secret of the batch, and always returns one result per
// ref.
func (ps *providerSet) fetchBatchOnce(ctx context.Context, b provider.BatchFetcher, name string, refs []provider.Ref) (results []provider.Result) {
	start := time.Now()
	defer func() {
		var err error
		for _, r := range results {
			if r.Err != nil {
				err = r.Err
				break
			}
		}
		ps.observe(name, "batch read", start, err, refs...)
	}()
	defer func() {
		if v := recover(); v != nil {
			pe := newPanicError("provider "+name, v)
			results = make([]provider.Result, len(refs))
			for i, ref := range refs {
				results[i].Err = providerPanic(name, ref, pe)
			}
		}
		for i := len(results); i < len(refs); i++ {
			results = append(results, provider.Result{Err: fmt.Errorf("%s: batch returned no result for %s", name, refs[i])})
		}
	}()
	return b.FetchBatch(ctx, refs)
}

// writer returns the provider's write capability, or an error wrapping
// errors.ErrUnsupported for a read-only provider.
func (ps *providerSet) writer(ctx context.Context, name string) (provider.Writer, error) {
	p, err := ps.get(ctx, name)
	if err != nil {
		return nil, err
	}
	w, ok := p.(provider.Writer)
	if !ok {
		return nil, provider.NewError(provider.ErrInvalid, name, provider.Ref{},
			"this provider cannot publish secrets", fmt.Errorf("push: %w", errors.ErrUnsupported))
	}
	return w, nil
}

// current is Writer.Current through the endpoint (see do); op names the
// request for onRequest ("read current", "read back").
func (ps *providerSet) current(ctx context.Context, w provider.Writer, name, op string, ref provider.Ref) (provider.Current, error) {
	var cur provider.Current
	err := ps.do(ctx, name, ref, func() (err error) {
		start := time.Now()
		cur, err = w.Current(ctx, ref)
		ps.observe(name, op, start, err, ref)
		return err
	})
	return cur, err
}

// put is Writer.Put through the endpoint (see do). A write the endpoint
// throttled was not carried out, so sending it again is safe.
func (ps *providerSet) put(ctx context.Context, w provider.Writer, name string, ref provider.Ref, req provider.PutRequest) (provider.PutResult, error) {
	var res provider.PutResult
	err := ps.do(ctx, name, ref, func() (err error) {
		start := time.Now()
		res, err = w.Put(ctx, ref, req)
		ps.observe(name, "write", start, err, ref)
		return err
	})
	return res, err
}

// close closes every opened provider once and returns their notices,
// sorted by provider name.
func (ps *providerSet) close() []Warning {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return nil
	}
	ps.closed = true
	names := make([]string, 0, len(ps.provs))
	for n := range ps.provs {
		names = append(names, n)
	}
	slices.Sort(names)
	var notices []Warning
	for _, n := range names {
		p := ps.provs[n]
		if no, ok := p.(provider.Noticer); ok {
			for _, msg := range no.Notices() {
				notices = append(notices, Warning{Provider: n, Message: msg})
			}
		}
		if c, ok := p.(io.Closer); ok {
			_ = c.Close()
		}
	}
	return notices
}

func providerPanic(name string, ref provider.Ref, pe *panicError) error {
	return fmt.Errorf("%s: secret %s: %w", name, ref, pe)
}
