package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/dotenvx"
)

// binary is the envdrift binary built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "envdrift-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "envdrift")
	// envdrift-schema goes next to envdrift, where --validate-schema looks
	// for it first, as `go install .../cmd/...` puts them.
	build := exec.Command("go", "build", "-o", dir+string(filepath.Separator), ".", "../envdrift-schema")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		panic("building envdrift and envdrift-schema: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs the built binary in dir with a clean environment plus env.
func runCLI(t *testing.T, dir string, env []string, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_COLOR=1"}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return cliResult{out.String(), errb.String(), code}
}

// repoRoot is the module root, two levels above this package.
func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// copyQuickstart copies examples/quickstart, without generated keys files,
// into a temporary directory and returns it.
func copyQuickstart(t *testing.T) string {
	src := filepath.Join(repoRoot(t), "examples", "quickstart")
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if strings.HasPrefix(d.Name(), ".env.keys") {
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	require.NoError(t, err)
	return dst
}

var hexKey = regexp.MustCompile(`[0-9a-fA-F]{64}`)

// secretsIn returns every private key held in the quickstart's vault.
func secretsIn(t *testing.T, dir string) []string {
	var keys []string
	ents, err := os.ReadDir(filepath.Join(dir, "secrets"))
	require.NoError(t, err)
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, "secrets", e.Name()))
		require.NoError(t, err)
		keys = append(keys, hexKey.FindAllString(string(data), -1)...)
	}
	require.NotEmpty(t, keys)
	return keys
}

// assertNoKeyMaterial fails if any 8-character piece of a key appears.
func assertNoKeyMaterial(t *testing.T, keys []string, outputs ...string) {
	t.Helper()
	for _, k := range keys {
		for i := 0; i+8 <= len(k); i++ {
			for _, o := range outputs {
				if strings.Contains(strings.ToLower(o), strings.ToLower(k[i:i+8])) {
					t.Fatalf("output contains key material %q:\n%s", k[i:i+8], o)
				}
			}
		}
	}
}

func mode(t *testing.T, path string) fs.FileMode {
	st, err := os.Stat(path)
	require.NoError(t, err)
	return st.Mode().Perm()
}

// rotate re-encrypts envFile for a new key, as `dotenvx rotate` does,
// declaring DOTENV_PUBLIC_KEY_<suffix>, and returns the new key.
func rotate(t *testing.T, envFile, suffix string) *dotenvx.PrivateKey {
	t.Helper()
	k, err := dotenvx.GeneratePrivateKey(rand.Reader)
	require.NoError(t, err)
	enc, err := dotenvx.Encrypt(k.PublicKey(), "rotated-secret")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(envFile, []byte(fmt.Sprintf("DOTENV_PUBLIC_KEY_%s=%q\nAPI_SECRET=%s\n", suffix, k.PublicKey().Hex(), enc)), 0o644))
	return k
}

