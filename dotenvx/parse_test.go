package dotenvx

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Entry
	}{
		{name: "empty", in: "", want: nil},
		{name: "simple", in: "A=1\nB=2\n", want: []Entry{{"A", "1", 1}, {"B", "2", 2}}},
		{name: "comments and blanks", in: "# c\n\nA=1\n  # c2\nB=2", want: []Entry{{"A", "1", 3}, {"B", "2", 5}}},
		{name: "export", in: "export A=1\nexport\tB=2", want: []Entry{{"A", "1", 1}, {"B", "2", 2}}},
		{name: "export as key", in: "export=1\nexport =2", want: []Entry{{"export", "1", 1}, {"export", "2", 2}}},
		{name: "colon", in: "A: 1\nB:2\nC:\t3", want: []Entry{{"A", "1", 1}, {"C", "3", 3}}},
		{name: "spaces around equals", in: "A = 1 \nB\t=\t2", want: []Entry{{"A", "1", 1}, {"B", "2", 2}}},
		{name: "unquoted trimmed and cut at #", in: "A=  a b  # c\nB=x#y", want: []Entry{{"A", "a b", 1}, {"B", "x", 2}}},
		{name: "equals in value", in: "A=a=b=c", want: []Entry{{"A", "a=b=c", 1}}},
		{name: "double quotes", in: `A="a # b"`, want: []Entry{{"A", "a # b", 1}}},
		{name: "double escapes", in: `A="1\n2\r3\t4\"5\\6\x"`, want: []Entry{{"A", "1\n2\r3\t4\\\"5\\\\6\\x", 1}}},
		{name: "single escapes", in: `A='it\'s \n'`, want: []Entry{{"A", `it's \n`, 1}}},
		{name: "backtick literal", in: "A=`a\\nb 'c' \"d\"`", want: []Entry{{"A", `a\nb 'c' "d"`, 1}}},
		{name: "multi-line", in: "A=\"1\n2\"\nB='3\n4'\nC=`5\n6`\nD=7", want: []Entry{{"A", "1\n2", 1}, {"B", "3\n4", 3}, {"C", "5\n6", 5}, {"D", "7", 7}}},
		{name: "quoted then text", in: `A="x" y`, want: []Entry{{"A", `"x" y`, 1}}},
		{name: "unterminated", in: "A=\"x\nB=2", want: []Entry{{"A", `"x`, 1}, {"B", "2", 2}}},
		{name: "empty values", in: "A=\nB=\"\"\nC=''\nD=``", want: []Entry{{"A", "", 1}, {"B", "", 2}, {"C", "", 3}, {"D", "", 4}}},
		{name: "value on next line", in: "A=\n'x'\nB=1", want: []Entry{{"A", "x", 1}, {"B", "1", 3}}},
		{name: "key then equals on next line", in: "A\n=1", want: []Entry{{"A", "1", 1}}},
		{name: "duplicates kept", in: "A=1\nA=2", want: []Entry{{"A", "1", 1}, {"A", "2", 2}}},
		{name: "not assignments", in: "just text\nA B=1\n[x]\nOK=1", want: []Entry{{"OK", "1", 4}}},
		{name: "crlf", in: "A=1\r\nB=\"x\r\ny\"\r\nC=3", want: []Entry{{"A", "1", 1}, {"B", "x\ny", 2}, {"C", "3", 4}}},
		{name: "lone cr", in: "A=1\rB=2", want: []Entry{{"A", "1", 1}, {"B", "2", 2}}},
		{name: "utf-8 bom", in: "\ufeffA=1", want: []Entry{{"A", "1", 1}}},
		{name: "utf-16le bom", in: "\xff\xfeA\x00=\x001\x00\n\x00B\x00=\x00\xfc\x00", want: []Entry{{"A", "1", 1}, {"B", "ü", 2}}},
		{name: "invalid utf-8", in: "A=a\xffb\xe2\x82", want: []Entry{{"A", "a\ufffdb\ufffd", 1}}},
		{name: "unicode spaces trimmed", in: "A=\u00a0x\u3000", want: []Entry{{"A", "x", 1}}},
		{name: "line separator", in: "A=x\u2028y", want: []Entry{{"A", "x\u2028y", 1}}},
		{name: "encrypted", in: `A="encrypted:QUJD"`, want: []Entry{{"A", "encrypted:QUJD", 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestParseCorpus checks the parser against dotenvx's own parser: for every
// testdata/parse/*.env, expected.json holds what dotenvx 2.38.2's parser
// returned (see testdata/regen.sh).
func TestParseCorpus(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "parse", "expected.json"))
	require.NoError(t, err)
	var expected map[string]map[string][]string
	require.NoError(t, json.Unmarshal(raw, &expected))
	files, err := filepath.Glob(filepath.Join("testdata", "parse", "*.env"))
	require.NoError(t, err)
	require.Len(t, files, len(expected), "every case has an expectation")
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			want, ok := expected[name]
			require.True(t, ok, "no expectation for %s", name)
			f, err := ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, want, groupValues(f.Entries))
			assertLinesIncrease(t, f.Entries)
		})
	}
}

// groupValues turns entries into the key -> values shape of dotenvx's parser.
func groupValues(entries []Entry) map[string][]string {
	out := map[string][]string{}
	for _, e := range entries {
		out[e.Key] = append(out[e.Key], e.Value)
	}
	return out
}

