package envdrift

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/provider"
	_ "github.com/envdrift/envdrift/provider/file"
)

// memProvider is an in-memory provider for the Syncer's tests: it counts
// fetches, can be slowed down, and can fail on demand.
type memProvider struct {
	mu      sync.Mutex
	secrets map[string]string
	errs    map[string]error
	fetches atomic.Int64
	delay   time.Duration
}

// memSettings is the [vault.mem] table.
type memSettings struct {
	Store string `toml:"store"`
}

// memDriver returns a driver named "mem" whose providers are p.
func memDriver(p *memProvider) provider.Driver {
	return provider.NewDriver("mem", func(_ context.Context, _ *memSettings, _ provider.Options) (provider.Provider, error) {
		return p, nil
	})
}

func (p *memProvider) Fetch(ctx context.Context, ref provider.Ref) (provider.Secret, error) {
	p.fetches.Add(1)
	if p.delay > 0 {
		select {
		case <-time.After(p.delay):
		case <-ctx.Done():
			return provider.Secret{}, provider.NewError(provider.ErrUnavailable, "mem", ref, "cancelled", ctx.Err())
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err, ok := p.errs[ref.String()]; ok {
		return provider.Secret{}, err
	}
	v, ok := p.secrets[ref.String()]
	if !ok {
		return provider.Secret{}, provider.NewError(provider.ErrNotFound, "mem", ref, "no such secret", nil)
	}
	return provider.Secret{Value: []byte(v)}, nil
}

func (p *memProvider) set(ref, value string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.secrets[ref] = value
}

// world is a temporary project: a config directory with service folders
// and an in-memory vault, reached through the world's own registry.
type world struct {
	t     *testing.T
	dir   string
	vault *memProvider
	reg   *provider.Registry
	cfg   *Config
}

func newWorld(t *testing.T) *world {
	dir := t.TempDir()
	mp := &memProvider{secrets: map[string]string{}, errs: map[string]error{}}
	reg := new(provider.Registry)
	reg.Register(memDriver(mp))
	return &world{t: t, dir: dir, vault: mp, reg: reg, cfg: &Config{
		Dir: dir, Provider: "mem", EnvKeysFilename: ".env.keys",
		Settings: map[string]any{"mem": &memSettings{Store: dir}},
	}}
}

// options returns opts with the world's registry.
func (w *world) options(opts Options) Options {
	if opts.Providers == nil {
		opts.Providers = w.reg
	}
	return opts
}

// service creates folder with an env file declaring key's public key and
// one encrypted value, and returns the key.
func (w *world) service(folder, envFile string) *dotenvx.PrivateKey {
	k, err := dotenvx.GeneratePrivateKey(rand.Reader)
	require.NoError(w.t, err)
	_, pubName := dotenvx.KeyNames(envFile)
	enc, err := dotenvx.Encrypt(k.PublicKey(), "s3cret")
	require.NoError(w.t, err)
	writeFile(w.t, filepath.Join(w.dir, folder, envFile), fmt.Sprintf("%s=\"%s\"\nAPI_TOKEN=%s\n", pubName, k.PublicKey().Hex(), enc))
	return k
}

func (w *world) mapping(secret, folder string, mods ...func(*Mapping)) {
	m := Mapping{SecretName: secret, FolderPath: folder, Environment: "production"}
	for _, f := range mods {
		f(&m)
	}
	w.cfg.Mappings = append(w.cfg.Mappings, m)
}

func (w *world) sync(opts Options) *Result {
	w.t.Helper()
	s, err := New(w.cfg, w.options(opts))
	require.NoError(w.t, err)
	res, err := s.Sync(context.Background())
	require.NoError(w.t, err)
	return res
}

func (w *world) keysFile(folder string) string {
	b, err := os.ReadFile(filepath.Join(w.dir, folder, ".env.keys"))
	if err != nil {
		return ""
	}
	return string(b)
}

func TestSync_CreatesKeysFileWithDotenvxLayoutAndMode0600(t *testing.T) {
	w := newWorld(t)
	k := w.service("svc", ".env.production")
	w.vault.set("api-key", k.Hex())
	w.mapping("api-key", "svc")
	res := w.sync(Options{})
	require.True(t, (res.Err() == nil), "%v", res.Err())
	row := res.Rows[0]
	assert.Equal(t, ActionCreated, row.Action)
	assert.Equal(t, "DOTENV_PRIVATE_KEY_PRODUCTION", row.KeyName)
	assert.Equal(t, k.PublicKey().Hex(), row.VaultPublicKey)
	assert.Equal(t, keysFileHeader+"\n# .env.production\nDOTENV_PRIVATE_KEY_PRODUCTION="+k.Hex()+"\n", w.keysFile("svc"))
	st, err := os.Stat(filepath.Join(w.dir, "svc", ".env.keys"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	assert.Equal(t, Summary{Processed: 1, Created: 1}, res.Summary)
}

func TestSync_SecondRunSkipsMatchingKeys(t *testing.T) {
	w := newWorld(t)
	k := w.service("svc", ".env.production")
	w.vault.set("api-key", "DOTENV_PRIVATE_KEY_PRODUCTION="+k.Hex())
	w.mapping("api-key", "svc")
	w.sync(Options{})
	before := w.keysFile("svc")
	res := w.sync(Options{})
	assert.Equal(t, ActionSkipped, res.Rows[0].Action)
	assert.Equal(t, "values match", res.Rows[0].Message)
	assert.Equal(t, before, w.keysFile("svc"))
	assert.Equal(t, k.PublicKey().Hex(), res.Rows[0].VaultPublicKey)
	assert.Equal(t, k.PublicKey().Hex(), res.Rows[0].LocalPublicKey, "a skipped row names the local public key too")
}

func TestSync_AddsAKeyToAnExistingFileKeepingItsLines(t *testing.T) {
	w := newWorld(t)
	k := w.service("svc", ".env.staging")
	existing := "# my notes\r\nDOTENV_PRIVATE_KEY_PRODUCTION=" + strings.Repeat("1", 64) + "\r\n"
	writeFile(t, filepath.Join(w.dir, "svc", ".env.keys"), existing)
	w.vault.set("stg", k.Hex())
	w.mapping("stg", "svc", func(m *Mapping) { m.Environment = "staging" })
	res := w.sync(Options{})
	require.True(t, (res.Err() == nil), "%v", res.Err())
	assert.Equal(t, ActionCreated, res.Rows[0].Action)
	assert.Equal(t, existing+"\r\n# .env.staging\r\nDOTENV_PRIVATE_KEY_STAGING="+k.Hex()+"\r\n", w.keysFile("svc"))
	require.Len(t, res.Rows[0].Warnings, 1, "the 0644 keys file is reported")
	assert.Contains(t, res.Rows[0].Warnings[0], "readable by group or others")
}

func TestSync_MissingFolderIsAnErrorRow(t *testing.T) {
	w := newWorld(t)
	w.vault.set("k", newKey(t))
	w.mapping("k", "nope")
	res := w.sync(Options{})
	assert.Equal(t, ActionError, res.Rows[0].Action)
	assert.ErrorIs(t, res.Rows[0].Err, ErrFolderMissing)
	assert.Equal(t, "folder_missing", res.Rows[0].ErrorKind)
	assert.Zero(t, w.vault.fetches.Load(), "nothing is fetched for a missing folder")
	assert.ErrorIs(t, res.Err(), ErrFolderMissing)
	var re *RowError
	require.ErrorAs(t, res.Err(), &re)
	assert.Equal(t, "nope", re.Folder)
}

func TestSync_MissingEnvFileIsSkippedButVerifyStillFetches(t *testing.T) {
	w := newWorld(t)
	require.NoError(t, os.Mkdir(filepath.Join(w.dir, "svc"), 0o755))
	w.vault.set("k", newKey(t))
	w.mapping("k", "svc")
	res := w.sync(Options{})
	assert.Equal(t, ActionSkipped, res.Rows[0].Action)
	assert.Equal(t, "no .env.production in svc", res.Rows[0].Message)
	assert.Zero(t, w.vault.fetches.Load())
	assert.Empty(t, w.keysFile("svc"))

	// --verify agrees: the folder is skipped too, after the secret is
	// probed (a missing or unusable secret stays an error).
	res = w.sync(Options{Verify: true})
	assert.Equal(t, int64(1), w.vault.fetches.Load())
	assert.Equal(t, ActionSkipped, res.Rows[0].Action, res.Rows[0].Message)
	assert.Equal(t, reasonNoEnvFile, res.Rows[0].Reason)
	assert.Equal(t, "no .env.production in svc; the vault secret holds a valid key", res.Rows[0].Message)
	assert.NotContains(t, res.Rows[0].Message, "would create")
	assert.Equal(t, 1, res.Summary.NoEnvFile)
	assert.Zero(t, res.Summary.Skipped)

	w.vault.set("k", "not a key")
	res = w.sync(Options{Verify: true})
	assert.Equal(t, ActionError, res.Rows[0].Action)
	assert.ErrorIs(t, res.Rows[0].Err, ErrInvalidSecret)
}

func TestSync_VerifyMismatchIsErrorAndWritesNothing(t *testing.T) {
	w := newWorld(t)
	k := w.service("svc", ".env.production")
	w.vault.set("k", k.Hex())
	w.mapping("k", "svc")
	w.sync(Options{})
	// The team rotates the key: the env file is re-encrypted, the vault
	// holds the new key, this checkout still has the old one.
	other := w.service("svc", ".env.production").Hex()
	w.vault.set("k", other)
	before := w.keysFile("svc")
	res := w.sync(Options{Verify: true})
	row := res.Rows[0]
	assert.Equal(t, ActionError, row.Action)
	assert.ErrorIs(t, row.Err, ErrMismatch)
	assert.Contains(t, row.Message, "DOTENV_PRIVATE_KEY_PRODUCTION in .env.keys is another key")
	assert.Equal(t, k.PublicKey().Hex(), row.LocalPublicKey)
	assert.NotEqual(t, row.LocalPublicKey, row.VaultPublicKey)
	assert.Equal(t, before, w.keysFile("svc"))
	assert.NotContains(t, row.Message, other[:8])
}

func TestSync_NonInteractiveMismatchNamesOptionsForce(t *testing.T) {
	w := newWorld(t)
	k := w.service("svc", ".env.production")
	writeFile(t, filepath.Join(w.dir, "svc", ".env.keys"), "DOTENV_PRIVATE_KEY_PRODUCTION="+newKey(t)+"\n")
	before := w.keysFile("svc")
	w.vault.set("k", k.Hex())
	w.mapping("k", "svc")
	res := w.sync(Options{})
	assert.Equal(t, ActionError, res.Rows[0].Action)
	assert.ErrorIs(t, res.Rows[0].Err, ErrMismatch)
	assert.Contains(t, res.Rows[0].Message, "use Options.Force to replace it")
	assert.NotContains(t, res.Rows[0].Message, "--force", "library text names options, not flags")
	assert.Equal(t, before, w.keysFile("svc"))
}

func TestSync_ForceUpdatesAfterABackup(t *testing.T) {
	w := newWorld(t)
	k := w.service("svc", ".env.production").Hex()
	old := "# keep me\nDOTENV_PRIVATE_KEY_PRODUCTION=" + newKey(t) + "\nOTHER=1\n"
	writeFile(t, filepath.Join(w.dir, "svc", ".env.keys"), old)
	w.vault.set("k", k)
	w.mapping("k", "svc")
	now := time.Date(2024, 1, 15, 14, 30, 22, 0, time.Local)
	res := w.sync(Options{Force: true, Now: func() time.Time { return now }})
	row := res.Rows[0]
	require.Equal(t, ActionUpdated, row.Action, row.Message)
	assert.Equal(t, filepath.Join(w.dir, "svc", ".env.keys.backup.20240115_143022"), row.BackupPath)
	backup, err := os.ReadFile(row.BackupPath)
	require.NoError(t, err)
	assert.Equal(t, old, string(backup))
	st, _ := os.Stat(row.BackupPath)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	assert.Equal(t, "# keep me\nDOTENV_PRIVATE_KEY_PRODUCTION="+k+"\nOTHER=1\n", w.keysFile("svc"))
	assert.Equal(t, 1, res.Summary.Updated)
}

// scriptedPrompter answers from a list; an error answer ends the script.
type scriptedPrompter struct {
	answers []any // bool or error
	asked   []Row
}

func (p *scriptedPrompter) ConfirmReplace(_ context.Context, r *Row) (bool, error) {
	p.asked = append(p.asked, *r)
	if len(p.answers) == 0 {
		return false, errors.New("EOF")
	}
	a := p.answers[0]
	p.answers = p.answers[1:]
	if err, ok := a.(error); ok {
		return false, err
	}
	return a.(bool), nil
}

func TestSync_InteractivePromptYesNoAndEOF(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answer  any
		action  Action
		written bool
	}{
		{"yes", true, ActionUpdated, true},
		{"no", false, ActionDeclined, false},
		{"eof", errors.New("stdin closed"), ActionError, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			vaultKey := w.service("svc", ".env.production").Hex()
			localKey := newKey(t)
			writeFile(t, filepath.Join(w.dir, "svc", ".env.keys"), "DOTENV_PRIVATE_KEY_PRODUCTION="+localKey+"\n")
			w.vault.set("k", vaultKey)
			w.mapping("k", "svc")
			p := &scriptedPrompter{answers: []any{tc.answer}}
			res := w.sync(Options{Prompter: p})
			assert.Equal(t, tc.action, res.Rows[0].Action, res.Rows[0].Message)
			require.Len(t, p.asked, 1)
			m := p.asked[0]
			assert.Equal(t, "svc", m.Folder)
			assert.Equal(t, "DOTENV_PRIVATE_KEY_PRODUCTION", m.KeyName)
			assert.Equal(t, "svc/.env.keys", filepath.Join(filepath.Base(filepath.Dir(m.KeysFile)), filepath.Base(m.KeysFile)))
			assert.NotEmpty(t, m.LocalPublicKey)
			assert.NotEmpty(t, m.VaultPublicKey)
			for _, s := range []string{m.LocalPublicKey, m.VaultPublicKey, m.Message} {
				assert.NotContains(t, s, localKey[:8])
				assert.NotContains(t, s, vaultKey[:8])
			}
			if tc.written {
				assert.Contains(t, w.keysFile("svc"), vaultKey)
			} else {
				assert.Contains(t, w.keysFile("svc"), localKey)
			}
			switch tc.name {
			case "eof":
				assert.ErrorIs(t, res.Rows[0].Err, ErrMismatch)
				assert.Contains(t, res.Rows[0].Message, "got no answer")
			case "no":
				assert.Equal(t, 1, res.Summary.Declined)
				assert.Zero(t, res.Summary.Skipped, "a declined update is not counted as in sync")
				assert.NoError(t, res.Err(), "declining is not a failure")
			}
		})
	}
}

func TestSync_EphemeralKeysAreReturnedNeverWritten(t *testing.T) {
	w := newWorld(t)
	k := w.service("svc", ".env.production")
	w.vault.set("k", k.Hex())
	w.mapping("k", "svc", func(m *Mapping) { m.EphemeralKeys = true })
	res := w.sync(Options{})
	row := res.Rows[0]
	assert.Equal(t, ActionEphemeral, row.Action)
	require.NotNil(t, row.Key)
	assert.Equal(t, k.Hex(), row.Key.Reveal())
	assert.NoFileExists(t, filepath.Join(w.dir, "svc", ".env.keys"))
	assert.True(t, (res.Err() == nil))
	assert.Equal(t, 1, res.Summary.Ephemeral)
}

func TestSync_ProfileSelectsMappings(t *testing.T) {
	w := newWorld(t)
	for _, f := range []string{"a", "b", "c"} {
		w.vault.set(f, w.service(f, ".env.production").Hex())
	}
	w.mapping("a", "a")
	w.mapping("b", "b", func(m *Mapping) { m.Profile = "dev" })
	w.mapping("c", "c", func(m *Mapping) { m.Profile = "prod" })
	folders := func(res *Result) []string {
		var out []string
		for _, r := range res.Rows {
			out = append(out, r.Folder)
		}
		return out
	}
	assert.Equal(t, []string{"a"}, folders(w.sync(Options{Force: true})))
	assert.Equal(t, []string{"a", "b"}, folders(w.sync(Options{Force: true, Profile: "dev"})))
	assert.Equal(t, []string{"a", "c"}, folders(w.sync(Options{Force: true, Profile: "prod"})))
}

func TestNew_ProfileThatNoMappingHasIsAnErrorEvenWithUnprofiledMappings(t *testing.T) {
	w := newWorld(t)
	w.vault.set("a", w.service("a", ".env.production").Hex())
	w.mapping("a", "a")
	w.mapping("a", "b", func(m *Mapping) { m.Profile = "prod" })
	_, err := New(w.cfg, w.options(Options{Profile: "prdo"}))
	require.ErrorIs(t, err, ErrNoMappings)
	assert.Contains(t, err.Error(), `no mapping has profile "prdo"`)
	assert.Contains(t, err.Error(), "profiles: prod")
	assert.NoFileExists(t, filepath.Join(w.dir, "a", ".env.keys"), "nothing ran")
}

func TestSync_SharedSecretIsFetchedOnce(t *testing.T) {
	w := newWorld(t)
	k := newKey(t)
	w.vault.set("shared", k)
	for i := range 20 {
		folder := fmt.Sprintf("svc%d", i)
		require.NoError(t, os.Mkdir(filepath.Join(w.dir, folder), 0o755))
		writeFile(t, filepath.Join(w.dir, folder, ".env.production"), "A=1\n")
		w.mapping("shared", folder)
	}
	res := w.sync(Options{})
	require.True(t, (res.Err() == nil), "%v", res.Err())
	assert.Equal(t, int64(1), w.vault.fetches.Load())
	assert.Equal(t, 20, res.Summary.Created)
}

func TestSync_KeyNameFollowsThePublicKeyTheEnvFileDeclares(t *testing.T) {
	w := newWorld(t)
	k := newKey(t)
	kk, _ := ParseKey(k)
	writeFile(t, filepath.Join(w.dir, "svc", ".env.production"), `DOTENV_PUBLIC_KEY_PROD="`+kk.publicKeys()[0]+`"`+"\n")
	w.vault.set("k", "DOTENV_PRIVATE_KEY_PROD="+k)
	w.mapping("k", "svc")
	res := w.sync(Options{})
	require.True(t, (res.Err() == nil), "%v", res.Err())
	assert.Equal(t, "DOTENV_PRIVATE_KEY_PROD", res.Rows[0].KeyName)
	assert.Contains(t, w.keysFile("svc"), "DOTENV_PRIVATE_KEY_PROD="+k)
}

func TestSync_KeyNameForOddEnvFileNames(t *testing.T) {
	for envFile, want := range map[string]string{
		".env":                  "DOTENV_PRIVATE_KEY",
		".env.my-app":           "DOTENV_PRIVATE_KEY_MY-APP",
		".env.production.local": "DOTENV_PRIVATE_KEY_PRODUCTION_LOCAL",
		".env.ci":               "DOTENV_PRIVATE_KEY_CI",
	} {
		t.Run(envFile, func(t *testing.T) {
			w := newWorld(t)
			writeFile(t, filepath.Join(w.dir, "svc", envFile), "A=1\n")
			k := newKey(t)
			w.vault.set("k", k)
			w.mapping("k", "svc", func(m *Mapping) { m.EnvFile = envFile })
			res := w.sync(Options{})
			require.True(t, (res.Err() == nil), "%v", res.Err())
			assert.Equal(t, want, res.Rows[0].KeyName)
			assert.Contains(t, w.keysFile("svc"), "# "+envFile+"\n"+want+"="+k+"\n")
		})
	}
}

func TestSync_InvalidVaultPayloadIsAnErrorRowAndNothingIsWritten(t *testing.T) {
	w := newWorld(t)
	k := w.service("svc", ".env.production")
	w.vault.set("k", "DOTENV_PRIVATE_KEY_STAGING="+k.Hex())
	w.mapping("k", "svc")
	res := w.sync(Options{Force: true})
	assert.Equal(t, ActionError, res.Rows[0].Action)
	assert.Equal(t, "invalid_secret", res.Rows[0].ErrorKind)
	assert.Contains(t, res.Rows[0].Message, "labelled for another environment")
	assert.NoFileExists(t, filepath.Join(w.dir, "svc", ".env.keys"))
}

func TestSync_ProviderErrorIsAnErrorRowAndOthersStillSync(t *testing.T) {
	w := newWorld(t)
	ka := w.service("a", ".env.production")
	w.service("b", ".env.production")
	w.vault.set("a", ka.Hex())
	w.vault.errs["b"] = provider.NewError(provider.ErrPermissionDenied, "mem", provider.Ref{Name: "b"}, "AccessDenied: nope", nil).WithHint("grant read")
	w.mapping("a", "a")
	w.mapping("b", "b")
	res := w.sync(Options{})
	assert.Equal(t, ActionCreated, res.Rows[0].Action)
	assert.Equal(t, ActionError, res.Rows[1].Action)
	assert.Equal(t, "permission_denied", res.Rows[1].ErrorKind)
	assert.Contains(t, res.Rows[1].Message, "AccessDenied: nope (grant read)")
	assert.NoFileExists(t, filepath.Join(w.dir, "b", ".env.keys"))
}

// Every row keeps its own full message: explaining a shared cause once is
// the CLI's text output's job (JSON output and library callers see each
// row whole).
func TestSync_AuthenticationFailureKeepsItsMessageOnEveryRow(t *testing.T) {
	w := newWorld(t)
	for _, f := range []string{"a", "b", "c"} {
		w.service(f, ".env.production")
		w.vault.errs[f] = provider.NewError(provider.ErrUnauthenticated, "mem", provider.Ref{Name: f}, "token expired", nil).WithHint("log in again")
		w.mapping(f, f)
	}
	res := w.sync(Options{})
	assert.Contains(t, res.Rows[0].Message, "token expired (log in again)")
	for _, r := range res.Rows {
		assert.Contains(t, r.Message, "token expired (log in again)")
		assert.ErrorIs(t, r.Err, provider.ErrUnauthenticated)
	}
	assert.ErrorIs(t, res.Err(), provider.ErrUnauthenticated)
}

func TestSync_SymlinkAtTheKeysPathIsAnErrorRow(t *testing.T) {
	w := newWorld(t)
	k := w.service("svc", ".env.production")
	target := filepath.Join(t.TempDir(), "elsewhere")
	require.NoError(t, os.WriteFile(target, []byte("X=1\n"), 0o600))
	require.NoError(t, os.Symlink(target, filepath.Join(w.dir, "svc", ".env.keys")))
	w.vault.set("k", k.Hex())
	w.mapping("k", "svc")
	res := w.sync(Options{Force: true})
	assert.Equal(t, ActionError, res.Rows[0].Action)
	assert.ErrorIs(t, res.Rows[0].Err, ErrUnsafePath)
	got, _ := os.ReadFile(target)
	assert.Equal(t, "X=1\n", string(got), "the symlink target is untouched")
}

// recordingReporter records rows in the order it hears them.
type recordingReporter struct {
	mu       sync.Mutex
	rows     []int
	done     *Result
	updates  int
	plan     Plan
	requests []Request
}

func (r *recordingReporter) Row(row *Row) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows = append(r.rows, row.Index)
}
func (r *recordingReporter) Done(res *Result)     { r.done = res }
func (r *recordingReporter) Progress(done, _ int) { r.updates = done }
func (r *recordingReporter) Start(p Plan)         { r.plan = p }
func (r *recordingReporter) Request(q Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, q)
}

