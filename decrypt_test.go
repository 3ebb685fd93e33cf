package envdrift

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/dotenvx"
)

// encryptedEnv writes an env file declaring k's public key with n encrypted
// values and one plain value, and returns its path.
func encryptedEnv(t testing.TB, dir, name string, k *dotenvx.PrivateKey, n int) string {
	t.Helper()
	_, pubName := dotenvx.KeyNames(name)
	var b strings.Builder
	fmt.Fprintf(&b, "%s=\"%s\"\nPLAIN=hello\n", pubName, k.PublicKey().Hex())
	for i := range n {
		v, err := dotenvx.Encrypt(k.PublicKey(), fmt.Sprintf("value-%d", i))
		require.NoError(t, err)
		fmt.Fprintf(&b, "VAR_%d=\"%s\"\n", i, v)
	}
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(b.String()), 0o644))
	return p
}

func genKey(t testing.TB) (*dotenvx.PrivateKey, Key) {
	t.Helper()
	k, err := dotenvx.GeneratePrivateKey(rand.Reader)
	require.NoError(t, err)
	kk, err := ParseKey(k.Hex())
	require.NoError(t, err)
	return k, kk
}

// decrypters lists the implementations under test here: the native one
// (package dotenvxcli tests the dotenvx CLI one against the same files).
func decrypters(*testing.T) map[string]Decrypter {
	return map[string]Decrypter{"native": NativeDecrypter{}}
}

func TestDecrypter_PassesWhenTheKeyPairsAndDecryptsEveryValue(t *testing.T) {
	for name, d := range decrypters(t) {
		t.Run(name, func(t *testing.T) {
			k, key := genKey(t)
			env := encryptedEnv(t, t.TempDir(), ".env.production", k, 3)
			c := d.CheckDecryption(context.Background(), env, key)
			assert.Equal(t, CheckPassed, c.Status, c.Detail)
			assert.Equal(t, "3 encrypted values decrypted", c.Detail)
		})
	}
}

func TestDecrypter_MispairedKeyFailsNamingBothPublicKeys(t *testing.T) {
	k, _ := genKey(t)
	other, otherKey := genKey(t)
	env := encryptedEnv(t, t.TempDir(), ".env.production", k, 2)
	c := NativeDecrypter{}.CheckDecryption(context.Background(), env, otherKey)
	assert.Equal(t, CheckFailed, c.Status)
	assert.Contains(t, c.Detail, "mispaired key")
	assert.Contains(t, c.Detail, dotenvx.ShortPublicKey(k.PublicKey().Hex()))
	assert.Contains(t, c.Detail, dotenvx.ShortPublicKey(other.PublicKey().Hex()))
	assert.NotContains(t, c.Detail, other.Hex()[:8])

	if d, ok := decrypters(t)["dotenvx"]; ok {
		c := d.CheckDecryption(context.Background(), env, otherKey)
		assert.Equal(t, CheckFailed, c.Status, "dotenvx agrees: %s", c.Detail)
		assert.NotContains(t, c.Detail, other.Hex()[:8])
	}
}

func TestDecrypter_NamesTheVariablesThatFail(t *testing.T) {
	for name, d := range decrypters(t) {
		t.Run(name, func(t *testing.T) {
			k, key := genKey(t)
			dir := t.TempDir()
			env := encryptedEnv(t, dir, ".env.production", k, 2)
			// A value encrypted to another key, in a file that declares k.
			stranger, _ := genKey(t)
			bad, err := dotenvx.Encrypt(stranger.PublicKey(), "nope")
			require.NoError(t, err)
			f, err := os.OpenFile(env, os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			fmt.Fprintf(f, "BROKEN=%s\n", bad)
			require.NoError(t, f.Close())
			c := d.CheckDecryption(context.Background(), env, key)
			assert.Equal(t, CheckFailed, c.Status)
			if name == "native" {
				assert.Equal(t, []string{"BROKEN"}, c.Problems)
				assert.Equal(t, "1 of 3 encrypted values did not decrypt", c.Detail)
			}
			assert.NotContains(t, c.Detail+strings.Join(c.Problems, ""), "value-")
		})
	}
}

func TestDecrypter_SkipsFilesWithoutEncryptedValues(t *testing.T) {
	_, key := genKey(t)
	p := filepath.Join(t.TempDir(), ".env.production")
	require.NoError(t, os.WriteFile(p, []byte("A=1\n"), 0o644))
	c := NativeDecrypter{}.CheckDecryption(context.Background(), p, key)
	assert.Equal(t, CheckSkipped, c.Status)
	assert.Equal(t, "no encrypted values", c.Detail)
}

func TestDecrypter_InvalidDeclaredPublicKeyFails(t *testing.T) {
	_, key := genKey(t)
	p := filepath.Join(t.TempDir(), ".env.production")
	require.NoError(t, os.WriteFile(p, []byte("DOTENV_PUBLIC_KEY_PRODUCTION=\"02zz\"\nA=encrypted:AAAA\n"), 0o644))
	c := NativeDecrypter{}.CheckDecryption(context.Background(), p, key)
	assert.Equal(t, CheckFailed, c.Status)
	assert.Contains(t, c.Detail, "not a valid public key")
}

// BenchmarkNativeCheck1000 is the --check-decryption cost for an env file
// of 1,000 encrypted values.
func BenchmarkNativeCheck1000(b *testing.B) {
	k, key := genKey(b)
	env := encryptedEnv(b, b.TempDir(), ".env.production", k, 1000)
	for b.Loop() {
		if c := (NativeDecrypter{}).CheckDecryption(context.Background(), env, key); c.Status != CheckPassed {
			b.Fatal(c.Detail)
		}
	}
}
