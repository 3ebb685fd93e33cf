package envdrift

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// decrypters lists the implementations under test: the native one always,
// the dotenvx CLI when it is installed (DOTENVX_BIN or PATH).
func decrypters(t *testing.T) map[string]Decrypter {
	ds := map[string]Decrypter{"native": NativeDecrypter{}}
	bin := os.Getenv("DOTENVX_BIN")
	if bin == "" {
		bin, _ = exec.LookPath("dotenvx")
	}
	if bin != "" {
		ds["dotenvx"] = DotenvxCLI{Bin: bin}
	} else {
		t.Log("dotenvx not installed (set DOTENVX_BIN): checking the native decrypter only")
	}
	return ds
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

func TestDotenvxCLI_NotInstalledIsAClearFailure(t *testing.T) {
	k, key := genKey(t)
	env := encryptedEnv(t, t.TempDir(), ".env.production", k, 1)
	c := DotenvxCLI{Bin: "dotenvx-definitely-not-installed"}.CheckDecryption(context.Background(), env, key)
	assert.Equal(t, CheckFailed, c.Status)
	assert.Contains(t, c.Detail, "dotenvx is not installed")
	assert.Contains(t, c.Detail, "npm install")
}

func TestDotenvxCLI_IgnoresKeysInOurEnvironmentAndLeavesTheRealFilesAlone(t *testing.T) {
	d, ok := decrypters(t)["dotenvx"]
	if !ok {
		t.Skip("dotenvx not installed (set DOTENVX_BIN)")
	}
	k, key := genKey(t)
	dir := t.TempDir()
	env := encryptedEnv(t, dir, ".env.production", k, 2)
	before, _ := os.ReadFile(env)
	wrong, _ := genKey(t)
	// If our environment reached the child, dotenvx would try this key.
	t.Setenv("DOTENV_PRIVATE_KEY_PRODUCTION", wrong.Hex())
	c := d.CheckDecryption(context.Background(), env, key)
	assert.Equal(t, CheckPassed, c.Status, c.Detail)
	after, _ := os.ReadFile(env)
	assert.Equal(t, before, after)
	ents, _ := os.ReadDir(dir)
	assert.Len(t, ents, 1, "no .env.keys or other file was written next to the real env file")
}

func TestDotenvxCLI_TimesOut(t *testing.T) {
	if _, err := exec.LookPath("sleep"); err != nil {
		t.Skip("no sleep command")
	}
	k, key := genKey(t)
	env := encryptedEnv(t, t.TempDir(), ".env.production", k, 1)
	// A stand-in that never answers; the check must give up on time.
	script := filepath.Join(t.TempDir(), "dotenvx")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\nexec sleep 30\n"), 0o755))
	start := time.Now()
	c := DotenvxCLI{Bin: script, Timeout: 200 * time.Millisecond}.CheckDecryption(context.Background(), env, key)
	assert.Equal(t, CheckFailed, c.Status)
	assert.Contains(t, c.Detail, "did not finish within 200ms")
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestChildEnv_DropsDotenvxKeys(t *testing.T) {
	got := childEnv([]string{"PATH=/bin", "DOTENV_PRIVATE_KEY=x", "DOTENV_PRIVATE_KEY_CI=y", "DOTENV_KEY=z", "HOME=/h"})
	assert.Equal(t, []string{"PATH=/bin", "HOME=/h"}, got)
	assert.Equal(t, "error … here", firstLine("error 0123456789abcdef here\nsecond line"))
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
