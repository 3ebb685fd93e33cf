package envdrift

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/provider"
)

// openCounter is a provider that counts how often it is opened and
// fetched; its settings name the counter to use.
type openCounter struct {
	opens   atomic.Int64
	fetches atomic.Int64
	value   string
}

type openCounterSettings struct {
	Name string `toml:"name"`
}

// openCountDriver returns a driver named "opencount" whose providers are
// counters[settings.Name], each open counted.
func openCountDriver(counters map[string]*openCounter) provider.Driver {
	return provider.NewDriver("opencount", func(_ context.Context, s *openCounterSettings, _ provider.Options) (provider.Provider, error) {
		c, ok := counters[s.Name]
		if !ok {
			return nil, fmt.Errorf("no opencount %q", s.Name)
		}
		c.opens.Add(1)
		return c, nil
	})
}

func (c *openCounter) Fetch(context.Context, provider.Ref) (provider.Secret, error) {
	c.fetches.Add(1)
	return provider.Secret{Value: []byte(c.value)}, nil
}

// TestSync_OpensOnlyTheProvidersItFetchesFrom: a provider that is
// configured but used by no mapping, or only by mappings that need no
// fetch, is never opened (so it builds no client and resolves no
// credentials); one used by 50 mappings is opened once.
func TestSync_OpensOnlyTheProvidersItFetchesFrom(t *testing.T) {
	w := newWorld(t)
	used := &openCounter{value: newKey(t)}
	idle := &openCounter{value: newKey(t)}
	w.reg.Register(openCountDriver(map[string]*openCounter{"used": used, "idle": idle}))
	w.cfg.Provider = "opencount"
	w.cfg.Settings["opencount"] = &openCounterSettings{Name: "used"}
	for i := range 50 {
		folder := fmt.Sprintf("svc%02d", i)
		writeFile(t, filepath.Join(w.dir, folder, ".env.production"), "A=1\n")
		w.mapping("shared", folder)
	}
	// The in-memory provider is configured, and named by mappings whose
	// folder has no env file or does not exist: nothing to fetch for them.
	writeFile(t, filepath.Join(w.dir, "noenv", "README"), "no env file here\n")
	w.mapping("k", "noenv", func(m *Mapping) { m.Provider = "mem" })
	w.mapping("k", "missing", func(m *Mapping) { m.Provider = "mem" })

	res := w.sync(Options{})
	assert.Equal(t, 50, res.Summary.Created)
	assert.Equal(t, int64(1), used.opens.Load(), "opened once for 50 mappings")
	assert.Equal(t, int64(1), used.fetches.Load(), "one fetch for one distinct secret")
	assert.Equal(t, int64(0), idle.opens.Load())
	assert.Equal(t, int64(0), w.vault.fetches.Load())

	// Opening is per run: nothing is opened before Sync.
	s, err := New(w.cfg, w.options(Options{}))
	require.NoError(t, err)
	assert.Equal(t, int64(1), used.opens.Load(), "New opens nothing")
	_, err = s.Sync(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(2), used.opens.Load())
}

// orderingReporter checks that the Reporter is never called concurrently
// and records the order of Row and Progress calls.
type orderingReporter struct {
	inCall     atomic.Int32
	concurrent atomic.Bool
	mu         sync.Mutex
	events     []string
	rows       []int
}

func (r *orderingReporter) enter() func() {
	if r.inCall.Add(1) != 1 {
		r.concurrent.Store(true)
	}
	time.Sleep(50 * time.Microsecond) // widen the window for an overlap
	return func() { r.inCall.Add(-1) }
}

func (r *orderingReporter) Row(row *Row) {
	defer r.enter()()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows = append(r.rows, row.Index)
	r.events = append(r.events, fmt.Sprintf("row %d", row.Index))
}

func (r *orderingReporter) Start(Plan)      {}
func (r *orderingReporter) Request(Request) {}

func (r *orderingReporter) Progress(done, total int) {
	defer r.enter()()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf("progress %d/%d", done, total))
}

func (r *orderingReporter) Done(*Result) { defer r.enter()() }

// gatedVault is a memProvider that holds back the secret "slow" until
// release is closed.
type gatedVault struct {
	*memProvider
	release chan struct{}
}

