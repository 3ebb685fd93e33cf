package dotenvx

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Entry is one assignment in an env file.
type Entry struct {
	Key   string
	Value string // after unquoting/unescaping exactly as dotenvx does
	Line  int    // 1-based line where the entry starts (the line of its key)
}

// Parse parses the contents of an env file with the grammar dotenvx 2.38.2
// uses, and returns every assignment in file order. Duplicate keys are all
// kept; dotenvx uses the last one (see [File.Get]).
//
// Encoding: a UTF-16LE file must start with the byte order mark FF FE; anything
// else is read as UTF-8 (a UTF-8 byte order mark is ignored, invalid sequences
// become U+FFFD). CRLF and lone CR line endings are read as LF.
//
// An assignment is, at the start of a line: optional whitespace, an optional
// "export" followed by whitespace, a key of ASCII letters, digits, "_", "." and
// "-", then either optional whitespace and "=", or ":" and one whitespace
// character, then the value:
//
//   - Quoted with ', " or `, possibly over several lines. The closing quote
//     is the first unescaped one, or an escaped one (preceded by a backslash)
//     when only whitespace and an optional # comment may follow it but not
//     the first unescaped one. The quotes are removed. In double quotes \n,
//     \r and \t become newline, carriage return and tab, and nothing else is
//     unescaped (\" stays \"). In single quotes \' becomes '. Backtick values
//     are taken literally.
//   - Otherwise everything up to "#" or the end of the line, with leading and
//     trailing whitespace removed; a quoted value followed by anything other
//     than whitespace or a comment is read this way too, quotes included.
//
// Lines that are not assignments are ignored, as dotenvx ignores them.
// "Whitespace" is JavaScript's \s: Unicode spaces, line separators and the
// byte order mark U+FEFF included. Values are not expanded ($VAR) and
// commands ($(cmd)) are not run; [File.Resolve] expands values as dotenvx run
// does.
//
// Parse never panics; it returns an error only when data is larger than
// maxFileSize.
func Parse(data []byte) ([]Entry, error) {
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", errFileTooLarge, len(data), maxFileSize)
	}
	entries, _ := parse(data)
	return entries, nil
}

// parse parses data, which is at most maxFileSize bytes, and also returns for
// each entry the quote character its value was written with (see quoteOf).
func parse(data []byte) ([]Entry, []byte) {
	p := parser{s: normalizeNewlines(decodeText(data)), failedAt: -1}
	p.quote[0].from, p.quote[1].from, p.quote[2].from = -1, -1, -1
	return p.run()
}

// decodeText turns file bytes into the string Node.js would read: UTF-16LE
// when the file starts with FF FE, UTF-8 otherwise.
func decodeText(data []byte) string {
	if len(data) >= 2 && data[0] == 0xFF && data[1] == 0xFE {
		units := make([]uint16, len(data)/2) // Node drops an odd last byte
		for i := range units {
			units[i] = uint16(data[2*i]) | uint16(data[2*i+1])<<8
		}
		return string(utf16.Decode(units)) // the BOM stays as U+FEFF, as in Node
	}
	if utf8.Valid(data) {
		return string(data)
	}
	return sanitizeUTF8(data)
}

// sanitizeUTF8 replaces each maximal invalid subsequence with U+FFFD, as the
// WHATWG decoder used by Node.js does.
func sanitizeUTF8(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) + 16)
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			sb.WriteByte(c)
			i++
			continue
		}
		need, lo, hi := 0, byte(0x80), byte(0xBF)
		switch {
		case c >= 0xC2 && c <= 0xDF:
			need = 1
		case c == 0xE0:
			need, lo = 2, 0xA0
		case c == 0xED:
			need, hi = 2, 0x9F
		case c >= 0xE1 && c <= 0xEF:
			need = 2
		case c == 0xF0:
			need, lo = 3, 0x90
		case c == 0xF4:
			need, hi = 3, 0x8F
		case c >= 0xF1 && c <= 0xF3:
			need = 3
		default:
			sb.WriteRune(utf8.RuneError)
			i++
			continue
		}
		j := i + 1
		ok := true
		for k := 0; k < need; k++ {
			if j >= len(b) || b[j] < lo || b[j] > hi {
				ok = false
				break
			}
			lo, hi = 0x80, 0xBF
			j++
		}
		if ok {
			sb.Write(b[i:j])
		} else {
			sb.WriteRune(utf8.RuneError)
		}
		i = j
	}
	return sb.String()
}

