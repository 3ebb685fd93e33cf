package envdrift

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/internal/durable"
	"github.com/envdrift/envdrift/internal/keytable"
	"github.com/envdrift/envdrift/internal/suggest"
	"github.com/envdrift/envdrift/provider"
)

// batchSize is the most secrets envdrift asks a provider for in one batch
// request (the AWS BatchGetSecretValue limit).
const batchSize = 20

// defaultConcurrency is the number of fetches in flight when neither
// Options.Concurrency nor max_workers says otherwise: a 200-mapping sync
// costs about 13 round trips. Sixteen requests at a 30–100 ms round trip
// are at most about 530 requests per second, well under AWS Secrets
// Manager's GetSecretValue quota (10,000 per second per region) and GCP
// Secret Manager's (90,000 access requests per minute per project); Vault
// sets no default limit. Azure Key Vault allows 4,000 secret reads per 10
// seconds per vault, and AWS 100 BatchGetSecretValue calls (2,000 secrets)
// per second per region, so only a run of thousands of secrets from one
// vault or region can be throttled, which the providers retry with
// backoff. docs/performance.md cites the sources.
const defaultConcurrency = 16

// minApplyConcurrency is the least number of fetched rows applied at once
// (compared, written, checked; see Syncer.Sync). Applying is local work: a
// row waiting for its keys file to reach the disk holds no fetch slot and
// no check slot, so letting more rows wait lets more writes share one
// commit (see durable.Committer). Measured on a 2-core VM with ext4 (10,000 new keys
// files): 16 at once 2.6 s, 64 at once 1.8 s, 256 at once 1.7 s. Checks
// stay bounded by the fetch concurrency.
const minApplyConcurrency = 64

// Syncer runs the verbs of one configuration: Sync (vault to .env.keys) and
// Push (.env.keys to vault). Build it with New; a Syncer may run several
// times, but not concurrently.
type Syncer struct {
	cfg      *Config // New's private copy
	opts     Options
	reg      *provider.Registry
	mappings []Mapping
	// providerOf is the effective provider name of each selected mapping.
	providerOf []string
	locks      durable.Locks
	promptMu   sync.Mutex
	// realConfigDir, while prepareAll runs, returns the configuration's
	// directory with links resolved, resolved once (see checkFolder).
	realConfigDir func() (string, error)
}

// New checks that cfg can be run with opts and returns a Syncer. It runs
// cfg.Validate, checks the options, selects the mappings (Options.Profile)
// and finds each mapping's provider in the registry; every problem is
// reported at once, as a *ConfigError. New copies what it keeps: later
// changes to cfg do not affect the Syncer, and cfg is never modified. It
// does no I/O: providers are opened, and credentials resolved, when a run
// needs them.
func New(cfg *Config, opts Options) (*Syncer, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: no configuration", ErrInvalidConfig)
	}
	c := cfg.clone()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	s := &Syncer{cfg: c, opts: opts, reg: opts.Providers}
	if s.reg == nil {
		s.reg = provider.Default()
	}
	cerr := &ConfigError{Path: c.Path}
	if opts.Concurrency < 0 || opts.Concurrency > maxConcurrency {
		cerr.add(0, "Options.Concurrency", "must be between 1 and %d, got %d", maxConcurrency, opts.Concurrency)
	}
	if opts.Verify && opts.Force {
		cerr.add(0, "Options.Verify", "cannot be combined with Options.Force: verifying writes nothing")
	}
	if (opts.SchemaPath != "" || opts.ServiceDir != "") && opts.Schema == nil {
		cerr.add(0, "Options.SchemaPath", "is set but Options.Schema (the validator) is not")
	}
	var profiles []string
	for i, m := range c.Mappings {
		if m.Profile != "" && !slices.Contains(profiles, m.Profile) {
			profiles = append(profiles, m.Profile)
		}
		if m.Profile != "" && m.Profile != opts.Profile {
			continue
		}
		name := cmp(m.Provider, opts.Provider, c.Provider)
		key := fmt.Sprintf("mapping %d (%s)", i+1, m.SecretName)
		if name == "" {
			cerr.add(m.Line, key, "no provider: set [vault] provider in the configuration or Options.Provider (one of %s)", strings.Join(s.reg.Names(), ", "))
			continue
		}
		if _, err := s.reg.Lookup(name); err != nil {
			cerr.add(m.Line, key, "%s", strings.TrimPrefix(err.Error(), provider.ErrInvalid.Error()+": "))
			continue
		}
		s.mappings = append(s.mappings, m)
		s.providerOf = append(s.providerOf, name)
	}
	if len(cerr.Problems) > 0 {
		return nil, cerr
	}
	if len(opts.Folders) > 0 {
		if err := s.selectFolders(opts.Folders); err != nil {
			return nil, err
		}
	}
	slices.Sort(profiles)
	switch {
	case len(c.Mappings) == 0:
		return nil, fmt.Errorf("%w: %w: the configuration has no mappings", ErrInvalidConfig, ErrNoMappings)
	case opts.Profile != "" && !slices.Contains(profiles, opts.Profile):
		// A misspelt profile is an error even when mappings without a
		// profile would run: the user asked for mappings that do not exist.
		return nil, fmt.Errorf("%w: %w: no mapping has profile %q%s; profiles: %s", ErrInvalidConfig, ErrNoMappings,
			opts.Profile, suggest.DidYouMean(opts.Profile, profiles), cmp(strings.Join(profiles, ", "), "none"))
	case len(s.mappings) > 0:
	default:
		return nil, fmt.Errorf("%w: %w: every mapping has a profile (%s) and none was selected", ErrInvalidConfig, ErrNoMappings,
			strings.Join(profiles, ", "))
	}
	return s, nil
}