func (g *gatedVault) Fetch(ctx context.Context, ref provider.Ref) (provider.Secret, error) {
	if ref.Name == "slow" {
		select {
		case <-g.release:
		case <-ctx.Done():
		}
	}
	return g.memProvider.Fetch(ctx, ref)
}

// TestSync_ProgressCountsCompletionsWhileRowsStayInOrder: when the first
// mapping's secret is slow, progress still climbs as the others finish;
// rows are reported in configuration order once the first completes; the
// Reporter is never called concurrently.
func TestSync_ProgressCountsCompletionsWhileRowsStayInOrder(t *testing.T) {
	w := newWorld(t)
	gv := &gatedVault{memProvider: w.vault, release: make(chan struct{})}
	w.reg.Register(provider.NewDriver("gated", func(context.Context, *memSettings, provider.Options) (provider.Provider, error) { return gv, nil }))
	w.cfg.Provider = "gated"
	w.cfg.Settings["gated"] = &memSettings{Store: w.dir}
	const n = 30
	for i := range n {
		folder := fmt.Sprintf("svc%02d", i)
		k := w.service(folder, ".env.production")
		secret := folder
		if i == 0 {
			secret = "slow"
		}
		w.vault.set(secret, k.Hex())
		w.mapping(secret, folder)
	}
	rep := &orderingReporter{}
	done := make(chan *Result)
	go func() {
		s, err := New(w.cfg, w.options(Options{Reporter: rep, Concurrency: 8}))
		if !assert.NoError(t, err) {
			close(done)
			return
		}
		res, err := s.Sync(context.Background())
		assert.NoError(t, err)
		done <- res
	}()
	want := fmt.Sprintf("progress %d/%d", n-1, n)
	require.Eventually(t, func() bool {
		rep.mu.Lock()
		defer rep.mu.Unlock()
		for _, e := range rep.events {
			if e == want {
				return true
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond, "progress reaches %d/%d while the first mapping waits", n-1, n)
	rep.mu.Lock()
	assert.Empty(t, rep.rows, "no row is reported before the first one")
	rep.mu.Unlock()
	close(gv.release)
	res := <-done
	require.NotNil(t, res)
	require.True(t, (res.Err() == nil), "%v", res.Err())
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	assert.Equal(t, order, rep.rows)
	assert.Equal(t, fmt.Sprintf("progress %d/%d", n, n), rep.events[len(rep.events)-1])
	assert.False(t, rep.concurrent.Load(), "Reporter calls overlapped")
}

// blockingChecker blocks the check of one env file until released.
type blockingChecker struct {
	envFile string
	started chan struct{}
	release chan struct{}
}

func (b *blockingChecker) CheckDecryption(ctx context.Context, envFile string, _ Key) Check {
	if envFile == b.envFile {
		close(b.started)
		select {
		case <-b.release:
		case <-ctx.Done():
		}
	}
	return Check{Status: CheckPassed}
}

// TestSync_ApplyingARowDoesNotHoldAFetchSlot: with one fetch at a time,
// the next secret is fetched while the previous row is still being
// written and checked.
func TestSync_ApplyingARowDoesNotHoldAFetchSlot(t *testing.T) {
	w := newWorld(t)
	for _, f := range []string{"a", "b", "c"} {
		w.vault.set(f, w.service(f, ".env.production").Hex())
		w.mapping(f, f)
	}
	bc := &blockingChecker{envFile: filepath.Join(w.dir, "a", ".env.production"), started: make(chan struct{}), release: make(chan struct{})}
	s, err := New(w.cfg, w.options(Options{Concurrency: 1, Decrypter: bc}))
	require.NoError(t, err)
	done := make(chan *Result, 1)
	go func() {
		res, err := s.Sync(context.Background())
		assert.NoError(t, err)
		done <- res
	}()
	<-bc.started
	require.Eventually(t, func() bool { return w.vault.fetches.Load() >= 2 }, 10*time.Second, time.Millisecond,
		"the second fetch starts while the first row is applied")
	close(bc.release)
	res := <-done
	assert.True(t, (res.Err() == nil), "%v", res.Err())
	assert.Equal(t, int64(3), w.vault.fetches.Load())
}
