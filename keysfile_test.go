package envdrift

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/dotenvx"
)

const prodName = "DOTENV_PRIVATE_KEY_PRODUCTION"

func TestMergeKey_NewFileHasDotenvxHeader(t *testing.T) {
	k := newKey(t)
	got, err := mergeKey(nil, prodName, k, ".env.production")
	require.NoError(t, err)
	want := keysFileHeader + "\n# .env.production\n" + prodName + "=" + k + "\n"
	assert.Equal(t, want, string(got))
	v, ok := lookupKey(got, prodName)
	assert.True(t, ok)
	assert.Equal(t, k, v)
}

func TestMergeKey_ReplacesEveryAssignmentKeepingEveryOtherByte(t *testing.T) {
	old, k := newKey(t), newKey(t)
	cases := []struct {
		name, in, want string
	}{
		{"plain", "A=1\n" + prodName + "=" + old + "\nB=2\n", "A=1\n" + prodName + "=" + k + "\nB=2\n"},
		{"export", "export " + prodName + "=" + old + "\n", "export " + prodName + "=" + k + "\n"},
		{"double quoted", prodName + `="` + old + `"` + "\n", prodName + `="` + k + `"` + "\n"},
		{"single quoted", prodName + `='` + old + `'` + "\n", prodName + `='` + k + `'` + "\n"},
		{"backtick quoted", prodName + "=`" + old + "`\n", prodName + "=`" + k + "`\n"},
		{"spaces around =", prodName + " = " + old + "\n", prodName + " = " + k + "\n"},
		{"trailing comment", prodName + "=" + old + " # rotated 2026\n", prodName + "=" + k + " # rotated 2026\n"},
		{"comment without a space", prodName + "=" + old + "#rotated\n", prodName + "=" + k + "#rotated\n"},
		{"quoted with comment", prodName + `="` + old + `" # note` + "\n", prodName + `="` + k + `" # note` + "\n"},
		{"CRLF", "# c\r\n" + prodName + "=" + old + "\r\nX=y\r\n", "# c\r\n" + prodName + "=" + k + "\r\nX=y\r\n"},
		{"no final newline", "A=1\n" + prodName + "=" + old, "A=1\n" + prodName + "=" + k},
		{"duplicates all replaced", prodName + "=" + old + "\nA=1\n" + prodName + "=" + old + "\n", prodName + "=" + k + "\nA=1\n" + prodName + "=" + k + "\n"},
		{"similar names untouched", prodName + "_LOCAL=" + old + "\n" + prodName + "=" + old + "\n", prodName + "_LOCAL=" + old + "\n" + prodName + "=" + k + "\n"},
		{"commented-out assignment untouched", "# " + prodName + "=" + old + "\n" + prodName + "=" + old + "\n", "# " + prodName + "=" + old + "\n" + prodName + "=" + k + "\n"},
		{"indented", "  " + prodName + "=" + old + "\n", "  " + prodName + "=" + k + "\n"},
		{"colon form", prodName + ": " + old + "\n", prodName + ": " + k + "\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mergeKey([]byte(tc.in), prodName, k, ".env.production")
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
			v, ok := lookupKey(got, prodName)
			require.True(t, ok)
			assert.Equal(t, k, v)
		})
	}
}

func TestMergeKey_AppendsABlockWhenTheNameIsAbsent(t *testing.T) {
	k := newKey(t)
	stagingKey := newKey(t)
	existing := keysFileHeader + "\n# .env.staging\nDOTENV_PRIVATE_KEY_STAGING=" + stagingKey + "\n"
	got, err := mergeKey([]byte(existing), prodName, k, ".env.production")
	require.NoError(t, err)
	assert.Equal(t, existing+"\n# .env.production\n"+prodName+"="+k+"\n", string(got))

	// CRLF files get CRLF; a missing final newline is added first.
	got, err = mergeKey([]byte("A=1\r\nB=2"), prodName, k, ".env.production")
	require.NoError(t, err)
	assert.Equal(t, "A=1\r\nB=2\r\n\r\n# .env.production\r\n"+prodName+"="+k+"\r\n", string(got))

	// A file already ending in a blank line gets no second one.
	got, err = mergeKey([]byte("A=1\n\n"), prodName, k, ".env.production")
	require.NoError(t, err)
	assert.Equal(t, "A=1\n\n# .env.production\n"+prodName+"="+k+"\n", string(got))
}

