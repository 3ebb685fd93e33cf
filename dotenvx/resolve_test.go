package dotenvx

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// resolveInMemory resolves src as Resolve does for a file ReadFile read.
func resolveInMemory(src string, env map[string]string, overload bool) (ResolveResult, error) {
	entries, quotes := parse([]byte(src))
	f := &File{Path: ".env", Entries: entries, quotes: quotes}
	return f.Resolve(nil, ResolveOptions{Expand: true, LookupEnv: mapEnv(env), Overload: overload})
}

func mapEnv(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

// TestResolve_Rules has one case per expansion rule of the package doc.
// (TestInteropResolveCases checks the same kind of files against dotenvx.)
func TestResolve_Rules(t *testing.T) {
	env := map[string]string{"FROMENV": "fe", "EMPTY": "", "EXISTS": "env", "my_": "cut at null"}
	tests := []struct {
		name     string
		src      string
		overload bool
		want     map[string]string
	}{
		{name: "dollar name and braces", src: "B=base\nA=$B\nC=${B}\nD=x${B}y$B\n",
			want: map[string]string{"B": "base", "A": "base", "C": "base", "D": "xbaseybase"}},
		{name: "name ends at the first non-name character", src: "B=b\nA=$B.x $B-y $Bz\n",
			want: map[string]string{"B": "b", "A": "b.x b-y "}},
		{name: "unset is empty", src: "A=[$UNSET][${UNSET}]\n", want: map[string]string{"A": "[][]"}},
		{name: "colon-dash default for unset or empty", src: "A=${UNSET:-d}\nB=${EMPTY:-d}\nC=${FROMENV:-d}\n",
			want: map[string]string{"A": "d", "B": "d", "C": "fe"}},
		{name: "dash default for unset only", src: "A=${UNSET-d}\nB=${EMPTY-d}\n",
			want: map[string]string{"A": "d", "B": ""}},
		{name: "colon-plus alternative when set and not empty", src: "A=${FROMENV:+alt}\nB=${EMPTY:+alt}\nC=${UNSET:+alt}\n",
			want: map[string]string{"A": "alt", "B": "", "C": ""}},
		{name: "plus alternative when set", src: "A=${FROMENV+alt}\nB=${EMPTY+alt}\nC=${UNSET+alt}\n",
			want: map[string]string{"A": "alt", "B": "alt", "C": ""}},
		{name: "default is expanded in turn", src: "B=b\nA=${UNSET:-$B/x}\nC=${UNSET:-${B}}\n",
			want: map[string]string{"B": "b", "A": "b/x", "C": "b"}},
		{name: "other shell forms look up the whole inside", src: "A=${FROMENV:=x}\nB=\"${#FROMENV}\"\nC=${FROMENV%e}\n",
			want: map[string]string{"A": "", "B": "", "C": ""}},
		{name: "earlier assignments are seen, later ones are not", src: "A=$L\nL=later\nB=$L\n",
			want: map[string]string{"A": "", "L": "later", "B": "later"}},
		{name: "environment", src: "A=$FROMENV\nB=${FROMENV}-x\n", want: map[string]string{"A": "fe", "B": "fe-x"}},
		{name: "single quotes are literal", src: "B=b\nA='$B ${B} \\$B'\n", want: map[string]string{"B": "b", "A": "$B ${B} \\$B"}},
		{name: "double quotes, backticks and no quotes expand", src: "B=b\nA=\"$B\"\nC=`$B`\nD=$B\n",
			want: map[string]string{"B": "b", "A": "b", "C": "b", "D": "b"}},
		{name: "escaped dollar", src: "B=b\nA=\\$B\nC=\"\\${B} costs \\$5\"\n", want: map[string]string{"B": "b", "A": "$B", "C": "${B} costs $5"}},
		{name: "dollar without a name stays", src: "A=$1 $ $- ${} ${ $$\n", want: map[string]string{"A": "$1 $ $- ${} ${ $$"}},
		{name: "multi-line and escaped newlines", src: "B=b\nA=\"one\n$B\"\nC=\"x\\n$B\"\n",
			want: map[string]string{"B": "b", "A": "one\nb", "C": "x\nb"}},
		{name: "duplicates see the earlier assignment", src: "A=one\nA=$A-two\n", want: map[string]string{"A": "one-two"}},
		{name: "public key is referencable but not returned", src: "DOTENV_PUBLIC_KEY=02ab\nA=$DOTENV_PUBLIC_KEY\n",
			want: map[string]string{"A": "02ab"}},

		{name: "quirk: the first occurrence is replaced, even an escaped one", src: "B=b\nA=\"\\$B and $B\"\n",
			want: map[string]string{"B": "b", "A": "\\b and b"}},
		{name: "quirk: replacement patterns", src: "P='pa$$word'\nA=$P\nB=${UNSET:-<$`>}\nC=${UNSET:-<$'>}!\n",
			want: map[string]string{"P": "pa$$word", "A": "pa$word", "B": "<>", "C": "<!>!"}},
		{name: "quirk: names are cut at null", src: "A=${my_null_var}\nB=$nullable\n",
			want: map[string]string{"A": "cut at null", "B": ""}},
		{name: "substituted text is scanned again", src: "B=b\nE=\"\\$B\"\nA=x$E\n",
			want: map[string]string{"B": "b", "E": "$B", "A": "xb"}},
		{name: "stops when the value becomes the variable's", src: "B=b\nE=\"\\$B\"\nA=$E\n",
			want: map[string]string{"B": "b", "E": "$B", "A": "$B"}},
		{name: "stops after a single-quoted variable holding a reference", src: "L='$FROMENV'\nA=\"$L $FROMENV\"\n",
			want: map[string]string{"L": "$FROMENV", "A": "$FROMENV $FROMENV"}},

		{name: "environment wins", src: "EXISTS=file\nA=$EXISTS\n", want: map[string]string{"EXISTS": "env", "A": "env"}},
		{name: "environment wins even when empty", src: "EMPTY=file\n", want: map[string]string{"EMPTY": ""}},
		{name: "overload: file wins", src: "EXISTS=file\nA=$EXISTS\nEMPTY=file\n", overload: true,
			want: map[string]string{"EXISTS": "file", "A": "file", "EMPTY": "file"}},
		{name: "overload: environment still seen for other names", src: "A=$FROMENV\n", overload: true,
			want: map[string]string{"A": "fe"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := resolveInMemory(tt.src, env, tt.overload)
			require.NoError(t, err)
			assert.Equal(t, tt.want, res.Values)
			assert.Empty(t, res.Warnings)
		})
	}
}

func TestResolve_EnvironmentValueIsNotExpandedUnlessEmptyOrOverload(t *testing.T) {
	env := map[string]string{"A": "$B", "B": "b"}
	res, err := resolveInMemory("A=file\n", env, false)
	require.NoError(t, err)
	assert.Equal(t, "$B", res.Values["A"], "the environment's value is kept as it is")
	res, err = resolveInMemory("A=$B\n", env, true)
	require.NoError(t, err)
	assert.Equal(t, "b", res.Values["A"])
}

func TestResolve_ZeroOptionsReturnValuesAsWritten(t *testing.T) {
	key := mustKey(t, testKeyHex)
	ct, err := Encrypt(key.PublicKey(), "$B secret")
	require.NoError(t, err)
	src := fmt.Sprintf("DOTENV_PUBLIC_KEY=%q\nB=b\nA=$B\nC=\"$(echo x)\"\nS=%s\n", key.PublicKey().Hex(), ct)
	path := filepath.Join(t.TempDir(), ".env")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o600))
	f, err := ReadFile(path)
	require.NoError(t, err)

	want := map[string]string{"B": "b", "A": "$B", "C": "$(echo x)", "S": "$B secret"}
	res, err := f.Resolve([]*PrivateKey{key}, ResolveOptions{})
	require.NoError(t, err)
	assert.Equal(t, want, res.Values)
	assert.Empty(t, res.Warnings)
	got, err := f.Decrypt([]*PrivateKey{key})
	require.NoError(t, err)
	assert.Equal(t, want, got, "Decrypt is Resolve without options")

	res, err = f.Resolve([]*PrivateKey{key}, ResolveOptions{LookupEnv: mapEnv(map[string]string{"B": "env"})})
	require.NoError(t, err)
	assert.Equal(t, "env", res.Values["B"], "precedence applies without Expand")
	assert.Equal(t, "$B", res.Values["A"])
}