func TestSync_RowsAreReportedInConfigOrderDespiteConcurrency(t *testing.T) {
	w := newWorld(t)
	w.vault.delay = 5 * time.Millisecond
	for i := range 40 {
		folder := fmt.Sprintf("svc%02d", i)
		w.vault.set(folder, w.service(folder, ".env.production").Hex())
		w.mapping(folder, folder)
	}
	rep := &recordingReporter{}
	start := time.Now()
	res := w.sync(Options{Reporter: rep, Concurrency: 8})
	elapsed := time.Since(start)
	require.True(t, (res.Err() == nil), "%v", res.Err())
	want := make([]int, 40)
	for i := range want {
		want[i] = i
	}
	assert.Equal(t, want, rep.rows)
	assert.Same(t, res, rep.done)
	assert.Equal(t, 40, rep.updates)
	assert.Equal(t, Plan{Verb: "sync", Rows: 40, Requests: 40, Vaults: []Target{{Provider: "mem", Secrets: 40}}}, rep.plan)
	require.Len(t, rep.requests, 40, "one Request per fetch")
	for _, q := range rep.requests {
		assert.Equal(t, "mem", q.Provider)
		assert.Equal(t, "read", q.Op)
		assert.Len(t, q.Secrets, 1)
		assert.NoError(t, q.Err)
	}
	assert.Less(t, elapsed, 40*5*time.Millisecond, "fetches overlap")
}

