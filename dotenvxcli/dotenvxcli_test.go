package dotenvxcli

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

	"github.com/envdrift/envdrift"
	"github.com/envdrift/envdrift/dotenvx"
)

// encryptedEnv writes an env file declaring k's public key with n encrypted
// values, and returns its path.
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

func genKey(t testing.TB) (*dotenvx.PrivateKey, envdrift.Key) {
	t.Helper()
	k, err := dotenvx.GeneratePrivateKey(rand.Reader)
	require.NoError(t, err)
	kk, err := envdrift.ParseKey(k.Hex())
	require.NoError(t, err)
	return k, kk
}

func TestDecrypter_NotInstalledIsAClearFailure(t *testing.T) {
	k, key := genKey(t)
	env := encryptedEnv(t, t.TempDir(), ".env.production", k, 1)
	c := Decrypter{Bin: "dotenvx-definitely-not-installed"}.CheckDecryption(context.Background(), env, key)
	assert.Equal(t, envdrift.CheckFailed, c.Status)
	assert.Contains(t, c.Detail, "dotenvx is not installed")
	assert.Contains(t, c.Detail, "npm install")
}

func TestDecrypter_IgnoresKeysInOurEnvironmentAndLeavesTheRealFilesAlone(t *testing.T) {
	bin := os.Getenv("DOTENVX_BIN")
	if bin == "" {
		bin, _ = exec.LookPath("dotenvx")
	}
	if bin == "" {
		t.Skip("dotenvx not installed (set DOTENVX_BIN)")
	}
	d := Decrypter{Bin: bin}
	k, key := genKey(t)
	dir := t.TempDir()
	env := encryptedEnv(t, dir, ".env.production", k, 2)
	before, _ := os.ReadFile(env)
	wrong, _ := genKey(t)
	// If our environment reached the child, dotenvx would try this key.
	t.Setenv("DOTENV_PRIVATE_KEY_PRODUCTION", wrong.Hex())
	c := d.CheckDecryption(context.Background(), env, key)
	assert.Equal(t, envdrift.CheckPassed, c.Status, c.Detail)
	after, _ := os.ReadFile(env)
	assert.Equal(t, before, after)
	ents, _ := os.ReadDir(dir)
	assert.Len(t, ents, 1, "no .env.keys or other file was written next to the real env file")
}

func TestDecrypter_TimesOut(t *testing.T) {
	if _, err := exec.LookPath("sleep"); err != nil {
		t.Skip("no sleep command")
	}
	k, key := genKey(t)
	env := encryptedEnv(t, t.TempDir(), ".env.production", k, 1)
	// A stand-in that never answers; the check must give up on time.
	script := filepath.Join(t.TempDir(), "dotenvx")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\nexec sleep 30\n"), 0o755))
	start := time.Now()
	c := Decrypter{Bin: script, Timeout: 200 * time.Millisecond}.CheckDecryption(context.Background(), env, key)
	assert.Equal(t, envdrift.CheckFailed, c.Status)
	assert.Contains(t, c.Detail, "did not finish within 200ms")
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestChildEnv_DropsDotenvxKeys(t *testing.T) {
	got := childEnv([]string{"PATH=/bin", "DOTENV_PRIVATE_KEY=x", "DOTENV_PRIVATE_KEY_CI=y", "DOTENV_KEY=z", "HOME=/h"})
	assert.Equal(t, []string{"PATH=/bin", "HOME=/h"}, got)
	assert.Equal(t, "error … here", firstLine("error 0123456789abcdef here\nsecond line"))
}

func TestDecrypter_PassesWhenTheKeyPairsAndDecryptsEveryValue(t *testing.T) {
	bin := os.Getenv("DOTENVX_BIN")
	if bin == "" {
		bin, _ = exec.LookPath("dotenvx")
	}
	if bin == "" {
		t.Skip("dotenvx not installed (set DOTENVX_BIN)")
	}
	k, key := genKey(t)
	env := encryptedEnv(t, t.TempDir(), ".env.production", k, 3)
	c := Decrypter{Bin: bin}.CheckDecryption(context.Background(), env, key)
	assert.Equal(t, envdrift.CheckPassed, c.Status, c.Detail)
	assert.Equal(t, "3 encrypted values decrypted", c.Detail)
}
