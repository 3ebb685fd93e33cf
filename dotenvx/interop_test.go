package dotenvx

// Interoperability with the real dotenvx CLI. These tests run when dotenvx is
// on PATH or DOTENVX_BIN points at it, for example:
//
//	npm install --prefix /tmp/dotenvx-2 @dotenvx/dotenvx@2.38.2
//	DOTENVX_BIN=/tmp/dotenvx-2/node_modules/.bin/dotenvx go test ./dotenvx/ -run Interop -v
//
// dotenvx runs with an environment holding only PATH, a scratch HOME and the
// keys a test passes on purpose: it lets existing environment variables
// (DOTENV_PRIVATE_KEY* among them) override what it reads.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dotenvxBin returns the dotenvx executable or skips the test.
func dotenvxBin(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("DOTENVX_BIN"); bin != "" {
		return bin
	}
	if bin, err := exec.LookPath("dotenvx"); err == nil {
		return bin
	}
	t.Skip("dotenvx not found: set DOTENVX_BIN to a dotenvx executable " +
		"(npm install --prefix /tmp/dotenvx-2 @dotenvx/dotenvx@2.38.2; DOTENVX_BIN=/tmp/dotenvx-2/node_modules/.bin/dotenvx) or put it on PATH")
	return ""
}

// runDotenvx runs dotenvx in dir with a clean environment plus env.
func runDotenvx(t *testing.T, dir string, env []string, args ...string) []byte {
	t.Helper()
	bin := dotenvxBin(t)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "dotenvx %s: %s", strings.Join(args, " "), stderr.String())
	return out
}

// dotenvxGet returns what `dotenvx get --format json` reads from file, without
// the DOTENV_PUBLIC_KEY* entries.
func dotenvxGet(t *testing.T, dir, file string, env ...string) map[string]string {
	t.Helper()
	out := runDotenvx(t, dir, env, "get", "-f", file, "--format", "json")
	var got map[string]string
	require.NoError(t, json.Unmarshal(out, &got), "%s", out)
	for k := range got {
		if strings.HasPrefix(k, publicKeyPrefix) {
			delete(got, k)
		}
	}
	return got
}

func TestInteropVersion(t *testing.T) {
	out := runDotenvx(t, t.TempDir(), nil, "--version")
	t.Logf("dotenvx %s", bytes.TrimSpace(out))
}

// interopValues avoid "$": dotenvx expands $VAR in decrypted values that are
// not single-quoted, which Load does not do (Resolve does; see
// interop_run_test.go).
var interopValues = map[string]string{
	"SIMPLE":    "simple",
	"EMPTY":     "",
	"SPACES":    "  leading and trailing  ",
	"UNICODE":   "héllo ✓ 日本語 🚀",
	"MULTILINE": "line one\nline two\r\nline three",
	"QUOTES":    `"double" 'single' ` + "`backtick`",
	"HASH":      "value # with hash",
	"EQUALS":    "a=b=c",
	"BACKSLASH": `C:\path\to\n\t`,
	"LONG":      strings.Repeat("0123456789", 500),
	"JSON":      `{"k": [1, 2, {"n": null}]}`,
}

// TestInteropGoEncryptDotenvxDecrypts writes a file encrypted by this package
// and reads it back with `dotenvx get`.
func TestInteropGoEncryptDotenvxDecrypts(t *testing.T) {
	dotenvxBin(t)
	key := mustGenerate(t)
	other := mustGenerate(t)
	var sb strings.Builder
	fmt.Fprintf(&sb, "DOTENV_PUBLIC_KEY_PRODUCTION=%q\n\n", key.PublicKey().Hex())
	want := map[string]string{}
	i := 0
	for name, value := range interopValues {
		ct, err := Encrypt(key.PublicKey(), value)
		require.NoError(t, err)
		// dotenvx keeps whatever quoting the value had; use all three.
		switch i % 3 {
		case 0:
			fmt.Fprintf(&sb, "%s=\"%s\"\n", name, ct)
		case 1:
			fmt.Fprintf(&sb, "%s=%s\n", name, ct)
		case 2:
			fmt.Fprintf(&sb, "%s='%s'\n", name, ct)
		}
		want[name] = value
		i++
	}
	ct, err := Encrypt(key.PublicKey(), "$HOME ${USER} $(echo not run)")
	require.NoError(t, err)
	fmt.Fprintf(&sb, "DOLLAR='%s'\n", ct) // single quotes: dotenvx does not expand
	want["DOLLAR"] = "$HOME ${USER} $(echo not run)"
	sb.WriteString("PLAIN=plain value\n")
	want["PLAIN"] = "plain value"

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".env.production"), []byte(sb.String()), 0o600))

	t.Run("key in environment", func(t *testing.T) {
		got := dotenvxGet(t, dir, ".env.production", "DOTENV_PRIVATE_KEY_PRODUCTION="+key.Hex())
		assert.Equal(t, want, got)
	})
	t.Run("rotation list in .env.keys", func(t *testing.T) {
		keysDir := t.TempDir()
		data, err := os.ReadFile(filepath.Join(dir, ".env.production"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(keysDir, ".env.production"), data, 0o600))
		keys := fmt.Sprintf("DOTENV_PRIVATE_KEY_PRODUCTION=%s,%s\n", other.Hex(), key.Hex())
		require.NoError(t, os.WriteFile(filepath.Join(keysDir, ".env.keys"), []byte(keys), 0o600))
		assert.Equal(t, want, dotenvxGet(t, keysDir, ".env.production"))
	})
	t.Run("Go agrees", func(t *testing.T) {
		got, err := load(filepath.Join(dir, ".env.production"), key.Hex())
		require.NoError(t, err)
		assert.Equal(t, want, got)
	})
}