func read(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestE2E_QuickstartLifecycle(t *testing.T) {
	dir := copyQuickstart(t)
	keys := secretsIn(t, dir)
	api := filepath.Join(dir, "services", "api", ".env.keys")
	web := filepath.Join(dir, "services", "web", ".env.keys")

	// First run creates every keys file.
	r := runCLI(t, dir, nil, "sync", "-c", "envdrift.toml")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "  + services/api - created\n")
	assert.Contains(t, r.stdout, "  + services/web (.env.production) - created\n")
	assert.Contains(t, r.stdout, "  + services/web (.env.staging) - created\n")
	assert.Contains(t, r.stdout, "Sync Summary")
	assert.Contains(t, r.stdout, "│ Services processed: 3")
	assert.Contains(t, r.stdout, "│ Created: 3")
	assert.Contains(t, r.stdout, "All services synced successfully")
	assert.Equal(t, fs.FileMode(0o600), mode(t, api))
	assert.Equal(t, fs.FileMode(0o600), mode(t, web))
	assert.Contains(t, read(t, web), "DOTENV_PRIVATE_KEY_PRODUCTION=")
	assert.Contains(t, read(t, web), "DOTENV_PRIVATE_KEY_STAGING=")
	outputs := []string{r.stdout, r.stderr}

	// Second run skips everything and changes nothing.
	before := read(t, api) + read(t, web)
	r = runCLI(t, dir, nil, "sync", "-c", "envdrift.toml")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Equal(t, 3, strings.Count(r.stdout, " - skipped\n"))
	assert.Equal(t, before, read(t, api)+read(t, web))
	outputs = append(outputs, r.stdout, r.stderr)

	// The team rotates api's key: the env file is re-encrypted for a new
	// key, and the vault holds it; this checkout still has the old one.
	k := rotate(t, filepath.Join(dir, "services", "api", ".env.production"), "PRODUCTION")
	keys = append(keys, k.Hex())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets", "api-production-key"), []byte(k.Hex()+"\n"), 0o600))

	// --verify reports it, exits 1 and writes nothing.
	r = runCLI(t, dir, nil, "sync", "-c", "envdrift.toml", "--verify")
	assert.Equal(t, 1, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "  x services/api - error\n    Error: local key differs from the vault: DOTENV_PRIVATE_KEY_PRODUCTION in .env.keys is another key\n    Local:  public ")
	assert.Contains(t, r.stdout, "    Vault:  public "+dotenvx.ShortPublicKey(k.PublicKey().Hex()))
	assert.Contains(t, r.stdout, "Verification failed: 2 match, 1 failed")
	assert.Equal(t, before, read(t, api)+read(t, web))
	outputs = append(outputs, r.stdout, r.stderr)

	// --ci does not prompt: it reports, exits 1, writes nothing.
	r = runCLI(t, dir, nil, "sync", "-c", "envdrift.toml", "--ci")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stdout, "use --force to replace it")
	assert.Equal(t, before, read(t, api)+read(t, web))
	outputs = append(outputs, r.stdout, r.stderr)

	// Without a terminal on stdin the same holds even without --ci.
	r = runCLI(t, dir, nil, "sync", "-c", "envdrift.toml")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stdout, "use --force to replace it")
	outputs = append(outputs, r.stdout, r.stderr)

	// --force updates and keeps a backup.
	r = runCLI(t, dir, nil, "sync", "-c", "envdrift.toml", "--force")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "  ~ services/api - updated\n    Backup: services/api/.env.keys.backup.")
	assert.Contains(t, read(t, api), "DOTENV_PRIVATE_KEY_PRODUCTION="+k.Hex())
	backups, _ := filepath.Glob(api + ".backup.*")
	require.Len(t, backups, 1)
	assert.Equal(t, fs.FileMode(0o600), mode(t, backups[0]))
	outputs = append(outputs, r.stdout, r.stderr)

	// --output json is one document holding every row.
	r = runCLI(t, dir, nil, "sync", "-c", "envdrift.toml", "--output", "json")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	var doc struct {
		Version int    `json:"version"`
		Mode    string `json:"mode"`
		OK      bool   `json:"ok"`
		Rows    []struct {
			Folder, Secret, Action, KeyName string `json:"-"`
		} `json:"rows"`
		Summary map[string]int `json:"summary"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc), r.stdout)
	assert.Equal(t, 1, doc.Version)
	assert.True(t, doc.OK)
	assert.Len(t, doc.Rows, 3)
	assert.Equal(t, 3, doc.Summary["skipped"])
	var rows []map[string]any
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &raw))
	require.NoError(t, json.Unmarshal(raw["rows"], &rows))
	assert.Equal(t, "services/api", rows[0]["folder"])
	assert.Equal(t, "skipped", rows[0]["action"])
	assert.Equal(t, "DOTENV_PRIVATE_KEY_PRODUCTION", rows[0]["key_name"])
	outputs = append(outputs, r.stdout, r.stderr)

	assertNoKeyMaterial(t, keys, outputs...)
}

func TestE2E_DiscoversTheConfigFromASubdirectory(t *testing.T) {
	dir := copyQuickstart(t)
	r := runCLI(t, filepath.Join(dir, "services", "api"), nil, "sync")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.FileExists(t, filepath.Join(dir, "services", "api", ".env.keys"), "paths resolve against the config's directory")
	assert.NoFileExists(t, filepath.Join(dir, "services", "api", "services", "api", ".env.keys"))
}

func TestE2E_PairTxtWithProviderFlags(t *testing.T) {
	dir := copyQuickstart(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pair.txt"), []byte("# legacy\napi-production-key=services/api\n"), 0o644))
	r := runCLI(t, dir, nil, "sync", "-c", "pair.txt")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "no provider")

	r = runCLI(t, dir, nil, "sync", "-c", "pair.txt", "-p", "file", "--vault-url", "secrets")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "+ services/api - created")
}

func TestE2E_UsageErrorsExit2(t *testing.T) {
	dir := copyQuickstart(t)
	for _, args := range [][]string{
		{"sync", "--no-such-flag"},
		{"sync", "--output", "yaml"},
		{"sync", "-p", "dropbox"},
		{"sync", "--verify", "--force"},
		{"sync", "--concurrency", "-1"},
		{"sync", "--timeout", "soon"},
		{"frobnicate"},
	} {
		r := runCLI(t, dir, nil, args...)
		assert.Equal(t, 2, r.code, "%v: %s", args, r.stderr)
		assert.NotEmpty(t, r.stderr)
	}
}

func TestE2E_InvalidConfigExits1AndTouchesNothing(t *testing.T) {
	dir := copyQuickstart(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "envdrift.toml"), []byte("[vault]\nprovider = \"file\"\n[vault.sync]\n[[vault.sync.mappings]]\nsecret_name = 3\nfolder_path = \"services/api\"\n"), 0o644))
	r := runCLI(t, dir, nil, "sync")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "envdrift.toml:5: vault.sync.mappings[0].secret_name: must be a string, got an integer")
	assert.NoFileExists(t, filepath.Join(dir, "services", "api", ".env.keys"))
}

func TestE2E_NoConfigFound(t *testing.T) {
	r := runCLI(t, t.TempDir(), nil, "sync")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "no envdrift.toml")
	assert.Contains(t, r.stderr, "-c FILE")
}

func TestE2E_Version(t *testing.T) {
	r := runCLI(t, t.TempDir(), nil, "--version")
	assert.Equal(t, 0, r.code)
	assert.True(t, strings.HasPrefix(r.stdout, "envdrift "), r.stdout)
}

func TestE2E_NoColourWhenNotATerminal(t *testing.T) {
	dir := copyQuickstart(t)
	r := runCLI(t, dir, []string{"NO_COLOR="}, "sync")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.NotContains(t, r.stdout+r.stderr, "\x1b[")
}

// TestE2E_CheckDecryptionNeedsNoNode runs the quickstart's decryption check
// with a PATH that holds nothing, then gives the api service the web
// service's key: it is refused, naming both public keys, even with --force,
// and the working key stays.
func TestE2E_CheckDecryptionNeedsNoNode(t *testing.T) {
	dir := copyQuickstart(t)
	noNode := []string{"PATH=" + t.TempDir()}
	r := runCLI(t, dir, noNode, "sync", "--check-decryption")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Equal(t, 3, strings.Count(r.stdout, "    Decryption: PASSED\n"))
	assert.Contains(t, r.stdout, "│   Passed: 3")

	webKeys := hexKey.FindAllString(read(t, filepath.Join(dir, "secrets", "web-production-key")), -1)
	require.Len(t, webKeys, 1)
	web, err := dotenvx.ParsePrivateKey(webKeys[0])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets", "api-production-key"), []byte(webKeys[0]+"\n"), 0o600))
	apiEnv, err := dotenvx.ReadFile(filepath.Join(dir, "services", "api", ".env.production"))
	require.NoError(t, err)
	_, apiPublic, ok := apiEnv.PublicKey()
	require.True(t, ok)

	before := read(t, filepath.Join(dir, "services", "api", ".env.keys"))
	r = runCLI(t, dir, noNode, "sync", "--force", "--check-decryption")
	assert.Equal(t, 1, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "  x services/api - error\n    Error: key does not pair with the env file: the vault key is for "+
		dotenvx.ShortPublicKey(web.PublicKey().Hex())+", .env.production was encrypted for "+dotenvx.ShortPublicKey(apiPublic)+
		": re-encrypt the file or fix the secret\n")
	assert.Equal(t, before, read(t, filepath.Join(dir, "services", "api", ".env.keys")), "the working key is kept")
	assertNoKeyMaterial(t, secretsIn(t, dir), r.stdout, r.stderr)
}