// selectFolders keeps the selected mappings whose folder is one of
// folders, and reports a folder that matches none, listing the folders
// there are.
func (s *Syncer) selectFolders(folders []string) error {
	keep := make([]bool, len(s.mappings))
	for _, f := range folders {
		found := false
		for i, m := range s.mappings {
			if s.sameFolder(f, m.FolderPath) {
				keep[i], found = true, true
			}
		}
		if !found {
			var known []string
			for _, m := range s.mappings {
				if !slices.Contains(known, m.FolderPath) {
					known = append(known, m.FolderPath)
				}
			}
			return fmt.Errorf("%w: %w: no mapping for folder %s%s; folders: %s", ErrInvalidConfig, ErrNoMappings,
				f, suggest.DidYouMean(f, known), strings.Join(known, ", "))
		}
	}
	var ms []Mapping
	var names []string
	for i, m := range s.mappings {
		if keep[i] {
			ms = append(ms, m)
			names = append(names, s.providerOf[i])
		}
	}
	s.mappings, s.providerOf = ms, names
	return nil
}

// sameFolder reports whether given names the mapping folder configured:
// the same path as written, or a path to the same directory.
func (s *Syncer) sameFolder(given, configured string) bool {
	if filepath.Clean(given) == filepath.Clean(configured) {
		return true
	}
	dir := configured
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(s.cfg.Dir, dir)
	}
	a, err1 := filepath.Abs(given)
	b, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	if a == b {
		return true
	}
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}

// ErrNoMappings: a run would select no mapping — the configuration has
// none, or none without a profile and Options.Profile is empty, or none
// with the profile Options.Profile names. It is wrapped with
// ErrInvalidConfig.
var ErrNoMappings = errors.New("no mapping selected")

