package envdrift

import (
	"context"
	"crypto/rand"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/provider"
)

// quickstart copies examples/quickstart into a temporary directory and
// returns it.
func quickstart(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("examples", "quickstart")
	require.NoError(t, filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), data, 0o600)
	}))
	return dir
}

// tree lists every file under dir with its size and mode.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %d %v", path, info.Size(), info.Mode()))
		return nil
	}))
	sort.Strings(out)
	return out
}

var anyHexKey = regexp.MustCompile(`[0-9a-f]{64}`)

// noEnv is an empty environment.
func noEnv(string) (string, bool) { return "", false }

func TestLoadEnv_DecryptsTheQuickstartServicesAndWritesNothing(t *testing.T) {
	dir := quickstart(t)
	before := tree(t, dir)
	cfg := filepath.Join(dir, "envdrift.toml")

	env, err := LoadEnv(context.Background(), cfg, "services/api", LoadOption{LookupEnv: noEnv})
	require.NoError(t, err)
	assert.Equal(t, "8080", env["PORT"])
	assert.Equal(t, "demo-api-token-0f3a9c", env["API_TOKEN"], "an encrypted value is decrypted")
	assert.True(t, strings.HasPrefix(env["DATABASE_URL"], "postgres://api:"))
	assert.NotContains(t, env, "DOTENV_PUBLIC_KEY_PRODUCTION")

	// The folder by any path that resolves to it.
	env2, err := LoadEnv(context.Background(), cfg, filepath.Join(dir, "services", ".", "api"), LoadOption{LookupEnv: noEnv})
	require.NoError(t, err)
	assert.Equal(t, env, env2)

	web, err := LoadEnv(context.Background(), cfg, "services/web", LoadOption{Environment: "staging", LookupEnv: noEnv})
	require.NoError(t, err)
	assert.Equal(t, "https://api.staging.example.com", web["PUBLIC_API_URL"])

	assert.Equal(t, before, tree(t, dir), "LoadEnv writes nothing anywhere in the project")
	for k, v := range env {
		assert.False(t, anyHexKey.MatchString(v), "%s looks like a key", k)
	}
}

func TestLoadEnv_TwoEnvironmentsInOneFolderNeedAChoiceAndAreNeverMerged(t *testing.T) {
	dir := quickstart(t)
	_, err := LoadEnv(context.Background(), filepath.Join(dir, "envdrift.toml"), "services/web")
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrNoMappings)
	assert.Contains(t, err.Error(), "several env files (.env.production, .env.staging)")

	_, err = LoadEnv(context.Background(), filepath.Join(dir, "envdrift.toml"), "services/web", LoadOption{Environment: "qa"})
	assert.ErrorIs(t, err, ErrNoMappings)
	assert.Contains(t, err.Error(), "no mapping for environment \"qa\"; its env files: .env.production, .env.staging")
}

func TestLoadEnv_AMispairedKeyIsItsOwnErrorAndNeverShown(t *testing.T) {
	dir := quickstart(t)
	other, err := dotenvx.GeneratePrivateKey(rand.Reader)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets", "api-production-key"), []byte(other.Hex()), 0o600))
	before := tree(t, dir)
	_, err = LoadEnv(context.Background(), filepath.Join(dir, "envdrift.toml"), "services/api")
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrMispaired)
	assert.NotErrorIs(t, err, dotenvx.ErrDecrypt)
	assert.Contains(t, err.Error(), "the vault key is for "+dotenvx.ShortPublicKey(other.PublicKey().Hex()))
	assert.False(t, anyHexKey.MatchString(err.Error()), "no key text in the error: %v", err)
	assert.Equal(t, before, tree(t, dir))
}