func TestSync_TwoSyncersOnOneFolderLoseNoUpdate(t *testing.T) {
	w := newWorld(t)
	w.vault.delay = time.Millisecond
	var want []string
	envs := []string{"production", "staging", "ci", "dev", "qa", "uat", "perf", "demo"}
	for _, env := range envs {
		k := newKey(t)
		writeFile(t, filepath.Join(w.dir, "svc", ".env."+env), "A=1\n")
		w.vault.set(env, k)
		want = append(want, "DOTENV_PRIVATE_KEY_"+strings.ToUpper(env)+"="+k)
	}
	var wg sync.WaitGroup
	for _, env := range envs {
		cfg := *w.cfg
		cfg.Mappings = []Mapping{{SecretName: env, FolderPath: "svc", Environment: env}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := New(&cfg, w.options(Options{}))
			if !assert.NoError(t, err) {
				return
			}
			res, err := s.Sync(context.Background())
			if assert.NoError(t, err) {
				assert.NoError(t, res.Err())
			}
		}()
	}
	wg.Wait()
	got := w.keysFile("svc")
	for _, line := range want {
		assert.Contains(t, got, line+"\n")
	}
}

func TestSync_CancelledContextWritesNothing(t *testing.T) {
	w := newWorld(t)
	w.vault.delay = time.Second
	w.vault.set("k", w.service("svc", ".env.production").Hex())
	w.mapping("k", "svc")
	s, err := New(w.cfg, w.options(Options{}))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	res, err := s.Sync(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 500*time.Millisecond)
	require.NotNil(t, res)
	assert.Equal(t, ActionError, res.Rows[0].Action)
	assert.NoFileExists(t, filepath.Join(w.dir, "svc", ".env.keys"))
	ents, _ := os.ReadDir(filepath.Join(w.dir, "svc"))
	assert.Len(t, ents, 1, "no temporary file is left behind")
}