// normalizeNewlines replaces CRLF and lone CR with LF.
func normalizeNewlines(s string) string {
	if strings.IndexByte(s, '\r') < 0 {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// isSpace reports whether r is matched by JavaScript's \s (and removed by
// String.prototype.trim).
func isSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0x00A0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}

// isLineTerminator reports whether r ends a line for JavaScript's ^, $ and ".".
func isLineTerminator(r rune) bool {
	return r == '\n' || r == '\r' || r == 0x2028 || r == 0x2029
}

func isKeyByte(c byte) bool {
	return c == '_' || c == '.' || c == '-' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

func isQuote(c byte) bool { return c == '\'' || c == '"' || c == '`' }

func quoteIndex(c byte) int {
	switch c {
	case '\'':
		return 0
	case '"':
		return 1
	}
	return 2
}

func runeAt(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// parser emulates, without backtracking, the regular expression dotenvx uses
// to find assignments (applied with the g and m flags):
//
//	^\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)
//	  (\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?
//	  \s*(?:#(.*))?$
//
// Every step is linear; the caches below keep repeated attempts (one per line
// start) from rescanning the same text.
type parser struct {
	s string

	// A run of whitespace [wsFrom, wsTo): wsEnd(i) == wsTo for i in the run.
	wsFrom, wsTo int
	// The position after leading whitespace of the last failed attempt.
	failedAt int
	// Per quote character: for an opening quote at r with from <= r < limit,
	// the closing quote is best (or none when best <= r).
	quote [3]struct{ from, limit, best int }

	line, linePos int // line number at position linePos
}

type match struct {
	keyPos, keyEnd int
	raw            string
	end            int
}

func (p *parser) run() ([]Entry, []byte) {
	var entries []Entry
	var quotes []byte
	p.line = 1
	n := len(p.s)
	for pos := 0; pos < n; {
		start := p.lineStartFrom(pos)
		if start < 0 || start >= n {
			break
		}
		if m, ok := p.matchAt(start); ok {
			entries = append(entries, Entry{
				Key:   p.s[m.keyPos:m.keyEnd],
				Value: unquote(m.raw),
				Line:  p.lineOf(m.keyPos),
			})
			quotes = append(quotes, quoteOf(m.raw))
			pos = m.end
			continue
		}
		_, size := runeAt(p.s, start)
		pos = start + size
	}
	return entries, quotes
}

// lineStartFrom returns the first line start at or after pos, or -1.
func (p *parser) lineStartFrom(pos int) int {
	s := p.s
	if pos == 0 {
		return 0
	}
	if r, _ := utf8.DecodeLastRuneInString(s[:pos]); isLineTerminator(r) {
		return pos
	}
	for i := pos; i < len(s); {
		r, size := runeAt(s, i)
		i += size
		if isLineTerminator(r) {
			return i
		}
	}
	return -1
}

func (p *parser) lineOf(pos int) int {
	p.line += strings.Count(p.s[p.linePos:pos], "\n")
	p.linePos = pos
	return p.line
}

// wsEnd returns the end of the run of whitespace starting at i.
func (p *parser) wsEnd(i int) int {
	if p.wsFrom <= i && i <= p.wsTo && p.wsFrom != p.wsTo {
		return p.wsTo
	}
	j := i
	for j < len(p.s) {
		r, size := runeAt(p.s, j)
		if !isSpace(r) {
			break
		}
		j += size
	}
	p.wsFrom, p.wsTo = i, j
	return j
}

func (p *parser) isSpaceAt(i int) (bool, int) {
	if i >= len(p.s) {
		return false, 0
	}
	r, size := runeAt(p.s, i)
	return isSpace(r), size
}

func (p *parser) matchAt(start int) (match, bool) {
	i := p.wsEnd(start)
	if i == p.failedAt {
		return match{}, false
	}
	if strings.HasPrefix(p.s[i:], "export") {
		if ok, _ := p.isSpaceAt(i + len("export")); ok {
			if m, ok := p.rest(p.wsEnd(i + len("export"))); ok {
				return m, true
			}
		}
	}
	if m, ok := p.rest(i); ok {
		return m, true
	}
	p.failedAt = i
	return match{}, false
}

// rest matches from the key onwards.
func (p *parser) rest(k int) (match, bool) {
	s := p.s
	e := k
	for e < len(s) && isKeyByte(s[e]) {
		e++
	}
	if e == k {
		return match{}, false
	}
	var q int
	if f := p.wsEnd(e); f < len(s) && s[f] == '=' {
		q = f + 1
	} else if e < len(s) && s[e] == ':' {
		ok, size := p.isSpaceAt(e + 1)
		if !ok {
			return match{}, false
		}
		q = e + 1 + size
	} else {
		return match{}, false
	}
	// The value and the rest of the pattern always match from q, so the lazy
	// whitespace after the separator never grows.
	m := match{keyPos: k, keyEnd: e}
	m.raw, m.end = p.value(q)
	return m, true
}

// value matches the optional value group and the tail from q, returning the
// raw text of the group ("" when it did not participate) and the match end.
func (p *parser) value(q int) (string, int) {
	s := p.s
	if r := p.wsEnd(q); r < len(s) && isQuote(s[r]) {
		if c, ok := p.closingQuote(r); ok {
			end, _ := p.tail(c + 1)
			return s[q : c+1], end
		}
	}
	if q < len(s) && s[q] != '#' && s[q] != '\n' {
		u := q
		for u < len(s) && s[u] != '#' && s[u] != '\n' && s[u] != '\r' {
			u++
		}
		end, ok := p.tail(u)
		if !ok {
			end = u
		}
		return s[q:u], end
	}
	end, ok := p.tail(q)
	if !ok {
		end = q
	}
	return "", end
}

// tail matches \s*(?:#(.*))?$ at x and returns where the match ends.
func (p *parser) tail(x int) (int, bool) {
	s := p.s
	w := p.wsEnd(x)
	if w == len(s) {
		return w, true
	}
	if s[w] == '#' {
		return endOfLine(s, w+1), true
	}
	// Backtrack: the last line terminator inside the whitespace.
	for j := w; j > x; {
		r, size := utf8.DecodeLastRuneInString(s[x:j])
		j -= size
		if isLineTerminator(r) {
			return j, true
		}
	}
	return 0, false
}

func (p *parser) tailOK(x int) bool {
	s := p.s
	w := p.wsEnd(x)
	if w == len(s) || s[w] == '#' {
		return true
	}
	return strings.ContainsAny(s[x:w], "\n\u2028\u2029")
}

func endOfLine(s string, i int) int {
	for i < len(s) {
		r, size := runeAt(s, i)
		if isLineTerminator(r) {
			return i
		}
		i += size
	}
	return i
}

// closingQuote finds the closing quote for the opening quote at r that the
// regular expression would settle on: the candidates are the quote characters
// after r up to and including the first one not preceded by a backslash, tried
// from the last to the first; the first whose tail matches wins.
func (p *parser) closingQuote(r int) (int, bool) {
	s := p.s
	qc := s[r]
	c := &p.quote[quoteIndex(qc)]
	if c.from < 0 || r < c.from || r >= c.limit {
		// First unescaped quote after r (or the end of the text).
		limit := len(s)
		for i := r + 1; i < len(s); {
			j := strings.IndexByte(s[i:], qc)
			if j < 0 {
				break
			}
			i += j
			if s[i-1] != '\\' {
				limit = i
				break
			}
			i++
		}
		best := -1
		for i := min(limit, len(s)-1); i > r; i-- {
			if s[i] == qc && p.tailOK(i+1) {
				best = i
				break
			}
		}
		c.from, c.limit, c.best = r, limit, best
		if limit == len(s) {
			c.limit = len(s) + 1
		}
	}
	if c.best > r {
		return c.best, true
	}
	return 0, false
}

// quoteOf returns the quote kind dotenvx gives the raw value group: its first
// character after trimming when that is ', " or `, else 0. It is the opening
// character even when the value has no matching closing quote.
func quoteOf(raw string) byte {
	v := strings.TrimLeftFunc(raw, isSpace)
	if v != "" && isQuote(v[0]) {
		return v[0]
	}
	return 0
}

// unquote turns the raw value group into the value, as dotenvx does: trim,
// strip matching quotes (JavaScript's
// replace(/^(['"`])([\s\S]*)\1$/mg, "$2")), then unescape by the first
// character's quote kind.
func unquote(raw string) string {
	v := strings.TrimFunc(raw, isSpace)
	if v == "" {
		return ""
	}
	kind := v[0]
	v = stripQuotes(v)
	switch kind {
	case '\'':
		v = strings.ReplaceAll(v, `\'`, "'")
	case '"':
		if strings.IndexByte(v, '\\') >= 0 {
			v = doubleQuoteEscapes.Replace(v)
		}
	}
	return v
}

var doubleQuoteEscapes = strings.NewReplacer(`\n`, "\n", `\r`, "\r", `\t`, "\t")

// stripQuotes emulates v.replace(/^(['"`])([\s\S]*)\1$/mg, "$2").
func stripQuotes(v string) string {
	// For each quote character, the greedy [\s\S]* always reaches the last
	// occurrence of that character that ends a line.
	var last [3]int
	for i := range last {
		last[i] = -1
	}
	for k, qc := range []byte{'\'', '"', '`'} {
		for j := len(v) - 1; j >= 0; j-- {
			j = strings.LastIndexByte(v[:j+1], qc)
			if j < 0 {
				break
			}
			if lineEndAt(v, j+1) {
				last[k] = j
				break
			}
		}
	}
	if last[0] < 0 && last[1] < 0 && last[2] < 0 {
		return v
	}
	var sb strings.Builder
	copied := 0
	for i := 0; i < len(v); {
		if isQuote(v[i]) && lineStartAt(v, i) {
			if j := last[quoteIndex(v[i])]; j > i {
				sb.WriteString(v[copied:i])
				sb.WriteString(v[i+1 : j])
				copied = j + 1
				i = j + 1
				continue
			}
		}
		_, size := runeAt(v, i)
		i += size
	}
	if copied == 0 {
		return v
	}
	sb.WriteString(v[copied:])
	return sb.String()
}

func lineStartAt(s string, i int) bool {
	if i == 0 {
		return true
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return isLineTerminator(r)
}

func lineEndAt(s string, i int) bool {
	if i >= len(s) {
		return true
	}
	r, _ := runeAt(s, i)
	return isLineTerminator(r)
}
