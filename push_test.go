package envdrift

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/file"
)

// memWriter is a memProvider that can be written to, like a store without
// conditional updates: Put checks Create atomically, nothing else.
type memWriter struct {
	*memProvider
	marked   map[string]bool
	pubs     map[string]string
	writes   atomic.Int64
	afterPut func(ref provider.Ref) // runs after each successful Put
}

func newMemWriter(mp *memProvider) *memWriter {
	return &memWriter{memProvider: mp, marked: map[string]bool{}, pubs: map[string]string{}}
}

func (w *memWriter) Current(ctx context.Context, ref provider.Ref) (provider.Current, error) {
	sec, err := w.Fetch(ctx, ref)
	if err != nil {
		return provider.Current{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return provider.Current{Secret: sec, Marked: w.marked[ref.String()], PublicKey: w.pubs[ref.String()]}, nil
}

func (w *memWriter) Put(_ context.Context, ref provider.Ref, req provider.PutRequest) (provider.PutResult, error) {
	w.writes.Add(1)
	w.mu.Lock()
	if _, exists := w.secrets[ref.String()]; exists && req.Create {
		w.mu.Unlock()
		return provider.PutResult{}, provider.NewError(provider.ErrConflict, "mem", ref, "already exists", nil)
	}
	w.secrets[ref.String()] = string(req.Value)
	if req.Mark {
		w.marked[ref.String()] = true
	}
	if req.PublicKey != "" {
		w.pubs[ref.String()] = req.PublicKey
	}
	w.mu.Unlock()
	if w.afterPut != nil {
		w.afterPut(ref)
	}
	return provider.PutResult{Checked: req.Create}, nil
}

// pushWorld is a world whose vault can be written to.
func pushWorld(t *testing.T) (*world, *memWriter) {
	w := newWorld(t)
	mw := newMemWriter(w.vault)
	w.reg = new(provider.Registry)
	w.reg.Register(provider.NewDriver("mem", func(context.Context, *memSettings, provider.Options) (provider.Provider, error) { return mw, nil }))
	return w, mw
}

// localKeys writes folder's .env.keys holding name=key.
func (w *world) localKeys(folder, name string, k *dotenvx.PrivateKey) {
	writeFile(w.t, filepath.Join(w.dir, folder, ".env.keys"), name+"="+k.Hex()+"\n")
}

func (w *world) push(opts Options) *Result {
	w.t.Helper()
	s, err := New(w.cfg, w.options(opts))
	require.NoError(w.t, err)
	res, err := s.Push(context.Background())
	require.NoError(w.t, err)
	return res
}

func TestPush_CreatesAMissingSecretMarkedWithItsPublicKeyThenIsANoOp(t *testing.T) {
	w, mw := pushWorld(t)
	k := w.service("svc", ".env.production")
	w.localKeys("svc", "DOTENV_PRIVATE_KEY_PRODUCTION", k)
	w.mapping("api-key", "svc")

	res := w.push(Options{})
	require.NoError(t, res.Err())
	row := res.Rows[0]
	assert.Equal(t, ActionCreated, row.Action, row.Message)
	assert.Equal(t, k.Hex(), mw.secrets["api-key"], "a new secret is the bare key by default")
	assert.True(t, mw.marked["api-key"])
	assert.Equal(t, k.PublicKey().Hex(), mw.pubs["api-key"])
	assert.Equal(t, int64(1), mw.writes.Load())

	res = w.push(Options{})
	require.NoError(t, res.Err())
	assert.Equal(t, ActionSkipped, res.Rows[0].Action)
	assert.Equal(t, reasonInSync, res.Rows[0].Reason)
	assert.Equal(t, int64(1), mw.writes.Load(), "a second push writes nothing")
}

func TestPush_TheSameKeyInAnotherShapeIsInStep(t *testing.T) {
	w, mw := pushWorld(t)
	k := w.service("svc", ".env.production")
	w.localKeys("svc", "DOTENV_PRIVATE_KEY_PRODUCTION", k)
	w.mapping("api-key", "svc")
	w.vault.set("api-key", `{"DOTENV_PRIVATE_KEY_PRODUCTION": "`+k.Hex()+`", "owner": "team-a"}`)
	res := w.push(Options{Update: true})
	assert.Equal(t, ActionSkipped, res.Rows[0].Action, res.Rows[0].Message)
	assert.Zero(t, mw.writes.Load())
}

func TestPush_MispairedLocalKeyIsNeverPublished(t *testing.T) {
	w, mw := pushWorld(t)
	w.service("svc", ".env.production")
	wrong, err := dotenvx.ParsePrivateKey(newKey(t))
	require.NoError(t, err)
	w.localKeys("svc", "DOTENV_PRIVATE_KEY_PRODUCTION", wrong)
	w.mapping("api-key", "svc")
	for _, opts := range []Options{{}, {Update: true}, {DryRun: true}} {
		res := w.push(opts)
		assert.ErrorIs(t, res.Err(), ErrMispaired)
		assert.Equal(t, "mispaired", res.Rows[0].ErrorKind)
		assert.Contains(t, res.Rows[0].Message, "the local key is for "+dotenvx.ShortPublicKey(wrong.PublicKey().Hex()))
	}
	assert.Zero(t, mw.writes.Load())
	assert.NotContains(t, mw.secrets, "api-key")
}

func TestPush_CreateOnlyRefusesASecretHoldingAnotherKey(t *testing.T) {
	w, mw := pushWorld(t)
	k := w.service("svc", ".env.production")
	w.localKeys("svc", "DOTENV_PRIVATE_KEY_PRODUCTION", k)
	w.mapping("api-key", "svc")
	other := newKey(t)
	w.vault.set("api-key", other)
	res := w.push(Options{})
	assert.ErrorIs(t, res.Err(), ErrMismatch)
	otherKey, _ := ParseKey(other)
	assert.Contains(t, res.Rows[0].Message, "the vault holds another key (public "+dotenvx.ShortPublicKey(otherKey.publicKeys()[0])+"); use Options.Update to replace it")
	assert.NotContains(t, res.Rows[0].Message, other[:8])
	assert.Equal(t, other, mw.secrets["api-key"])
	assert.Zero(t, mw.writes.Load())
}

func TestPush_UpdateReplacesOnlyUnderARuleThatMakesItSafe(t *testing.T) {
	t.Run("rotation: the vault key no longer pairs with the env file", func(t *testing.T) {
		w, mw := pushWorld(t)
		old := newKey(t)
		w.vault.set("api-key", "DOTENV_PRIVATE_KEY_PRODUCTION="+old)
		k := w.service("svc", ".env.production") // re-encrypted for the new key
		w.localKeys("svc", "DOTENV_PRIVATE_KEY_PRODUCTION", k)
		w.mapping("api-key", "svc")
		res := w.push(Options{Update: true})
		require.NoError(t, res.Err())
		assert.Equal(t, ActionUpdated, res.Rows[0].Action)
		assert.Contains(t, res.Rows[0].Message, "no longer pairs with .env.production (a rotation)")
		assert.Equal(t, "DOTENV_PRIVATE_KEY_PRODUCTION="+k.Hex(), mw.secrets["api-key"], "the NAME=key shape is kept")
		assert.False(t, mw.marked["api-key"], "a secret envdrift did not create is not claimed")
	})
	t.Run("marker: the secret was published by envdrift", func(t *testing.T) {
		w, mw := pushWorld(t)
		// The env file declares no public key, so only the marker can
		// make the replacement safe.
		writeFile(t, filepath.Join(w.dir, "svc", ".env.production"), "PLAIN=1\n")
		k, err := dotenvx.ParsePrivateKey(newKey(t))
		require.NoError(t, err)
		w.localKeys("svc", "DOTENV_PRIVATE_KEY_PRODUCTION", k)
		w.mapping("api-key", "svc")
		w.vault.set("api-key", newKey(t))
		res := w.push(Options{Update: true})
		assert.ErrorIs(t, res.Err(), ErrMismatch, "unmarked: refused")
		assert.Contains(t, res.Rows[0].Message, "has no envdrift marker: refusing to replace it")
		mw.marked["api-key"] = true
		res = w.push(Options{Update: true})
		require.NoError(t, res.Err())
		assert.Contains(t, res.Rows[0].Message, "the secret carries envdrift's marker")
		assert.Equal(t, k.Hex(), mw.secrets["api-key"])
	})
	t.Run("neither: a key that still pairs is never overwritten", func(t *testing.T) {
		w, mw := pushWorld(t)
		k := w.service("svc", ".env.production")
		w.vault.set("api-key", k.Hex()) // the right key
		local, err := dotenvx.ParsePrivateKey(newKey(t))
		require.NoError(t, err)
		// A local list whose first key is new but which also holds the
		// paired one: it pairs, and differs from the vault's value.
		writeFile(t, filepath.Join(w.dir, "svc", ".env.keys"), "DOTENV_PRIVATE_KEY_PRODUCTION="+local.Hex()+","+k.Hex()+"\n")
		w.mapping("api-key", "svc")
		res := w.push(Options{Update: true})
		assert.ErrorIs(t, res.Err(), ErrMismatch)
		assert.Contains(t, res.Rows[0].Message, "still pairs with .env.production")
		assert.Equal(t, k.Hex(), mw.secrets["api-key"])
		assert.Zero(t, mw.writes.Load())
	})
}

func TestPush_DryRunReportsThePlanAndWritesNothing(t *testing.T) {
	w, mw := pushWorld(t)
	for _, f := range []string{"new", "rotated", "same", "other"} {
		k := w.service(f, ".env.production")
		w.localKeys(f, "DOTENV_PRIVATE_KEY_PRODUCTION", k)
		w.mapping(f+"-key", f)
		switch f {
		case "rotated":
			w.vault.set(f+"-key", newKey(t))
		case "same":
			w.vault.set(f+"-key", k.Hex())
		}
	}
	// "other": the vault holds a key that still pairs — impossible to
	// replace safely; simulate by keeping the file unencrypted for it.
	writeFile(t, filepath.Join(w.dir, "other", ".env.production"), "PLAIN=1\n")
	w.vault.set("other-key", newKey(t))
	before := fmt.Sprint(mw.secrets)
	res := w.push(Options{Update: true, DryRun: true})
	var got []string
	for _, r := range res.Rows {
		got = append(got, r.Folder+" "+string(r.Action)+": "+r.Message)
	}
	assert.Equal(t, []string{
		"new created: would create new-key with DOTENV_PRIVATE_KEY_PRODUCTION",
		"rotated updated: would replace another key (public " + dotenvx.ShortPublicKey(res.Rows[1].VaultPublicKey) + "): the vault's key no longer pairs with .env.production (a rotation)",
		"same skipped: the vault already holds this key",
		"other error: local key differs from the vault: the vault holds another key (public " + dotenvx.ShortPublicKey(res.Rows[3].VaultPublicKey) + ") that still pairs with .env.production, and the secret has no envdrift marker: refusing to replace it",
	}, got)
	assert.Zero(t, mw.writes.Load(), "a dry run sends no write")
	assert.Equal(t, before, fmt.Sprint(mw.secrets))
}

func TestPush_AConcurrentChangeBetweenReadAndWriteIsReported(t *testing.T) {
	w, mw := pushWorld(t)
	old := newKey(t)
	w.vault.set("api-key", old)
	k := w.service("svc", ".env.production")
	w.localKeys("svc", "DOTENV_PRIVATE_KEY_PRODUCTION", k)
	w.mapping("api-key", "svc")
	intruder := newKey(t)
	mw.afterPut = func(ref provider.Ref) { w.vault.set(ref.String(), intruder) }
	res := w.push(Options{Update: true})
	assert.ErrorIs(t, res.Err(), provider.ErrConflict)
	assert.Equal(t, "conflict", res.Rows[0].ErrorKind)
	assert.Contains(t, res.Rows[0].Message, "changed by someone else")
	assert.NotContains(t, res.Rows[0].Message, intruder[:8])
}

func TestPush_NoLocalKeyIsAnError(t *testing.T) {
	w, mw := pushWorld(t)
	w.service("svc", ".env.production")
	w.mapping("api-key", "svc")
	res := w.push(Options{})
	assert.ErrorIs(t, res.Err(), ErrNoLocalKey)
	assert.Equal(t, "no_local_key", res.Rows[0].ErrorKind)
	assert.Zero(t, mw.writes.Load())
}

func TestPush_AReadOnlyProviderSaysSo(t *testing.T) {
	w := newWorld(t)
	k := w.service("svc", ".env.production")
	w.localKeys("svc", "DOTENV_PRIVATE_KEY_PRODUCTION", k)
	w.mapping("api-key", "svc")
	res := w.push(Options{})
	assert.ErrorIs(t, res.Err(), errors.ErrUnsupported)
	assert.Contains(t, res.Rows[0].Message, "cannot publish secrets")
}

// TestPush_ThenSyncOnACleanCheckoutRecreatesTheSameKeysFiles publishes
// through the real file provider, removes the keys files as a fresh clone
// has none, and syncs them back.
func TestPush_ThenSyncOnACleanCheckoutRecreatesTheSameKeysFiles(t *testing.T) {
	dir := t.TempDir()
	reg := new(provider.Registry)
	reg.Register(file.Driver())
	cfg := &Config{Dir: dir, Provider: "file", Settings: map[string]any{"file": &file.Settings{Path: "vault"}}}
	keysFiles := map[string]string{}
	for _, svc := range []string{"api", "web"} {
		k, err := dotenvx.GeneratePrivateKey(rand.Reader)
		require.NoError(t, err)
		enc, err := dotenvx.Encrypt(k.PublicKey(), "s3cret")
		require.NoError(t, err)
		writeFile(t, filepath.Join(dir, svc, ".env.production"), fmt.Sprintf("DOTENV_PUBLIC_KEY_PRODUCTION=%q\nTOKEN=%s\n", k.PublicKey().Hex(), enc))
		data, err := mergeKey(nil, "DOTENV_PRIVATE_KEY_PRODUCTION", k.Hex(), ".env.production")
		require.NoError(t, err)
		writeFile(t, filepath.Join(dir, svc, ".env.keys"), string(data))
		keysFiles[svc] = string(data)
		cfg.Mappings = append(cfg.Mappings, Mapping{SecretName: svc + "-key", FolderPath: svc})
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "vault"), 0o700))
	s, err := New(cfg, Options{Providers: reg})
	require.NoError(t, err)
	res, err := s.Push(context.Background())
	require.NoError(t, err)
	require.NoError(t, res.Err())
	assert.Equal(t, 2, res.Summary.Created)

	for svc := range keysFiles {
		require.NoError(t, os.Remove(filepath.Join(dir, svc, ".env.keys")))
	}
	s, err = New(cfg, Options{Providers: reg, Decrypter: NativeDecrypter{}})
	require.NoError(t, err)
	res, err = s.Sync(context.Background())
	require.NoError(t, err)
	require.NoError(t, res.Err())
	assert.Equal(t, 2, res.Summary.DecryptionPassed)
	for svc, want := range keysFiles {
		got, err := os.ReadFile(filepath.Join(dir, svc, ".env.keys"))
		require.NoError(t, err)
		assert.Equal(t, want, string(got))
		assert.False(t, strings.Contains(fmt.Sprint(res), want), "results never hold a key")
	}
}