// keyRecorder is a Decrypter and SchemaValidator that records the key it
// was given.
type keyRecorder struct {
	mu   sync.Mutex
	keys map[string]string
}

func (r *keyRecorder) CheckDecryption(_ context.Context, envFile string, key Key) Check {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys[envFile] = key.Reveal()
	return Check{Status: CheckPassed}
}

func (r *keyRecorder) ValidateSchema(_ context.Context, envFile, schema string, _ Key) Check {
	if schema == "" {
		return Check{Status: CheckFailed, Detail: "no schema"}
	}
	return Check{Status: CheckPassed, Detail: filepath.Base(schema)}
}

func TestSync_ChecksUseTheKeyTheFolderEndsUpWith(t *testing.T) {
	w := newWorld(t)
	vault := w.service("svc", ".env.production").Hex()
	local := newKey(t)
	writeFile(t, filepath.Join(w.dir, "svc", ".env.keys"), "DOTENV_PRIVATE_KEY_PRODUCTION="+local+"\n")
	w.vault.set("k", vault)
	w.mapping("k", "svc", func(m *Mapping) { m.Schema = "svc.schema.json" })
	envFile := filepath.Join(w.dir, "svc", ".env.production")

	rec := &keyRecorder{keys: map[string]string{}}
	res := w.sync(Options{Verify: true, Decrypter: rec, Schema: rec})
	assert.Equal(t, local, rec.keys[envFile], "under --verify the local key is checked")
	assert.Equal(t, "svc.schema.json", res.Rows[0].Schema.Detail)

	res = w.sync(Options{Force: true, Decrypter: rec, Schema: rec})
	assert.Equal(t, vault, rec.keys[envFile], "after an update the vault key is checked")
	assert.Equal(t, CheckPassed, res.Rows[0].Decryption.Status)
	assert.Equal(t, 1, res.Summary.DecryptionPassed)
	assert.Equal(t, 1, res.Summary.SchemaValid)
}

