package main

// Black-box tests of issue 12, "every run tells the truth", one per point,
// through the built binary: the file provider (secrets/ is the vault) and
// the local Vault server. The pty, pipe and signal tests are in
// e2e_truth_unix_test.go. docs/exit-codes.md names the tests behind each
// exit code.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/internal/testserver/vaultkv"
)

// truthProject is a temporary repository for the file provider: secrets/
// is the vault, envdrift.toml the configuration.
type truthProject struct {
	t    *testing.T
	dir  string
	keys []string // every private key in play, for the leak check
}

func newTruthProject(t *testing.T) *truthProject {
	t.Helper()
	p := &truthProject{t: t, dir: t.TempDir()}
	require.NoError(t, os.MkdirAll(filepath.Join(p.dir, "secrets"), 0o755))
	return p
}

// service writes folder/envFile encrypted for a new key, declaring its
// public key as dotenvx does (DOTENV_PUBLIC_KEY for .env, else
// DOTENV_PUBLIC_KEY_<ENV>), and returns the key.
func (p *truthProject) service(folder, envFile string) *dotenvx.PrivateKey {
	p.t.Helper()
	k := genKey(p.t)
	p.keys = append(p.keys, k.Hex())
	name := "DOTENV_PUBLIC_KEY"
	if env, ok := strings.CutPrefix(envFile, ".env."); ok {
		name += "_" + strings.ToUpper(env)
	}
	enc, err := dotenvx.Encrypt(k.PublicKey(), "value-of-"+folder)
	require.NoError(p.t, err)
	writeFiles(p.t, p.dir, map[string]string{
		filepath.Join(folder, envFile): fmt.Sprintf("%s=%q\nAPI_SECRET=%q\n", name, k.PublicKey().Hex(), enc),
	})
	return k
}

// secret stores content as the vault secret name.
func (p *truthProject) secret(name, content string) {
	p.t.Helper()
	require.NoError(p.t, os.WriteFile(filepath.Join(p.dir, "secrets", name), []byte(content), 0o600))
}

// config writes envdrift.toml: the file provider on secrets/, then body.
func (p *truthProject) config(body string) {
	p.t.Helper()
	writeFiles(p.t, p.dir, map[string]string{
		"envdrift.toml": "[vault]\nprovider = \"file\"\n\n[vault.file]\npath = \"secrets\"\n\n" + body,
	})
}

// run runs envdrift in the project's directory and checks that no private
// key reached the output.
func (p *truthProject) run(args ...string) cliResult {
	p.t.Helper()
	r := runCLI(p.t, p.dir, nil, args...)
	assertNoKeyMaterial(p.t, p.keys, r.stdout, r.stderr)
	return r
}

func (p *truthProject) keysFile(folder string) string {
	b, err := os.ReadFile(filepath.Join(p.dir, folder, ".env.keys"))
	if err != nil {
		return ""
	}
	return string(b)
}

// truthMapping is a [[vault.sync.mappings]] table; extra lines follow.
func truthMapping(secret, folder string, extra ...string) string {
	s := fmt.Sprintf("\n[[vault.sync.mappings]]\nsecret_name = %q\nfolder_path = %q\n", secret, folder)
	for _, e := range extra {
		s += e + "\n"
	}
	return s
}

func shortPub(k *dotenvx.PrivateKey) string { return dotenvx.ShortPublicKey(k.PublicKey().Hex()) }

// finalLine is the last line of out.
func finalLine(out string) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	return lines[len(lines)-1]
}

// §1 Never install a key that does not pair with the env file.