// cmp returns the first non-empty string.
func cmp(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// clone returns a copy of c that shares nothing mutable with it.
func (c *Config) clone() *Config {
	out := *c
	out.Mappings = slices.Clone(c.Mappings)
	out.Warnings = slices.Clone(c.Warnings)
	if c.Settings != nil {
		out.Settings = make(map[string]any, len(c.Settings))
		for k, v := range c.Settings {
			out.Settings[k] = v
		}
	}
	if out.EnvKeysFilename == "" {
		out.EnvKeysFilename = defaultEnvKeysFilename
	}
	switch {
	case out.KeepBackups == 0:
		out.KeepBackups = defaultKeepBackups
	case out.KeepBackups < 0:
		out.KeepBackups = 0 // keep all
	}
	return &out
}

// defaultProvider is the provider of mappings that do not name one.
func (s *Syncer) defaultProvider() string { return cmp(s.opts.Provider, s.cfg.Provider) }

func (s *Syncer) concurrency() int {
	switch {
	case s.opts.Concurrency > 0:
		return s.opts.Concurrency
	case s.cfg.MaxWorkers > 0:
		return s.cfg.MaxWorkers
	}
	return defaultConcurrency
}

func (s *Syncer) newProviderSet() *providerSet {
	ps := newProviderSet(s.reg, s.cfg, s.opts.Overrides, s.defaultProvider())
	ps.maxInFlight = s.concurrency()
	return ps
}

// fetchKey identifies one distinct secret: mappings that share it share one
// request.
type fetchKey struct {
	provider string
	ref      provider.Ref
}

type fetchJob struct {
	key  fetchKey
	rows []int
}

// groupBySecret makes one job per distinct secret of the mappings, in the
// order of their first row, each listing its rows. A row for which done
// reports true (it is already finished) is sent to completed instead.
func (s *Syncer) groupBySecret(rows []*Row, done func(i int) bool, completed chan<- int) []*fetchJob {
	jobs := map[fetchKey]*fetchJob{}
	var order []*fetchJob
	for i, m := range s.mappings {
		if done(i) {
			completed <- i
			continue
		}
		k := fetchKey{provider: s.providerOf[i], ref: provider.Ref{Vault: rows[i].Vault, Name: m.SecretName}}
		j, ok := jobs[k]
		if !ok {
			j = &fetchJob{key: k}
			jobs[k] = j
			order = append(order, j)
		}
		j.rows = append(j.rows, i)
	}
	return order
}

// runState is the state of one Sync call.
type runState struct {
	s        *Syncer
	rows     []*Row
	envKeys  []envKey // the public key each row's env file declares
	provs    *providerSet
	cleaned  sync.Map // folders whose stale temp files were cleaned
	warnings []Warning

	// completed receives each row's index once the row is final.
	completed chan int
	// applySlots bounds the rows being applied at once (the concurrency, at
	// least minApplyConcurrency); applying tracks them. checkSlots bounds the
	// rows whose checks run at once to the fetch concurrency: a check may
	// start a dotenvx process.
	applySlots chan struct{}
	checkSlots chan struct{}
	applying   sync.WaitGroup
	// commits writes the keys files (see durable.Committer).
	commits *durable.Committer
	// rep serialises the calls to the Reporter.
	rep *reporterLock
}

// reporterLock calls a Reporter (and its ProgressReporter side) one call at
// a time; it does nothing for a nil Reporter.
type reporterLock struct {
	mu       sync.Mutex
	r        Reporter
	progress ProgressReporter
}

func newReporterLock(r Reporter) *reporterLock {
	l := &reporterLock{r: r}
	l.progress, _ = r.(ProgressReporter)
	return l
}

func (l *reporterLock) row(r *Row) {
	if l.r != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.r.Row(r)
	}
}

func (l *reporterLock) start(p Plan) {
	if l.progress != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.progress.Start(p)
	}
}

func (l *reporterLock) request(r Request) {
	if l.progress != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.progress.Request(r)
	}
}

func (l *reporterLock) advance(done, total int) {
	if l.progress != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.progress.Progress(done, total)
	}
}

// Sync fetches every selected mapping's secret and brings each folder's
// keys file in line with it. Row-level failures are reported in the Result
// (see Result.Err); the returned error is non-nil only when the whole run
// could not proceed, such as a cancelled context, in which case the Result
// still holds every row, the unfinished ones as cancelled errors.
func (s *Syncer) Sync(ctx context.Context) (*Result, error) {
	st := &runState{s: s, provs: s.newProviderSet(), rep: newReporterLock(s.opts.Reporter)}
	st.provs.onRequest = st.rep.request
	n := len(s.mappings)
	st.rows = make([]*Row, n)
	st.envKeys = make([]envKey, n)
	st.completed = make(chan int, n)
	s.prepareAll(st.rows, st.envKeys)
	s.applyVaultOverrides(ctx, st.provs, st.rows)
	order := s.groupBySecret(st.rows, func(i int) bool {
		row := st.rows[i]
		return row.Action == ActionError || (row.Action == ActionSkipped && !s.opts.Verify && !s.mappings[i].EphemeralKeys)
	}, st.completed)

	warmKeyTable(order)
	st.rep.start(s.plan(ctx, st.provs, "sync", n, order))
	reported := make(chan struct{})
	go st.report(reported)

	limit := s.concurrency()
	st.applySlots = make(chan struct{}, max(limit, minApplyConcurrency))
	st.checkSlots = make(chan struct{}, limit)
	st.commits = durable.StartCommitter()
	g := new(errgroup.Group)
	g.SetLimit(limit)
	for _, task := range st.plan(ctx, order) {
		g.Go(func() error {
			task(ctx)
			return nil
		})
	}
	_ = g.Wait()
	st.applying.Wait()
	st.commits.Stop()
	<-reported
	st.warnings = append(st.warnings, st.provs.close()...)
	return s.finish(ctx, st.rows, st.warnings)
}

// finish builds the Result of a run and tells the Reporter.
func (s *Syncer) finish(ctx context.Context, rows []*Row, notices []Warning) (*Result, error) {
	res := &Result{Rows: rows}
	res.Warnings = append(slices.Clone(s.cfg.Warnings), notices...)
	res.summarize()
	if s.opts.Reporter != nil {
		s.opts.Reporter.Done(res)
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("run interrupted: %w", err)
	}
	return res, nil
}

