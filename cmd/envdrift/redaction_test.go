package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/dotenvx"
)

// audit runs envdrift with HOME and TMPDIR of its own, and after every run
// checks that no 8-character piece of any secret (keys, old and new, tokens,
// credentials, decrypted values) appears in stdout, stderr, or any file
// below the project, HOME or TMPDIR other than keys files and their
// backups (and the file provider's secrets directory, which is the vault).
type audit struct {
	t            *testing.T
	dir          string
	home, tmp    string
	secrets      []string // random: no 8-character piece may appear
	whole        []string // fixed credentials: may not appear whole
	skip         []string // paths below dir that hold secrets on purpose
	runs, checks int
}

func newAudit(t *testing.T, dir string, skip ...string) *audit {
	return &audit{t: t, dir: dir, home: t.TempDir(), tmp: t.TempDir(), skip: skip}
}

func (a *audit) secret(s ...string) { a.secrets = append(a.secrets, s...) }

func (a *audit) run(env []string, args ...string) cliResult {
	a.t.Helper()
	env = append(append([]string{}, env...), "HOME="+a.home, "TMPDIR="+a.tmp)
	r := runCLIWithin(a.t, 60*time.Second, a.dir, env, args...)
	a.runs++
	if os.Getenv("ENVDRIFT_SHOW") != "" { // review every output: ENVDRIFT_SHOW=1 go test -v -run TestRedaction
		a.t.Logf("envdrift %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	a.check(strings.Join(args, " "), r.stdout+r.stderr)
	return r
}

// check asserts that out, and every file in the audited trees, is clean.
func (a *audit) check(what, out string) {
	a.t.Helper()
	a.checks++
	assertNoPieceOf(a.t, a.secrets, "output of "+what, out)
	for _, w := range a.whole {
		if w != "" {
			assert.NotContains(a.t, out, w, what)
		}
	}
	assertNoSecretsInTree(a.t, a.dir, a.secrets, a.skip...)
	assertNoSecretsInTree(a.t, a.home, a.secrets)
	assertNoSecretsInTree(a.t, a.tmp, a.secrets)
	ents, err := os.ReadDir(a.tmp)
	require.NoError(a.t, err)
	assert.Empty(a.t, ents, "%s left files in TMPDIR", what)
}

// twoOutputs runs args as text and as JSON.
func (a *audit) twoOutputs(env []string, args ...string) (text, json cliResult) {
	a.t.Helper()
	text = a.run(env, args...)
	json = a.run(env, append(args, "-o", "json")...)
	assert.Equal(a.t, text.code, json.code, "%v", args)
	return text, json
}

// TestRedaction_NoKeyOrTokenOnAnyPath drives the file-provider paths —
// create, skip, mismatch, verify, force with a backup, ephemeral keys, JSON
// output, the decryption check (native, and through a dotenvx that quotes
// the key in its error), the schema check, payloads that are keys labelled
// for another environment or hidden in field names, a local key that is
// almost right — and for AWS, HashiCorp Vault, GCP and Azure through their
// local servers: success, not found, permission denied and rejected
// credentials (with a known, random Vault token and secrets). A recovered
// panic is covered by TestPanic_RecoveredWithoutItsValue, and every
// injected fault by TestFaults_*, which make the same assertion.
func TestRedaction_NoKeyOrTokenOnAnyPath(t *testing.T) {
	t.Run("file provider", func(t *testing.T) {
		p := newProject(t, "[vault]\nprovider = \"file\"\n[vault.file]\npath = \"secrets\"\n"+fmt.Sprintf(twoMappings, "api-key", "web-key", ""))
		a := newAudit(t, p.dir, "secrets")
		a.secret(p.api.Hex(), p.web.Hex(), "postgres://api", "postgres://web")
		writeFiles(t, p.dir, map[string]string{"secrets/api-key": p.api.Hex(), "secrets/web-key": "DOTENV_PRIVATE_KEY_PRODUCTION=" + p.web.Hex()})

		text, _ := a.twoOutputs(nil, "sync", "--ci", "--check-decryption")
		require.Equal(t, 0, text.code, text.stdout+text.stderr)
		text, _ = a.twoOutputs(nil, "sync", "--ci")
		assert.Contains(t, text.stdout, "= api - skipped")

		// The vault's key for api changes to one the env file was not
		// encrypted for: refused under every mode, naming public keys only.
		next := genKey(t)
		a.secret(next.Hex())
		writeFiles(t, p.dir, map[string]string{"secrets/api-key": next.Hex()})
		text, _ = a.twoOutputs(nil, "sync", "--ci")
		assert.Contains(t, text.stdout, "key does not pair with the env file")
		text, _ = a.twoOutputs(nil, "sync", "--verify")
		assert.Contains(t, text.stdout, "key does not pair with the env file")
		text = a.run(nil, "sync", "--ci", "--force", "--check-decryption")
		assert.Contains(t, text.stdout, "x api - error")

		// The team rotates api's key: re-encrypted env file, new vault key,
		// old local key: mismatch, verify, force.
		enc, err := dotenvx.Encrypt(next.PublicKey(), "postgres://api")
		require.NoError(t, err)
		writeFiles(t, p.dir, map[string]string{"api/.env.production": fmt.Sprintf("DOTENV_PUBLIC_KEY_PRODUCTION=%q\nDATABASE_URL=%s\n", next.PublicKey().Hex(), enc)})
		text, _ = a.twoOutputs(nil, "sync", "--ci")
		assert.Contains(t, text.stdout, "use --force to replace it")
		text, _ = a.twoOutputs(nil, "sync", "--verify")
		assert.Contains(t, text.stdout, "is another key")
		text = a.run(nil, "sync", "--ci", "--force", "--check-decryption")
		assert.Contains(t, text.stdout, "~ api - updated")
		assert.Contains(t, text.stdout, "Decryption: PASSED")
		text, _ = a.twoOutputs(nil, "sync", "--verify", "--check-decryption")
		assert.Equal(t, 0, text.code, text.stdout)

		// A value that does not decrypt, and a schema the values break.
		writeFiles(t, p.dir, map[string]string{
			"secrets/api-key":     p.api.Hex(),
			"api/.env.keys":       "DOTENV_PRIVATE_KEY_PRODUCTION=" + p.api.Hex() + "\n",
			"api/.env.production": fmt.Sprintf("DOTENV_PUBLIC_KEY_PRODUCTION=%q\nDATABASE_URL=encrypted:BDb7t1Qkqb\n", p.api.PublicKey().Hex()),
			"schema.json":         `{"type":"object","properties":{"DATABASE_URL":{"pattern":"^mysql://"},"API_SECRET":{"type":"string"}},"required":["API_SECRET"]}`,
		})
		text, _ = a.twoOutputs(nil, "sync", "--ci", "--force", "--check-decryption", "--validate-schema", "--schema", "schema.json")
		assert.Equal(t, 1, text.code)
		assert.Contains(t, text.stdout, "did not decrypt")

		// The dotenvx CLI as the decrypter, one that quotes the key it was
		// given in its error: envdrift shows its first line with hex runs
		// removed, and removes the temporary copy it made.
		bin := t.TempDir()
		writeFiles(t, bin, map[string]string{"dotenvx": "#!/bin/sh\nwhile [ $# -gt 0 ]; do [ \"$1\" = -fk ] && keys=\"$2\"; shift; done\n" +
			"echo \"[DECRYPTION_FAILED] $(grep ^DOTENV_PRIVATE_KEY \"$keys\")\" >&2\nexit 1\n"})
		require.NoError(t, os.Chmod(filepath.Join(bin, "dotenvx"), 0o755))
		env := []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")}
		text, _ = a.twoOutputs(env, "sync", "--ci", "--check-decryption", "--decrypter", "dotenvx")
		assert.Contains(t, text.stdout, "Decryption: FAILED (dotenvx: [DECRYPTION_FAILED] DOTENV_PRIVATE_KEY_PRODUCTION=…)")

		// Payloads that hold keys in the wrong place, and a local key that
		// is one character short.
		staging, other := genKey(t), genKey(t)
		a.secret(staging.Hex(), other.Hex())
		for _, payload := range []string{
			"DOTENV_PRIVATE_KEY_STAGING=" + staging.Hex(),
			`{"DOTENV_PRIVATE_KEY_STAGING": "` + staging.Hex() + `"}`,
			`{"` + other.Hex() + `": "x", "` + staging.Hex()[:20] + `": 1}`,
			`{"value": {"nested": "` + staging.Hex() + `"}}`,
			staging.Hex()[:63],
			staging.Hex() + "," + other.Hex()[:60],
			"export DOTENV_PRIVATE_KEY_PRODUCTION='" + staging.Hex() + "x'",
		} {
			writeFiles(t, p.dir, map[string]string{"secrets/web-key": payload})
			text, _ = a.twoOutputs(nil, "sync", "--ci")
			assert.Contains(t, text.stdout, "x web - error", payload)
		}
		writeFiles(t, p.dir, map[string]string{"secrets/web-key": p.web.Hex(), "web/.env.keys": "DOTENV_PRIVATE_KEY_PRODUCTION=" + other.Hex()[:63] + "\n"})
		text, _ = a.twoOutputs(nil, "sync", "--ci")
		assert.Contains(t, text.stdout, "<not a valid key, 63 chars>")

		// Ephemeral keys stay in memory: not in the JSON document either.
		writeFiles(t, p.dir, map[string]string{"envdrift.toml": "[vault]\nprovider = \"file\"\n[vault.file]\npath = \"secrets\"\n[vault.sync]\n" +
			"[[vault.sync.mappings]]\nsecret_name = \"api-key\"\nfolder_path = \"api\"\nephemeral_keys = true\n"})
		_, json := a.twoOutputs(nil, "sync", "--ci")
		assert.Contains(t, json.stdout, `"action": "ephemeral"`)
		t.Logf("file provider: %d runs audited", a.runs)
	})

	for _, name := range []string{"aws", "hashicorp", "gcp", "azure"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fs := faultProviders[name].start(t)
			p := &faultProject{dir: t.TempDir(), keys: map[string]*dotenvx.PrivateKey{}}
			files := map[string]string{}
			var cfg strings.Builder
			cfg.WriteString("[vault]\nprovider = \"" + name + "\"\n" + fs.table + "\n[vault.sync]\n")
			for i, folder := range []string{"found", "missing", "denied"} {
				k := genKey(t)
				p.keys[folder] = k
				files[folder+"/.env.production"] = fmt.Sprintf("DOTENV_PUBLIC_KEY_PRODUCTION=%q\n", k.PublicKey().Hex())
				if folder != "missing" {
					fs.put(t, fs.vaults[i], "app-"+folder, k.Hex())
				}
				fmt.Fprintf(&cfg, "\n[[vault.sync.mappings]]\nsecret_name = %q\nfolder_path = %q\n", "app-"+folder, folder)
				if fs.vaults[i] != "" {
					fmt.Fprintf(&cfg, "vault_name = %q\n", fs.vaults[i])
				}
			}
			fs.deny(fs.vaults[2], "app-denied")
			files["envdrift.toml"] = cfg.String()
			writeFiles(t, p.dir, files)

			a := newAudit(t, p.dir)
			a.secret(p.allKeys()...)
			a.secret(fs.secrets...)
			a.whole = fs.credentials
			text, json := a.twoOutputs(fs.env, "sync", "--ci", "--check-decryption")
			assert.Equal(t, 1, text.code)
			assert.Contains(t, text.stdout, "+ found - created")
			assert.Contains(t, json.stdout, `"error_kind": "not_found"`)
			assert.Contains(t, json.stdout, `"error_kind": "permission_denied"`)

			bad, cred := fs.badCredentials(t)
			if cred != "" {
				a.secret(cred)
			}
			text, json = a.twoOutputs(append(append([]string{}, fs.env...), bad...), "sync", "--ci", "--force")
			assert.Equal(t, 1, text.code)
			assert.Contains(t, json.stdout, `"error_kind": "unauthenticated"`, text.stdout)
			t.Logf("%s: %d runs audited", name, a.runs)
		})
	}
}
