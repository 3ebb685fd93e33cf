package main

import (
	"bytes"
	"context"
	"errors"
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
	"github.com/envdrift/envdrift/internal/limits"
	"github.com/envdrift/envdrift/schema"
)

// runCLIWithin is runCLI with a time limit: a run that hangs (on a FIFO, a
// device, a never-ending read) fails the test instead of stalling it.
func runCLIWithin(t *testing.T, limit time.Duration, dir string, env []string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_COLOR=1"}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "envdrift %s did not finish within %s:\n%s%s", strings.Join(args, " "), limit, out.String(), errb.String())
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return cliResult{out.String(), errb.String(), code}
}

// badProject is a file-provider project with two services: "ok", whose keys
// file is already in step with the vault (a sync leaves it alone), and
// "svc", the target of each bad input.
type badProject struct {
	dir     string
	ok, svc *dotenvx.PrivateKey
}

const badConfig = "[vault]\nprovider = \"file\"\n\n[vault.file]\npath = \"secrets\"\n\n[vault.sync]\n\n" +
	"[[vault.sync.mappings]]\nsecret_name = \"ok-key\"\nfolder_path = \"ok\"\n\n" +
	"[[vault.sync.mappings]]\nsecret_name = \"svc-key\"\nfolder_path = \"svc\"\n"

func newBadProject(t *testing.T) *badProject {
	p := &badProject{dir: t.TempDir(), ok: genKey(t), svc: genKey(t)}
	env := func(k *dotenvx.PrivateKey) string {
		enc, err := dotenvx.Encrypt(k.PublicKey(), "s3cret-value")
		require.NoError(t, err)
		return fmt.Sprintf("DOTENV_PUBLIC_KEY_PRODUCTION=%q\nAPI_TOKEN=%s\n", k.PublicKey().Hex(), enc)
	}
	writeFiles(t, p.dir, map[string]string{
		"envdrift.toml":      badConfig,
		"secrets/ok-key":     p.ok.Hex() + "\n",
		"secrets/svc-key":    p.svc.Hex() + "\n",
		"ok/.env.production": env(p.ok), "svc/.env.production": env(p.svc),
		"ok/.env.keys": "DOTENV_PRIVATE_KEY_PRODUCTION=" + p.ok.Hex() + "\n",
	})
	require.NoError(t, os.Chmod(filepath.Join(p.dir, "ok", ".env.keys"), 0o600))
	return p
}

func (p *badProject) write(t *testing.T, name string, data []byte) {
	t.Helper()
	path := filepath.Join(p.dir, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, data, 0o600))
}

// syncedKeys gives svc a keys file in step with the vault, for the cases
// about its env file.
func (p *badProject) syncedKeys(t *testing.T) {
	p.write(t, "svc/.env.keys", []byte("DOTENV_PRIVATE_KEY_PRODUCTION="+p.svc.Hex()+"\n"))
}

func (p *badProject) mkfifo(t *testing.T, name string) {
	t.Helper()
	path := filepath.Join(p.dir, name)
	_ = os.Remove(path)
	mkfifo(t, path)
}

// badInput is one malformed input and what envdrift must say about it.
type badInput struct {
	name  string
	setup func(t *testing.T, p *badProject)
	args  []string // after "sync"; default --ci
	code  int
	// where and what must both appear in the output: where names the file
	// (and line) or the mapping, what says what is wrong.
	where, what string
}

func cfg(toml string) func(t *testing.T, p *badProject) {
	return func(t *testing.T, p *badProject) { p.write(t, "envdrift.toml", []byte(toml)) }
}

func pairs(text string) func(t *testing.T, p *badProject) {
	return func(t *testing.T, p *badProject) { p.write(t, "pair.txt", []byte(text)) }
}

func secret(data []byte) func(t *testing.T, p *badProject) {
	return func(t *testing.T, p *badProject) { p.write(t, "secrets/svc-key", data) }
}