func TestNew_RefusesMappingsWithoutAUsableProvider(t *testing.T) {
	w := newWorld(t)
	w.cfg.Provider = ""
	w.mapping("k", "svc")
	_, err := New(w.cfg, w.options(Options{}))
	assert.ErrorIs(t, err, ErrInvalidConfig)
	assert.Contains(t, err.Error(), "no provider")

	_, err = New(w.cfg, w.options(Options{Provider: "aws"}))
	assert.ErrorIs(t, err, ErrInvalidConfig)
	assert.Contains(t, err.Error(), "is not linked into this program (import github.com/envdrift/envdrift/provider/aws)")

	_, err = New(w.cfg, w.options(Options{Provider: "mem"}))
	assert.NoError(t, err, "--provider supplies the missing default")
}

func TestResult_ErrJoinsTheFailedRowsSoCallersCanBranchOnTheCause(t *testing.T) {
	notFound := provider.NewError(provider.ErrNotFound, "aws", provider.Ref{Name: "b-key"}, "no such secret", nil)
	res := &Result{Rows: []*Row{
		{Folder: "a", EnvFile: "/p/a/.env.production", Action: ActionCreated},
		{Folder: "b", EnvFile: "/p/b/.env.production", Secret: "b-key", Action: ActionError, Err: notFound},
		{Folder: "c", EnvFile: "/p/c/.env.staging", Action: ActionSkipped, Decryption: &Check{Status: CheckFailed, Detail: "1 of 2 encrypted values did not decrypt"}},
	}}
	res.summarize()
	err := res.Err()
	require.Error(t, err)
	assert.ErrorIs(t, err, provider.ErrNotFound)
	assert.ErrorIs(t, err, ErrCheckFailed)
	assert.NotErrorIs(t, err, provider.ErrUnauthenticated)
	var re *RowError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, RowError{Folder: "b", EnvFile: ".env.production", Secret: "b-key", Err: notFound}, *re)
	assert.Equal(t, "b (.env.production): aws: secret b-key: not found: no such secret\n"+
		"c (.env.staging): check failed: decryption: 1 of 2 encrypted values did not decrypt", err.Error())

	ok := &Result{Rows: []*Row{{Folder: "a", Action: ActionCreated}}}
	assert.NoError(t, ok.Err())
}