// prepareAll prepares every row. Preparing is local I/O (a stat, reading
// the env file); it runs for many rows at once so that the first fetch
// starts sooner.
func (s *Syncer) prepareAll(rows []*Row, keys []envKey) {
	// Every row's folder is checked against the configuration's directory
	// with its links resolved: resolve them once for the whole run.
	s.realConfigDir = sync.OnceValues(s.evalConfigDir)
	defer func() { s.realConfigDir = nil }()
	pg := new(errgroup.Group)
	pg.SetLimit(4 * runtime.GOMAXPROCS(0))
	for i, m := range s.mappings {
		pg.Go(func() error {
			rows[i], keys[i] = s.prepare(i, m)
			return nil
		})
	}
	_ = pg.Wait()
}

// applyVaultOverrides lets a vault named by the caller's overrides (the
// command line's --vault-url, --region or --project-id) win over the
// configuration's default vault name, for rows whose mapping names no vault
// of its own: the provider then uses its overridden default.
func (s *Syncer) applyVaultOverrides(ctx context.Context, ps *providerSet, rows []*Row) {
	if s.cfg.DefaultVaultName == "" {
		return
	}
	for i, row := range rows {
		m := s.mappings[i]
		fetched := row.Action == actionPending || row.Reason == reasonNoEnvFile && (s.opts.Verify || m.EphemeralKeys)
		if m.VaultName != "" || row.Vault == "" || !fetched {
			continue
		}
		p, err := ps.get(ctx, row.Provider)
		if err != nil {
			continue
		}
		if o, ok := p.(provider.VaultOverrider); ok && o.OverridesVault() {
			row.Vault = ""
			row.Secret = m.SecretName
		}
	}
}

// prepare resolves a mapping's paths and settles the rows that need no
// fetch: a missing folder is an error; a folder without the env file is
// skipped (Sync still probes the secret under Verify and for ephemeral
// mappings).
func (s *Syncer) prepare(i int, m Mapping) (*Row, envKey) {
	cfg := s.cfg
	dir := m.FolderPath
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(cfg.Dir, dir)
	}
	vault := m.VaultName
	if vault == "" {
		vault = cfg.DefaultVaultName
	}
	envFile, env := m.EnvFile, m.Environment
	if envFile == "" && env != "" {
		envFile = ".env." + env
	}
	row := &Row{
		Index: i, Folder: m.FolderPath, Dir: dir, Provider: s.providerOf[i], Vault: vault,
		Secret: provider.Ref{Vault: vault, Name: m.SecretName}.String(), Environment: env,
		KeysFile: filepath.Join(dir, cfg.EnvKeysFilename),
	}
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.fail(row, fmt.Errorf("%w: %s (%s)", ErrFolderMissing, m.FolderPath, dir))
	case err != nil:
		s.fail(row, fmt.Errorf("folder %s: %w", m.FolderPath, err))
	case !st.IsDir():
		s.fail(row, fmt.Errorf("%w: %s is not a directory (%s)", ErrFolderMissing, m.FolderPath, dir))
	default:
		if err := s.checkFolder(m, dir); err != nil {
			s.fail(row, err)
		}
	}
	if envFile == "" {
		// Neither environment nor env_file: .env.production, or dotenvx's
		// plain .env when the folder has only that.
		envFile, row.Environment = ".env."+defaultEnvironment, defaultEnvironment
		if row.Action != ActionError && !exists(filepath.Join(dir, envFile)) && exists(filepath.Join(dir, ".env")) {
			envFile, row.Environment = ".env", ""
		}
	}
	row.EnvFile = filepath.Join(dir, envFile)
	row.KeyName, _ = dotenvx.KeyNames(envFile)
	if row.Action == ActionError {
		return row, envKey{}
	}
	if est, err := os.Stat(row.EnvFile); err == nil && !est.Mode().IsRegular() && !est.IsDir() {
		// A FIFO or a device: reading it could block forever, or take data
		// meant for the service.
		s.fail(row, fmt.Errorf("env file: %s is not a regular file", row.EnvFile))
		return row, envKey{}
	}
	f, err := dotenvx.ReadFile(row.EnvFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		row.Action, row.Reason = ActionSkipped, reasonNoEnvFile
		row.Message = fmt.Sprintf("no %s in %s%s", envFile, m.FolderPath, nearMiss(dir, envFile, m))
		return row, envKey{}
	case err != nil:
		s.fail(row, fmt.Errorf("env file: %w", err))
		return row, envKey{}
	}
	var declared envKey
	if name, value, ok := f.PublicKey(); ok {
		declared = envKey{name: name, value: value}
		row.KeyName = strings.Replace(name, "DOTENV_PUBLIC_KEY", "DOTENV_PRIVATE_KEY", 1)
		if pub, err := dotenvx.ParsePublicKey(value); err == nil {
			row.EnvPublicKey = pub.Hex()
		}
	}
	return row, declared
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// nearMiss explains a missing env file when the folder holds a likely
// intended one: another case of the same name, or the only other
// .env.<environment> file. It returns "" when nothing is close.
func nearMiss(dir, envFile string, m Mapping) string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	var envs []string
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || !isEnvFileName(name) {
			continue
		}
		if strings.EqualFold(name, envFile) {
			if m.Environment != "" {
				return fmt.Sprintf(" (it has %s: did you mean environment = %q?)", name, strings.TrimPrefix(name, ".env."))
			}
			return fmt.Sprintf(" (it has %s: did you mean env_file = %q?)", name, name)
		}
		envs = append(envs, name)
	}
	switch {
	case len(envs) == 0:
		return ""
	case len(envs) == 1 && strings.HasPrefix(envs[0], ".env."):
		return fmt.Sprintf(" (it has %s: set environment = %q to use it)", envs[0], strings.TrimPrefix(envs[0], ".env."))
	}
	return " (it has " + strings.Join(envs, ", ") + ")"
}

