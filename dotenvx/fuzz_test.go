package dotenvx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// addFileSeeds adds every file matching the globs as a seed.
func addFileSeeds(f *testing.F, globs ...string) {
	for _, g := range globs {
		paths, err := filepath.Glob(g)
		require.NoError(f, err)
		for _, p := range paths {
			data, err := os.ReadFile(p)
			require.NoError(f, err)
			f.Add(data)
		}
	}
}

func FuzzParse(f *testing.F) {
	addFileSeeds(f,
		filepath.Join("testdata", "parse", "*.env"),
		filepath.Join("testdata", "fixtures", "*", ".env*"),
		filepath.Join("testdata", "fixtures", "*", "plaintext.env"),
	)
	for _, s := range []string{
		"", "A", "A=", "=", "A=\"", "A='\\'", "A=`\\``", "export", "export A", "A: b", "A:\nb",
		"A=\"a\\\"\n\"", "A=\n\n'x'", "\ufeffA=1", "\xff\xfeA\x00=\x001\x00", "A='x\u2028'y'", "A=\"\\",
	} {
		f.Add([]byte(s))
	}
	keyRE := regexp.MustCompile(`^[\w.-]+$`)
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := Parse(data)
		require.NoError(t, err)
		again, err := Parse(data)
		require.NoError(t, err)
		require.Equal(t, entries, again, "deterministic")

		// Lines increase. U+2028 and U+2029 end a line for dotenvx's
		// grammar but are not counted as line breaks, so entries they
		// separate share a line number.
		separators := strings.ContainsAny(decodeText(data), "\u2028\u2029")
		prev := 0
		for _, e := range entries {
			require.Regexp(t, keyRE, e.Key)
			if separators {
				require.GreaterOrEqual(t, e.Line, max(prev, 1))
			} else {
				require.Greater(t, e.Line, prev)
			}
			prev = e.Line
		}

		// Re-parsing is stable: writing the entries back with a quoting that
		// can hold their value and parsing that gives the same entries.
		var sb strings.Builder
		var want [][2]string
		for _, e := range entries {
			q, ok := quoteValue(e.Value)
			if !ok {
				continue
			}
			sb.WriteString(e.Key + "=" + q + "\n")
			want = append(want, [2]string{e.Key, e.Value})
		}
		reparsed, err := Parse([]byte(sb.String()))
		require.NoError(t, err)
		var got [][2]string
		for _, e := range reparsed {
			got = append(got, [2]string{e.Key, e.Value})
		}
		require.Equal(t, want, got, "re-parse of %q", sb.String())
	})
}

// quoteValue returns v quoted so that Parse reads it back unchanged, if the
// dotenvx grammar allows that.
func quoteValue(v string) (string, bool) {
	noCR := !strings.Contains(v, "\r") // CR is normalised away outside "\r" escapes
	if strings.HasSuffix(v, `\`) {
		// The closing quote would read as escaped, in every quote style.
		return "", false
	}
	switch {
	case noCR && !strings.Contains(v, "`"):
		return "`" + v + "`", true
	case noCR && !strings.Contains(v, "'"):
		return "'" + v + "'", true
	case !strings.ContainsAny(v, `"`) && !strings.Contains(v, `\n`) && !strings.Contains(v, `\r`) && !strings.Contains(v, `\t`):
		return `"` + strings.ReplaceAll(v, "\r", `\r`) + `"`, true
	}
	return "", false
}

func FuzzDecrypt(f *testing.F) {
	key := mustKey(f, testKeyHex)
	f.Add(dotenvxValue)
	for _, off := range []int{0, 1, 64, 65, 80, 81, 96, 97} {
		f.Add(corruptString(dotenvxValue, off))
	}
	for _, s := range []string{"", "encrypted:", "encrypted:AAAA", "encrypted:====", "plain", dotenvxValue[:50], dotenvxValue + "A", "encrypted:" + strings.Repeat("A", 200)} {
		f.Add(s)
	}
	for _, fx := range loadFixtures(f) {
		if file, err := ReadFile(fx.path); err == nil {
			for _, e := range file.Encrypted() {
				f.Add(e.Value)
			}
		}
	}
	f.Fuzz(func(t *testing.T, value string) {
		// As a ciphertext: never panics, errors are classified.
		pt, err := Decrypt(key, value)
		if err != nil {
			require.ErrorIs(t, err, ErrDecrypt)
			if !assert.True(t, errorsIsAny(err, errMalformedCiphertext, errAuthentication)) {
				t.Fatal(err)
			}
			assertNoSecret(t, err.Error(), testKeyHex)
		} else {
			ct, err := Encrypt(key.PublicKey(), pt)
			require.NoError(t, err)
			back, err := Decrypt(key, ct)
			require.NoError(t, err)
			require.Equal(t, pt, back)
		}
		_, _ = decryptAny([]*PrivateKey{key, nil}, value)

		// As a plaintext: valid ciphertexts round-trip.
		ct, err := Encrypt(key.PublicKey(), value)
		require.NoError(t, err)
		back, err := Decrypt(key, ct)
		require.NoError(t, err)
		require.Equal(t, value, back)
	})
}

func corruptString(value string, off int) string {
	b := []byte(value)
	i := len(encryptedPrefix) + off*4/3
	if i < len(b) {
		b[i] ^= 0x20
	}
	return string(b)
}

var privateKeyErrRE = regexp.MustCompile(`^dotenvx: invalid private key: (not 64 hex digits \(got \d+ characters\)|not hexadecimal|zero|not below the curve order)$`)