// urlSettings configures the url-a and url-b test providers, which record
// the URL override they are opened with.
type urlSettings struct{}

func TestSync_VaultURLOverrideGoesToTheDefaultProviderOnly(t *testing.T) {
	w := newWorld(t)
	var openedURL sync.Map // provider name → URL override
	for _, name := range []string{"url-a", "url-b"} {
		w.reg.Register(provider.NewDriver(name, func(_ context.Context, _ *urlSettings, o provider.Options) (provider.Provider, error) {
			openedURL.Store(name, o.URL)
			return &memProvider{secrets: map[string]string{}, errs: map[string]error{}}, nil
		}))
	}
	w.cfg.Provider = "url-a"
	w.service("a", ".env.production")
	w.service("b", ".env.production")
	w.mapping("k", "a")
	w.mapping("k", "b", func(m *Mapping) { m.Provider = "url-b" })
	w.sync(Options{Overrides: provider.Options{URL: "https://override.example/"}})
	a, _ := openedURL.Load("url-a")
	b, _ := openedURL.Load("url-b")
	assert.Equal(t, "https://override.example/", a)
	assert.Equal(t, "", b)
}

// overridable is a provider whose default vault can be overridden (as
// Azure's by --vault-url, AWS's by --region, GCP's by --project-id); it
// records the refs it is asked for.
type overridable struct {
	*memProvider
	overridden bool
	refs       []string
}