func envFile(data []byte) func(t *testing.T, p *badProject) {
	return func(t *testing.T, p *badProject) {
		p.syncedKeys(t)
		p.write(t, "svc/.env.production", data)
	}
}

func keysFile(data []byte) func(t *testing.T, p *badProject) {
	return func(t *testing.T, p *badProject) { p.write(t, "svc/.env.keys", data) }
}

// mapping is a valid configuration with one changed mapping.
func mapping(body string) string {
	return "[vault]\nprovider = \"file\"\n\n[vault.file]\npath = \"secrets\"\n\n[vault.sync]\n\n[[vault.sync.mappings]]\n" + body
}

var pairArgs = []string{"--ci", "-c", "pair.txt", "-p", "file", "--vault-url", "secrets"}

// junk is bytes that are not text: NULs, invalid UTF-8 and control bytes.
var junk = []byte("\x00\x01\xff\xfe\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xc3\x28\x80\x00=\x00\n")

func badInputs(key string) []badInput {
	deep := strings.Repeat("[", 200000) + strings.Repeat("]", 200000)
	deepJSON := strings.Repeat(`{"value":`, 1) + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "}"
	hugeLine := strings.Repeat("x", (1<<20)+1)
	return []badInput{
		// envdrift.toml
		{name: "config: binary junk", setup: cfg(string(junk)), code: 1, where: "envdrift.toml: ", what: "not a text file"},
		{name: "config: a NUL byte in valid TOML", setup: cfg(strings.Replace(badConfig, "ok-key", "ok\x00key", 1)), code: 1, where: "envdrift.toml: ", what: "NUL bytes"},
		{name: "config: invalid UTF-8 in a string", setup: cfg(strings.Replace(badConfig, "ok-key", "ok-\xc3\x28", 1)), code: 1, where: "envdrift.toml: ", what: "invalid UTF-8"},
		{name: "config: duplicate table", setup: cfg(badConfig + "\n[vault.sync]\n"), code: 1, where: "envdrift.toml:17: ", what: "invalid TOML"},
		{name: "config: duplicate key", setup: cfg(mapping("secret_name = \"a\"\nsecret_name = \"b\"\nfolder_path = \"svc\"\n")), code: 1, where: "envdrift.toml:11: ", what: "invalid TOML"},
		{name: "config: unterminated string", setup: cfg(mapping("secret_name = \"a\nfolder_path = \"svc\"\n")), code: 1, where: "envdrift.toml:10: ", what: "invalid TOML"},
		{name: "config: secret_name an integer", setup: cfg(mapping("secret_name = 3\nfolder_path = \"svc\"\n")), code: 1, where: "envdrift.toml:10: vault.sync.mappings[0].secret_name", what: "must be a string, got an integer"},
		{name: "config: folder_path a date", setup: cfg(mapping("secret_name = \"a\"\nfolder_path = 1979-05-27T07:32:00Z\n")), code: 1, where: "envdrift.toml:11: vault.sync.mappings[0].folder_path", what: "must be a string, got a date/time"},
		{name: "config: secret_name an inline table", setup: cfg(mapping("secret_name = {a = 1}\nfolder_path = \"svc\"\n")), code: 1, where: "vault.sync.mappings[0].secret_name", what: "must be a string, got a table"},
		{name: "config: secret_name nested 200000 arrays deep", setup: cfg(mapping("secret_name = " + deep + "\nfolder_path = \"svc\"\n")), code: 1, where: "vault.sync.mappings[0].secret_name", what: "must be a string, got an array"},
		{name: "config: mappings a string", setup: cfg("[vault]\nprovider = \"file\"\n[vault.sync]\nmappings = \"svc\"\n"), code: 1, where: "envdrift.toml", what: "mappings"},
		{name: "config: max_workers a string", setup: cfg(strings.Replace(badConfig, "[vault.sync]\n", "[vault.sync]\nmax_workers = \"many\"\n", 1)), code: 1, where: "envdrift.toml:8: vault.sync.max_workers", what: "must be an integer, got a string"},
		{name: "config: max_workers out of range", setup: cfg(strings.Replace(badConfig, "[vault.sync]\n", "[vault.sync]\nmax_workers = 100000\n", 1)), code: 1, where: "envdrift.toml:8: vault.sync.max_workers", what: "between 1 and 256"},
		{name: "config: max_workers overflows int64", setup: cfg(strings.Replace(badConfig, "[vault.sync]\n", "[vault.sync]\nmax_workers = 99999999999999999999\n", 1)), code: 1, where: "envdrift.toml:8: ", what: "invalid TOML"},
		{name: "config: [vault.file] path an integer", setup: cfg(strings.Replace(badConfig, "path = \"secrets\"", "path = 5", 1)), code: 1, where: "envdrift.toml:5: vault.file", what: "must be a string, got an integer"},
		{name: "config: empty file", setup: cfg(""), code: 1, where: "envdrift.toml: vault: ", what: "missing [vault] table"},
		{name: "config: no mappings", setup: cfg("[vault]\nprovider = \"file\"\n[vault.sync]\n"), code: 1, where: "envdrift.toml:3: vault.sync.mappings", what: "nothing to sync"},
		{name: "config: mapping without folder_path", setup: cfg(mapping("secret_name = \"a\"\n")), code: 1, where: "envdrift.toml:9: vault.sync.mappings[0].folder_path", what: "required"},
		{name: "config: secret_name with a newline", setup: cfg(mapping("secret_name = \"a\\nb\"\nfolder_path = \"svc\"\n")), code: 1, where: "envdrift.toml:10: vault.sync.mappings[0].secret_name", what: "control character"},
		{name: "config: environment with a slash", setup: cfg(mapping("secret_name = \"a\"\nfolder_path = \"svc\"\nenvironment = \"prod/../x\"\n")), code: 1, where: "envdrift.toml:12: vault.sync.mappings[0].environment", what: "not an environment name"},
		{name: "config: folder_path leaves the directory", setup: cfg(mapping("secret_name = \"a\"\nfolder_path = \"../outside\"\n")), code: 1, where: "envdrift.toml:11: vault.sync.mappings[0].folder_path", what: "leaves the configuration's directory"},
		{name: "config: folder_path absolute", setup: cfg(mapping("secret_name = \"a\"\nfolder_path = \"/etc\"\n")), code: 1, where: "envdrift.toml:11: vault.sync.mappings[0].folder_path", what: "is absolute"},
		{name: "config: env_file leaves the directory", setup: cfg(mapping("secret_name = \"a\"\nfolder_path = \"svc\"\nenv_file = \"../../.env\"\n")), code: 1, where: "envdrift.toml:12: vault.sync.mappings[0].env_file", what: "leaves the configuration's directory"},
		{name: "config: env_keys_filename with a directory", setup: cfg(strings.Replace(badConfig, "[vault.sync]\n", "[vault.sync]\nenv_keys_filename = \"../keys\"\n", 1)), code: 1, where: "envdrift.toml:8: vault.sync.env_keys_filename", what: "plain file name"},
		{name: "config: unknown provider", setup: cfg(strings.Replace(badConfig, "provider = \"file\"", "provider = \"dropbox\"", 1)), code: 1, where: "envdrift.toml:2: vault.provider", what: "unknown provider \"dropbox\""},
		{name: "config: over MaxConfigSize", setup: cfg(badConfig + "#" + hugeLine + "\n"), code: 1, where: "envdrift.toml: ", what: "over the 1048576-byte limit"},
		{name: "config: a directory", setup: func(t *testing.T, p *badProject) {
			require.NoError(t, os.Mkdir(filepath.Join(p.dir, "dir.toml"), 0o755))
		}, args: []string{"--ci", "-c", "dir.toml"}, code: 1, where: "-c dir.toml ", what: "is a directory: give the configuration file"},
		{name: "config: a FIFO", setup: func(t *testing.T, p *badProject) { p.mkfifo(t, "fifo.toml") },
			args: []string{"--ci", "-c", "fifo.toml"}, code: 1, where: "fifo.toml: ", what: "not a regular file"},
		{name: "config: missing", setup: func(*testing.T, *badProject) {}, args: []string{"--ci", "-c", "nope.toml"}, code: 1, where: "nope.toml: ", what: "no such file"},
		{name: "config: pyproject.toml with a wrong type", setup: func(t *testing.T, p *badProject) {
			p.write(t, "pyproject.toml", []byte("[project]\nname = \"x\"\n\n[tool.envdrift.vault]\nprovider = 7\n"))
		}, args: []string{"--ci", "-c", "pyproject.toml"}, code: 1, where: "pyproject.toml:5: tool.envdrift.vault.provider", what: "must be a string, got an integer"},

		// pair.txt
		{name: "pair.txt: a line without =", setup: pairs("# legacy\nsvc-key svc\n"), args: pairArgs, code: 1, where: "pair.txt:2: ", what: "expected secret-name=folder-path"},
		{name: "pair.txt: empty secret", setup: pairs("=svc\n"), args: pairArgs, code: 1, where: "pair.txt:1: ", what: "expected secret-name=folder-path"},
		{name: "pair.txt: empty folder", setup: pairs("svc-key=\n"), args: pairArgs, code: 1, where: "pair.txt:1: ", what: "expected secret-name=folder-path"},
		{name: "pair.txt: empty vault name", setup: pairs("ok-key=ok\n/svc-key=svc\n"), args: pairArgs, code: 1, where: "pair.txt:2: ", what: "expected vault-name/secret-name"},
		{name: "pair.txt: folder leaves the directory", setup: pairs("svc-key=../svc\n"), args: pairArgs, code: 1, where: "pair.txt:1: ", what: "leaves the configuration's directory"},
		{name: "pair.txt: NUL bytes", setup: pairs("svc-key=svc\x00\n"), args: pairArgs, code: 1, where: "pair.txt: ", what: "not a text file"},
		{name: "pair.txt: invalid UTF-8", setup: pairs("svc-\xff=svc\n"), args: pairArgs, code: 1, where: "pair.txt: ", what: "not a text file"},
		{name: "pair.txt: binary junk", setup: pairs(string(junk)), args: pairArgs, code: 1, where: "pair.txt: ", what: "not a text file"},
		{name: "pair.txt: only comments", setup: pairs("# nothing\n\n   \n"), args: pairArgs, code: 1, where: "pair.txt: ", what: "nothing to sync"},
		{name: "pair.txt: a 900 KB line", setup: pairs("# ok\n" + strings.Repeat("y", 900<<10) + "\n"), args: pairArgs, code: 1, where: "pair.txt:2: ", what: "expected secret-name=folder-path"},
		{name: "pair.txt: over MaxConfigSize", setup: pairs("svc-key=svc\n#" + hugeLine + "\n"), args: pairArgs, code: 1, where: "pair.txt: ", what: "over the 1048576-byte limit"},

		// vault payloads
		{name: "payload: empty", setup: secret(nil), code: 1, where: "secret svc-key: ", what: "the secret is empty"},
		{name: "payload: 10 MB", setup: secret(bytes.Repeat([]byte("a"), 10<<20)), code: 1, where: "svc-key", what: "larger than the 1048576-byte secret limit"},
		{name: "payload: MaxSecretSize+1 bytes", setup: secret(bytes.Repeat([]byte("#"), limits.MaxSecretSize+1)), code: 1, where: "svc-key", what: "larger than the 1048576-byte secret limit"},
		{name: "payload: binary junk", setup: secret(junk), code: 1, where: "secret svc-key: ", what: "binary payload"},
		{name: "payload: a NUL inside the key", setup: secret([]byte(key[:30] + "\x00" + key[31:])), code: 1, where: "secret svc-key: ", what: "containing NUL"},
		{name: "payload: invalid UTF-8", setup: secret([]byte(key + "\xc3\x28")), code: 1, where: "secret svc-key: ", what: "not UTF-8 text"},
		{name: "payload: truncated JSON", setup: secret([]byte(`{"DOTENV_PRIVATE_KEY_PRODUCTION": "` + key[:20])), code: 1, where: "secret svc-key: JSON", what: "ends early"},
		{name: "payload: JSON with a number field", setup: secret([]byte(`{"DOTENV_PRIVATE_KEY_PRODUCTION": 5}`)), code: 1, where: "secret svc-key: JSON object", what: "is not a string"},
		{name: "payload: JSON nested 20000 deep", setup: secret([]byte(deepJSON)), code: 1, where: "secret svc-key: JSON", what: "invalid JSON at byte"},
		{name: "payload: a JSON array", setup: secret([]byte(`["` + key + `"]`)), code: 1, where: "secret svc-key: ", what: "not a dotenvx private key"},
		{name: "payload: labelled for another environment", setup: secret([]byte("DOTENV_PRIVATE_KEY_STAGING=" + key)), code: 1, where: "secret svc-key: ", what: "labelled for another environment"},
		{name: "payload: 63 hex digits", setup: secret([]byte(key[:63])), code: 1, where: "secret svc-key: bare value", what: "not 64 hex digits"},
		{name: "payload: the zero key", setup: secret([]byte(strings.Repeat("0", 64))), code: 1, where: "secret svc-key: bare value", what: "zero"},
		{name: "payload: a key above the curve order", setup: secret([]byte(strings.Repeat("f", 64))), code: 1, where: "secret svc-key: bare value", what: "not below the curve order"},
		{name: "payload: an HTML error page", setup: secret([]byte("<!DOCTYPE html>\n<html><body><h1>502 Bad Gateway</h1></body></html>\n")), code: 1, where: "secret svc-key: text", what: "neither a bare key nor NAME=value lines"},
		{name: "payload: .env.keys text without the key", setup: secret([]byte("#/---- private decryption keys ----/\n\nOTHER=1\n")), code: 1, where: "secret svc-key: ", what: "no DOTENV_PRIVATE_KEY_PRODUCTION line"},
		{name: "payload: a directory", setup: func(t *testing.T, p *badProject) {
			require.NoError(t, os.Remove(filepath.Join(p.dir, "secrets", "svc-key")))
			require.NoError(t, os.Mkdir(filepath.Join(p.dir, "secrets", "svc-key"), 0o700))
		}, code: 1, where: "secret svc-key: ", what: "is a directory"},
		{name: "payload: a FIFO", setup: func(t *testing.T, p *badProject) { p.mkfifo(t, "secrets/svc-key") },
			code: 1, where: "secret svc-key: ", what: "not a regular file"},
		{name: "payload: secret name leaves the directory", setup: cfg(mapping("secret_name = \"../envdrift.toml\"\nfolder_path = \"svc\"\n")),
			code: 1, where: "secret ../envdrift.toml: ", what: "would leave the secrets directory"},

		// env files (svc's keys file is already in step; --check-decryption)
		{name: "env file: over MaxFileSize", setup: envFile(bytes.Repeat([]byte("#"), 16<<20+1)), args: []string{"--ci", "--check-decryption"},
			code: 1, where: "svc/.env.production", what: "too large"},
		{name: "env file: a directory", setup: func(t *testing.T, p *badProject) {
			p.syncedKeys(t)
			require.NoError(t, os.Remove(filepath.Join(p.dir, "svc", ".env.production")))
			require.NoError(t, os.Mkdir(filepath.Join(p.dir, "svc", ".env.production"), 0o755))
		}, args: []string{"--ci", "--check-decryption"}, code: 1, where: "svc/.env.production", what: "is a directory"},
		{name: "env file: a FIFO", setup: func(t *testing.T, p *badProject) { p.syncedKeys(t); p.mkfifo(t, "svc/.env.production") },
			args: []string{"--ci", "--check-decryption"}, code: 1, where: "svc/.env.production", what: "not a regular file"},
		{name: "env file: junk public key", setup: envFile([]byte("DOTENV_PUBLIC_KEY_PRODUCTION=\"\x00\xff junk\"\nA=encrypted:AAAA\n")), args: []string{"--ci", "--check-decryption"},
			code: 1, where: ".env.production", what: "is not a valid public key"},
		{name: "env file: truncated ciphertext", setup: func(t *testing.T, p *badProject) {
			envFile([]byte(fmt.Sprintf("DOTENV_PUBLIC_KEY_PRODUCTION=%q\nAPI_TOKEN=encrypted:BDb7t1QkqbBn\n", p.svc.PublicKey().Hex())))(t, p)
		}, args: []string{"--ci", "--check-decryption"}, code: 1, where: "svc - skipped", what: "API_TOKEN"},
		{name: "env file: binary junk in a ciphertext", setup: func(t *testing.T, p *badProject) {
			envFile([]byte(fmt.Sprintf("DOTENV_PUBLIC_KEY_PRODUCTION=%q\nAPI_TOKEN=encrypted:\x00\xff\xfe%s\n", p.svc.PublicKey().Hex(), junk)))(t, p)
		}, args: []string{"--ci", "--check-decryption"}, code: 1, where: "svc - skipped", what: "API_TOKEN"},
		{name: "env file: a 10 MB line of ciphertext", setup: func(t *testing.T, p *badProject) {
			envFile([]byte(fmt.Sprintf("DOTENV_PUBLIC_KEY_PRODUCTION=%q\nBIG=encrypted:%s\n", p.svc.PublicKey().Hex(), strings.Repeat("QUFB", 10<<18))))(t, p)
		}, args: []string{"--ci", "--check-decryption"}, code: 1, where: "svc - skipped", what: "BIG"},

		// keys files
		{name: "keys file: over MaxKeysFileSize", setup: keysFile(bytes.Repeat([]byte("#"), (1<<20)+1)), code: 1, where: "svc/.env.keys", what: "over the 1048576-byte limit"},
		{name: "keys file: binary junk", setup: keysFile(junk), code: 1, where: "svc/.env.keys", what: "not a text file"},
		{name: "keys file: invalid UTF-8", setup: keysFile([]byte("# notes \xc3\x28\nOTHER=1\n")), code: 1, where: "svc/.env.keys", what: "not a text file"},
		{name: "keys file: NUL bytes after a crash", setup: keysFile(make([]byte, 4096)), code: 1, where: "svc/.env.keys", what: "not a text file"},
		{name: "keys file: UTF-16", setup: keysFile([]byte("\xff\xfeA\x00=\x001\x00\n\x00")), code: 1, where: "svc/.env.keys", what: "UTF-16"},
		{name: "keys file: junk where the key is", setup: keysFile([]byte("DOTENV_PRIVATE_KEY_PRODUCTION=not-a-key\n")), code: 1, where: "svc - error", what: "<not a valid key, 9 chars>"},
		{name: "keys file: the key spans lines", setup: keysFile([]byte("DOTENV_PRIVATE_KEY_PRODUCTION=\"abc\ndef\"\n")), args: []string{"--ci", "--force"},
			code: 1, where: "svc/.env.keys", what: "spans several lines"},
		{name: "keys file: a symlink", setup: func(t *testing.T, p *badProject) {
			p.write(t, "elsewhere", []byte("A=1\n"))
			require.NoError(t, os.Symlink(filepath.Join(p.dir, "elsewhere"), filepath.Join(p.dir, "svc", ".env.keys")))
		}, code: 1, where: "svc/.env.keys", what: "is a symlink"},
		{name: "keys file: a directory", setup: func(t *testing.T, p *badProject) {
			require.NoError(t, os.Mkdir(filepath.Join(p.dir, "svc", ".env.keys"), 0o700))
		}, code: 1, where: "svc/.env.keys", what: "not a regular file"},
		{name: "keys file: a FIFO", setup: func(t *testing.T, p *badProject) { p.mkfifo(t, "svc/.env.keys") },
			code: 1, where: "svc/.env.keys", what: "not a regular file"},

		// schema files (--validate-schema)
		{name: "schema: a FIFO", setup: func(t *testing.T, p *badProject) { p.syncedKeys(t); p.mkfifo(t, "schema.json") },
			args: []string{"--ci", "--validate-schema", "--schema", "schema.json"}, code: 1, where: "schema.json", what: "not a regular file"},
		{name: "schema: over schema.MaxSize", setup: func(t *testing.T, p *badProject) {
			p.syncedKeys(t)
			p.write(t, "schema.json", append([]byte(`{"type":"object","description":"`), append(bytes.Repeat([]byte("x"), schema.MaxSize), '"', '}')...))
		}, args: []string{"--ci", "--validate-schema", "--schema", "schema.json"}, code: 1, where: "schema.json", what: "larger than 4194304 bytes"},

		// command line
		{name: "usage: --timeout 0", setup: func(*testing.T, *badProject) {}, args: []string{"--timeout", "0"}, code: 2, where: "--timeout", what: "must be positive"},
		{name: "usage: --timeout not UTF-8", setup: func(*testing.T, *badProject) {}, args: []string{"--timeout", "\xff\xfe"}, code: 2, where: "--timeout", what: "invalid"},
		{name: "usage: --concurrency 257", setup: func(*testing.T, *badProject) {}, args: []string{"--concurrency", "257"}, code: 2, where: "--concurrency", what: "between 1 and 256"},
		{name: "usage: --output yaml", setup: func(*testing.T, *badProject) {}, args: []string{"--output", "yaml"}, code: 2, where: "--output", what: "yaml"},
		{name: "usage: --schema without --validate-schema", setup: func(*testing.T, *badProject) {}, args: []string{"--schema", "x.json"}, code: 2, where: "--schema", what: "need --validate-schema"},
	}
}