// TestTruth_VaultKeyThatDoesNotPairIsRefusedInEveryMode: a vault key
// that cannot decrypt the env file is an error naming both public keys in a
// first sync, under --force over a working key, under --verify and for an
// ephemeral mapping; nothing is written and the working key stays. A
// comma-separated vault value pairs when any of its keys does, as dotenvx
// picks the key by the declared public key.
func TestTruth_VaultKeyThatDoesNotPairIsRefusedInEveryMode(t *testing.T) {
	p := newTruthProject(t)
	api := p.service("api", ".env.production")
	other := genKey(t)
	p.keys = append(p.keys, other.Hex())
	p.config("[vault.sync]\n" + truthMapping("api-key", "api", `environment = "production"`))
	refusal := "Error: key does not pair with the env file: the vault key is for " + shortPub(other) +
		", .env.production was encrypted for " + shortPub(api) + ": re-encrypt the file or fix the secret\n"

	p.secret("api-key", other.Hex())
	r := p.run("sync")
	assert.Equal(t, 1, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "  x api - error\n    "+refusal)
	assert.Empty(t, p.keysFile("api"), "first sync: nothing written")

	p.secret("api-key", api.Hex())
	require.Equal(t, 0, p.run("sync").code)
	working := p.keysFile("api")
	require.Contains(t, working, api.Hex())

	p.secret("api-key", other.Hex())
	for _, args := range [][]string{{"sync", "--force"}, {"sync", "--verify"}, {"sync", "--ci"}} {
		r = p.run(args...)
		assert.Equal(t, 1, r.code, "%v: %s", args, r.stdout)
		assert.Contains(t, r.stdout, refusal, "%v", args)
		assert.Equal(t, working, p.keysFile("api"), "%v: the working key is kept", args)
	}
	backups, _ := filepath.Glob(filepath.Join(p.dir, "api", ".env.keys.backup.*"))
	assert.Empty(t, backups, "nothing was replaced, so nothing was backed up")

	p.config("[vault.sync]\n" + truthMapping("api-key", "api", `environment = "production"`, "ephemeral_keys = true"))
	r = p.run("sync")
	assert.Equal(t, 1, r.code, r.stdout)
	assert.Contains(t, r.stdout, refusal, "ephemeral mappings are checked too")

	p.secret("api-key", other.Hex()+","+api.Hex())
	p.config("[vault.sync]\n" + truthMapping("api-key", "api", `environment = "production"`))
	r = p.run("sync", "--force")
	assert.Equal(t, 0, r.code, r.stdout)
}

// §2 No green run that did nothing.

// TestTruth_EmptySelectionIsAnError: no mapping at all, a --profile that
// no mapping has (even when mappings without a profile would run), and only
// profile mappings without --profile are errors (exit 1) that write
// nothing.
func TestTruth_EmptySelectionIsAnError(t *testing.T) {
	p := newTruthProject(t)
	p.service("api", ".env.production")
	p.service("local", ".env.production")

	p.config("[vault.sync]\n")
	r := p.run("sync")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "no [[vault.sync.mappings]] entries: nothing to sync")

	p.config("[vault.sync]\n" + truthMapping("api-key", "api") +
		truthMapping("local-key", "local", `profile = "local"`) + truthMapping("prod-key", "local", `profile = "prod"`, `environment = "staging"`))
	r = p.run("sync", "--profile", "loacl")
	assert.Equal(t, 1, r.code, r.stdout)
	assert.Contains(t, r.stderr, `no mapping has profile "loacl" (did you mean "local"?); profiles: local, prod`)
	assert.Empty(t, r.stdout, "no row ran")

	p.config("[vault.sync]\n" + truthMapping("local-key", "local", `profile = "local"`) + truthMapping("prod-key", "local", `profile = "prod"`, `environment = "staging"`))
	r = p.run("sync")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "every mapping has a profile (local, prod) and none was selected")
	assert.Contains(t, r.stderr, "hint: choose the mappings to use with --profile NAME")

	assert.Empty(t, p.keysFile("api")+p.keysFile("local"))
}

// TestTruth_EphemeralKeysInVaultSyncKeepsEveryKeyOffDisk: [vault.sync]
// ephemeral_keys = true is every mapping's default; a mapping may say false.
func TestTruth_EphemeralKeysInVaultSyncKeepsEveryKeyOffDisk(t *testing.T) {
	p := newTruthProject(t)
	api := p.service("api", ".env.production")
	web := p.service("web", ".env.production")
	p.secret("api-key", api.Hex())
	p.secret("web-key", web.Hex())
	p.config("[vault.sync]\nephemeral_keys = true\n" + truthMapping("api-key", "api") + truthMapping("web-key", "web", "ephemeral_keys = false"))
	r := p.run("sync", "--check-decryption")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "  * api - ephemeral\n    Decryption: PASSED\n")
	assert.Contains(t, r.stdout, "  + web - created\n")
	assert.NotContains(t, r.stderr, "unknown key")
	assert.NoFileExists(t, filepath.Join(p.dir, "api", ".env.keys"), "a config that asks for no key on disk never gets one")
	assert.Contains(t, p.keysFile("web"), web.Hex())
}

