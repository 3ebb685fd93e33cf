package envdrift

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/internal/durable"
	"github.com/envdrift/envdrift/provider"
)

// BatchSize is the most secrets envdrift asks a provider for in one batch
// request (the AWS BatchGetSecretValue limit).
const BatchSize = 20

// Syncer syncs the mappings of one configuration. Build it with New; a
// Syncer may run Sync several times, but not concurrently.
type Syncer struct {
	cfg      *Config
	opts     Options
	mappings []Mapping
	// providerOf is the effective provider name of each selected mapping.
	providerOf []string
	locks      durable.Locks
	promptMu   sync.Mutex
}

// New checks that cfg can be synced with opts and returns a Syncer. It does
// no I/O: providers are opened, and credentials resolved, when Sync runs.
func New(cfg *Config, opts Options) (*Syncer, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: no configuration", ErrInvalidConfig)
	}
	if opts.Concurrency < 0 || opts.Concurrency > MaxConcurrency {
		return nil, fmt.Errorf("%w: concurrency must be between 1 and %d, got %d", ErrInvalidConfig, MaxConcurrency, opts.Concurrency)
	}
	if cfg.EnvKeysFilename == "" {
		cfg.EnvKeysFilename = DefaultEnvKeysFilename
	}
	s := &Syncer{cfg: cfg, opts: opts}
	cerr := &ConfigError{Path: cfg.Path}
	for i, m := range cfg.Mappings {
		if m.Profile != "" && m.Profile != opts.Profile {
			continue
		}
		name := m.Provider
		if name == "" {
			name = opts.Provider
		}
		if name == "" {
			name = cfg.Provider
		}
		key := fmt.Sprintf("mapping %d (%s)", i+1, m.SecretName)
		if name == "" {
			cerr.add(m.Line, key, "no provider: set [vault] provider in the configuration or pass --provider (one of %s)", strings.Join(s.registry().Known(), ", "))
			continue
		}
		if _, err := s.registry().Lookup(name); err != nil {
			cerr.add(m.Line, key, "%v", err)
			continue
		}
		s.mappings = append(s.mappings, m)
		s.providerOf = append(s.providerOf, name)
	}
	if len(cerr.Problems) > 0 {
		return nil, cerr
	}
	return s, nil
}

// registry is where the Syncer looks providers up: Options.Providers, else
// provider.Default().
func (s *Syncer) registry() *provider.Registry {
	if s.opts.Providers != nil {
		return s.opts.Providers
	}
	return provider.Default()
}

// defaultProvider is the provider of mappings that do not name one.
func (s *Syncer) defaultProvider() string {
	if s.opts.Provider != "" {
		return s.opts.Provider
	}
	return s.cfg.Provider
}

// Mappings returns the mappings this Syncer will sync, after profile
// filtering, in configuration order.
func (s *Syncer) Mappings() []Mapping { return append([]Mapping(nil), s.mappings...) }

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

// runState is the state of one Sync call.
type runState struct {
	s        *Syncer
	rows     []*Row
	start    time.Time
	provMu   sync.Mutex
	provs    map[string]provider.Provider
	provErr  map[string]error
	cleaned  sync.Map // folders whose stale temp files were cleaned
	warnings []string

	// completed receives each row's index once the row is final.
	completed chan int
	// applySlots bounds the jobs being applied at once (the concurrency, at
	// least minApplyConcurrency); applying tracks them. checkSlots bounds the rows whose checks run at
	// once to the fetch concurrency: a check may start a dotenvx process.
	applySlots chan struct{}
	checkSlots chan struct{}
	applying   sync.WaitGroup
	// commits writes the keys files (see durable.Committer).
	commits *durable.Committer
}

// Sync fetches every selected mapping's secret and brings each folder's
// keys file in line with it. Row-level failures are reported in the Result
// (see Result.Err); the returned error is non-nil only when the whole run
// could not proceed, such as a cancelled context, in which case the Result
// still holds the rows that finished.
func (s *Syncer) Sync(ctx context.Context) (*Result, error) {
	st := &runState{s: s, start: time.Now(), provs: map[string]provider.Provider{}, provErr: map[string]error{}}
	n := len(s.mappings)
	st.rows = make([]*Row, n)
	st.completed = make(chan int, n)
	// Preparing a row is local I/O (a stat, reading the env file); do it
	// for many rows at once so that the first fetch starts sooner.
	pg := new(errgroup.Group)
	pg.SetLimit(4 * runtime.GOMAXPROCS(0))
	for i, m := range s.mappings {
		pg.Go(func() error {
			st.rows[i] = s.prepare(i, m)
			return nil
		})
	}
	_ = pg.Wait()
	jobs := map[fetchKey]*fetchJob{}
	var order []*fetchJob
	for i, m := range s.mappings {
		row := st.rows[i]
		if row.Action == ActionError || row.Action == ActionSkipped {
			st.completed <- i
			continue
		}
		k := fetchKey{provider: s.providerOf[i], ref: provider.Ref{Vault: row.Vault, Name: m.SecretName}}
		j, ok := jobs[k]
		if !ok {
			j = &fetchJob{key: k}
			jobs[k] = j
			order = append(order, j)
		}
		j.rows = append(j.rows, i)
	}

	reported := make(chan struct{})
	go st.report(reported)

	limit := defaultConcurrency(s.opts, s.cfg)
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
	st.closeProviders()

	res := &Result{Rows: st.rows}
	for _, w := range s.cfg.Warnings {
		res.Warnings = append(res.Warnings, w.String())
	}
	res.Warnings = append(res.Warnings, st.warnings...)
	res.summarize()
	if s.opts.Reporter != nil {
		s.opts.Reporter.Done(res)
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("sync interrupted: %w", err)
	}
	return res, nil
}