func assertLinesIncrease(t *testing.T, entries []Entry) {
	t.Helper()
	prev := 0
	for _, e := range entries {
		assert.Greater(t, e.Line, prev, "line of %s", e.Key)
		prev = e.Line
	}
}

func TestParseLines(t *testing.T) {
	in := "# header\n\nA=1\nB=\"multi\nline\nvalue\"\n\n  export C='x'\nD=`a\nb`\r\nE=5\n"
	got, err := Parse([]byte(in))
	require.NoError(t, err)
	lines := map[string]int{}
	for _, e := range got {
		lines[e.Key] = e.Line
	}
	assert.Equal(t, map[string]int{"A": 3, "B": 4, "C": 8, "D": 9, "E": 11}, lines)
}

func TestParseTooLarge(t *testing.T) {
	_, err := Parse(make([]byte, maxFileSize+1))
	assert.ErrorIs(t, err, errFileTooLarge)
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}

	t.Run("ok", func(t *testing.T) {
		p := write(".env.ok", "A=1\n")
		f, err := ReadFile(p)
		require.NoError(t, err)
		assert.Equal(t, p, f.Path)
		assert.Equal(t, []Entry{{"A", "1", 1}}, f.Entries)
	})
	t.Run("missing", func(t *testing.T) {
		_, err := ReadFile(filepath.Join(dir, "nope"))
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
	t.Run("directory", func(t *testing.T) {
		_, err := ReadFile(dir)
		assert.Error(t, err)
	})
	t.Run("exactly the limit", func(t *testing.T) {
		p := filepath.Join(dir, "limit")
		require.NoError(t, os.WriteFile(p, []byte(strings.Repeat("\n", maxFileSize-4)+"A=1\n"), 0o600))
		f, err := ReadFile(p)
		require.NoError(t, err)
		assert.Equal(t, []Entry{{"A", "1", maxFileSize - 3}}, f.Entries)
	})
	t.Run("over the limit", func(t *testing.T) {
		p := filepath.Join(dir, "big")
		fh, err := os.Create(p)
		require.NoError(t, err)
		require.NoError(t, fh.Truncate(maxFileSize+1)) // sparse
		require.NoError(t, fh.Close())
		_, err = ReadFile(p)
		require.ErrorIs(t, err, errFileTooLarge)
		assert.Contains(t, err.Error(), "big")
	})
}

func TestFileAccessors(t *testing.T) {
	f := &File{Path: "svc/.env.production", Entries: []Entry{
		{Key: "DOTENV_PUBLIC_KEY_OTHER", Value: "other", Line: 1},
		{Key: "A", Value: "1", Line: 2},
		{Key: "DOTENV_PUBLIC_KEY_PRODUCTION", Value: "old", Line: 3},
		{Key: "B", Value: "encrypted:x", Line: 4},
		{Key: "A", Value: "2", Line: 5},
		{Key: "DOTENV_PUBLIC_KEY_PRODUCTION", Value: "new", Line: 6},
		{Key: "B", Value: "encrypted:y", Line: 7},
	}}
	v, ok := f.Get("A")
	assert.True(t, ok)
	assert.Equal(t, "2", v)
	_, ok = f.Get("missing")
	assert.False(t, ok)

	name, value, ok := f.PublicKey()
	assert.True(t, ok)
	assert.Equal(t, "DOTENV_PUBLIC_KEY_PRODUCTION", name)
	assert.Equal(t, "new", value)

	assert.Equal(t, []Entry{{"B", "encrypted:x", 4}, {"B", "encrypted:y", 7}}, f.Encrypted())

	// No name matching the file: the first declared.
	f.Path = ".env.staging"
	name, value, ok = f.PublicKey()
	assert.True(t, ok)
	assert.Equal(t, "DOTENV_PUBLIC_KEY_OTHER", name)
	assert.Equal(t, "other", value)

	// None declared.
	_, _, ok = (&File{Entries: []Entry{{Key: "A"}}}).PublicKey()
	assert.False(t, ok)

	var nilFile *File
	_, ok = nilFile.Get("A")
	assert.False(t, ok)
	_, _, ok = nilFile.PublicKey()
	assert.False(t, ok)
	assert.Nil(t, nilFile.Encrypted())
}

func TestSanitizeUTF8(t *testing.T) {
	// One U+FFFD per maximal invalid subsequence, like Node.js.
	tests := []struct{ in, want string }{
		{"ok", "ok"},
		{"\xff", "\ufffd"},
		{"\xe2\x82a", "\ufffda"},
		{"\xe2\x82\xac", "€"},
		{"\xed\xa0\x80", "\ufffd\ufffd\ufffd"}, // surrogate: E0..9F only after ED
		{"\xf0\x9f\x9a", "\ufffd"},
		{"\xf0\x9f\x9a\x80", "🚀"},
		{"\xf4\x90\x80\x80", "\ufffd\ufffd\ufffd\ufffd"},
		{"\xc0\xaf", "\ufffd\ufffd"},
		{"\xe0\x80\x80", "\ufffd\ufffd\ufffd"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, decodeText([]byte(tt.in)), "%q", tt.in)
	}
}