// TestTruth_MissingEnvFileIsSkippedBySyncAndVerifyAlike: both skip the
// mapping, say so on the row and in the last line, and exit 0; --verify
// still probes the secret, and a missing secret stays an error there.
func TestTruth_MissingEnvFileIsSkippedBySyncAndVerifyAlike(t *testing.T) {
	p := newTruthProject(t)
	api := p.service("api", ".env.production")
	require.NoError(t, os.MkdirAll(filepath.Join(p.dir, "gone"), 0o755))
	p.secret("api-key", api.Hex())
	p.secret("gone-key", genKey(t).Hex())
	p.config("[vault.sync]\n" + truthMapping("api-key", "api") + truthMapping("gone-key", "gone"))

	r := p.run("sync")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "  = gone - skipped\n    Note: no .env.production in gone\n")
	assert.Contains(t, r.stdout, "│ Skipped (no env file): 1")
	assert.Equal(t, "1 synced, 1 skipped (no env file: gone)", finalLine(r.stdout))
	assert.NotContains(t, r.stdout, "All services synced successfully")

	r = p.run("sync", "--verify")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "  = gone - skipped\n    Note: no .env.production in gone; the vault secret holds a valid key\n")
	assert.Equal(t, "1 match, 1 skipped (no env file: gone)", finalLine(r.stdout))
	assert.NotContains(t, r.stdout, "would create")

	require.NoError(t, os.Remove(filepath.Join(p.dir, "secrets", "gone-key")))
	r = p.run("sync", "--verify")
	assert.Equal(t, 1, r.code, r.stdout)
	assert.Contains(t, r.stdout, "  x gone - error\n    Error: file: secret gone-key: not found")
	assert.NoFileExists(t, filepath.Join(p.dir, "gone", ".env.keys"))
}

// TestTruth_PlainDotEnvIsUsedWhenTheMappingNamesNoEnvironment: a folder
// with .env (dotenvx's default) and no .env.production gets
// DOTENV_PRIVATE_KEY; a lone .env.<other> is not adopted.
func TestTruth_PlainDotEnvIsUsedWhenTheMappingNamesNoEnvironment(t *testing.T) {
	p := newTruthProject(t)
	k := p.service("app", ".env")
	p.service("lone", ".env.staging")
	p.secret("app-key", k.Hex())
	p.secret("lone-key", genKey(t).Hex())
	p.config("[vault.sync]\n" + truthMapping("app-key", "app") + truthMapping("lone-key", "lone"))
	r := p.run("sync", "--check-decryption")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "  + app - created\n    Decryption: PASSED\n")
	assert.Contains(t, p.keysFile("app"), "\nDOTENV_PRIVATE_KEY="+k.Hex()+"\n")
	assert.Contains(t, r.stdout, "  = lone - skipped\n    Note: no .env.production in lone")
	assert.Empty(t, p.keysFile("lone"))
}

// TestTruth_NearMissesGetADidYouMean: an upper-case environment, a missing
// env file beside another .env.*, and a misspelt table each get a hint,
// also when the typo is what makes the run fail.
func TestTruth_NearMissesGetADidYouMean(t *testing.T) {
	p := newTruthProject(t)
	p.service("api", ".env.production")
	p.service("web", ".env.stagin")
	p.config("[vault.sync]\n" + truthMapping("api-key", "api", `environment = "PRODUCTION"`) + truthMapping("web-key", "web", `environment = "staging"`))
	r := p.run("sync")
	assert.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, `Note: no .env.PRODUCTION in api (it has .env.production: did you mean environment = "production"?)`)
	assert.Contains(t, r.stdout, `Note: no .env.staging in web (it has .env.stagin: set environment = "stagin" to use it)`)
	assert.Equal(t, "0 synced, 2 skipped (no env file: api, web)", finalLine(r.stdout))

	p.config("[vault.sync]\n" + strings.ReplaceAll(truthMapping("api-key", "api"), "mappings", "mapping"))
	r = p.run("sync")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `envdrift.toml:7: vault.sync.mappings: no [[vault.sync.mappings]] entries: nothing to sync (line 9 has "mapping": did you mean "mappings"?)`, "the hint is kept when the typo causes the error")
}

// TestTruth_TwoMappingsWritingOneKeyAreAConfigError: same folder and
// environment, different secrets.
func TestTruth_TwoMappingsWritingOneKeyAreAConfigError(t *testing.T) {
	p := newTruthProject(t)
	k := p.service("api", ".env.production")
	p.secret("a", k.Hex())
	p.secret("b", k.Hex())
	p.config("[vault.sync]\n" + truthMapping("a", "api") + truthMapping("b", "api", `environment = "production"`))
	r := p.run("sync")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "mapping 1 (line 9, secret a) and mapping 2 (line 13, secret b) both write DOTENV_PRIVATE_KEY_PRODUCTION into api/.env.keys")
	assert.Empty(t, p.keysFile("api"))
}