// prepare resolves a mapping's paths and settles the rows that need no
// fetch: a missing folder is an error; a missing env file is skipped (except
// under Verify, and for ephemeral mappings, which still fetch).
func (s *Syncer) prepare(i int, m Mapping) *Row {
	cfg := s.cfg
	dir := m.FolderPath
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(cfg.Dir, dir)
	}
	envFile := m.EnvFile
	if envFile == "" {
		envFile = ".env." + m.Environment
	}
	vault := m.VaultName
	if vault == "" {
		vault = cfg.DefaultVaultName
	}
	row := &Row{
		Index: i, Folder: m.FolderPath, Dir: dir, Provider: s.providerOf[i], Vault: vault,
		Secret: provider.Ref{Vault: vault, Name: m.SecretName}.String(), Environment: m.Environment,
		EnvFile: filepath.Join(dir, envFile), KeysFile: filepath.Join(dir, cfg.EnvKeysFilename),
	}
	privName, _ := dotenvx.KeyNames(envFile)
	row.KeyName = privName
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.fail(row, fmt.Errorf("%w: %s (%s)", ErrFolderMissing, m.FolderPath, dir))
		return row
	case err != nil:
		s.fail(row, fmt.Errorf("folder %s: %w", dir, err))
		return row
	case !st.IsDir():
		s.fail(row, fmt.Errorf("%w: %s is not a directory (%s)", ErrFolderMissing, m.FolderPath, dir))
		return row
	}
	if err := s.checkFolder(m, dir); err != nil {
		s.fail(row, err)
		return row
	}
	if est, err := os.Stat(row.EnvFile); err == nil && !est.Mode().IsRegular() && !est.IsDir() {
		// A FIFO or a device: reading it could block forever, or take data
		// meant for the service.
		s.fail(row, fmt.Errorf("env file: %s is not a regular file", row.EnvFile))
		return row
	}
	f, err := dotenvx.ReadFile(row.EnvFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !s.opts.Verify && !m.EphemeralKeys {
			row.Action = ActionSkipped
			row.Message = fmt.Sprintf("no %s in %s", envFile, m.FolderPath)
		}
	case err != nil:
		s.fail(row, fmt.Errorf("env file: %w", err))
	default:
		if name, _, ok := f.PublicKey(); ok {
			row.KeyName = strings.Replace(name, "DOTENV_PUBLIC_KEY", "DOTENV_PRIVATE_KEY", 1)
		}
	}
	return row
}

func (s *Syncer) fail(row *Row, err error) {
	row.Action = ActionError
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
	case errors.Is(err, ErrMismatch):
		return "mismatch"
	case errors.Is(err, ErrFolderMissing):
		return "folder_missing"
	case errors.Is(err, ErrUnsafePath):
		return "unsafe_path"
	case errors.Is(err, ErrPanic):
		return "panic"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded) && !errors.As(err, new(*provider.Error)):
		// A provider's own request timeout keeps the provider's kind
		// (unavailable), as its message says; only a deadline on the
		// whole run is a cancellation.
		return "cancelled"
	}
	if k := provider.KindOf(err); k != provider.KindUnknown {
		return strings.ReplaceAll(k.String(), " ", "_")
	}
	return "error"
}