func (o *overridable) OverridesVault() bool { return o.overridden }

func (o *overridable) Fetch(ctx context.Context, ref provider.Ref) (provider.Secret, error) {
	o.mu.Lock()
	o.refs = append(o.refs, ref.String())
	o.mu.Unlock()
	return o.memProvider.Fetch(ctx, provider.Ref{Name: ref.Name})
}

func TestSync_AVaultNamedOnTheCommandLineWinsOverDefaultVaultName(t *testing.T) {
	w := newWorld(t)
	ov := &overridable{memProvider: w.vault}
	w.reg = new(provider.Registry)
	w.reg.Register(provider.NewDriver("mem", func(_ context.Context, _ *memSettings, o provider.Options) (provider.Provider, error) {
		ov.overridden = o.Region != ""
		return ov, nil
	}))
	w.cfg.DefaultVaultName = "from-config"
	w.vault.set("a", w.service("a", ".env.production").Hex())
	w.vault.set("b", w.service("b", ".env.production").Hex())
	w.mapping("a", "a")
	w.mapping("b", "b", func(m *Mapping) { m.VaultName = "own" })

	res := w.sync(Options{})
	require.NoError(t, res.Err())
	assert.ElementsMatch(t, []string{"from-config/a", "own/b"}, ov.refs, "without an override the configuration's default vault is used")

	ov.refs = nil
	res = w.sync(Options{Force: true, Overrides: provider.Options{Region: "eu-west-1"}})
	require.NoError(t, res.Err())
	assert.ElementsMatch(t, []string{"a", "own/b"}, ov.refs, "the override wins for the mapping without a vault of its own")
	assert.Equal(t, "", res.Rows[0].Vault)
	assert.Equal(t, "own", res.Rows[1].Vault)
}