func TestMergeKey_RefusesWhatItCannotEditInPlace(t *testing.T) {
	k := newKey(t)
	_, err := mergeKey([]byte(prodName+"=\"abc\ndef\"\n"), prodName, k, ".env.production")
	assert.ErrorIs(t, err, errKeysFileFormat)
	_, err = mergeKey([]byte{0xff, 0xfe, 'A', 0}, prodName, k, ".env.production")
	assert.ErrorIs(t, err, errKeysFileFormat)
}

func FuzzMergeKey(f *testing.F) {
	for _, seed := range []string{
		"", "A=1\n", "# c\r\nA=1\r\n", prodName + "=x\n", "export " + prodName + "='x' # c\n",
		keysFileHeader + "\n# .env\nDOTENV_PRIVATE_KEY=abc\n", "A=\"multi\nline\"\n", "A=1", "\n\n\n",
		prodName + "=`x`", prodName + ": x\n", "  " + prodName + " = \"x\"\r\n",
	} {
		f.Add([]byte(seed))
	}
	key := "9f2c1d8e7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa00112233"
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := mergeKey(data, prodName, key, ".env.production")
		if err != nil {
			return
		}
		// Write-then-read returns the key.
		v, ok := lookupKey(got, prodName)
		if !ok || v != key {
			t.Fatalf("after merge, %s = %q (found %v)", prodName, v, ok)
		}
		// Every line that does not assign the key is kept, in order.
		kept := func(b []byte) []string {
			var out []string
			for _, l := range strings.SplitAfter(string(b), "\n") {
				if !strings.Contains(l, prodName) && l != "" {
					out = append(out, strings.TrimRight(l, "\r\n"))
				}
			}
			return out
		}
		before, after := kept(data), kept(got)
		if len(after) < len(before) {
			t.Fatalf("lines lost: %q -> %q", before, after)
		}
		for i := range before {
			if before[i] != after[i] {
				t.Fatalf("line %d changed: %q -> %q", i, before[i], after[i])
			}
		}
		// Every other variable dotenvx reads keeps its value, in order.
		others := func(b []byte) [][2]string {
			entries, err := dotenvx.Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			var out [][2]string
			for _, e := range entries {
				if e.Key != prodName {
					out = append(out, [2]string{e.Key, e.Value})
				}
			}
			return out
		}
		if b, a := others(data), others(got); !reflect.DeepEqual(b, a) {
			t.Fatalf("other variables changed: %q -> %q", b, a)
		}
		// The input was text, and so is the output: a merge never adds NUL
		// bytes or invalid UTF-8.
		if !utf8.Valid(got) || bytes.IndexByte(got, 0) >= 0 {
			t.Fatalf("merge produced binary output %q", got)
		}
		// Merging again is a no-op.
		again, err := mergeKey(got, prodName, key, ".env.production")
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("second merge changed the file (%v): %q -> %q", err, got, again)
		}
	})
}

func TestReadKeysFile_SymlinkIsRefused(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real-keys")
	require.NoError(t, os.WriteFile(real, []byte("A=1\n"), 0o600))
	link := filepath.Join(dir, ".env.keys")
	require.NoError(t, os.Symlink(real, link))
	_, err := readKeysFile(link)
	assert.ErrorIs(t, err, ErrUnsafePath)
	assert.Contains(t, err.Error(), "symlink")

	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o700))
	_, err = readKeysFile(filepath.Join(dir, "sub"))
	assert.ErrorIs(t, err, ErrUnsafePath)
}

func TestLookupKey_LastAssignmentWinsLikeDotenvx(t *testing.T) {
	v, ok := lookupKey([]byte("K=a\nK=b\n"), "K")
	assert.True(t, ok)
	assert.Equal(t, "b", v)
	_, ok = lookupKey([]byte("# K=a\n"), "K")
	assert.False(t, ok)
	assert.True(t, bytes.HasPrefix([]byte(keysFileHeader), []byte("#/---")))
}