func TestResolve_DecryptsBeforeExpanding(t *testing.T) {
	key := mustKey(t, testKeyHex)
	enc := func(s string) string {
		ct, err := Encrypt(key.PublicKey(), s)
		require.NoError(t, err)
		return ct
	}
	src := fmt.Sprintf("DOTENV_PUBLIC_KEY=%q\nHOST=%s\nURL=\"%s\"\nLIT='%s'\n",
		key.PublicKey().Hex(), enc("db.internal"), enc("postgres://${HOST}:${PORT:-5432}/app"), enc("$HOST"))
	path := filepath.Join(t.TempDir(), ".env.production")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o600))
	f, err := ReadFile(path)
	require.NoError(t, err)
	res, err := f.Resolve([]*PrivateKey{key}, ResolveOptions{Expand: true})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		"HOST": "db.internal",
		"URL":  "postgres://db.internal:5432/app",
		"LIT":  "$HOST", // single-quoted ciphertext: literal after decryption
	}, res.Values)
}

func TestResolve_UndecryptableValueIsErrDecryptAndLeaksNothing(t *testing.T) {
	key := mustKey(t, testKeyHex)
	other := mustGenerate(t)
	good, err := Encrypt(key.PublicKey(), "plaintext-one")
	require.NoError(t, err)
	foreign, err := Encrypt(other.PublicKey(), "plaintext-two")
	require.NoError(t, err)
	src := fmt.Sprintf("DOTENV_PUBLIC_KEY=%q\nGOOD=%s\nBAD=%s\n", key.PublicKey().Hex(), good, foreign)
	path := filepath.Join(t.TempDir(), ".env")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o600))
	f, err := ReadFile(path)
	require.NoError(t, err)

	for _, env := range []map[string]string{nil, {"BAD": "shadowed by the environment"}} {
		_, err = f.Resolve([]*PrivateKey{key}, ResolveOptions{Expand: true, LookupEnv: mapEnv(env)})
		require.ErrorIs(t, err, ErrDecrypt)
		assert.ErrorIs(t, err, errAuthentication)
		assert.NotErrorIs(t, err, ErrNoMatchingKey)
		assert.Contains(t, err.Error(), "BAD (line 3)")
		for _, secret := range []string{testKeyHex, other.Hex(), foreign[len(encryptedPrefix):], good[len(encryptedPrefix):], "plaintext"} {
			assertNoSecret(t, err.Error(), secret)
		}
	}

	_, err = f.Resolve([]*PrivateKey{other}, ResolveOptions{Expand: true})
	require.ErrorIs(t, err, ErrNoMatchingKey, "a key that does not pair is a different error")
	assert.NotErrorIs(t, err, ErrDecrypt)
	assertNoSecret(t, err.Error(), other.Hex())
}

