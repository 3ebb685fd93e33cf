package dotenvx

// Resolve against `dotenvx run`: files encrypted by the real dotenvx give the
// command dotenvx starts exactly the variables Resolve returns, with the same
// key and the same environment. See interop_test.go for how to point the
// tests at a dotenvx executable.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// printEnv is the command `dotenvx run` starts in these tests: node (which
// dotenvx needs anyway) printing its whole environment as JSON, so that
// values with newlines compare exactly. It does what `env` does.
var printEnv = []string{"node", "-e", "process.stdout.write(JSON.stringify(process.env))"}

// dotenvxRunEnv runs `dotenvx run -f file [--overload] -- printEnv` in dir
// with exactly env (plus PATH and HOME, which runDotenvx sets) and returns
// the environment the command saw.
func dotenvxRunEnv(t *testing.T, dir, file string, overload bool, env map[string]string) map[string]string {
	t.Helper()
	args := []string{"run", "-q", "-f", file}
	if overload {
		args = append(args, "--overload")
	}
	args = append(append(args, "--"), printEnv...)
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	out := runDotenvx(t, dir, list, args...)
	var got map[string]string
	require.NoError(t, json.Unmarshal(out, &got), "%s", out)
	return got
}

// assertRunAgrees resolves the env file at path with key, the environment env
// and overload, and checks that each of the file's variables has in the
// command `dotenvx run` starts the value Resolve gives it.
func assertRunAgrees(t *testing.T, path, keyHex string, overload bool, env map[string]string) map[string]string {
	t.Helper()
	priv, _ := KeyNames(filepath.Base(path))
	env = withEnv(env, priv, keyHex)
	child := dotenvxRunEnv(t, filepath.Dir(path), filepath.Base(path), overload, env)
	// runDotenvx gives dotenvx PATH and a HOME of its own: look up the
	// values the command saw for the names dotenvx did not set.
	lookup := func(name string) (string, bool) {
		if v, ok := env[name]; ok {
			return v, true
		}
		if name == "PATH" || name == "HOME" {
			v, ok := child[name]
			return v, ok
		}
		return "", false
	}
	f, err := ReadFile(path)
	require.NoError(t, err)
	res, err := f.Resolve([]*PrivateKey{mustKey(t, keyHex)}, ResolveOptions{Expand: true, LookupEnv: lookup, Overload: overload})
	require.NoError(t, err)
	assert.Empty(t, res.Warnings)
	want := map[string]string{}
	for _, e := range f.Entries {
		if !isPublicKeyName(e.Key) {
			v, ok := child[e.Key]
			require.True(t, ok, "dotenvx run did not set %s", e.Key)
			want[e.Key] = v
		}
	}
	require.NotEmpty(t, want)
	assert.Equal(t, want, res.Values)
	return res.Values
}