// TestTruth_KeepBackupsRemovesOlderBackupsAndTheRowSaysSo: keep_backups = 2
// keeps the newest two backups of a keys file; the row names what went.
func TestTruth_KeepBackupsRemovesOlderBackupsAndTheRowSaysSo(t *testing.T) {
	p := newTruthProject(t)
	k := p.service("api", ".env.production")
	p.secret("api-key", k.Hex())
	p.config("[vault.sync]\nkeep_backups = 2\n" + truthMapping("api-key", "api"))
	keys := filepath.Join(p.dir, "api", ".env.keys")
	// Seed three old backups, oldest first, as earlier runs left them.
	for i, stamp := range []string{"20250101_000000", "20250102_000000", "20250103_000000"} {
		writeFiles(t, p.dir, map[string]string{filepath.Join("api", ".env.keys.backup."+stamp): fmt.Sprintf("old %d\n", i)})
	}
	writeFiles(t, p.dir, map[string]string{filepath.Join("api", ".env.keys"): "DOTENV_PRIVATE_KEY_PRODUCTION=" + genKey(t).Hex() + "\n"})
	require.NoError(t, os.Chmod(keys, 0o600))

	r := p.run("sync", "--force")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Regexp(t, `  ~ api - updated\n    Backup: api/\.env\.keys\.backup\.\d{8}_\d{6}\n`+
		`    Removed: 2 older backups beyond keep_backups \(\.env\.keys\.backup\.20250101_000000, \.env\.keys\.backup\.20250102_000000\)\n`, r.stdout)
	backups, _ := filepath.Glob(keys + ".backup.*")
	assert.Len(t, backups, 2, "the new backup and the newest old one")
	assert.FileExists(t, keys+".backup.20250103_000000")
}

// TestTruth_LastLineSaysWhatHappened: the success line only when every
// mapping synced; otherwise counts of what did not, and errors counted.
// (Declined prompts: TestTruth_DeclinedPromptExits0AndIsNotCountedAsSynced.)
func TestTruth_LastLineSaysWhatHappened(t *testing.T) {
	p := newTruthProject(t)
	a := p.service("a", ".env.production")
	b := p.service("b", ".env.production")
	p.service("c", ".env.production")
	require.NoError(t, os.MkdirAll(filepath.Join(p.dir, "d"), 0o755))
	p.secret("a", a.Hex())
	p.secret("b", b.Hex())
	p.secret("d", genKey(t).Hex())
	p.config("[vault.sync]\n" + truthMapping("a", "a") + truthMapping("b", "b"))
	r := p.run("sync")
	require.Equal(t, 0, r.code)
	assert.Equal(t, "All services synced successfully", finalLine(r.stdout))

	p.config("[vault.sync]\n" + truthMapping("a", "a") + truthMapping("b", "b") + truthMapping("c", "c") + truthMapping("d", "d"))
	r = p.run("sync")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "Sync finished with errors: 2 synced, 1 skipped (no env file: d), 1 failed", finalLine(r.stdout))
	r = p.run("sync", "--verify")
	assert.Equal(t, "Verification failed: 2 match, 1 skipped (no env file: d), 1 failed", finalLine(r.stdout))
}

// §3 Payloads users really store.

// TestTruth_PayloadsUsersStore: a lower-case or mixed-case suffix is
// accepted and written upper-case; a whole line in quotes is accepted; an
// error listing the secret's key names shows five and "… and N more".
func TestTruth_PayloadsUsersStore(t *testing.T) {
	p := newTruthProject(t)
	soak := p.service("soak", ".env.soak")
	prod2 := p.service("prod2", ".env.prod2")
	quoted := p.service("quoted", ".env.production")
	p.service("many", ".env.production")
	p.secret("soak", "DOTENV_PRIVATE_KEY_soak="+soak.Hex()+"\n")
	p.secret("prod2", "DOTENV_PRIVATE_KEY_Prod2="+prod2.Hex()+"\n")
	p.secret("quoted", `"DOTENV_PRIVATE_KEY_PRODUCTION=`+quoted.Hex()+`"`+"\n")
	var many strings.Builder
	for i := range 12 {
		fmt.Fprintf(&many, "DOTENV_PRIVATE_KEY_E%02d=%s\n", i, genKey(t).Hex())
	}
	p.secret("many", many.String())
	p.keys = append(p.keys, hexKey.FindAllString(many.String(), -1)...)
	p.config("[vault.sync]\n" + truthMapping("soak", "soak", `environment = "soak"`) + truthMapping("prod2", "prod2", `environment = "prod2"`) +
		truthMapping("quoted", "quoted") + truthMapping("many", "many"))
	r := p.run("sync", "--check-decryption")
	assert.Equal(t, 1, r.code, "the 12-key secret has none for this folder")
	assert.Contains(t, r.stdout, "  + soak - created\n    Decryption: PASSED\n")
	assert.Contains(t, r.stdout, "  + prod2 - created\n    Decryption: PASSED\n")
	assert.Contains(t, r.stdout, "  + quoted - created\n    Decryption: PASSED\n")
	assert.Contains(t, p.keysFile("soak"), "DOTENV_PRIVATE_KEY_SOAK="+soak.Hex())
	assert.Contains(t, p.keysFile("prod2"), "DOTENV_PRIVATE_KEY_PROD2="+prod2.Hex())
	assert.Contains(t, p.keysFile("quoted"), "DOTENV_PRIVATE_KEY_PRODUCTION="+quoted.Hex()+"\n")
	assert.Contains(t, r.stdout, "holds DOTENV_PRIVATE_KEY_E00, DOTENV_PRIVATE_KEY_E01, DOTENV_PRIVATE_KEY_E02, DOTENV_PRIVATE_KEY_E03, DOTENV_PRIVATE_KEY_E04 … and 7 more, this folder needs DOTENV_PRIVATE_KEY_PRODUCTION")
	assert.NotContains(t, r.stdout, "DOTENV_PRIVATE_KEY_E05")
}