// TestInteropDotenvxEncryptGoLoads encrypts a file with `dotenvx encrypt` and
// decrypts it with Load.
func TestInteropDotenvxEncryptGoLoads(t *testing.T) {
	dotenvxBin(t)
	src := "# made by the interop test\n" +
		"SIMPLE=simple\n" +
		"DOUBLE=\"double quoted \\n escaped newline \\\"kept\\\"\"\n" +
		"SINGLE='single quoted'\n" +
		"BACKTICK=`backtick \"quoted\"`\n" +
		"MULTI=\"multi\nline\"\n" +
		"UNICODE=\"日本語 ✓\"\n" +
		"EMPTY=\n" +
		"HASH=value # comment\n" +
		"export EXPORTED=yes\n" +
		"SERVICE_PLAIN=left alone\n" +
		"DUP=one\nDUP=two\n"
	for _, tc := range []struct{ name, file, keyName string }{
		{"env", ".env", "DOTENV_PRIVATE_KEY"},
		{"staging", ".env.staging", "DOTENV_PRIVATE_KEY_STAGING"},
		{"dashed", ".env.my-service.eu", "DOTENV_PRIVATE_KEY_MY-SERVICE_EU"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tc.file)
			require.NoError(t, os.WriteFile(path, []byte(src), 0o600))
			plain, err := load(path, "")
			require.NoError(t, err)
			assert.Equal(t, plain, dotenvxGet(t, dir, tc.file), "Go and dotenvx read the plaintext alike")

			runDotenvx(t, dir, nil, "encrypt", "-f", tc.file)
			keysFile, err := ReadFile(filepath.Join(dir, ".env.keys"))
			require.NoError(t, err)
			priv, _ := KeyNames(tc.file)
			require.Equal(t, tc.keyName, priv)
			keyHex, ok := keysFile.Get(priv)
			require.True(t, ok, "dotenvx wrote %s", priv)

			f, err := ReadFile(path)
			require.NoError(t, err)
			require.NotEmpty(t, f.Encrypted())
			got, err := load(path, keyHex)
			require.NoError(t, err)
			assert.Equal(t, plain, got)
			assert.Equal(t, dotenvxGet(t, dir, tc.file), got)
			assert.Equal(t, "left alone", got["SERVICE_PLAIN"])
			r := Check(f, []*PrivateKey{mustKey(t, keyHex)})
			assert.True(t, r.ok(), "%+v", r)
		})
	}
}

// TestInteropKeyNames checks KeyNames against the names dotenvx writes.
func TestInteropKeyNames(t *testing.T) {
	dotenvxBin(t)
	for _, name := range []string{".env.production.local", ".env.staging.eu.west", ".env.my-app", "env.txt", ".env.txt", "secrets.env"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("A=1\n"), 0o600))
			runDotenvx(t, dir, nil, "encrypt", "-f", name)
			f, err := ReadFile(filepath.Join(dir, name))
			require.NoError(t, err)
			gotPub, _, ok := f.PublicKey()
			require.True(t, ok)
			priv, pub := KeyNames(name)
			assert.Equal(t, pub, gotPub)
			keys, err := ReadFile(filepath.Join(dir, ".env.keys"))
			require.NoError(t, err)
			_, ok = keys.Get(priv)
			assert.True(t, ok, "%s in .env.keys", priv)
		})
	}
}

// primitivesDir finds the @dotenvx/primitives package installed next to the
// dotenvx executable (its parser is the reference for Parse).
func primitivesDir(t *testing.T) string {
	t.Helper()
	bin, err := filepath.EvalSymlinks(dotenvxBin(t))
	require.NoError(t, err)
	for dir := filepath.Dir(bin); ; dir = filepath.Dir(dir) {
		if filepath.Base(dir) == "node_modules" {
			p := filepath.Join(dir, "@dotenvx", "primitives")
			if _, err := os.Stat(filepath.Join(p, "package.json")); err == nil {
				return p
			}
		}
		if filepath.Dir(dir) == dir {
			t.Skip("@dotenvx/primitives not found next to the dotenvx executable")
		}
	}
}

