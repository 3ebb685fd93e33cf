package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/dotenvx"
)

// quickstartPlaintexts decrypts every env file of a quickstart copy with the
// vault's keys and returns the plaintext of each encrypted value: none of
// them may ever appear in output.
func quickstartPlaintexts(t *testing.T, dir string) []string {
	t.Helper()
	var keys []*dotenvx.PrivateKey
	for _, k := range secretsIn(t, dir) {
		pk, err := dotenvx.ParsePrivateKey(k)
		require.NoError(t, err)
		keys = append(keys, pk)
	}
	var out []string
	for _, env := range []string{"services/api/.env.production", "services/web/.env.production", "services/web/.env.staging"} {
		f, err := dotenvx.ReadFile(filepath.Join(dir, env))
		require.NoError(t, err)
		vars, err := f.Decrypt(keys)
		require.NoError(t, err, "%s", env)
		for _, e := range f.Encrypted() {
			out = append(out, vars[e.Key])
		}
	}
	require.NotEmpty(t, out)
	return out
}

// assertNoPlaintext fails if any of the plaintexts appears in the outputs.
func assertNoPlaintext(t *testing.T, plaintexts []string, outputs ...string) {
	t.Helper()
	for _, p := range plaintexts {
		for _, o := range outputs {
			if strings.Contains(o, p) {
				t.Fatalf("output contains the decrypted value %q:\n%s", p, o)
			}
		}
	}
}

func TestE2E_ValidateSchemaOnTheQuickstart(t *testing.T) {
	dir := copyQuickstart(t)
	plain := quickstartPlaintexts(t, dir)
	keys := secretsIn(t, dir)

	r := runCLI(t, dir, nil, "sync", "--validate-schema")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Equal(t, 3, strings.Count(r.stdout, " - created\n    Schema: valid\n"), r.stdout)
	assert.Contains(t, r.stdout, "│ Schema Validation:")
	assert.Contains(t, r.stdout, "│   Valid: 3")
	assert.Contains(t, r.stdout, "│   Invalid: 0")
	outputs := []string{r.stdout, r.stderr}

	// --check-decryption and --validate-schema together, as JSON.
	r = runCLI(t, dir, nil, "sync", "--validate-schema", "--check-decryption", "-o", "json")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	var doc struct {
		Rows []struct {
			Schema struct {
				Status string
				Detail string
			}
		}
		Summary struct {
			SchemaValid int `json:"schema_valid"`
		}
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc))
	require.Len(t, doc.Rows, 3)
	assert.Equal(t, "passed", doc.Rows[0].Schema.Status)
	assert.Equal(t, "5 variables valid against env.schema.json", doc.Rows[0].Schema.Detail)
	assert.Equal(t, 3, doc.Summary.SchemaValid)
	outputs = append(outputs, r.stdout, r.stderr)

	assertNoPlaintext(t, plain, outputs...)
	assertNoKeyMaterial(t, keys, outputs...)
}