// §4 Messages that point at the real cause.

// TestTruth_EveryConfigProblemInOneRun: every wrong-typed key and every
// missing one is reported at once, with its line.
func TestTruth_EveryConfigProblemInOneRun(t *testing.T) {
	p := newTruthProject(t)
	p.config("[vault.sync]\nmax_workers = \"many\"\n\n[[vault.sync.mappings]]\nsecret_name = 3\nfolder_path = \"api\"\n\n[[vault.sync.mappings]]\nsecret_name = \"web\"\n")
	r := p.run("sync")
	assert.Equal(t, 1, r.code)
	for _, want := range []string{
		"envdrift.toml:8: vault.sync.max_workers: must be an integer, got a string",
		"envdrift.toml:11: vault.sync.mappings[0].secret_name: must be a string, got an integer",
		"envdrift.toml:14: vault.sync.mappings[1].folder_path: required",
	} {
		assert.Contains(t, r.stderr, want)
	}
}

// TestTruth_NoConfigNamesWhereTheSearchStartedAndDashCWantsAFile.
func TestTruth_NoConfigNamesWhereTheSearchStartedAndDashCWantsAFile(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "a", "b")
	require.NoError(t, os.MkdirAll(sub, 0o755))
	r := runCLI(t, sub, nil, "sync")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "found in "+sub+" or any parent directory; pass -c FILE")

	r = runCLI(t, sub, nil, "sync", "-c", "..")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "envdrift: -c .. is a directory: give the configuration file (such as ../envdrift.toml)\n", r.stderr)
}