// plan turns the fetch jobs into tasks for the worker pool: one per secret,
// or one per batch of up to BatchSize secrets of one vault for providers
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
		p, err := st.provider(ctx, j.key.provider)
		if err == nil {
			if _, ok := p.(provider.BatchFetcher); ok {
				g := group{j.key.provider, j.key.ref.Vault}
				if _, seen := batches[g]; !seen {
					batchOrder = append(batchOrder, g)
				}
				batches[g] = append(batches[g], j)
				continue
			}
		}
		tasks = append(tasks, func(ctx context.Context) { st.fetchOne(ctx, j) })
	}
	for _, g := range batchOrder {
		js := batches[g]
		for len(js) > 0 {
			chunk := js[:min(BatchSize, len(js))]
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

// provider opens (once per run) the provider registered under name.
func (st *runState) provider(ctx context.Context, name string) (provider.Provider, error) {
	st.provMu.Lock()
	defer st.provMu.Unlock()
	if p, ok := st.provs[name]; ok {
		return p, nil
	}
	if err, ok := st.provErr[name]; ok {
		return nil, err
	}
	d, _ := st.s.registry().Lookup(name) // New checked it exists
	opts := st.s.opts.Overrides
	opts.BaseDir = st.s.cfg.Dir
	if name != st.s.defaultProvider() {
		// --vault-url names one vault of the default provider; a mapping
		// that picks another provider uses that provider's own table.
		opts.URL = ""
	}
	p, err := openProvider(ctx, d, name, st.s.cfg.Settings[name], opts)
	if err != nil {
		if provider.KindOf(err) == provider.KindUnknown {
			err = provider.NewError(provider.KindInvalid, name, provider.Ref{}, err.Error(), err)
		}
		st.provErr[name] = err
		return nil, err
	}
	st.provs[name] = p
	return p, nil
}

func (st *runState) closeProviders() {
	st.provMu.Lock()
	defer st.provMu.Unlock()
	for _, p := range st.provs {
		if n, ok := p.(provider.Noticer); ok {
			st.warnings = append(st.warnings, n.Notices()...)
		}
		if c, ok := p.(provider.Closer); ok {
			_ = c.Close()
		}
	}
}

func (st *runState) fetchOne(ctx context.Context, j *fetchJob) {
	var sec provider.Secret
	p, err := st.provider(ctx, j.key.provider)
	if err == nil {
		if err = ctx.Err(); err == nil {
			sec, err = fetchSafely(ctx, p, j.key)
		}
	}
	st.finish(ctx, j, sec, err)
}

func (st *runState) fetchBatch(ctx context.Context, js []*fetchJob) {
	p, err := st.provider(ctx, js[0].key.provider)
	if err != nil {
		for _, j := range js {
			st.finish(ctx, j, provider.Secret{}, err)
		}
		return
	}
	refs := make([]provider.Ref, len(js))
	for i, j := range js {
		refs[i] = j.key.ref
	}
	results := fetchBatchSafely(ctx, p.(provider.BatchFetcher), js[0].key.provider, refs)
	for i, j := range js {
		r := provider.Result{Err: fmt.Errorf("%s: batch returned no result for %s", j.key.provider, j.key.ref)}
		if i < len(results) {
			r = results[i]
		}
		st.finish(ctx, j, r.Secret, r.Err)
	}
}

// finish applies a fetched secret to every row that asked for it. The rows
// are applied (compared, written, checked) on a goroutine of their own, so
// the fetch worker takes the next request as soon as this response is in:
// writing a keys file no longer holds a fetch slot. At most
// max(concurrency, minApplyConcurrency) jobs are applied at once.
func (st *runState) finish(ctx context.Context, j *fetchJob, sec provider.Secret, err error) {
	st.applySlots <- struct{}{}
	st.applying.Add(1)
	go func() {
		defer func() {
			<-st.applySlots
			st.applying.Done()
		}()
		for _, i := range j.rows {
			row := st.rows[i]
			started := time.Now()
			st.s.applySafely(ctx, st, row, st.s.mappings[i], sec, err)
			row.Duration = time.Since(started)
			st.completed <- i
		}
	}()
}

// report hands rows to the Reporter in configuration order, each once it
// and every row before it are final, and after each completion tells a
// ProgressReporter how many rows are final, whatever order they finish in.
// It is the only goroutine that calls the Reporter during a sync. Every row
// completes, also once ctx is cancelled: fetches and writes then fail fast.
func (st *runState) report(done chan<- struct{}) {
	defer close(done)
	authFailed := map[string]string{}
	progress, _ := st.s.opts.Reporter.(ProgressReporter)
	final := make([]bool, len(st.rows))
	next := 0
	for finished := 1; finished <= len(st.rows); finished++ {
		final[<-st.completed] = true
		for ; next < len(st.rows) && final[next]; next++ {
			row := st.rows[next]
			if row.ErrorKind == "unauthenticated" {
				if first, ok := authFailed[row.Provider]; ok {
					row.Message = fmt.Sprintf("%s: authentication failed (same as %s above)", row.Provider, first)
				} else {
					authFailed[row.Provider] = row.Folder
				}
			}
			if st.s.opts.Reporter != nil {
				st.s.opts.Reporter.Row(row)
			}
		}
		if progress != nil {
			progress.Progress(finished, len(st.rows))
		}
	}
}

// ProgressReporter is an optional extension of Reporter told, after each
// row completes, how many rows are done. Rows complete in any order, so a
// slow first mapping does not hold the count back while the others finish;
// Reporter.Row still comes in configuration order.
type ProgressReporter interface {
	Progress(done, total int)
}

// apply settles one row once its secret is fetched: compare with the local
// key, write if needed, then run the requested checks.
func (s *Syncer) apply(ctx context.Context, st *runState, row *Row, m Mapping, sec provider.Secret, fetchErr error) {
	if fetchErr != nil {
		s.fail(row, fetchErr)
		return
	}
	key, err := ParseSecret(sec.Value, row.KeyName)
	if err != nil {
		s.fail(row, fmt.Errorf("secret %s: %w", row.Secret, err))
		return
	}
	row.Key = &key
	row.VaultPublicKey = key.PublicKeys()[0]
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
		same = err == nil && localKey.Equal(key)
		switch {
		case err != nil:
			row.LocalNote = fmt.Sprintf("<not a valid key, %d chars>", len(local))
		case same:
			row.LocalPublicKey = row.VaultPublicKey // same key: no second derivation
		default:
			row.LocalPublicKey = localKey.PublicKeys()[0]
		}
	}
	base := filepath.Base(row.KeysFile)
	switch {
	case same:
		row.Action = ActionSkipped
		row.Message = "values match"
		return key
	case !found && s.opts.Verify:
		s.fail(row, fmt.Errorf("%w: %s has no %s (a sync would create it)", ErrMismatch, base, row.KeyName))
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
		s.fail(row, fmt.Errorf("%w: value mismatch detected", ErrMismatch))
		return localKey
	case s.opts.Force:
	case s.opts.Prompter != nil:
		ok, err := s.ask(ctx, row)
		if err != nil {
			s.fail(row, fmt.Errorf("%w: no answer to the prompt (%v); rerun with --force to replace it", ErrMismatch, err))
			return localKey
		}
		if !ok {
			row.Action = ActionSkipped
			row.Message = "mismatch kept: update declined"
			return localKey
		}
	default:
		s.fail(row, fmt.Errorf("%w: the local key differs from the vault; rerun with --force to replace it (a backup is kept)", ErrMismatch))
		return localKey
	}
	if err := s.write(ctx, st, kf, row, key, true); err != nil {
		s.fail(row, err)
		return localKey
	}
	row.Action = ActionUpdated
	row.Message = fmt.Sprintf("replaced %s in %s", row.KeyName, base)
	return key
}

func (s *Syncer) ask(ctx context.Context, row *Row) (bool, error) {
	s.promptMu.Lock()
	defer s.promptMu.Unlock()
	local := row.LocalNote
	if local == "" {
		local = "public " + dotenvx.ShortPublicKey(row.LocalPublicKey)
	}
	return s.opts.Prompter.ConfirmReplace(ctx, Mismatch{
		Folder: row.Folder, Secret: row.Secret, KeyName: row.KeyName, KeysFile: row.KeysFile,
		Local: local, Vault: "public " + dotenvx.ShortPublicKey(row.VaultPublicKey),
	})
}

// write merges key into the keys file and replaces it atomically, after a
// backup when backup is set. It never writes once ctx is cancelled.
func (s *Syncer) write(ctx context.Context, st *runState, kf *keysFile, row *Row, key Key, backup bool) error {
	data, err := MergeKey(kf.data, row.KeyName, key.Reveal(), filepath.Base(row.EnvFile))
	if err != nil {
		return fmt.Errorf("%s: %w", kf.path, err)
	}
	if len(data) > MaxKeysFileSize {
		// Never write a file the next run would refuse to read.
		return fmt.Errorf("%s would be %d bytes, over the %d-byte limit for keys files", kf.path, len(data), MaxKeysFileSize)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("not written: %w", err)
	}
	if backup && kf.exists {
		name, err := durable.Backup(kf.path, kf.data, keysFileMode, s.now())
		if err != nil {
			return err
		}
		row.BackupPath = name
	}
	return st.commits.WriteFile(kf.path, data, keysFileMode)
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
	if key.IsZero() {
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
// Source, first set wins: the mapping's own schema, Options.SchemaPath
// (--schema), [vault.sync] schema.
//
// A relative path is looked up in these directories, and the first that
// holds a file of that name wins: Options.ServiceDir (--service-dir) when
// set; the mapping's folder; the configuration's directory; and, for a path
// given as Options.SchemaPath only, the working directory. When none holds
// it, the path is returned under ServiceDir when set, else under the
// directory its source is relative to (the working directory for
// SchemaPath, the configuration's directory otherwise), so that the
// validator's "cannot read" error names it.
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