// strictSchema is broken by the quickstart's api service: encrypted values
// (API_TOKEN, DATABASE_URL) and plain ones (PORT, LOG_LEVEL). The web
// service has none of these variables and none is required: it passes.
const strictSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "properties": {
    "DATABASE_URL": { "type": "string", "pattern": "^mysql://" },
    "API_TOKEN": { "type": "string", "minLength": 64 },
    "PORT": { "type": "integer", "maximum": 1000 },
    "LOG_LEVEL": { "enum": ["debug", "warn"] }
  }
}
`

func TestE2E_SchemaViolationExits1AndNeverShowsEncryptedValues(t *testing.T) {
	dir := copyQuickstart(t)
	plain := quickstartPlaintexts(t, dir)
	keys := secretsIn(t, dir)
	// --service-dir is searched first, so its env.schema.json replaces both
	// the api mapping's schema and the [vault.sync] default.
	strict := filepath.Join(dir, "strict")
	require.NoError(t, os.MkdirAll(strict, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(strict, "env.schema.json"), []byte(strictSchema), 0o644))

	r := runCLI(t, dir, nil, "sync", "--validate-schema", "--service-dir", "strict")
	assert.Equal(t, 1, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "  + services/api - created\n"+
		"    Schema: invalid (env.schema.json: 4 violations)\n"+
		"      - API_TOKEN: minLength: must be at least 64 characters\n"+
		"      - DATABASE_URL: pattern: must match ^mysql://\n"+
		`      - LOG_LEVEL: enum: must be one of "debug", "warn", got "info"`+"\n"+
		"      - PORT: maximum: must be <= 1000, got 8080\n")
	assert.Equal(t, 2, strings.Count(r.stdout, " - created\n    Schema: valid\n"), "the web service passes")
	assert.Contains(t, r.stdout, "│   Valid: 2")
	assert.Contains(t, r.stdout, "│   Invalid: 1")
	assert.Contains(t, r.stdout, "Sync finished with errors: 2 synced, 1 failed")
	assert.FileExists(t, filepath.Join(dir, "services", "api", ".env.keys"), "the key is still synced")
	outputs := []string{r.stdout, r.stderr}

	r = runCLI(t, dir, nil, "sync", "--validate-schema", "--service-dir", "strict", "-o", "json")
	assert.Equal(t, 1, r.code)
	var doc struct {
		OK   bool
		Rows []struct {
			Schema struct {
				Status   string
				Problems []string
			}
		}
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc))
	assert.False(t, doc.OK)
	assert.Equal(t, "failed", doc.Rows[0].Schema.Status)
	assert.Len(t, doc.Rows[0].Schema.Problems, 4)
	outputs = append(outputs, r.stdout, r.stderr)

	assertNoPlaintext(t, plain, outputs...)
	assertNoKeyMaterial(t, keys, outputs...)
}

func TestE2E_SchemaProblemsInTheCheckItself(t *testing.T) {
	dir := copyQuickstart(t)
	// An invalid schema file fails each row that uses it, naming the file.
	bad := filepath.Join(dir, "services", "api", "env.schema.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"properties": {"PORT": {"type": "port"}}}`), 0o644))
	r := runCLI(t, dir, nil, "sync", "--validate-schema")
	assert.Equal(t, 1, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "  + services/api - created\n    Schema: invalid (invalid schema "+bad+": not a valid JSON Schema: ")
	assert.Contains(t, r.stdout, "/properties/PORT/type")
	assert.Contains(t, r.stdout, "│   Valid: 2")

	// A key that does not decrypt the file is never installed, so no check
	// runs with it: the row says why.
	require.NoError(t, os.Remove(bad))
	k, err := dotenvx.GeneratePrivateKey(rand.Reader)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets", "api-production-key"), []byte(k.Hex()+"\n"), 0o600))
	r = runCLI(t, dir, nil, "sync", "--validate-schema", "--force")
	assert.Equal(t, 1, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "  x services/api - error\n    Error: key does not pair with the env file: the vault key is for "+
		dotenvx.ShortPublicKey(k.PublicKey().Hex()))
	assertNoKeyMaterial(t, append(secretsIn(t, dir), k.Hex()), r.stdout, r.stderr)
}

func TestE2E_SchemaFlagsUsageErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	writeProject(t, dir, "")
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"sync", "--validate-schema"}, "--validate-schema needs a schema: pass --schema PATH, or set schema in [vault.sync] or in a mapping"},
		{[]string{"sync", "--schema", "env.schema.json"}, "--schema and --service-dir need --validate-schema"},
		{[]string{"sync", "-s", "env.schema.json"}, "--schema and --service-dir need --validate-schema"},
		{[]string{"sync", "--service-dir", "."}, "--schema and --service-dir need --validate-schema"},
		{[]string{"sync", "--validate-schema", "-s", "env.schema.json", "-d", "no-such-dir"}, "--service-dir no-such-dir is not a directory"},
	}
	for _, tc := range cases {
		r := runCLI(t, dir, nil, tc.args...)
		assert.Equal(t, 2, r.code, "%v: %s%s", tc.args, r.stdout, r.stderr)
		assert.Contains(t, r.stderr, tc.msg, tc.args)
		assert.NoFileExists(t, filepath.Join(dir, "services", "svc", ".env.keys"), "nothing is synced on a usage error")
	}

	// A schema only on a mapping this run does not select is no schema.
	writeProject(t, dir, "\n[[vault.sync.mappings]]\nsecret_name = \"svc-key\"\nfolder_path = \"services/svc\"\nprofile = \"ops\"\nschema = \"env.schema.json\"\n")
	r := runCLI(t, dir, nil, "sync", "--validate-schema")
	assert.Equal(t, 2, r.code, r.stdout+r.stderr)
	r = runCLI(t, dir, nil, "sync", "--validate-schema", "--profile", "ops")
	assert.NotEqual(t, 2, r.code, r.stdout+r.stderr)
}