// isEnvFileName reports whether name looks like a dotenvx env file: .env or
// .env.<something>, but not a keys file, a backup, an example or a vault.
func isEnvFileName(name string) bool {
	if name != ".env" && !strings.HasPrefix(name, ".env.") {
		return false
	}
	lower := strings.ToLower(name)
	for _, skip := range []string{".env.keys", ".env.vault", ".env.example", ".env.sample", ".env.template"} {
		if strings.HasPrefix(lower, skip) {
			return false
		}
	}
	return !strings.Contains(lower, ".backup.")
}

func (s *Syncer) fail(row *Row, err error) {
	row.Action = ActionError
	row.Reason = ""
	row.Err = err
	row.ErrorKind = errorKind(err)
	row.Message = err.Error()
}

// errorKind names the class of a row error for JSON output and scripts.
func errorKind(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrInvalidSecret):
		return "invalid_secret"
	case errors.Is(err, ErrMispaired):
		return "mispaired"
	case errors.Is(err, ErrNoLocalKey):
		return "no_local_key"
	case errors.Is(err, ErrMismatch):
		return "mismatch"
	case errors.Is(err, ErrFolderMissing):
		return "folder_missing"
	case errors.Is(err, ErrUnsafePath):
		return "unsafe_path"
	case errors.Is(err, errPanic):
		return "panic"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded) && !errors.As(err, new(*provider.Error)):
		// A provider's own request timeout keeps the provider's kind
		// (unavailable), as its message says; only a deadline on the
		// whole run is a cancellation.
		return "cancelled"
	}
	if k := provider.KindOf(err); k != "" {
		return k
	}
	return "error"
}

// plan turns the fetch jobs into tasks for the worker pool: one per secret,
// or one per batch of up to batchSize secrets of one vault for providers
// that can batch.
func (st *runState) plan(ctx context.Context, jobs []*fetchJob) []func(context.Context) {
	var tasks []func(context.Context)
	type group struct {
		provider string
		vault    string
	}
	batches := map[group][]*fetchJob{}
	var batchOrder []group
	for _, j := range jobs {
		if _, ok := st.provs.batcher(ctx, j.key.provider); ok {
			g := group{j.key.provider, j.key.ref.Vault}
			if _, seen := batches[g]; !seen {
				batchOrder = append(batchOrder, g)
			}
			batches[g] = append(batches[g], j)
			continue
		}
		tasks = append(tasks, func(ctx context.Context) { st.fetchOne(ctx, j) })
	}
	for _, g := range batchOrder {
		js := batches[g]
		for len(js) > 0 {
			chunk := js[:min(batchSize, len(js))]
			js = js[len(chunk):]
			if len(chunk) == 1 {
				tasks = append(tasks, func(ctx context.Context) { st.fetchOne(ctx, chunk[0]) })
				continue
			}
			tasks = append(tasks, func(ctx context.Context) { st.fetchBatch(ctx, chunk) })
		}
	}
	return tasks
}

func (st *runState) fetchOne(ctx context.Context, j *fetchJob) {
	sec, err := st.provs.fetch(ctx, j.key.provider, j.key.ref)
	st.finish(ctx, j, sec, err)
}