func TestResolve_EncryptedEnvironmentValueIsDecrypted(t *testing.T) {
	key := mustKey(t, testKeyHex)
	ct, err := Encrypt(key.PublicKey(), "from the environment")
	require.NoError(t, err)
	src := fmt.Sprintf("DOTENV_PUBLIC_KEY=%q\nA=file\n", key.PublicKey().Hex())
	path := filepath.Join(t.TempDir(), ".env")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o600))
	f, err := ReadFile(path)
	require.NoError(t, err)

	res, err := f.Resolve([]*PrivateKey{key}, ResolveOptions{Expand: true, LookupEnv: mapEnv(map[string]string{"A": ct})})
	require.NoError(t, err)
	assert.Equal(t, "from the environment", res.Values["A"])

	foreign, err := Encrypt(mustGenerate(t).PublicKey(), "not for this key")
	require.NoError(t, err)
	_, err = f.Resolve([]*PrivateKey{key}, ResolveOptions{Expand: true, LookupEnv: mapEnv(map[string]string{"A": foreign})})
	require.ErrorIs(t, err, ErrDecrypt)
	assert.Contains(t, err.Error(), "the environment's value of A (line 2)")
	assertNoSecret(t, err.Error(), foreign[len(encryptedPrefix):])

	_, err = f.Resolve(nil, ResolveOptions{LookupEnv: mapEnv(map[string]string{"A": ct})})
	require.ErrorIs(t, err, ErrNoMatchingKey, "an encrypted environment value needs a key")
}

func TestResolve_CommandSubstitutionIsNeverRun(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	cmd := "$(touch " + marker + ")"
	src := "A=\"" + cmd + " $B\"\nB=b\nREF=x${A}y\nALT=${A:+set}\nS='" + cmd + "'\nE=\"\\" + cmd + "\"\nNOT=\"$(unclosed $B\"\n"
	path := filepath.Join(dir, ".env")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o600))
	f, err := ReadFile(path)
	require.NoError(t, err)
	res, err := f.Resolve(nil, ResolveOptions{Expand: true})
	require.NoError(t, err)
	assert.NoFileExists(t, marker)
	assert.Equal(t, map[string]string{
		"A":   cmd + " $B", // as written: not expanded either
		"B":   "b",
		"REF": "x" + cmd + " ", // then $By, unset (dotenvx: "x<output> ")
		"ALT": "set",
		"S":   cmd,            // single quotes: dotenvx does not run it either
		"E":   "\\" + cmd,     // dotenvx runs a command after a backslash too
		"NOT": "$(unclosed b", // not a command: expanded
	}, res.Values)
	assert.Equal(t, []Warning{
		{Path: path, Line: 1, Key: "A", kind: commandNotRun},
		{Path: path, Line: 3, Key: "REF", kind: refersToCommand, Ref: "A"},
		{Path: path, Line: 4, Key: "ALT", kind: refersToCommand, Ref: "A"},
		{Path: path, Line: 6, Key: "E", kind: commandNotRun},
	}, res.Warnings)
	for _, w := range res.Warnings {
		assert.NotContains(t, w.String(), "touch", "a warning never holds the value")
	}
}

