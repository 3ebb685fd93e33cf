package envdrift

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/internal/limits"
	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/file"
)

// padTo returns text followed by a comment that makes it exactly n bytes.
func padTo(t *testing.T, text string, n int) []byte {
	t.Helper()
	require.Less(t, len(text)+2, n)
	return []byte(text + "#" + strings.Repeat("x", n-len(text)-2) + "\n")
}

// Each limit on what envdrift reads: a file of exactly the limit is read,
// one byte more is refused with a message that names the limit.
func TestLimits_ExactlyTheLimitIsReadOneByteMoreIsRefused(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)

	t.Run("maxConfigSize", func(t *testing.T) {
		valid := "[vault]\nprovider = \"file\"\n[vault.sync]\n[[vault.sync.mappings]]\nsecret_name = \"a\"\nfolder_path = \"b\"\n"
		p := filepath.Join(dir, "envdrift.toml")
		require.NoError(t, os.WriteFile(p, padTo(t, valid, maxConfigSize), 0o600))
		_, err := Load(p)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p, padTo(t, valid, maxConfigSize+1), 0o600))
		_, err = Load(p)
		assert.ErrorIs(t, err, ErrInvalidConfig)
		assert.Contains(t, err.Error(), "1048577 bytes is over the 1048576-byte limit for configuration files")
	})

	t.Run("maxKeysFileSize", func(t *testing.T) {
		p := filepath.Join(dir, ".env.keys")
		text := prodName + "=" + key + "\n"
		require.NoError(t, os.WriteFile(p, padTo(t, text, maxKeysFileSize), 0o600))
		kf, err := readKeysFile(p)
		require.NoError(t, err)
		v, ok := kf.lookup(prodName)
		assert.True(t, ok)
		assert.Equal(t, key, v)
		require.NoError(t, os.WriteFile(p, padTo(t, text, maxKeysFileSize+1), 0o600))
		_, err = readKeysFile(p)
		assert.ErrorContains(t, err, "is 1048577 bytes, over the 1048576-byte limit for keys files")
	})

	t.Run("MaxSecretSize", func(t *testing.T) {
		text := keysFileHeader + prodName + "=" + key + "\n"
		k, err := parseSecret(padTo(t, text, limits.MaxSecretSize), prodName)
		require.NoError(t, err)
		assert.Equal(t, key, k.Reveal())
		_, err = parseSecret(padTo(t, text, limits.MaxSecretSize+1), prodName)
		assert.ErrorIs(t, err, ErrInvalidSecret)
		assert.ErrorContains(t, err, "1048577 bytes, over the 1048576-byte limit")

		// The file provider holds the same line.
		secrets := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(secrets, "exact"), padTo(t, text, limits.MaxSecretSize), 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(secrets, "over"), padTo(t, text, limits.MaxSecretSize+1), 0o600))
		p, err := file.New(secrets, provider.Options{})
		require.NoError(t, err)
		sec, err := p.Fetch(context.Background(), provider.Ref{Name: "exact"})
		require.NoError(t, err)
		assert.Len(t, sec.Value, limits.MaxSecretSize)
		_, err = p.Fetch(context.Background(), provider.Ref{Name: "over"})
		assert.ErrorIs(t, err, provider.ErrInvalid)
		assert.ErrorContains(t, err, "larger than the 1048576-byte secret limit")
	})

	t.Run("env file (16 MiB)", func(t *testing.T) {
		p := filepath.Join(dir, ".env.production")
		require.NoError(t, os.WriteFile(p, padTo(t, "A=1\n", 16<<20), 0o600))
		f, err := dotenvx.ReadFile(p)
		require.NoError(t, err)
		assert.Len(t, f.Entries, 1)
		require.NoError(t, os.WriteFile(p, padTo(t, "A=1\n", 16<<20+1), 0o600))
		_, err = dotenvx.ReadFile(p)
		assert.ErrorContains(t, err, "16777217 bytes (limit 16777216)")
	})

	t.Run("maxConcurrency", func(t *testing.T) {
		cfg := &Config{Provider: "file", Mappings: []Mapping{{SecretName: "a", FolderPath: "b", Environment: "production"}}}
		_, err := New(cfg, Options{Concurrency: maxConcurrency})
		require.NoError(t, err)
		_, err = New(cfg, Options{Concurrency: maxConcurrency + 1})
		assert.ErrorIs(t, err, ErrInvalidConfig)
		_, err = parseTOML("envdrift.toml", dir, []byte("[vault]\nprovider=\"file\"\n[vault.sync]\nmax_workers = 257\n[[vault.sync.mappings]]\nsecret_name=\"a\"\nfolder_path=\"b\"\n"))
		assert.ErrorContains(t, err, "must be between 1 and 256, got 257")
	})
}

// A sync never writes a keys file that a later sync would refuse to read.
func TestSync_NeverWritesAKeysFileOverMaxKeysFileSize(t *testing.T) {
	w := newWorld(t)
	k := w.service("svc", ".env.production")
	w.vault.set("k", k.Hex())
	w.mapping("k", "svc")
	keys := filepath.Join(w.dir, "svc", ".env.keys")
	big := padTo(t, "OTHER=1\n", maxKeysFileSize-10)
	require.NoError(t, os.WriteFile(keys, big, 0o600))

	res := w.sync(Options{})
	row := res.Rows[0]
	assert.Equal(t, ActionError, row.Action)
	assert.Contains(t, row.Message, "over the 1048576-byte limit for keys files")
	got, err := os.ReadFile(keys)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(big, got), "the keys file is left as it was")
}