func (st *runState) fetchBatch(ctx context.Context, js []*fetchJob) {
	refs := make([]provider.Ref, len(js))
	for i, j := range js {
		refs[i] = j.key.ref
	}
	results := st.provs.fetchBatch(ctx, js[0].key.provider, refs)
	for i, j := range js {
		st.finish(ctx, j, results[i].Secret, results[i].Err)
	}
}

// finish applies a fetched secret to every row that asked for it. The
// payload is parsed once for all of them (see parsedSecret). Each row is
// applied (compared, written, checked) on a goroutine of its own, so the
// fetch worker takes the next request as soon as this response is handed
// over, and rows that share a secret are applied side by side, their keys
// files sharing group commits, as rows of separate secrets are: at most
// max(concurrency, minApplyConcurrency) rows are applied at once, and a
// fetch worker waits for a free slot before it hands a row over.
func (st *runState) finish(ctx context.Context, j *fetchJob, sec provider.Secret, err error) {
	var parsed *parsedSecret
	if err == nil {
		parsed = newParsedSecret(sec.Value)
	}
	for _, i := range j.rows {
		st.applySlots <- struct{}{}
		st.applying.Add(1)
		go func() {
			defer func() {
				<-st.applySlots
				st.applying.Done()
			}()
			row := st.rows[i]
			started := time.Now()
			st.s.applySafely(ctx, st, row, i, parsed, err)
			row.Duration = time.Since(started)
			st.completed <- i
		}()
	}
}

// warmKeyTable starts building the secp256k1 table of multiples of G in
// the background, while the requests are in flight, when the run will
// derive enough public keys to repay it (see internal/keytable): the
// public key of every fetched key is derived to check that it pairs with
// its env file.
func warmKeyTable(jobs []*fetchJob) {
	n := 0
	for _, j := range jobs {
		n += len(j.rows)
	}
	if n >= keytable.Threshold {
		go keytable.Warm()
	}
}

// report hands rows to the Reporter in configuration order, each once it
// and every row before it are final, and after each completion tells a
// ProgressReporter how many rows are final, whatever order they finish in.
// It is the only goroutine that calls the Reporter during a run. Every row
// completes, also once ctx is cancelled: fetches and writes then fail fast.
func (st *runState) report(done chan<- struct{}) {
	defer close(done)
	reportRows(st.rows, st.completed, st.rep)
}

// reportRows reads row indexes from completed until every row is final,
// hands rows to the Reporter in order, and keeps its progress up to date.
func reportRows(rows []*Row, completed <-chan int, rep *reporterLock) {
	final := make([]bool, len(rows))
	next := 0
	for finished := 1; finished <= len(rows); finished++ {
		final[<-completed] = true
		for ; next < len(rows) && final[next]; next++ {
			rep.row(rows[next])
		}
		rep.advance(finished, len(rows))
	}
}

// plan describes a run about to send requests for jobs: how many, and to
// which vaults (opening their providers, which does no I/O).
func (s *Syncer) plan(ctx context.Context, ps *providerSet, verb string, rows int, jobs []*fetchJob) Plan {
	p := Plan{Verb: verb, Rows: rows, Requests: len(jobs)}
	index := map[fetchKey]int{}
	for _, j := range jobs {
		k := fetchKey{provider: j.key.provider, ref: provider.Ref{Vault: j.key.ref.Vault}}
		i, ok := index[k]
		if !ok {
			i = len(p.Vaults)
			index[k] = i
			p.Vaults = append(p.Vaults, Target{Provider: k.provider, Vault: k.ref.Vault, Endpoint: ps.describe(ctx, k.provider, k.ref.Vault)})
		}
		p.Vaults[i].Secrets++
	}
	return p
}

// apply settles one row once its secret is fetched and parsed: check the
// key, compare with the local key, write if needed, then run the requested
// checks.
func (s *Syncer) apply(ctx context.Context, st *runState, row *Row, i int, sec *parsedSecret, fetchErr error) {
	m := s.mappings[i]
	if fetchErr != nil {
		s.fail(row, fetchErr)
		return
	}
	key, err := sec.key(row.KeyName)
	if err != nil {
		s.fail(row, fmt.Errorf("secret %s: %w", row.Secret, err))
		return
	}
	row.Key = &key
	row.VaultPublicKey = key.publicKeys()[0]
	if row.Reason == reasonNoEnvFile {
		// Probed (Verify, or an ephemeral mapping): the secret is usable,
		// but with no env file there is nothing to sync it to.
		row.Message += "; the vault secret holds a valid key"
		return
	}
	if err := checkPairing(key, row.EnvFile, st.envKeys[i], "the vault key"); err != nil {
		s.fail(row, err)
		return
	}
	checkKey := key
	if m.EphemeralKeys {
		row.Action = ActionEphemeral
		row.Message = "key fetched and validated; kept in memory, not written"
	} else {
		checkKey = s.reconcile(ctx, st, row, key)
	}
	s.runChecks(ctx, st, row, m, checkKey)
}