func TestResolve_EnvironmentValueWithCommandIsKeptAndWarned(t *testing.T) {
	env := map[string]string{"A": "$(echo env)"}
	res, err := resolveInMemory("A=file\n", env, false)
	require.NoError(t, err)
	assert.Equal(t, "$(echo env)", res.Values["A"])
	assert.Equal(t, []Warning{{Path: ".env", Line: 1, Key: "A", kind: envCommandNotRun}}, res.Warnings)

	res, err = resolveInMemory("A=file\nB=$A\n", env, true)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"A": "file", "B": "file"}, res.Values)
	assert.Empty(t, res.Warnings, "with overload dotenvx does not evaluate the environment's value")

	res, err = resolveInMemory("A=\"$(echo x)\"\n", map[string]string{"A": "other"}, true)
	require.NoError(t, err)
	assert.Equal(t, "$(echo x)", res.Values["A"])
	assert.Empty(t, res.Warnings, "with overload and another environment value dotenvx does not evaluate the file's")
}

func TestResolve_ExpansionThatDoesNotEndIsAnError(t *testing.T) {
	for _, tc := range []struct {
		src string
		env map[string]string
	}{
		{"X=a$LOOP\n", map[string]string{"LOOP": "$LOOP secret-value"}},
		{"X=${UNSET:-a$&}\n", nil},
		{"X=${UNSET:-$&}\n", nil},
		{"X=y$A\n", map[string]string{"A": "x$A$A"}},
	} {
		_, err := resolveInMemory(tc.src, tc.env, false)
		require.ErrorIs(t, err, ErrExpansion, tc.src)
		assert.Contains(t, err.Error(), "expanding X (line 1)")
		assert.NotContains(t, err.Error(), "secret-value")
	}
}

func TestResolve_HandBuiltFileCountsAsUnquoted(t *testing.T) {
	f := &File{Entries: []Entry{{Key: "B", Value: "b", Line: 1}, {Key: "A", Value: "$B", Line: 2}}}
	res, err := f.Resolve(nil, ResolveOptions{Expand: true})
	require.NoError(t, err)
	assert.Equal(t, "b", res.Values["A"])

	read, quotes := parse([]byte("B=b\nA='$B'\n"))
	f = &File{Entries: read, quotes: quotes}
	res, err = f.Resolve(nil, ResolveOptions{Expand: true})
	require.NoError(t, err)
	assert.Equal(t, "$B", res.Values["A"])
	f.Entries = append(f.Entries, Entry{Key: "C", Value: "c", Line: 3})
	res, err = f.Resolve(nil, ResolveOptions{Expand: true})
	require.NoError(t, err)
	assert.Equal(t, "b", res.Values["A"], "Entries changed: quoting unknown")

	_, err = (*File)(nil).Resolve(nil, ResolveOptions{})
	assert.Error(t, err)
}

// TestResolve_SeveralFilesChainThroughLookupEnv shows how to resolve several
// files as `dotenvx run -f a -f b` does.
func TestResolve_SeveralFilesChainThroughLookupEnv(t *testing.T) {
	a := "A=from-a\nONLY_A=oa\n"
	b := "A=from-b\nREF=$ONLY_A-$A\n"
	for _, tc := range []struct {
		overload bool
		want     map[string]string
	}{
		{false, map[string]string{"A": "from-a", "ONLY_A": "oa", "REF": "oa-from-a"}},
		{true, map[string]string{"A": "from-b", "ONLY_A": "oa", "REF": "oa-from-b"}},
	} {
		env := map[string]string{}
		for _, src := range []string{a, b} {
			res, err := resolveInMemory(src, env, tc.overload)
			require.NoError(t, err)
			for k, v := range res.Values {
				env[k] = v
			}
		}
		assert.Equal(t, tc.want, env, "overload %v", tc.overload)
	}
}

