package dotenvx

// Differential tests of Resolve against dotenvx's own code: the
// @dotenvx/primitives package installed next to the dotenvx executable (see
// interop_test.go for how to point the tests at one).

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// resolveCase is one input for dotenvx's parse: a file, an environment and
// the overload flag.
type resolveCase struct {
	Src      string            `json:"src"`
	Env      map[string]string `json:"env"`
	Overload bool              `json:"overload"`
}

// dotenvxResolved is what dotenvx's parse gave for a case: the values it
// sets (parsed), or "LOOP" when it did not finish.
type dotenvxResolved struct {
	Parsed map[string]string `json:"parsed"`
	Error  string            `json:"error"`
}

// resolveScript runs dotenvx's parseSync — the function `dotenvx run` uses —
// on each case. Commands are never run: child_process.execSync is replaced
// before the package loads by a stub that returns "EXEC<command>", so a value
// whose command dotenvx would run shows it. dotenvx loops forever on some
// values; String.prototype.replace, which its expansion calls once a step,
// is given a budget of calls and of bytes returned, and a case that exhausts
// it reports "LOOP".
const resolveScript = `
const cp = require('child_process')
cp.execSync = cmd => Buffer.from('EXEC<' + cmd + '>\n')
const replace = String.prototype.replace
let budget = 0
let bytes = 0
String.prototype.replace = function (...args) {
  const out = replace.apply(this, args)
  bytes += out.length
  if (--budget < 0 || bytes > (1 << 21)) throw new Error('LOOP')
  return out
}
const { parseSync } = require(process.argv[1])
let data = ''
process.stdin.on('data', d => { data += d })
process.stdin.on('end', () => {
  const out = JSON.parse(data).map(c => {
    budget = 20000
    bytes = 0
    try {
      const r = parseSync(c.src, { processEnv: { ...c.env }, overload: c.overload, fk: '/nonexistent/.env.keys' })
      return { parsed: r.parsed }
    } catch (e) {
      return { error: e.message === 'LOOP' || e instanceof RangeError ? 'LOOP' : e.message }
    }
  })
  process.stdout.write(JSON.stringify(out))
})`

// dotenvxResolve runs resolveScript on cases.
func dotenvxResolve(t *testing.T, cases []resolveCase) []dotenvxResolved {
	t.Helper()
	prim := primitivesDir(t)
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not on PATH")
	}
	in, err := json.Marshal(cases)
	require.NoError(t, err)
	cmd := exec.Command("node", "-e", resolveScript, prim)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.Dir = t.TempDir()
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s", stderr.String())
	var got []dotenvxResolved
	require.NoError(t, json.Unmarshal(out, &got))
	require.Len(t, got, len(cases))
	return got
}

// compareWithDotenvx checks Resolve against dotenvx's result for one case:
// the same values, except for variables whose value Resolve reports as
// differing on purpose (a $(command) not run), where dotenvx must indeed have
// run a command.
func compareWithDotenvx(t *testing.T, c resolveCase, want dotenvxResolved) bool {
	t.Helper()
	got, err := resolveInMemory(c.Src, c.Env, c.Overload)
	if want.Error == "LOOP" {
		return assert.ErrorIs(t, err, ErrExpansion, "dotenvx does not finish on %#v", c)
	}
	require.Empty(t, want.Error, "dotenvx failed on %#v", c)
	var limit *errExpandLimit
	if errors.As(err, &limit) && len(limit.refs) > 0 {
		// Expanded with the text of commands dotenvx ran: it may finish.
		return true
	}
	if !assert.NoError(t, err, "%#v", c) {
		return false
	}
	entries, _ := parse([]byte(c.Src))
	lastLine := map[string]int{}
	for _, e := range entries {
		lastLine[e.Key] = e.Line
	}
	warned := map[string]warningKind{}
	for _, w := range got.Warnings {
		if w.Line == lastLine[w.Key] {
			warned[w.Key] = w.kind
		}
	}
	ok := assert.Len(t, got.Values, len(want.Parsed), "%#v", c)
	for k, v := range want.Parsed {
		switch warned[k] {
		case commandNotRun, envCommandNotRun:
			ok = assert.Contains(t, v, "EXEC<", "%s: dotenvx ran no command in %#v", k, c) && ok
		case refersToCommand:
		default:
			ok = assert.Equal(t, v, got.Values[k], "%s in %#v", k, c) && ok
		}
	}
	return ok
}