// reconcile compares the vault key with the folder's keys file and creates,
// updates or leaves it. It returns the key the folder ends up with.
func (s *Syncer) reconcile(ctx context.Context, st *runState, row *Row, key Key) Key {
	unlock, err := s.locks.Lock(ctx, row.Dir)
	if err != nil {
		s.fail(row, err)
		return Key{}
	}
	defer unlock()
	if _, loaded := st.cleaned.LoadOrStore(row.KeysFile, true); !loaded && !s.opts.Verify {
		durable.CleanTemps(row.KeysFile, s.now())
	}
	kf, err := readKeysFile(row.KeysFile)
	if err != nil {
		s.fail(row, err)
		return Key{}
	}
	if kf.exists && kf.exposed() {
		row.Warnings = append(row.Warnings, fmt.Sprintf("%s is readable by group or others (mode %04o); run chmod 600 on it", row.KeysFile, kf.mode))
	}
	local, found := kf.lookup(row.KeyName)
	var localKey Key
	same := false
	if found {
		localKey, err = ParseKey(local)
		same = err == nil && localKey.equal(key)
		switch {
		case err != nil:
			row.LocalNote = fmt.Sprintf("<not a valid key, %d chars>", len(local))
		case same:
			row.LocalPublicKey = row.VaultPublicKey // same key: no second derivation
		default:
			row.LocalPublicKey = localKey.publicKeys()[0]
		}
	}
	base := filepath.Base(row.KeysFile)
	switch {
	case same:
		row.Action, row.Reason = ActionSkipped, reasonInSync
		row.Message = "values match"
		return key
	case !found && s.opts.Verify:
		s.fail(row, fmt.Errorf("%w: %s has no %s", ErrMismatch, base, row.KeyName))
		return Key{}
	case !found:
		if err := s.write(ctx, st, kf, row, key, false); err != nil {
			s.fail(row, err)
			return Key{}
		}
		row.Action = ActionCreated
		row.Message = fmt.Sprintf("wrote %s to %s", row.KeyName, base)
		return key
	case s.opts.Verify:
		s.fail(row, fmt.Errorf("%w: %s in %s is another key", ErrMismatch, row.KeyName, base))
		return localKey
	case s.opts.Force:
	case s.opts.Prompter != nil:
		ok, err := s.ask(ctx, row)
		if err != nil && ctx.Err() != nil {
			// Interrupted at the prompt: the row is unfinished, like every
			// row the interrupt stopped, not a failed comparison.
			s.fail(row, fmt.Errorf("%s in %s is another key, kept: the run was interrupted at the prompt: %w", row.KeyName, base, ctx.Err()))
			return localKey
		}
		if err != nil {
			s.fail(row, fmt.Errorf("%w: %s in %s is another key, and the prompt got no answer (%v)", ErrMismatch, row.KeyName, base, err))
			return localKey
		}
		if !ok {
			row.Action = ActionDeclined
			row.Message = fmt.Sprintf("%s in %s differs from the vault; kept after you declined", row.KeyName, base)
			return localKey
		}
	default:
		s.fail(row, fmt.Errorf("%w: %s in %s is another key, kept; use Options.Force to replace it (a backup is made)", ErrMismatch, row.KeyName, base))
		return localKey
	}
	if err := s.write(ctx, st, kf, row, key, true); err != nil {
		s.fail(row, err)
		return localKey
	}
	row.Action = ActionUpdated
	row.Message = fmt.Sprintf("replaced %s in %s", row.KeyName, base)
	if n := len(row.Removed); n > 0 {
		row.Message += fmt.Sprintf("; removed %d old backup(s), keeping the newest %d", n, s.cfg.KeepBackups)
	}
	return key
}

func (s *Syncer) ask(ctx context.Context, row *Row) (bool, error) {
	s.promptMu.Lock()
	defer s.promptMu.Unlock()
	return s.opts.Prompter.ConfirmReplace(ctx, row)
}