// TestBadInput_ClearErrorDocumentedExitAndNothingChanged feeds envdrift
// malformed configuration files, pair.txt files, vault payloads, env files,
// keys files and flags. Each run finishes, exits 1 (bad configuration or a
// failed mapping) or 2 (bad usage), names where the problem is and what it
// is, leaks no key, and leaves every file as it was.
func TestBadInput_ClearErrorDocumentedExitAndNothingChanged(t *testing.T) {
	total := 0
	for _, bi := range badInputs(genKey(t).Hex()) {
		total++
		t.Run(bi.name, func(t *testing.T) {
			t.Parallel()
			p := newBadProject(t)
			bi.setup(t, p)
			before := snapshotTree(t, p.dir)
			args := bi.args
			if args == nil {
				args = []string{"--ci"}
			}
			r := runCLIWithin(t, 60*time.Second, p.dir, nil, append([]string{"sync"}, args...)...)
			out := r.stdout + r.stderr
			if os.Getenv("ENVDRIFT_SHOW") != "" { // review every message: ENVDRIFT_SHOW=1 go test -v -run TestBadInput
				t.Logf("exit %d\n%s", r.code, out)
			}
			assert.Equal(t, bi.code, r.code, out)
			assert.Contains(t, out, bi.where, "the message says where")
			assert.Contains(t, out, bi.what, "the message says what")
			assert.Empty(t, diffSnapshots(before, snapshotTree(t, p.dir)), "files changed:\n%s", out)
			assertNoPieceOf(t, []string{p.ok.Hex(), p.svc.Hex()}, "output", out)
			assert.Less(t, len(out), 64<<10, "the message is short, not an echo of the input")
		})
	}
	t.Logf("bad inputs tried: %d", total)
}