// writeProject writes a one-service project into dir: the file provider's
// secrets/svc-key, services/svc/.env.production with encrypted and plain
// values, and an envdrift.toml whose only mapping has extra appended. It
// returns the private key and the plaintexts of the encrypted values.
func writeProject(t *testing.T, dir, extra string) (*dotenvx.PrivateKey, []string) {
	t.Helper()
	k, err := dotenvx.GeneratePrivateKey(rand.Reader)
	require.NoError(t, err)
	secrets := map[string]string{"PORT": "8443", "API_TOKEN": "tok-5c1e9a7b-hidden", "FEATURE_X": "true", "RATIO": "0.25"}
	var env strings.Builder
	fmt.Fprintf(&env, "DOTENV_PUBLIC_KEY_PRODUCTION=\"%s\"\nLOG_LEVEL=info\n", k.PublicKey().Hex())
	var plain []string
	for _, name := range []string{"PORT", "API_TOKEN", "FEATURE_X", "RATIO"} {
		v, err := dotenvx.Encrypt(k.PublicKey(), secrets[name])
		require.NoError(t, err)
		fmt.Fprintf(&env, "%s=%s\n", name, v)
		if len(secrets[name]) > 5 {
			plain = append(plain, secrets[name])
		}
	}
	files := map[string]string{
		"secrets/svc-key":              k.Hex() + "\n",
		"services/svc/.env.production": env.String(),
		"envdrift.toml": "[vault]\nprovider = \"file\"\n\n[vault.file]\npath = \"secrets\"\n\n[vault.sync]\n\n" +
			"[[vault.sync.mappings]]\nsecret_name = \"svc-key\"\nfolder_path = \"services/svc\"\n" + extra,
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	}
	return k, plain
}

func TestE2E_SchemaInitRoundTrip(t *testing.T) {
	dir := t.TempDir()
	k, plain := writeProject(t, dir, "")
	svc := filepath.Join(dir, "services", "svc")

	// Before a sync there is no key at hand: a schema with a warning.
	r := runCLI(t, svc, nil, "schema", "init")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stderr, "warning: encrypted variables typed \"string\": cannot decrypt .env.production")
	assert.Contains(t, r.stderr, "hint: run `envdrift sync` first, pass --keys-file, or set DOTENV_PRIVATE_KEY_PRODUCTION")
	assert.Contains(t, r.stdout, "\"PORT\": {\n      \"type\": \"string\",\n      \"writeOnly\": true\n    }")
	outputs := []string{r.stdout, r.stderr}

	// The key from the environment.
	r = runCLI(t, dir, []string{"DOTENV_PRIVATE_KEY_PRODUCTION=" + k.Hex()}, "schema", "init", "services/svc/.env.production")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Empty(t, r.stderr)
	assert.Contains(t, r.stdout, "\"PORT\": {\n      \"type\": \"integer\",\n      \"writeOnly\": true\n    }")
	outputs = append(outputs, r.stdout, r.stderr)

	// The key from the .env.keys a sync writes next to the env file.
	r = runCLI(t, dir, nil, "sync")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	r = runCLI(t, dir, nil, "schema", "init", "services/svc/.env.production")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Empty(t, r.stderr)
	schema := r.stdout
	var doc struct {
		Schema     string `json:"$schema"`
		Properties map[string]struct {
			Type      string
			WriteOnly bool
		}
		Required             []string
		AdditionalProperties bool
	}
	require.NoError(t, json.Unmarshal([]byte(schema), &doc))
	assert.Equal(t, "https://json-schema.org/draft/2020-12/schema", doc.Schema)
	assert.Equal(t, []string{"LOG_LEVEL", "PORT", "API_TOKEN", "FEATURE_X", "RATIO"}, doc.Required)
	assert.True(t, doc.AdditionalProperties)
	got := map[string]string{}
	for name, p := range doc.Properties {
		got[name] = fmt.Sprintf("%s writeOnly=%v", p.Type, p.WriteOnly)
	}
	assert.Equal(t, map[string]string{
		"LOG_LEVEL": "string writeOnly=false", "PORT": "integer writeOnly=true", "API_TOKEN": "string writeOnly=true",
		"FEATURE_X": "boolean writeOnly=true", "RATIO": "number writeOnly=true",
	}, got)
	outputs = append(outputs, r.stdout, r.stderr)

	// --keys-file names another keys file.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "keys"), []byte("DOTENV_PRIVATE_KEY_PRODUCTION="+k.Hex()+"\n"), 0o600))
	r = runCLI(t, t.TempDir(), nil, "schema", "init", filepath.Join(svc, ".env.production"), "--keys-file", filepath.Join(dir, "keys"))
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Equal(t, schema, r.stdout)
	r = runCLI(t, dir, nil, "schema", "init", "services/svc/.env.production", "--keys-file", "no-such-keys")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "--keys-file")

	// What it printed validates the file it came from.
	require.NoError(t, os.WriteFile(filepath.Join(svc, "env.schema.json"), []byte(schema), 0o644))
	r = runCLI(t, dir, nil, "sync", "--validate-schema", "--schema", "env.schema.json")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "  = services/svc - skipped\n    Schema: valid\n")
	outputs = append(outputs, r.stdout, r.stderr)

	// Tightened by hand, it catches a change.
	tight := strings.Replace(schema, `"type": "integer",`, `"type": "integer", "maximum": 1024,`, 1)
	require.NoError(t, os.WriteFile(filepath.Join(svc, "env.schema.json"), []byte(tight), 0o644))
	r = runCLI(t, dir, nil, "sync", "--validate-schema", "--schema", "env.schema.json")
	assert.Equal(t, 1, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "      - PORT: maximum: must be <= 1024\n")
	outputs = append(outputs, r.stdout, r.stderr)

	assertNoPlaintext(t, plain, outputs...)
	assertNoKeyMaterial(t, []string{k.Hex()}, outputs...)
}

