package dotenvx

import (
	"fmt"
	"strings"
)

// This file emulates, step for step, the expansion dotenvx 2.38.2 applies to
// a value (@dotenvx/primitives 3.3.1, the functions exported as "expand" and
// "evaluate"). In JavaScript:
//
//	vars = overload ? {...processEnv, ...runningParsed} : {...runningParsed, ...processEnv}
//	re = /(?<!\\)\${([^{}]+)}|(?<!\\)\$([A-Za-z_][A-Za-z0-9_]*)/g
//	while ((m = re.exec(value)) !== null) {
//	  g = m[1] || m[2]; op = first of /(:\+|\+|:-|-)/ in g, or null
//	  [name, ...rest] = g.split(op); def = rest.join(op)
//	  r = op == ':-' ? vars[name] || def : op == '-' ? (name in vars ? vars[name] : def)
//	    : op == ':+' ? (vars[name] ? def : '') : op == '+' ? (name in vars ? def : '')
//	    : vars[name] || ''
//	  value = value.replace(m[0], r)   // first occurrence; "$&" etc. in r are patterns
//	  if (value === vars[name] || literals[name] && /\$\{[^}]+\}|\$[A-Za-z_]\w*/.test(literals[name])) break
//	  re.lastIndex = 0
//	}
//
// and afterwards every \$ becomes $. The quirks that follow from this code are
// kept on purpose (see the package documentation); only its endless loops
// are not: a value whose expansion does not end is an error here.

// Limits on the work the expansion of one value may do. dotenvx has none
// and loops forever on, for example, X=a$LOOP with LOOP=$LOOP in the
// environment. Each substitution rescans the value from its start, as
// dotenvx does, so the work grows with the number of references times the
// length of the value; real values stay far below the limits.
const (
	maxExpandSteps = 1 << 16 // references replaced
	maxExpandWork  = 1 << 26 // bytes scanned and written
	maxCommandScan = 1 << 26 // bytes scanned looking for $(command)
)

// expander holds what dotenvx keeps while it reads one env file.
type expander struct {
	lookupEnv func(string) (string, bool)
	overload  bool
	running   map[string]string // runningParsed: values assigned so far
	literals  map[string]string // the last single-quoted value of each name
	tainted   map[string]bool   // names whose running value holds an unrun $(command)
}

func newExpander(lookupEnv func(string) (string, bool), overload bool) *expander {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	return &expander{
		lookupEnv: lookupEnv,
		overload:  overload,
		running:   map[string]string{},
		literals:  map[string]string{},
		tainted:   map[string]bool{},
	}
}

// lookup returns vars[name]; fromFile reports that the value is an earlier
// assignment in the file rather than the environment's.
func (x *expander) lookup(name string) (value string, ok, fromFile bool) {
	if x.overload {
		if v, ok := x.running[name]; ok {
			return v, true, true
		}
		v, ok := x.lookupEnv(name)
		return v, ok, false
	}
	if v, ok := x.lookupEnv(name); ok {
		return v, true, false
	}
	v, ok := x.running[name]
	return v, ok, ok
}

// errExpandLimit is returned by expand when a value's expansion does not end
// within the limits. refs are the variables with an unrun $(command) the
// expansion took text from: with the commands' output, dotenvx may finish.
type errExpandLimit struct {
	steps, work int
	refs        []string
}

func (e *errExpandLimit) Error() string {
	msg := ErrExpansion.Error()[len("dotenvx: "):]
	msg += fmt.Sprintf(" (stopped after %d substitutions and %d bytes of work)", e.steps, e.work)
	if len(e.refs) > 0 {
		msg += "; it took text from " + strings.Join(e.refs, ", ") + ", whose $(command) substitution was not run"
	}
	return msg
}

func (e *errExpandLimit) Unwrap() error { return ErrExpansion }

// expand expands the references in value as dotenvx's expand does, then
// turns every \$ into $. refs lists the names whose value, taken from an
// earlier assignment that held an unrun $(command), went into the result.
func (x *expander) expand(value string) (out string, refs []string, err error) {
	f := value
	work := 0
	for step := 1; ; step++ {
		ref, ok := findReference(f)
		if !ok {
			break
		}
		if step > maxExpandSteps {
			return "", nil, &errExpandLimit{steps: step - 1, work: work, refs: refs}
		}
		work += len(f)
		op, name, def := splitOperator(f[ref.inner:ref.innerEnd])
		v, has, fromFile := x.lookup(name)
		if has && fromFile && x.tainted[name] {
			refs = appendOnce(refs, name)
		}
		var repl string
		switch op {
		case ":-":
			repl = v
			if v == "" {
				repl = def
			}
		case "-":
			repl = def
			if has {
				repl = v
			}
		case ":+":
			if v != "" {
				repl = def
			}
		case "+":
			if has {
				repl = def
			}
		default:
			repl = v
		}
		// String.prototype.replace with a string pattern: the first
		// occurrence, which may be an escaped one before the match.
		matched := f[ref.start:ref.end]
		at := strings.Index(f, matched)
		sub, ok := substitution(repl, f, at, len(matched), maxExpandWork-work)
		if work += len(sub); !ok || work > maxExpandWork {
			return "", nil, &errExpandLimit{steps: step, work: work, refs: refs}
		}
		f = f[:at] + sub + f[at+len(matched):]
		if has && f == v {
			break
		}
		if lit := x.literals[name]; lit != "" && hasReference(lit) {
			break
		}
	}
	if strings.Contains(f, `\$`) {
		f = strings.ReplaceAll(f, `\$`, "$")
	}
	return f, refs, nil
}