func FuzzParsePrivateKey(f *testing.F) {
	for _, s := range []string{
		testKeyHex, strings.ToUpper(testKeyHex), curveOrder, strings.Repeat("0", 64), strings.Repeat("f", 64),
		strings.Repeat("0", 63) + "1", "", " " + testKeyHex, testKeyHex + "\n", "0x" + testKeyHex[2:], strings.Repeat("é", 32),
		testKeyHex + "," + curveOrder, testKeyHex + ", " + testKeyHex,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParsePrivateKey(s)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidKey)
			require.Nil(t, k)
			require.Regexp(t, privateKeyErrRE, err.Error(), "fixed messages only: the input is never echoed")
		} else {
			require.Equal(t, strings.ToLower(s), k.Hex())
			again, err := ParsePrivateKey(k.Hex())
			require.NoError(t, err)
			require.True(t, k.Equal(again))
			pub, err := ParsePublicKey(k.PublicKey().Hex())
			require.NoError(t, err)
			require.True(t, pub.equal(k.PublicKey()))
			require.NotContains(t, fmt.Sprint(k), k.Hex())
		}
		keys, err := ParsePrivateKeys(s)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidKey)
			require.Nil(t, keys)
		} else {
			require.NotEmpty(t, keys)
		}
	})
}

func errorsIsAny(err error, targets ...error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// fuzzSentinel is an environment value that must never show in an error or
// a warning.
const fuzzSentinel = "secret sentinel value"

func FuzzResolve(f *testing.F) {
	for _, src := range expansionRuleFiles {
		f.Add([]byte(src), "$B", false)
		f.Add([]byte(src), "", true)
	}
	f.Add([]byte(runInteropSource), "x$A", false)
	f.Add([]byte("X=a$A\n"), "$A", false)
	f.Add([]byte("X=${U:-a$&}\n"), "", true)
	f.Add([]byte("A='$B'\nC=\"$A $(x)\"\n"), "$(y)", false)
	paths, err := filepath.Glob(filepath.Join("testdata", "parse", "*.env"))
	require.NoError(f, err)
	for _, p := range paths {
		data, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(data, "$A", false)
	}
	f.Fuzz(func(t *testing.T, data []byte, envA string, overload bool) {
		env := map[string]string{"A": envA, "S": fuzzSentinel, "E": ""}
		entries, quotes := parse(data)
		file := &File{Path: ".env", Entries: entries, quotes: quotes}
		opts := ResolveOptions{Expand: true, LookupEnv: mapEnv(env), Overload: overload}
		res, err := file.Resolve(nil, opts)
		again, err2 := file.Resolve(nil, opts)
		require.Equal(t, err == nil, err2 == nil, "deterministic")
		if err != nil {
			require.True(t, errorsIsAny(err, ErrExpansion, ErrNoMatchingKey, errInvalidPublicKey, ErrDecrypt), "%v", err)
			require.NotContains(t, err.Error(), fuzzSentinel)
			return
		}
		require.Equal(t, res, again, "deterministic")

		last := map[int]int{} // entry index -> is last of its key
		lastOf := map[string]int{}
		for i, e := range entries {
			lastOf[e.Key] = i
		}
		for _, i := range lastOf {
			last[i] = 1
		}
		names := map[string]bool{}
		for i, e := range entries {
			if isPublicKeyName(e.Key) {
				continue
			}
			names[e.Key] = true
			if last[i] == 0 || isEncrypted(e.Value) {
				continue
			}
			got := res.Values[e.Key]
			if envV, ok := env[e.Key]; ok && !overload {
				require.Equal(t, envV, got, "%s: the environment wins", e.Key)
				continue
			}
			if !strings.Contains(e.Value, "$") || quotes[i] == '\'' {
				require.Equal(t, e.Value, got, "%s: nothing to expand", e.Key)
			}
		}
		require.Len(t, res.Values, len(names))
		for _, w := range res.Warnings {
			require.True(t, names[w.Key] || isPublicKeyName(w.Key), w.Key)
			require.NotContains(t, w.String(), fuzzSentinel)
		}
	})
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"", "$A", "${A}", "${A:-d}", "${A-d}", "${A:+a}", "${A+a}", "\\$A $A", "$$", "${U:-$&}",
		"${U:-$`}", "${U:-$'}", "${my_null_x}", "$(echo x)", "\"$(a)\" $B", "${A:-${B}}", "x$A$A", "$é", "${{}}"} {
		f.Add(s, "a$A", false)
		f.Add(s, "", true)
	}
	f.Fuzz(func(t *testing.T, value, envA string, overload bool) {
		x := newExpander(mapEnv(map[string]string{"A": envA}), overload)
		x.running["B"] = "b $A"
		x.literals["L"] = "$A"
		x.running["L"] = "$A"
		x.tainted["T"] = true
		x.running["T"] = "$(t)"
		out, refs, err := x.expand(value)
		if err != nil {
			var limit *errExpandLimit
			require.ErrorAs(t, err, &limit)
			require.ErrorIs(t, err, ErrExpansion)
			return
		}
		if _, ok := findReference(value); !ok {
			require.Equal(t, strings.ReplaceAll(value, `\$`, "$"), out, "no reference: only \\$ changes")
			require.Empty(t, refs)
		}
		for _, r := range refs {
			require.Equal(t, "T", r)
		}
		if !strings.Contains(value, "$(") {
			require.False(t, hasCommand(value))
		}
	})
}