// TestInteropResolveCases compares Resolve with dotenvx's parse on cases that
// show each expansion rule.
func TestInteropResolveCases(t *testing.T) {
	cases := []resolveCase{}
	for _, overload := range []bool{false, true} {
		for _, src := range expansionRuleFiles {
			cases = append(cases, resolveCase{Src: src, Env: expansionRuleEnv, Overload: overload})
		}
	}
	want := dotenvxResolve(t, cases)
	for i, c := range cases {
		compareWithDotenvx(t, c, want[i])
	}
}

// expansionRuleFiles are env files showing the rules of the package doc.
var expansionRuleFiles = []string{
	"BASE=base\nA=$BASE\nB=${BASE}\nC=x${BASE}y$BASE\n",
	"C=${UNSET:-def}\nD=${UNSET-def}\nE=${EMPTY:-def}\nF=${EMPTY-def}\nG=${FROMENV:+alt}\nH=${FROMENV+alt}\nI=${UNSET:+alt}\nJ=${EMPTY+alt}\n",
	"J=$LATER\nLATER=later\nK=$LATER\n",
	"BASE=b\nK='$BASE'\nL=\"$BASE\"\nM=`$BASE`\nN=\\$BASE\nO=\"\\$BASE $BASE\"\n",
	"O=$FROMENV\nFROMENV=file\nP=$FROMENV\nEXISTS=file\nQ=$EXISTS\n",
	"P=pa$$word\nQ='pa$$word'\nR=$Q\nS='a$&b'\nT=${UNSET:-$Q}\n",
	"S=$nullable\nT=${my_null_var}\nU=${BASE:=x}\nV=${BASE\nW=$1 $ $$ $- ${}\nX=${A B}\n",
	"LIT='$FROMENV and $BASE'\nR1=$LIT\nR2=\"x $LIT $FROMENV\"\n",
	"Y=\"$(echo hi)\"\nZ=$Y\nZZ=${Y:+set}\nSQ='$(echo sq)'\nESC=\"\\$(echo esc)\"\nNOT=\"cost $(5\"\n",
	"EXISTS=$FROMENV\nEMPTY=$FROMENV\nCMDENV=file\nCMDENV2=$(echo file)\n",
	"DUP=one\nDUP=$DUP-two\nREF=$DUP\n",
	"MULTI=\"line1\n$FROMENV\nline3\"\nNL=\"a\\nb $FROMENV\"\n",
	"export X=$FROMENV\nY: $X\n",
}

// expansionRuleEnv is the environment for expansionRuleFiles.
var expansionRuleEnv = map[string]string{
	"FROMENV": "fe",
	"EXISTS":  "envval",
	"EMPTY":   "",
	"my_":     "quirk",
	"CMDENV":  "$(echo env)",
	"CMDENV2": "$(echo file)",
}

// TestInteropResolveRandom compares Resolve with dotenvx's parse on random
// files and environments built from the pieces of the expansion syntax.
func TestInteropResolveRandom(t *testing.T) {
	names := []string{"A", "B", "C", "_x1", "my_null_x"}
	tokens := []string{"$A", "${B}", "${C:-d}", "${A-d}", "${B:+alt}", "${C+alt}", "$_x1", "${my_null_x}", "$nullable",
		"$", "{", "}", "\\", "\\$A", "$$", "$&", "$`", "$'", "$(", ")", "$(echo x)", "$(echo \"$A\")", "'", "\"", "`",
		" ", "x", ":-", "-", "+", ":+", "\n", "${", "${A", "é", "#", "$B$B", "${A:-${B}}", "${A:-$B}", "\\\\$A",
		"$A_", "${A}B", "${_x1:+$C}", "\\n", "$(echo ')')", "${C:-$(echo d)}"}
	envValues := []string{"", "env", "$A", "${B:-e}", "$(echo env)", "$C$C", "\\$A", "$&", "x$'"}
	quotes := []string{"", "'", "\"", "`"}
	r := rand.New(rand.NewPCG(13, 17))
	var cases []resolveCase
	for range 1500 {
		var sb strings.Builder
		for range 1 + r.IntN(5) {
			q := quotes[r.IntN(len(quotes))]
			sb.WriteString(names[r.IntN(len(names))] + "=" + q)
			for range r.IntN(6) {
				sb.WriteString(tokens[r.IntN(len(tokens))])
			}
			sb.WriteString(q + "\n")
		}
		env := map[string]string{}
		for _, n := range names {
			if r.IntN(3) == 0 {
				env[n] = envValues[r.IntN(len(envValues))]
			}
		}
		cases = append(cases, resolveCase{Src: sb.String(), Env: env, Overload: r.IntN(2) == 0})
	}
	want := dotenvxResolve(t, cases)
	failures := 0
	for i, c := range cases {
		if !compareWithDotenvx(t, c, want[i]) {
			if failures++; failures > 5 {
				t.FailNow()
			}
		}
	}
}