func appendOnce(list []string, s string) []string {
	for _, v := range list {
		if v == s {
			return list
		}
	}
	return append(list, s)
}

// reference is a match of dotenvx's reference pattern in a value: f[start:end]
// is "${...}" or "$NAME", f[inner:innerEnd] the part after "$" without braces.
type reference struct{ start, end, inner, innerEnd int }

// findReference returns the leftmost match of
// /(?<!\\)\${([^{}]+)}|(?<!\\)\$([A-Za-z_][A-Za-z0-9_]*)/ in s.
func findReference(s string) (reference, bool) {
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '$')
		if j < 0 {
			break
		}
		p := i + j
		i = p + 1
		if p > 0 && s[p-1] == '\\' || p+1 >= len(s) {
			continue
		}
		switch c := s[p+1]; {
		case c == '{':
			k := p + 2
			for k < len(s) && s[k] != '{' && s[k] != '}' {
				k++
			}
			if k < len(s) && s[k] == '}' && k > p+2 {
				return reference{start: p, end: k + 1, inner: p + 2, innerEnd: k}, true
			}
		case isNameStart(c):
			k := p + 2
			for k < len(s) && isNameByte(s[k]) {
				k++
			}
			return reference{start: p, end: k, inner: p + 1, innerEnd: k}, true
		}
	}
	return reference{}, false
}

func isNameStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isNameByte(c byte) bool  { return isNameStart(c) || '0' <= c && c <= '9' }

// hasReference reports whether /\$\{[^}]+\}|\$[A-Za-z_][A-Za-z0-9_]*/
// matches s (the test dotenvx applies to a single-quoted value before it
// stops expanding).
func hasReference(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] != '$' {
			continue
		}
		if isNameStart(s[i+1]) {
			return true
		}
		if s[i+1] == '{' && i+2 < len(s) && s[i+2] != '}' && strings.IndexByte(s[i+3:], '}') >= 0 {
			return true
		}
	}
	return false
}

// splitOperator splits the inside of a reference as dotenvx does: at the
// first of ":+", "+", ":-" or "-". Without an operator dotenvx calls
// g.split(null), which splits at the text "null": the name is what precedes
// the first "null" ("${my_null_var}" looks up "my_"; "$nullable" looks up "").
func splitOperator(g string) (op, name, def string) {
	for i := 0; i < len(g); i++ {
		switch {
		case strings.HasPrefix(g[i:], ":+"):
			return ":+", g[:i], g[i+2:]
		case g[i] == '+':
			return "+", g[:i], g[i+1:]
		case strings.HasPrefix(g[i:], ":-"):
			return ":-", g[:i], g[i+2:]
		case g[i] == '-':
			return "-", g[:i], g[i+1:]
		}
	}
	if i := strings.Index(g, "null"); i >= 0 {
		return "", g[:i], ""
	}
	return "", g, ""
}

// substitution returns what String.prototype.replace inserts for the
// replacement repl when the pattern is the string s[at:at+n]: "$$" is "$",
// "$&" the match, "$`" the text before it and "$'" the text after it; any
// other "$" is literal (a string pattern has no capture groups). ok is false
// when the result would be longer than limit.
func substitution(repl, s string, at, n, limit int) (_ string, ok bool) {
	if strings.IndexByte(repl, '$') < 0 {
		return repl, len(repl) <= limit
	}
	var sb strings.Builder
	for i := 0; i < len(repl); i++ {
		if sb.Len() > limit {
			return "", false
		}
		c := repl[i]
		if c != '$' || i+1 == len(repl) {
			sb.WriteByte(c)
			continue
		}
		switch repl[i+1] {
		case '$':
			sb.WriteByte('$')
		case '&':
			sb.WriteString(s[at : at+n])
		case '`':
			sb.WriteString(s[:at])
		case '\'':
			sb.WriteString(s[at+n:])
		default:
			sb.WriteByte('$')
			continue
		}
		i++
	}
	return sb.String(), sb.Len() <= limit
}

// hasCommand reports whether dotenvx's evaluate would find a $(command)
// substitution in s: a "$(" whose parentheses close, outside quotes, with
// backslash escapes and nested "$(" inside double quotes and backticks
// followed as its scanner does. When the scan is too long to finish it
// reports true: the value is then passed as written, with a warning.
func hasCommand(s string) bool {
	budget := maxCommandScan
	for t := strings.Index(s, "$("); t >= 0; {
		type frame struct{ quote byte }
		stack := []frame{{}}
		i := t + 2
		for i < len(s) {
			if budget--; budget < 0 {
				return true
			}
			top := &stack[len(stack)-1]
			c := s[i]
			if top.quote == '\'' {
				if c == '\'' {
					top.quote = 0
				}
				i++
				continue
			}
			if top.quote != 0 {
				switch {
				case c == '\\':
					i += 2
				case c == top.quote:
					top.quote = 0
					i++
				case c == '$' && i+1 < len(s) && s[i+1] == '(':
					stack = append(stack, frame{})
					i += 2
				default:
					i++
				}
				continue
			}
			switch c {
			case '\\':
				i += 2
			case '\'', '"', '`':
				top.quote = c
				i++
			case '(':
				stack = append(stack, frame{})
				i++
			case ')':
				stack = stack[:len(stack)-1]
				i++
				if len(stack) == 0 {
					return true
				}
			default:
				i++
			}
		}
		next := strings.Index(s[t+2:], "$(")
		if next < 0 {
			break
		}
		t += 2 + next
	}
	return false
}
