package dotenvx

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixture is one directory under testdata/fixtures, made by the real dotenvx
// (see testdata/regen.sh).
type fixture struct {
	Name     string
	Dir      string
	EnvFile  string `json:"envFile"`
	Encoding string `json:"encoding"`
	Version  string `json:"dotenvx"`

	path      string            // path of the encrypted env file
	keyHex    string            // private key from the .env.keys dotenvx wrote
	plaintext map[string]string // values before encryption, as dotenvx reads them
	decrypted map[string]string // dotenvx 2.38.2's decryption, DOTENV_PUBLIC_KEY* removed
	publicKey string            // the DOTENV_PUBLIC_KEY* value dotenvx wrote
}

func loadFixtures(t testing.TB) []*fixture {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join("testdata", "fixtures", "*", "meta.json"))
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	var out []*fixture
	for _, meta := range dirs {
		dir := filepath.Dir(meta)
		fx := &fixture{Name: filepath.Base(dir), Dir: dir}
		readJSON(t, filepath.Join(dir, "meta.json"), fx)
		fx.path = filepath.Join(dir, fx.EnvFile)
		readJSON(t, filepath.Join(dir, "plaintext.json"), &fx.plaintext)
		readJSON(t, filepath.Join(dir, "decrypted.json"), &fx.decrypted)
		for k, v := range fx.decrypted {
			if strings.HasPrefix(k, publicKeyPrefix) {
				fx.publicKey = v
				delete(fx.decrypted, k)
			}
		}
		keys, err := ReadFile(filepath.Join(dir, ".env.keys"))
		require.NoError(t, err)
		priv, _ := KeyNames(fx.EnvFile)
		var ok bool
		fx.keyHex, ok = keys.Get(priv)
		require.True(t, ok, "%s: dotenvx wrote no %s to .env.keys", dir, priv)
		out = append(out, fx)
	}
	return out
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, v), path)
}

func TestFixturesCoverage(t *testing.T) {
	seen := map[string]bool{}
	for _, fx := range loadFixtures(t) {
		seen[fx.EnvFile] = true
		seen["encoding:"+fx.Encoding] = true
		seen["version:"+fx.Version] = true
	}
	for _, want := range []string{".env", ".env.production", ".env.ci", ".env.production.local", ".env.my-app",
		"encoding:crlf", "encoding:utf8bom", "encoding:utf16le", "version:2.38.2", "version:1.75.1"} {
		assert.True(t, seen[want], "no fixture for %s", want)
	}
}

// TestFixturesLoad decrypts every fixture made by dotenvx and compares with
// what dotenvx itself decrypts it to.
func TestFixturesLoad(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		t.Run(fx.Name, func(t *testing.T) {
			require.Equal(t, fx.plaintext, fx.decrypted, "fixture sanity: dotenvx round trip")
			got, err := load(fx.path, fx.keyHex)
			require.NoError(t, err)
			assert.Equal(t, fx.decrypted, got)
		})
	}
}

// TestFixturesValues decrypts every encrypted value on its own.
func TestFixturesValues(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		t.Run(fx.Name, func(t *testing.T) {
			f, err := ReadFile(fx.path)
			require.NoError(t, err)
			key := mustKey(t, fx.keyHex)
			enc := f.Encrypted()
			require.NotEmpty(t, enc)
			last := map[string]int{}
			for i, e := range f.Entries {
				last[e.Key] = i
			}
			for _, e := range enc {
				got, err := Decrypt(key, e.Value)
				require.NoError(t, err, e.Key)
				if f.Entries[last[e.Key]].Line == e.Line {
					assert.Equal(t, fx.decrypted[e.Key], got, e.Key)
				}
			}
		})
	}
}

// TestFixturesPlaintext parses the files dotenvx encrypted and compares with
// the values dotenvx read from them.
func TestFixturesPlaintext(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		t.Run(fx.Name, func(t *testing.T) {
			got, err := load(filepath.Join(fx.Dir, "plaintext.env"), "")
			require.NoError(t, err)
			assert.Equal(t, fx.plaintext, got)
		})
	}
}

func TestFixturesKeys(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		t.Run(fx.Name, func(t *testing.T) {
			f, err := ReadFile(fx.path)
			require.NoError(t, err)
			name, value, ok := f.PublicKey()
			require.True(t, ok)
			_, wantName := KeyNames(fx.EnvFile)
			assert.Equal(t, wantName, name, "dotenvx names the key like KeyNames")
			assert.Equal(t, fx.publicKey, value)
			key := mustKey(t, fx.keyHex)
			assert.Equal(t, value, key.PublicKey().Hex(), "public key derived like dotenvx")
		})
	}
}

func TestFixturesCheck(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		t.Run(fx.Name, func(t *testing.T) {
			f, err := ReadFile(fx.path)
			require.NoError(t, err)
			right := mustKey(t, fx.keyHex)
			wrong := mustGenerate(t)

			r := Check(f, []*PrivateKey{right})
			assert.True(t, r.ok(), "%+v", r)
			assert.NoError(t, r.err())
			assert.Equal(t, len(f.Encrypted()), r.Encrypted)
			assert.Equal(t, fx.publicKey, r.DeclaredPublic)

			r = Check(f, []*PrivateKey{wrong, right})
			assert.True(t, r.ok(), "rotation candidates")

			r = Check(f, []*PrivateKey{wrong})
			assert.False(t, r.ok())
			assert.False(t, r.Matched)
			assert.NotEmpty(t, r.Failed)
			assert.ErrorIs(t, r.err(), ErrNoMatchingKey)

			_, err = load(fx.path, wrong.Hex())
			require.ErrorIs(t, err, ErrNoMatchingKey)
			assertNoSecret(t, err.Error(), wrong.Hex())
			for _, v := range fx.decrypted {
				if len(v) >= 6 {
					assert.NotContains(t, err.Error(), v)
				}
			}
		})
	}
}