func withEnv(env map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// TestInteropRunQuickstart: each quickstart env file, decrypted with its demo
// key, gives what `dotenvx run` gives.
func TestInteropRunQuickstart(t *testing.T) {
	dotenvxBin(t)
	root := filepath.Join("..", "examples", "quickstart")
	files, err := filepath.Glob(filepath.Join(root, "services", "*", ".env.*"))
	require.NoError(t, err)
	if len(files) == 0 {
		t.Skip("no examples/quickstart in this tree")
	}
	hexKey := regexp.MustCompile(`\b[0-9a-f]{64}\b`)
	secrets := map[string]string{
		"api/.env.production": "api-production-key",
		"web/.env.production": "web-production-key",
		"web/.env.staging":    "web-staging-key",
	}
	for _, path := range files {
		rel := filepath.Base(filepath.Dir(path)) + "/" + filepath.Base(path)
		t.Run(rel, func(t *testing.T) {
			secret, ok := secrets[rel]
			require.True(t, ok, "no demo key known for %s", rel)
			payload, err := os.ReadFile(filepath.Join(root, "secrets", secret))
			require.NoError(t, err)
			keys := hexKey.FindAllString(string(payload), -1)
			require.Len(t, keys, 1)
			// dotenvx reads a copy, so nothing can appear under examples/.
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			copyPath := filepath.Join(t.TempDir(), filepath.Base(path))
			require.NoError(t, os.WriteFile(copyPath, data, 0o600))
			for _, overload := range []bool{false, true} {
				got := assertRunAgrees(t, copyPath, keys[0], overload, map[string]string{"SESSION_SECRET": "from the environment"})
				if overload {
					assert.NotEqual(t, "from the environment", got["SESSION_SECRET"])
				} else {
					assert.Equal(t, "from the environment", got["SESSION_SECRET"])
				}
			}
		})
	}
}

// runInteropSource exercises quoting and expansion; interop tests encrypt it
// with the real dotenvx.
const runInteropSource = `# made by the interop test
DOUBLE="double quoted"
SINGLE='single $BASE ${ENV_ONLY} quoted'
BACKTICK=` + "`backtick $BASE`" + `
ESCAPED_NEWLINE="line1\nline2\ttab"
MULTILINE="first
second $BASE
third"
MULTILINE_SINGLE='one
$BASE two'
BASE=base-value
REF=$BASE
REF_BRACED=${BASE}/path
DEFAULT=${UNSET_VAR:-fallback}
DEFAULT_SET=${BASE:-fallback}
DEFAULT_EMPTY=${EMPTY_IN_ENV:-fallback}
DASH=${UNSET_VAR-dash}
DASH_EMPTY=${EMPTY_IN_ENV-dash}
ALT=${BASE:+alternative}
ALT_UNSET=${UNSET_VAR:+alternative}
FROM_ENV=$ENV_ONLY
FROM_ENV_BRACED=${ENV_ONLY}-suffix
FROM_ENV_DEFAULT=${ENV_ONLY:-unused}
SHADOWED=file-value
USES_SHADOWED=$SHADOWED
ESCAPED_DOLLAR="\$BASE is not expanded"
ESCAPE_QUIRK="\$BASE and $BASE"
LATER=$DEFINED_LATER
DEFINED_LATER=later
LATER_AGAIN=$DEFINED_LATER
HASH=value # a comment
PASSWORD='pa$$word'
USES_PASSWORD=$PASSWORD
JSON={"url": "https://$BASE/x"}
EMPTY=
EMPTY_IN_ENV=from-file
ENV_WITH_REF=file
NESTED=${UNSET_VAR:-${BASE}}
DUP=first
DUP=$DUP-second
HOME_REF=$HOME/dir
export EXPORTED=$BASE
`

// runInteropEnv is the environment the command runs in.
var runInteropEnv = map[string]string{
	"ENV_ONLY":     "env-only",
	"SHADOWED":     "env-wins",
	"EMPTY_IN_ENV": "",
	"ENV_WITH_REF": "$BASE in the environment",
}

// TestInteropRunExpansion encrypts runInteropSource with the real dotenvx,
// then compares what `dotenvx run` starts the command with against Resolve,
// with and without --overload.
func TestInteropRunExpansion(t *testing.T) {
	dotenvxBin(t)
	for _, tc := range []struct {
		name    string
		encrypt []string // extra `dotenvx encrypt` arguments
	}{
		{"all encrypted", nil},
		{"some plain", []string{"-ek", "SINGLE", "-ek", "BASE", "-ek", "PASSWORD", "-ek", "MULTILINE"}},
		{"plaintext", []string{"-k", "DOUBLE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, ".env.production")
			require.NoError(t, os.WriteFile(path, []byte(runInteropSource), 0o600))
			runDotenvx(t, dir, nil, append([]string{"encrypt", "-f", ".env.production"}, tc.encrypt...)...)
			keysFile, err := ReadFile(filepath.Join(dir, ".env.keys"))
			require.NoError(t, err)
			keyHex, ok := keysFile.Get("DOTENV_PRIVATE_KEY_PRODUCTION")
			require.True(t, ok)
			require.NoError(t, os.Remove(filepath.Join(dir, ".env.keys")))
			f, err := ReadFile(path)
			require.NoError(t, err)
			require.NotEmpty(t, f.Encrypted())

			without := assertRunAgrees(t, path, keyHex, false, runInteropEnv)
			with := assertRunAgrees(t, path, keyHex, true, runInteropEnv)
			// A few values spelled out, so the test shows the rules.
			assert.Equal(t, "base-value/path", without["REF_BRACED"])
			assert.Equal(t, "fallback", without["DEFAULT"])
			assert.Equal(t, "env-only-suffix", without["FROM_ENV_BRACED"])
			assert.Equal(t, "env-wins", without["SHADOWED"])
			assert.Equal(t, "env-wins", without["USES_SHADOWED"])
			assert.Equal(t, "file-value", with["SHADOWED"])
			assert.Equal(t, "file-value", with["USES_SHADOWED"])
			assert.Equal(t, "", without["LATER"])
			assert.Equal(t, "later", without["LATER_AGAIN"])
			assert.Equal(t, "$BASE in the environment", without["ENV_WITH_REF"])
			assert.Equal(t, "line1\nline2\ttab", without["ESCAPED_NEWLINE"])
			assert.Equal(t, "first\nsecond \nthird", without["MULTILINE"], "BASE is assigned later")
			assert.Equal(t, "first-second", without["DUP"])
			assert.Equal(t, "single $BASE ${ENV_ONLY} quoted", without["SINGLE"], "single quotes survive encryption")
			assert.Equal(t, "pa$$word", without["PASSWORD"])
			assert.Equal(t, "pa$word", without["USES_PASSWORD"], "dotenvx's replace turns $$ into $")
			assert.Equal(t, "$BASE is not expanded", without["ESCAPED_DOLLAR"])
			assert.Equal(t, `\base-value and base-value`, without["ESCAPE_QUIRK"], "dotenvx replaces the first $BASE, the escaped one")
		})
	}
}

// TestInteropRunEncryptedEnvironmentValue: when the environment holds an
// encrypted value for a variable of the file, dotenvx run decrypts it; so
// does Resolve.
func TestInteropRunEncryptedEnvironmentValue(t *testing.T) {
	dotenvxBin(t)
	dir := t.TempDir()
	path := filepath.Join(dir, ".env.production")
	require.NoError(t, os.WriteFile(path, []byte("SECRET=file\nPLAIN=plain\n"), 0o600))
	runDotenvx(t, dir, nil, "encrypt", "-f", ".env.production", "-k", "SECRET")
	keysFile, err := ReadFile(filepath.Join(dir, ".env.keys"))
	require.NoError(t, err)
	keyHex, _ := keysFile.Get("DOTENV_PRIVATE_KEY_PRODUCTION")
	require.NoError(t, os.Remove(filepath.Join(dir, ".env.keys")))
	ct, err := Encrypt(mustKey(t, keyHex).PublicKey(), "from the environment, encrypted")
	require.NoError(t, err)
	got := assertRunAgrees(t, path, keyHex, false, map[string]string{"SECRET": ct, "PLAIN": ct})
	assert.Equal(t, "from the environment, encrypted", got["SECRET"])
	assert.Equal(t, "from the environment, encrypted", got["PLAIN"])
}

// TestInteropRunCommandSubstitution shows the deliberate difference: dotenvx
// runs $(command); Resolve does not, keeps the value as written and warns.
func TestInteropRunCommandSubstitution(t *testing.T) {
	dotenvxBin(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	src := "CMD=\"$(touch " + marker + ")done\"\nREF=$CMD\nSINGLE='$(not run by dotenvx either)'\n"
	path := filepath.Join(dir, ".env")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o600))

	f, err := ReadFile(path)
	require.NoError(t, err)
	res, err := f.Resolve(nil, ResolveOptions{Expand: true})
	require.NoError(t, err)
	assert.NoFileExists(t, marker, "Resolve never runs a command")
	assert.Equal(t, "$(touch "+marker+")done", res.Values["CMD"])
	assert.Equal(t, "$(touch "+marker+")done", res.Values["REF"])
	assert.Equal(t, []Warning{
		{Path: path, Line: 1, Key: "CMD", kind: commandNotRun},
		{Path: path, Line: 2, Key: "REF", kind: refersToCommand, Ref: "CMD"},
	}, res.Warnings)

	child := dotenvxRunEnv(t, dir, ".env", false, nil)
	assert.FileExists(t, marker, "dotenvx runs the command")
	assert.Equal(t, "done", child["CMD"])
	assert.Equal(t, "done", child["REF"])
	assert.Equal(t, res.Values["SINGLE"], child["SINGLE"])
	assert.True(t, strings.HasPrefix(res.Values["SINGLE"], "$("))
}