// TestInteropParser compares Parse with dotenvx's own parser on generated
// inputs full of corner cases.
func TestInteropParser(t *testing.T) {
	if v := strings.TrimSpace(string(runDotenvx(t, t.TempDir(), nil, "--version"))); !strings.HasPrefix(v, "2.") {
		// dotenvx 1.x parses slightly differently (it keeps \' in single
		// quotes); Parse follows 2.x.
		t.Skipf("the reference parser is dotenvx 2.x's; this is %s", v)
	}
	prim := primitivesDir(t)
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not on PATH")
	}
	tokens := []string{"A", "KEY", "k.x", "a-b", "_", "1", "=", " = ", ": ", ":", " ", "\t", "\n", "\n", "\r\n", "\r",
		"'", "'", "\"", "\"", "`", "`", "\\", "\\'", "\\\"", "\\n", "\\t", "\\r", "#", " #", "# c", "export ", "export",
		"x", "é", "\u2028", "\u2029", "\u00a0", "\ufeff", "\v", "\u3000", "\xff", "\xe2\x82", "\xed\xa0\x80"}
	starts := []string{"A=", "B=\"", "C='", "D=`", "export E=", "F: ", "\nG=", "\nH=\"x\"\n"}
	r := rand.New(rand.NewPCG(7, 11))
	var inputs [][]byte
	for range 3000 {
		var sb strings.Builder
		for range r.IntN(50) {
			if r.IntN(5) == 0 {
				sb.WriteString(starts[r.IntN(len(starts))])
			}
			sb.WriteString(tokens[r.IntN(len(tokens))])
		}
		in := []byte(sb.String())
		if r.IntN(4) == 0 { // UTF-16LE with BOM
			u := utf16.Encode([]rune(strings.ToValidUTF8(sb.String(), "\uFFFD")))
			in = []byte{0xff, 0xfe}
			for _, c := range u {
				in = append(in, byte(c), byte(c>>8))
			}
		}
		inputs = append(inputs, in)
	}
	corpus, err := filepath.Glob(filepath.Join("testdata", "parse", "*.env"))
	require.NoError(t, err)
	for _, p := range corpus {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		inputs = append(inputs, data)
	}

	b64 := make([]string, len(inputs))
	for i, in := range inputs {
		b64[i] = base64.StdEncoding.EncodeToString(in)
	}
	js, err := json.Marshal(b64)
	require.NoError(t, err)
	script := `
const { scan } = require(process.argv[1])
let data = ''
process.stdin.on('data', d => { data += d })
process.stdin.on('end', () => {
  const out = JSON.parse(data).map(b64 => {
    const buf = Buffer.from(b64, 'base64')
    const src = buf.length >= 2 && buf[0] === 0xff && buf[1] === 0xfe ? buf.toString('utf16le') : buf.toString('utf8')
    return scan(src).parsed
  })
  process.stdout.write(JSON.stringify(out))
})`
	cmd := exec.Command("node", "-e", script, prim)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.Stdin = bytes.NewReader(js)
	out, err := cmd.Output()
	require.NoError(t, err)
	var want []map[string][]string
	require.NoError(t, json.Unmarshal(out, &want))
	require.Len(t, want, len(inputs))
	mismatches := 0
	for i, in := range inputs {
		entries, err := Parse(in)
		require.NoError(t, err)
		got := groupValues(entries)
		if len(got) == 0 && len(want[i]) == 0 {
			continue
		}
		if !assert.Equal(t, want[i], got, "input %q", in) {
			if mismatches++; mismatches > 5 {
				t.FailNow()
			}
		}
	}
}

// TestInteropTiming1000 measures what the performance contract compares:
// `dotenvx decrypt` of a file with 1,000 encrypted values against Check of the
// same file. It is slow (dotenvx takes tens of seconds), so it only runs with
// DOTENVX_TIMING=1.
func TestInteropTiming1000(t *testing.T) {
	dotenvxBin(t)
	if os.Getenv("DOTENVX_TIMING") == "" {
		t.Skip("set DOTENVX_TIMING=1 to time dotenvx against Check on 1,000 values")
	}
	dir := t.TempDir()
	var sb strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&sb, "VARIABLE_%04d=\"value number %d with some length to it\"\n", i, i)
	}
	path := filepath.Join(dir, ".env.production")
	require.NoError(t, os.WriteFile(path, []byte(sb.String()), 0o600))
	start := time.Now()
	runDotenvx(t, dir, nil, "encrypt", "-f", ".env.production")
	t.Logf("dotenvx encrypt, 1,000 values: %v", time.Since(start))

	keys, err := ReadFile(filepath.Join(dir, ".env.keys"))
	require.NoError(t, err)
	keyHex, _ := keys.Get("DOTENV_PRIVATE_KEY_PRODUCTION")

	start = time.Now()
	runDotenvx(t, dir, nil, "decrypt", "-f", ".env.production", "--stdout")
	t.Logf("dotenvx decrypt --stdout, 1,000 values: %v", time.Since(start))

	start = time.Now()
	f, err := ReadFile(path)
	require.NoError(t, err)
	k := mustKey(t, keyHex)
	r := Check(f, []*PrivateKey{k})
	t.Logf("ReadFile + Check, 1,000 values: %v", time.Since(start))
	require.True(t, r.ok())
	require.Equal(t, 1000, r.Encrypted)
}