func TestWarning_StringNamesTheVariableOnly(t *testing.T) {
	for _, tc := range []struct {
		w    Warning
		want string
	}{
		{Warning{Path: ".env", Line: 3, Key: "A", kind: commandNotRun},
			".env:3: A: $(command) substitution not run; the value is used as written"},
		{Warning{Line: 4, Key: "B", kind: envCommandNotRun},
			"line 4: B: the environment's value holds a $(command) substitution, which is not run; the value is kept as the environment has it"},
		{Warning{Path: "x/.env.ci", Line: 5, Key: "C", kind: refersToCommand, Ref: "A"},
			"x/.env.ci:5: C: refers to A, whose $(command) substitution was not run; expanded with its text as written"},
		{Warning{Line: 1, Key: "D", kind: 99}, "line 1: D: warning of unknown kind 99"},
	} {
		assert.Equal(t, tc.want, tc.w.String())
	}
}

func TestParse_RecordsQuotes(t *testing.T) {
	entries, quotes := parse([]byte("A=1\nB='2'\nC=\"3\"\nD=`4`\nE= '5\nF=\"x\" y\nG=\n"))
	require.Len(t, entries, 7)
	assert.Equal(t, []byte{0, '\'', '"', '`', '\'', '"', 0}, quotes, "the opening character, as dotenvx takes it")
}

func TestFindReference(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"$A", "$A"}, {"x${A}y", "${A}"}, {"\\$A $B", "$B"}, {"${A $B", "$B"}, {"${}", ""}, {"${a{b}", ""},
		{"$1$_x", "$_x"}, {"${A:-{x}}", ""}, {"${ spaced name }", "${ spaced name }"}, {"$", ""}, {"$é", ""},
	} {
		ref, ok := findReference(tc.in)
		got := ""
		if ok {
			got = tc.in[ref.start:ref.end]
		}
		assert.Equal(t, tc.want, got, tc.in)
	}
}

func TestSplitOperator(t *testing.T) {
	for _, tc := range []struct{ in, op, name, def string }{
		{"A", "", "A", ""}, {"A:-d", ":-", "A", "d"}, {"A-d-e", "-", "A", "d-e"}, {"A:+x:-y", ":+", "A", "x:-y"},
		{"A+b", "+", "A", "b"}, {"A:=b", "", "A:=b", ""}, {"a_null_b", "", "a_", ""}, {"x:-null", ":-", "x", "null"},
	} {
		op, name, def := splitOperator(tc.in)
		assert.Equal(t, []string{tc.op, tc.name, tc.def}, []string{op, name, def}, tc.in)
	}
}

func TestHasCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"$(x)", true}, {"a $(b c) d", true}, {"\\$(x)", true}, {"$(echo ')')", true}, {"$(echo \"$(a)\")", true},
		{"$(x", false}, {"$(echo ')", false}, {"$(a\\)", false}, {"$(a (b)", false}, {"$ (x)", false},
		{"$(( 1 ))", true}, {"$('x' $(y)", true}, {"$('x' (y)", false}, {"$(' $(x)", true}, {"no dollar", false},
	} {
		assert.Equal(t, tc.want, hasCommand(tc.in), tc.in)
	}
	assert.True(t, hasCommand(strings.Repeat("$(", maxCommandScan/2)), "too long to scan: reported as a command")
}

func TestSubstitution(t *testing.T) {
	s := "<pre>$NAME<post>"
	at, n := strings.Index(s, "$NAME"), len("$NAME")
	for _, tc := range []struct{ repl, want string }{
		{"plain", "plain"}, {"a$$b", "a$b"}, {"[$&]", "[$NAME]"}, {"[$`]", "[<pre>]"}, {"[$']", "[<post>]"},
		{"$1$01$<x>$", "$1$01$<x>$"}, {"$$$", "$$"},
	} {
		got, ok := substitution(tc.repl, s, at, n, 100)
		assert.True(t, ok)
		assert.Equal(t, tc.want, got, tc.repl)
	}
	_, ok := substitution(strings.Repeat("$`", 1000), strings.Repeat("x", 1000)+"$A", 1000, 2, 1<<16)
	assert.False(t, ok, "the result is built only up to the limit")
}

func TestResolve_LongValuesWithManyReferencesExpand(t *testing.T) {
	long := strings.Repeat("x", 4000)
	var sb strings.Builder
	sb.WriteString("A=" + long + "\n")
	for range 30 {
		sb.WriteString("B=\"" + strings.Repeat("$A", 60) + "\"\n")
	}
	res, err := resolveInMemory(sb.String(), nil, false)
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat(long, 60), res.Values["B"])
}