func TestE2E_SchemaInitOnTheQuickstart(t *testing.T) {
	dir := copyQuickstart(t)
	plain := quickstartPlaintexts(t, dir)
	r := runCLI(t, dir, nil, "sync")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	r = runCLI(t, filepath.Join(dir, "services", "api"), nil, "schema", "init")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "\"DATABASE_URL\": {\n      \"type\": \"string\",\n      \"writeOnly\": true\n    }")
	assert.Contains(t, r.stdout, "\"PORT\": {\n      \"type\": \"integer\"\n    }")
	assertNoPlaintext(t, plain, r.stdout, r.stderr)
	assertNoKeyMaterial(t, secretsIn(t, dir), r.stdout, r.stderr)

	r = runCLI(t, t.TempDir(), nil, "schema", "init")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "no ENV_FILE given and no .env.production or .env here")
	r = runCLI(t, dir, nil, "schema", "init", "no-such.env")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "no-such.env")
}

func TestE2E_ValidateSchemaWithoutEnvdriftSchemaStopsBeforeSyncing(t *testing.T) {
	dir := copyQuickstart(t)
	// envdrift alone, with envdrift-schema neither beside it nor on PATH.
	alone := filepath.Join(t.TempDir(), filepath.Base(binary))
	b, err := os.ReadFile(binary)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(alone, b, 0o755))
	for _, args := range [][]string{{"sync", "--validate-schema"}, {"sync", "--validate-schema", "-o", "json"}} {
		cmd := exec.Command(alone, args...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + t.TempDir(), "HOME=" + t.TempDir(), "NO_COLOR=1"}
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "%q", args)
		assert.Equal(t, 1, ee.ExitCode(), "%q", args)
		out := stdout.String() + stderr.String()
		assert.Contains(t, out, "envdrift-schema is not installed", "%q", args)
		if args[len(args)-1] == "json" {
			assert.Contains(t, out, `"error_kind": "not_installed"`)
		}
		assert.Contains(t, out, "go install github.com/envdrift/envdrift/cmd/envdrift-schema@", "%q", args)
		assert.NotContains(t, out, " - created", "%q: nothing may be synced", args)
		for _, svc := range []string{"services/api", "services/web"} {
			assert.NoFileExists(t, filepath.Join(dir, svc, ".env.keys"), "%q", args)
		}
	}
}