// TestTruth_JSONDocumentWhenTheConfigFailsToLoad: -o json prints one
// document with the error, its kind and the warnings, and exits 1.
func TestTruth_JSONDocumentWhenTheConfigFailsToLoad(t *testing.T) {
	p := newTruthProject(t)
	p.config("[vault.sync]\nmax_workers = \"many\"\n[[vault.sync.mapping]]\nsecret_name = \"x\"\nfolder_path = \"x\"\n")
	r := p.run("sync", "-o", "json")
	assert.Equal(t, 1, r.code)
	var doc struct {
		OK        bool     `json:"ok"`
		Config    string   `json:"config"`
		Error     string   `json:"error"`
		ErrorKind string   `json:"error_kind"`
		Rows      []any    `json:"rows"`
		Warnings  []string `json:"warnings"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc), r.stdout)
	assert.False(t, doc.OK)
	assert.Equal(t, "envdrift.toml", doc.Config)
	assert.Equal(t, "invalid_config", doc.ErrorKind)
	assert.Contains(t, doc.Error, "vault.sync.max_workers: must be an integer, got a string")
	assert.NotNil(t, doc.Rows)
	require.Len(t, doc.Warnings, 1)
	assert.Contains(t, doc.Warnings[0], `did you mean "mappings"?`)
	assert.Empty(t, r.stderr, "JSON mode: the document says it all")

	r = runCLI(t, t.TempDir(), nil, "sync", "-o", "json")
	assert.Equal(t, 1, r.code)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc), r.stdout)
	assert.Equal(t, "no_config", doc.ErrorKind)
}

// TestTruth_AFailureSharedByManyRowsIsExplainedOnce: a rejected Vault token
// is explained on the first row; the others refer to it.
func TestTruth_AFailureSharedByManyRowsIsExplainedOnce(t *testing.T) {
	s, err := vaultkv.Start()
	require.NoError(t, err)
	defer s.Close()
	p := newTruthProject(t)
	var body strings.Builder
	body.WriteString("[vault]\nprovider = \"hashicorp\"\n[vault.sync]\n")
	for _, f := range []string{"a", "b", "c", "d"} {
		k := p.service(f, ".env.production")
		_, err := s.PutValue("", vaultkv.DefaultMount, f, k.Hex())
		require.NoError(t, err)
		body.WriteString(truthMapping(f, f))
	}
	writeFiles(t, p.dir, map[string]string{"envdrift.toml": body.String()})
	r := runCLI(t, p.dir, append(s.Env(), "VAULT_TOKEN=hvs.wrong-token-for-this-test"), "sync")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, 1, strings.Count(r.stdout, "Vault rejected the token"), r.stdout)
	assert.Equal(t, 3, strings.Count(r.stdout, "Error: hashicorp: authentication failed (same as a above)\n"), r.stdout)
	assert.Equal(t, "Sync finished with errors: 0 synced, 4 failed", finalLine(r.stdout))
}

// TestTruth_MismatchIsWordedOnce: the known duplicated text "local key
// differs from the vault: the local key differs…" is gone.
func TestTruth_MismatchIsWordedOnce(t *testing.T) {
	p := newTruthProject(t)
	k := p.service("api", ".env.production")
	p.secret("api-key", k.Hex())
	p.config("[vault.sync]\n" + truthMapping("api-key", "api"))
	writeFiles(t, p.dir, map[string]string{filepath.Join("api", ".env.keys"): "DOTENV_PRIVATE_KEY_PRODUCTION=" + genKey(t).Hex() + "\n"})
	require.NoError(t, os.Chmod(filepath.Join(p.dir, "api", ".env.keys"), 0o600))
	r := p.run("sync", "--verify")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stdout, "Error: local key differs from the vault: DOTENV_PRIVATE_KEY_PRODUCTION in .env.keys is another key\n")
	assert.Equal(t, 1, strings.Count(r.stdout, "differs"), r.stdout)
}

// §5 The terminal.

// TestTruth_FirstLineNamesConfigProviderAndVaultAlsoFromASubdirectory: the
// first line on stderr says which configuration, provider and vault the
// run uses, wherever it is run from; stdout never gets it.
func TestTruth_FirstLineNamesConfigProviderAndVaultAlsoFromASubdirectory(t *testing.T) {
	p := newTruthProject(t)
	k := p.service("services/api", ".env.production")
	require.NoError(t, os.MkdirAll(filepath.Join(p.dir, "secrets", "team"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(p.dir, "secrets", "team", "api-key"), []byte(k.Hex()), 0o600))
	p.config("[vault.sync]\ndefault_vault_name = \"team\"\n" + truthMapping("api-key", "services/api"))

	r := p.run("sync")
	require.Equal(t, 0, r.code, r.stderr)
	first, _, _ := strings.Cut(r.stderr, "\n")
	assert.Equal(t, "envdrift sync: envdrift.toml, 1 mapping(s); secrets: 1 from file at "+filepath.Join(p.dir, "secrets", "team"), first)
	assert.NotContains(t, r.stdout, "envdrift sync:")

	r = runCLI(t, filepath.Join(p.dir, "services", "api"), nil, "sync", "--verify")
	require.Equal(t, 0, r.code, r.stderr)
	first, _, _ = strings.Cut(r.stderr, "\n")
	assert.Equal(t, "envdrift sync: "+filepath.Join(p.dir, "envdrift.toml")+", 1 mapping(s); secrets: 1 from file at "+filepath.Join(p.dir, "secrets", "team"), first)
}

// TestTruth_NoArgumentsPrintsUsage: `envdrift` alone shows the commands,
// the examples and the exit codes, and exits 0.
func TestTruth_NoArgumentsPrintsUsage(t *testing.T) {
	r := runCLI(t, t.TempDir(), nil)
	assert.Equal(t, 0, r.code, r.stderr)
	assert.True(t, strings.HasPrefix(r.stdout, "Usage: envdrift <command> [flags]\n"), r.stdout)
	for _, want := range []string{"Examples:", "envdrift sync --verify --ci", "Exit codes:", "  sync ", "  push ", "  completion "} {
		assert.Contains(t, r.stdout, want)
	}
	assert.Empty(t, r.stderr)
}

// TestTruth_HelpShowsExamplesAndTheExitCodeTable: top level and sync.
func TestTruth_HelpShowsExamplesAndTheExitCodeTable(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"sync", "--help"}, {"push", "--help"}} {
		r := runCLI(t, t.TempDir(), nil, args...)
		assert.Equal(t, 0, r.code, "%v", args)
		assert.Contains(t, r.stdout, "Examples:", "%v", args)
		assert.Regexp(t, regexp.MustCompile(`(?s)Exit codes:.*\b0 .*\b1 .*\b2 .*\b130 .*143`), r.stdout, "%v", args)
	}
	r := runCLI(t, t.TempDir(), nil, "sync", "--help")
	assert.Contains(t, r.stdout, "Vault provider: aws, azure, file, gcp, hashicorp.")
}

// TestTruth_VersionCommandAndFlag.
func TestTruth_VersionCommandAndFlag(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := runCLI(t, t.TempDir(), nil, args...)
		assert.Equal(t, 0, r.code)
		assert.Regexp(t, `^envdrift \S+\n$`, r.stdout, "%v", args)
	}
}

// TestTruth_CompletionForBashZshAndFish: `completion SHELL` says how to
// activate it, `completion -c SHELL` prints the code, and the binary
// answers the shell's completion requests (COMP_LINE).
func TestTruth_CompletionForBashZshAndFish(t *testing.T) {
	dir := t.TempDir()
	for shell, want := range map[string]string{
		"bash": "complete -o default -o bashdefault -C " + binary + " envdrift",
		"zsh":  "autoload -U +X bashcompinit && bashcompinit",
		"fish": "complete -f -c envdrift -a",
	} {
		r := runCLI(t, dir, nil, "completion", shell)
		assert.Equal(t, 0, r.code, shell)
		assert.Contains(t, r.stdout, "envdrift completion -c "+shell, shell)
		r = runCLI(t, dir, nil, "completion", "-c", shell)
		assert.Equal(t, 0, r.code, shell)
		assert.Contains(t, r.stdout, want, shell)
	}
	r := runCLI(t, dir, []string{"COMP_LINE=envdrift sync --pro"})
	assert.Equal(t, 0, r.code)
	assert.ElementsMatch(t, []string{"--profile", "--provider", "--project-id"}, strings.Fields(r.stdout))
	writeFiles(t, dir, map[string]string{"envdrift.toml": "", "pair.txt": "", "notes.md": "", filepath.Join("sub", "x"): ""})
	r = runCLI(t, dir, []string{"COMP_LINE=envdrift sync -c "})
	assert.ElementsMatch(t, []string{"envdrift.toml", "pair.txt", "sub/", "./"}, strings.Fields(r.stdout), "each candidate once")
	r = runCLI(t, dir, []string{"COMP_LINE=envdrift sync -p "})
	assert.ElementsMatch(t, []string{"aws", "azure", "file", "gcp", "hashicorp"}, strings.Split(strings.TrimSpace(r.stdout), "\n"), "no empty candidate")
}

// TestTruth_VerboseShowsOneLinePerVaultRequestAndNoValue: -v adds one
// stderr line per request (provider, secret, duration, outcome).
func TestTruth_VerboseShowsOneLinePerVaultRequestAndNoValue(t *testing.T) {
	p := newTruthProject(t)
	a := p.service("a", ".env.production")
	p.service("b", ".env.production")
	p.secret("a-key", a.Hex())
	p.config("[vault.sync]\n" + truthMapping("a-key", "a") + truthMapping("b-key", "b"))
	r := p.run("sync", "-v")
	assert.Equal(t, 1, r.code)
	lines := regexp.MustCompile(`(?m)^  file read (\S+): ([a-z ]+) in (\d+(\.\d+)?(µs|ms|s))$`).FindAllStringSubmatch(r.stderr, -1)
	require.Len(t, lines, 2, r.stderr)
	outcomes := map[string]string{}
	for _, l := range lines {
		outcomes[l[1]] = l[2]
	}
	assert.Equal(t, map[string]string{"a-key": "ok", "b-key": "not found"}, outcomes)
	assert.NotContains(t, r.stderr, " 0s\n", "a duration is never shown as 0s")
	assert.NotContains(t, r.stdout, "file read", "request lines go to stderr")
}

// TestTruth_QuietPrintsErrorsAndTheLastLineOnly.
func TestTruth_QuietPrintsErrorsAndTheLastLineOnly(t *testing.T) {
	p := newTruthProject(t)
	a := p.service("a", ".env.production")
	p.service("b", ".env.production")
	p.secret("a-key", a.Hex())
	p.config("[vault.sync]\n" + truthMapping("a-key", "a"))
	r := p.run("sync", "-q")
	require.Equal(t, 0, r.code)
	assert.Equal(t, "All services synced successfully\n", r.stdout)
	assert.Empty(t, r.stderr)

	p.config("[vault.sync]\n" + truthMapping("a-key", "a") + truthMapping("b-key", "b"))
	r = p.run("sync", "-q")
	assert.Equal(t, 1, r.code)
	assert.Regexp(t, `^  x b - error\n    Error: file: secret b-key: not found: [^\n]+\nSync finished with errors: 1 synced, 1 failed\n$`, r.stdout)
	assert.Empty(t, r.stderr)
}

// TestTruth_ColourFollowsNoColorForceColorAndClicolorForce: without a
// terminal colour is off unless FORCE_COLOR or CLICOLOR_FORCE asks for it;
// NO_COLOR and FORCE_COLOR=0 turn it off; NO_COLOR wins.
func TestTruth_ColourFollowsNoColorForceColorAndClicolorForce(t *testing.T) {
	p := newTruthProject(t)
	a := p.service("a", ".env.production")
	p.secret("a-key", a.Hex())
	p.config("[vault.sync]\n" + truthMapping("a-key", "a"))
	for _, c := range []struct {
		env    []string
		colour bool
	}{
		{[]string{"NO_COLOR="}, false},
		{[]string{"NO_COLOR=", "FORCE_COLOR=1"}, true},
		{[]string{"NO_COLOR=", "CLICOLOR_FORCE=1"}, true},
		{[]string{"NO_COLOR=", "FORCE_COLOR=0"}, false},
		{[]string{"NO_COLOR=", "CLICOLOR_FORCE=0"}, false},
		{[]string{"NO_COLOR=1", "FORCE_COLOR=1"}, false},
		{[]string{"NO_COLOR=", "FORCE_COLOR=1", "--ci"}, true},
	} {
		env, args := c.env, []string{"sync"}
		if env[len(env)-1] == "--ci" {
			env, args = env[:len(env)-1], append(args, "--ci")
		}
		r := runCLI(t, p.dir, env, args...)
		require.Equal(t, 0, r.code)
		assert.Equal(t, c.colour, strings.Contains(r.stdout, "\x1b["), "%v", c.env)
		if c.colour {
			assert.Contains(t, r.stdout, "\x1b[32mAll services synced successfully\x1b[0m", "the success line is green")
		}
		assert.NotContains(t, r.stderr, "\x1b[", "%v: never on stderr's plain lines", c.env)
	}
}

// TestTruth_ExitCodes0And1And2: the exit codes that need no signal (130
// and 143: TestTruth_CtrlCExits130SayingWhatFinished).
func TestTruth_ExitCodes0And1And2(t *testing.T) {
	p := newTruthProject(t)
	a := p.service("a", ".env.production")
	p.secret("a-key", a.Hex())
	p.config("[vault.sync]\n" + truthMapping("a-key", "a"))
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"sync"}, 0},
		{[]string{"sync", "--verify"}, 0},
		{[]string{"sync", "--profile", "nope"}, 1},
		{[]string{"sync", "-c", "missing.toml"}, 1},
		{[]string{"sync", "--bogus"}, 2},
		{[]string{"sync", "--verify", "--force"}, 2},
		{[]string{"sync", "-v", "-q"}, 2},
		{[]string{"sync", "--schema", "x.json"}, 2},
		{[]string{"bogus"}, 2},
	} {
		r := p.run(c.args...)
		assert.Equal(t, c.code, r.code, "%v: %s%s", c.args, r.stdout, r.stderr)
	}
}

// TestTruth_FailedDecryptionCheckExits1: the key pairs and is written, but
// a value in the env file does not decrypt: the check fails, the row counts
// as failed, and the run exits 1.
func TestTruth_FailedDecryptionCheckExits1(t *testing.T) {
	p := newTruthProject(t)
	k := genKey(t)
	p.keys = append(p.keys, k.Hex())
	writeFiles(t, p.dir, map[string]string{filepath.Join("api", ".env.production"): fmt.Sprintf(
		"DOTENV_PUBLIC_KEY_PRODUCTION=%q\nAPI_SECRET=\"encrypted:BAdZ2Vy0bm90YWNpcGhlcnRleHQ=\"\n", k.PublicKey().Hex())})
	p.secret("api-key", k.Hex())
	p.config("[vault.sync]\n" + truthMapping("api-key", "api"))
	r := p.run("sync", "--check-decryption")
	assert.Equal(t, 1, r.code, r.stdout)
	assert.Contains(t, r.stdout, "  + api - created\n    Decryption: FAILED")
	assert.Contains(t, r.stdout, "│   Failed: 1")
	assert.NotContains(t, r.stdout, "All services synced successfully")
}
