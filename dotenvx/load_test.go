package dotenvx

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// envFile builds an env file the way dotenvx lays one out. Values in enc are
// encrypted for pub; declare adds the DOTENV_PUBLIC_KEY* line.
func envFile(t testing.TB, name string, pub *PublicKey, declare bool, lines ...string) string {
	t.Helper()
	var sb strings.Builder
	if declare {
		_, pubName := KeyNames(name)
		fmt.Fprintf(&sb, "%s=%q\n\n", pubName, pub.Hex())
	}
	for _, l := range lines {
		key, value, isEnc := strings.Cut(l, "=enc:")
		if isEnc {
			ct, err := Encrypt(pub, value)
			require.NoError(t, err)
			fmt.Fprintf(&sb, "%s=%q\n", key, ct)
			continue
		}
		sb.WriteString(l + "\n")
	}
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(sb.String()), 0o600))
	return path
}

func TestLoad(t *testing.T) {
	key := mustGenerate(t)
	other := mustGenerate(t)
	path := envFile(t, ".env.production", key.PublicKey(), true,
		"PLAIN=plain value",
		"SECRET=enc:s3cr3t value",
		"MULTI=enc:line1\nline2",
		"DUP=enc:first",
		"DUP=second",
		"EMPTY=enc:",
	)
	want := map[string]string{"PLAIN": "plain value", "SECRET": "s3cr3t value", "MULTI": "line1\nline2", "DUP": "second", "EMPTY": ""}

	tests := []struct {
		name string
		keys string
	}{
		{name: "single key", keys: key.Hex()},
		{name: "upper case", keys: strings.ToUpper(key.Hex())},
		{name: "rotation list, new first", keys: other.Hex() + "," + key.Hex()},
		{name: "rotation list with spaces", keys: key.Hex() + " , " + other.Hex()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := load(path, tt.keys)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
}

func TestLoadUndeclaredPublicKey(t *testing.T) {
	key := mustGenerate(t)
	path := envFile(t, ".env", key.PublicKey(), false, "A=enc:alpha", "B=beta")
	got, err := load(path, mustGenerate(t).Hex()+","+key.Hex())
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"A": "alpha", "B": "beta"}, got)

	_, err = load(path, mustGenerate(t).Hex())
	require.ErrorIs(t, err, ErrDecrypt)
	assert.ErrorIs(t, err, errAuthentication)
	assert.Contains(t, err.Error(), "could not decrypt A (line 1)")
	assert.NotContains(t, err.Error(), "alpha")
}

func TestLoadErrors(t *testing.T) {
	key := mustGenerate(t)
	wrong := mustGenerate(t)
	path := envFile(t, ".env.production", key.PublicKey(), true, "A=enc:alpha-secret", "B=beta")
	plainPath := envFile(t, ".env.plain", key.PublicKey(), true, "A=alpha", "B=beta")

	tests := []struct {
		name   string
		path   string
		keys   string
		err    error
		msg    []string
		secret string
	}{
		{
			name: "no matching key", path: path, keys: wrong.Hex(), err: ErrNoMatchingKey, secret: wrong.Hex(),
			msg: []string{
				filepath.Base(path),
				"DOTENV_PUBLIC_KEY_PRODUCTION is " + ShortPublicKey(key.PublicKey().Hex()),
				"the private key candidates derive " + ShortPublicKey(wrong.PublicKey().Hex()),
			},
		},
		{name: "no key", path: path, keys: "", err: ErrNoMatchingKey, msg: []string{"no private key given for DOTENV_PUBLIC_KEY_PRODUCTION="}},
		{name: "invalid key", path: path, keys: "not-a-key", err: ErrInvalidKey, msg: []string{"not 64 hex digits"}},
		{name: "invalid second key", path: path, keys: key.Hex() + ",zz", err: ErrInvalidKey, msg: []string{"key 2 of 2"}, secret: key.Hex()},
		{name: "missing file", path: filepath.Join(t.TempDir(), ".env"), keys: key.Hex(), err: os.ErrNotExist, secret: key.Hex()},
		{name: "invalid key even for plain file", path: plainPath, keys: "zz", err: ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := load(tt.path, tt.keys)
			require.ErrorIs(t, err, tt.err)
			assert.Nil(t, got)
			assert.True(t, strings.HasPrefix(err.Error(), "dotenvx: "), err.Error())
			assert.Equal(t, 1, strings.Count(err.Error(), "dotenvx:"), err.Error())
			for _, m := range tt.msg {
				assert.Contains(t, err.Error(), m)
			}
			assert.NotContains(t, err.Error(), "alpha-secret")
			assertNoSecret(t, err.Error(), tt.secret)
		})
	}
}

func TestLoadPlainFileNeedsNoKey(t *testing.T) {
	key := mustGenerate(t)
	path := envFile(t, ".env.production", key.PublicKey(), true, "A=1", "B=2")
	got, err := load(path, "")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"A": "1", "B": "2"}, got)
	got, err = load(path, mustGenerate(t).Hex())
	require.NoError(t, err, "no encrypted values, so no key is needed")
	assert.Equal(t, map[string]string{"A": "1", "B": "2"}, got)
}

func TestLoadTamperedValue(t *testing.T) {
	key := mustGenerate(t)
	good, err := Encrypt(key.PublicKey(), "token-value")
	require.NoError(t, err)
	bad := corrupt(t, good, flip(minCiphertextLen))
	path := filepath.Join(t.TempDir(), ".env.ci")
	content := fmt.Sprintf("DOTENV_PUBLIC_KEY_CI=%s\nGOOD=%s\nBAD=%s\nWORSE=encrypted:%%%%\n", key.PublicKey().Hex(), good, bad)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))

	_, err = load(path, key.Hex())
	require.ErrorIs(t, err, ErrDecrypt)
	assert.ErrorIs(t, err, errAuthentication, "first failure's reason")
	assert.Contains(t, err.Error(), "could not decrypt BAD (line 3), WORSE (line 4)")
	assert.NotContains(t, err.Error(), "token-value")
	assertNoSecret(t, err.Error(), key.Hex())
}

func TestLoadInvalidDeclaredPublicKey(t *testing.T) {
	key := mustGenerate(t)
	ct, err := Encrypt(key.PublicKey(), "x")
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), ".env")
	// Someone pasted the private key where the public key belongs.
	content := fmt.Sprintf("DOTENV_PUBLIC_KEY=%s\nA=%s\n", key.Hex(), ct)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	_, err = load(path, key.Hex())
	require.ErrorIs(t, err, errInvalidPublicKey)
	assert.Contains(t, err.Error(), "DOTENV_PUBLIC_KEY")
	assertNoSecret(t, err.Error(), key.Hex())
}

func TestFileDecryptNil(t *testing.T) {
	var f *File
	_, err := f.Decrypt(nil)
	assert.Error(t, err)
}

func TestLoadManyValuesInParallel(t *testing.T) {
	key := mustGenerate(t)
	f := &File{Path: ".env.production", Entries: []Entry{{Key: "DOTENV_PUBLIC_KEY_PRODUCTION", Value: key.PublicKey().Hex(), Line: 1}}}
	want := map[string]string{}
	for i := range 200 {
		k, v := fmt.Sprintf("VAR_%03d", i), fmt.Sprintf("value %d", i)
		ct, err := Encrypt(key.PublicKey(), v)
		require.NoError(t, err)
		f.Entries = append(f.Entries, Entry{Key: k, Value: ct, Line: i + 2})
		want[k] = v
	}
	got, err := f.Decrypt([]*PrivateKey{key})
	require.NoError(t, err)
	assert.Equal(t, want, got)
}