func TestLoadEnv_AValueThatDoesNotDecryptIsErrDecrypt(t *testing.T) {
	dir := quickstart(t)
	envFile := filepath.Join(dir, "services", "api", ".env.production")
	data, err := os.ReadFile(envFile)
	require.NoError(t, err)
	// Corrupt one ciphertext: flip characters in the middle of API_TOKEN's.
	re := regexp.MustCompile(`(?m)^API_TOKEN="?encrypted:([A-Za-z0-9+/]{20})`)
	loc := re.FindSubmatchIndex(data)
	require.NotNil(t, loc)
	copy(data[loc[2]:loc[3]], strings.Repeat("A", 20))
	require.NoError(t, os.WriteFile(envFile, data, 0o600))
	_, err = LoadEnv(context.Background(), filepath.Join(dir, "envdrift.toml"), "services/api")
	require.Error(t, err)
	assert.ErrorIs(t, err, dotenvx.ErrDecrypt)
	assert.NotErrorIs(t, err, ErrMispaired)
	var re2 *RowError
	require.ErrorAs(t, err, &re2)
	assert.Equal(t, "services/api", re2.Folder)
	assert.False(t, anyHexKey.MatchString(err.Error()))
}

func TestLoadEnv_MissingSecretIsAClassifiedProviderError(t *testing.T) {
	dir := quickstart(t)
	require.NoError(t, os.Remove(filepath.Join(dir, "secrets", "api-production-key")))
	_, err := LoadEnv(context.Background(), filepath.Join(dir, "envdrift.toml"), "services/api")
	assert.ErrorIs(t, err, provider.ErrNotFound)
}

func TestLoadEnv_TheEnvironmentWinsUnlessOverloadAndExpansionSeesIt(t *testing.T) {
	dir := quickstart(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services", "api", ".env.production"),
		[]byte("PORT=8080\nURL=http://${HOST:-localhost}:${PORT}\nCMD=$(whoami)\n"), 0o600))
	env := map[string]string{"PORT": "9999", "HOST": "example.com"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var warnings []string
	vars, err := LoadEnv(context.Background(), filepath.Join(dir, "envdrift.toml"), "services/api",
		LoadOption{LookupEnv: lookup, Warn: func(m string) { warnings = append(warnings, m) }})
	require.NoError(t, err)
	assert.Equal(t, "9999", vars["PORT"], "the environment wins")
	assert.Equal(t, "http://example.com:9999", vars["URL"])
	assert.Equal(t, "$(whoami)", vars["CMD"], "a command substitution is never run")
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0], "CMD: $(command) substitution not run")

	vars, err = LoadEnv(context.Background(), filepath.Join(dir, "envdrift.toml"), "services/api",
		LoadOption{LookupEnv: lookup, Overload: true})
	require.NoError(t, err)
	assert.Equal(t, "8080", vars["PORT"], "with Overload the file wins")
	assert.Equal(t, "http://example.com:8080", vars["URL"])
}

func TestApplyEnv_ExistingVariablesWinUnlessOverloadAndNoPrivateKeyIsSet(t *testing.T) {
	t.Setenv("ENVDRIFT_T_KEEP", "env")
	t.Setenv("ENVDRIFT_T_NEW", "")
	require.NoError(t, os.Unsetenv("ENVDRIFT_T_NEW"))
	t.Setenv("DOTENV_PRIVATE_KEY_ENVDRIFT_T", "")
	require.NoError(t, os.Unsetenv("DOTENV_PRIVATE_KEY_ENVDRIFT_T"))
	vars := map[string]string{"ENVDRIFT_T_KEEP": "file", "ENVDRIFT_T_NEW": "file", "DOTENV_PRIVATE_KEY_ENVDRIFT_T": "x"}
	require.NoError(t, ApplyEnv(vars, false))
	assert.Equal(t, "env", os.Getenv("ENVDRIFT_T_KEEP"))
	assert.Equal(t, "file", os.Getenv("ENVDRIFT_T_NEW"))
	_, set := os.LookupEnv("DOTENV_PRIVATE_KEY_ENVDRIFT_T")
	assert.False(t, set)
	require.NoError(t, ApplyEnv(vars, true))
	assert.Equal(t, "file", os.Getenv("ENVDRIFT_T_KEEP"))
}