// write merges key into the keys file and replaces it atomically, after a
// backup when backup is set (then prunes backups beyond KeepBackups). It
// never writes once ctx is cancelled.
func (s *Syncer) write(ctx context.Context, st *runState, kf *keysFile, row *Row, key Key, backup bool) error {
	data, err := mergeKey(kf.data, row.KeyName, key.Reveal(), filepath.Base(row.EnvFile))
	if err != nil {
		return fmt.Errorf("%s: %w", kf.path, err)
	}
	if len(data) > maxKeysFileSize {
		// Never write a file the next run would refuse to read.
		return fmt.Errorf("%s would be %d bytes, over the %d-byte limit for keys files", kf.path, len(data), maxKeysFileSize)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("not written: %w", err)
	}
	if backup && kf.exists {
		name, err := durable.Backup(kf.path, kf.data, keysFileMode, s.now())
		if err != nil {
			return writeError(row.Folder, err)
		}
		row.BackupPath = name
	}
	if err := st.commits.WriteFile(kf.path, data, keysFileMode); err != nil {
		return writeError(row.Folder, err)
	}
	if row.BackupPath != "" && s.cfg.KeepBackups > 0 {
		row.Removed = pruneBackups(kf.path, s.cfg.KeepBackups)
	}
	return nil
}

// writeError says which folder could not be written and why, without the
// temporary file's name.
func writeError(folder string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		switch {
		case errors.Is(pe.Err, fs.ErrPermission):
			return fmt.Errorf("%s is not writable: %w", folder, pe.Err)
		case errors.Is(pe.Err, syscall.ENOSPC):
			return fmt.Errorf("cannot write in %s: %w", folder, pe.Err)
		}
		return fmt.Errorf("cannot write in %s: %s: %w", folder, pe.Op, pe.Err)
	}
	return fmt.Errorf("cannot write in %s: %w", folder, err)
}

func (s *Syncer) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// runChecks runs the requested decryption and schema checks with the key
// the folder ends up with.
func (s *Syncer) runChecks(ctx context.Context, st *runState, row *Row, m Mapping, key Key) {
	if s.opts.Decrypter == nil && s.opts.Schema == nil {
		return
	}
	st.checkSlots <- struct{}{}
	defer func() { <-st.checkSlots }()
	skip := ""
	if key.isZero() {
		skip = "no usable key"
	} else if _, err := os.Stat(row.EnvFile); err != nil {
		skip = "no " + filepath.Base(row.EnvFile)
	}
	if s.opts.Decrypter != nil {
		if skip != "" {
			row.Decryption = &Check{Status: CheckSkipped, Detail: skip}
		} else {
			c := s.opts.Decrypter.CheckDecryption(ctx, row.EnvFile, key)
			row.Decryption = &c
		}
	}
	if s.opts.Schema != nil {
		if skip != "" {
			row.Schema = &Check{Status: CheckSkipped, Detail: skip}
		} else {
			c := s.opts.Schema.ValidateSchema(ctx, row.EnvFile, s.schemaFor(m), key)
			row.Schema = &c
		}
	}
}

// schemaFor returns the schema path for a mapping, "" when none applies.
//
// Source, first set wins: the mapping's own schema, Options.SchemaPath,
// the configuration's schema.
//
// A relative path is looked up in these directories, and the first that
// holds a file of that name wins: Options.ServiceDir when set; the
// mapping's folder; the configuration's directory; and, for a path given as
// Options.SchemaPath only, the working directory. When none holds it, the
// path is returned under ServiceDir when set, else under the directory its
// source is relative to (the working directory for SchemaPath, the
// configuration's directory otherwise), so that the validator's "cannot
// read" error names it.
func (s *Syncer) schemaFor(m Mapping) string {
	p, fromOptions := m.Schema, false
	if p == "" && s.opts.SchemaPath != "" {
		p, fromOptions = s.opts.SchemaPath, true
	}
	if p == "" {
		p = s.cfg.Schema
	}
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	folder := m.FolderPath
	if !filepath.IsAbs(folder) {
		folder = filepath.Join(s.cfg.Dir, folder)
	}
	var dirs []string
	if s.opts.ServiceDir != "" {
		dirs = append(dirs, s.opts.ServiceDir)
	}
	dirs = append(dirs, folder, s.cfg.Dir)
	wd, _ := os.Getwd()
	if fromOptions && wd != "" {
		dirs = append(dirs, wd)
	}
	for _, d := range dirs {
		candidate := filepath.Join(d, p)
		if st, err := os.Stat(candidate); err == nil && !st.IsDir() {
			return candidate
		}
	}
	switch {
	case s.opts.ServiceDir != "":
		return filepath.Join(s.opts.ServiceDir, p)
	case fromOptions && wd != "":
		return filepath.Join(wd, p)
	}
	return filepath.Join(s.cfg.Dir, p)
}
