package envdrift

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/internal/lazyre"
	"github.com/envdrift/envdrift/internal/limits"
)

// Key is a validated dotenvx private key, or a comma-separated list of them
// (dotenvx treats a list as rotation candidates). A Key never prints its
// value: fmt shows the public keys it derives. Use Reveal to get the text to
// write to a .env.keys file or hand to dotenvx.
type Key struct {
	keys []*dotenvx.PrivateKey
}

// ParseKey validates s as a dotenvx private key or comma-separated list.
func ParseKey(s string) (Key, error) {
	keys, err := dotenvx.ParsePrivateKeys(s)
	if err != nil {
		return Key{}, err
	}
	return Key{keys: keys}, nil
}

// Reveal returns the key text: lowercase hex, comma-separated when it is a
// list. It is the only way to get at the secret.
func (k Key) Reveal() string {
	parts := make([]string, len(k.keys))
	for i, p := range k.keys {
		parts[i] = p.Hex()
	}
	return strings.Join(parts, ",")
}

// PrivateKeys returns the parsed keys, for use with the dotenvx package
// (a SchemaValidator decrypts values with them).
func (k Key) PrivateKeys() []*dotenvx.PrivateKey { return slices.Clone(k.keys) }

// isZero reports whether k holds no key.
func (k Key) isZero() bool { return len(k.keys) == 0 }

// publicKeys returns the compressed public key (66 hex digits) of each key.
func (k Key) publicKeys() []string {
	out := make([]string, len(k.keys))
	for i, p := range k.keys {
		out[i] = p.PublicKey().Hex()
	}
	return out
}

// equal reports whether k and o hold the same keys in the same order, in
// constant time per key.
func (k Key) equal(o Key) bool {
	if len(k.keys) != len(o.keys) {
		return false
	}
	eq := true
	for i := range k.keys {
		eq = k.keys[i].Equal(o.keys[i]) && eq
	}
	return eq
}

// preview is a short, non-secret label for the key: its public key,
// shortened, with a count for lists.
func (k Key) preview() string {
	if len(k.keys) == 0 {
		return "<none>"
	}
	p := dotenvx.ShortPublicKey(k.keys[0].PublicKey().Hex())
	if len(k.keys) > 1 {
		p += fmt.Sprintf(" (+%d more)", len(k.keys)-1)
	}
	return "public " + p
}

// label is how every printing of k shows it: its public key, never itself.
func (k Key) label() string { return "Key(" + k.preview() + ")" }

// Format implements fmt.Formatter so that no verb prints key material.
func (k Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.label())) }

// secretError explains why a vault payload is not a usable key for a
// mapping. It names the shape found, never the value.
type secretError struct {
	Shape  string // "bare value", "JSON object", "NAME=value text", …
	Reason string
}

// Error describes the payload's shape and what is wrong with it.
func (e *secretError) Error() string {
	if e.Shape == "" {
		return e.Reason
	}
	return e.Shape + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalidSecret) true.
func (e *secretError) Is(target error) bool { return target == ErrInvalidSecret }

var privateKeyName = lazyre.New(`^DOTENV_PRIVATE_KEY(?:_[A-Za-z0-9_.-]*)?$`)

// parseSecret turns a vault payload into the key for keyName (such as
// DOTENV_PRIVATE_KEY_PRODUCTION). It accepts the shapes teams store:
//
//   - a bare key: 9f2c…33 (or a comma-separated list)
//   - the same in quotes: "9f2c…33"
//   - a line NAME=key, with or without export and quotes, for any dotenvx
//     key name (DOTENV_PRIVATE_KEY, DOTENV_PRIVATE_KEY_CI, …_MY-APP)
//   - a multi-line .env.keys text
//   - a JSON object with DOTENV_PRIVATE_KEY* fields, or {"value": "…"}
//
// A payload labelled for another key name (DOTENV_PRIVATE_KEY_STAGING when
// keyName is …_PRODUCTION) is an error, never installed. The final key must
// be 64 hex digits forming a valid secp256k1 private key. Errors are
// *secretError values that describe the shape, never the content.
//
// Rows that share a secret use one parsedSecret (newParsedSecret) instead,
// so that the payload is parsed once, not once per row.
func parseSecret(payload []byte, keyName string) (Key, error) {
	return newParsedSecret(payload).key(keyName)
}

// parsedSecret is a vault payload parsed once for every row that reads it:
// its shape is recognised, its NAME=value lines or JSON fields indexed by
// key name, and the key for each key name validated once, so that rows
// sharing a secret of many keys cost one parse and one lookup each rather
// than a parse each. It is safe for concurrent use.
type parsedSecret struct {
	// err is the answer for every key name: the payload is not usable
	// whatever the name (too large, binary, empty, invalid JSON, …).
	err *secretError
	// shape is how the payload holds its key or keys.
	shape secretShape
	// text is the key of a bare or quoted value.
	text string
	// label names the shape in errors: "bare value", ".env.keys text", …
	label string
	// entries is the number of NAME=value lines (shapeEnv).
	entries int
	// fields holds the DOTENV_PRIVATE_KEY* lines or fields by foldName of
	// their name, exact the JSON fields by their name as written; names
	// lists those names in the order errors give them.
	fields map[string]secretField
	exact  map[string]secretField
	names  []string
	// value is the parsed "value" field of a JSON object with no key
	// fields; valueErr says why that field cannot be used.
	value    *parsedSecret
	valueErr *secretError
	// fieldList names the fields of a JSON object that has neither key
	// fields nor a "value" field, for the error that says so.
	fieldList string

	mu   sync.Mutex
	keys map[string]keyResult // by key name
}

type secretShape int

const (
	shapeInvalid secretShape = iota
	shapeBare
	shapeEnv
	shapeJSON
)

// secretField is one DOTENV_PRIVATE_KEY* line or JSON field.
type secretField struct {
	name  string // as written
	value string
	// notString: a JSON field whose value is not a string.
	notString bool
}

type keyResult struct {
	key Key
	err error
}

// foldName is the index of a key name: names that strings.EqualFold
// considers equal share it.
func foldName(s string) string { return strings.ToUpper(strings.ToLower(s)) }

// newParsedSecret parses payload; it never fails: a payload that holds no
// usable key gives that error for every key name.
func newParsedSecret(payload []byte) *parsedSecret {
	return parseSecretDepth(payload, 0)
}

func parseSecretDepth(payload []byte, depth int) *parsedSecret {
	p := &parsedSecret{}
	if len(payload) > limits.MaxSecretSize {
		p.err = &secretError{Reason: fmt.Sprintf("%d bytes, over the %d-byte limit", len(payload), limits.MaxSecretSize)}
		return p
	}
	if !utf8.Valid(payload) {
		p.err = &secretError{Shape: "binary payload", Reason: fmt.Sprintf("%d bytes that are not UTF-8 text", len(payload))}
		return p
	}
	if bytes.IndexByte(payload, 0) >= 0 {
		p.err = &secretError{Shape: "binary payload", Reason: fmt.Sprintf("%d bytes containing NUL", len(payload))}
		return p
	}
	text := strings.TrimSpace(strings.TrimPrefix(string(payload), "\ufeff"))
	if text == "" {
		p.err = &secretError{Reason: "the secret is empty"}
		return p
	}
	if depth > 2 {
		p.err = &secretError{Shape: "nested value", Reason: "nested too deeply"}
		return p
	}
	switch {
	case text[0] == '{':
		p.parseJSON(text, depth)
	case isQuotedLine(text):
		// A whole NAME=key line in quotes, as some teams paste it.
		p.parseEnv(text[1 : len(text)-1])
	case len(text) >= 2 && (text[0] == '"' || text[0] == '\'') && text[len(text)-1] == text[0] && !strings.ContainsAny(text, "\n="):
		inner := text[1 : len(text)-1]
		if text[0] == '"' {
			var s string
			if err := json.Unmarshal([]byte(text), &s); err == nil {
				inner = s
			}
		}
		p.shape, p.label, p.text = shapeBare, "quoted value", inner
	case strings.ContainsAny(text, "=\n") || strings.HasPrefix(text, "#"):
		p.parseEnv(text)
	default:
		p.shape, p.label, p.text = shapeBare, "bare value", text
	}
	return p
}

// parseEnv indexes the DOTENV_PRIVATE_KEY* lines of a NAME=value text: the
// last line of a name (in any case) wins, as in a dotenv file.
func (p *parsedSecret) parseEnv(text string) {
	entries, err := dotenvx.Parse([]byte(text))
	if err != nil {
		p.err = &secretError{Shape: "text", Reason: "cannot be parsed as NAME=value lines: " + err.Error()}
		return
	}
	p.shape, p.entries = shapeEnv, len(entries)
	p.label = "NAME=value text"
	if len(entries) > 1 {
		p.label = ".env.keys text"
	}
	p.fields = map[string]secretField{}
	for _, e := range entries {
		if !privateKeyName().MatchString(e.Key) {
			continue
		}
		if !slices.Contains(p.names, e.Key) {
			p.names = append(p.names, e.Key)
		}
		p.fields[foldName(e.Key)] = secretField{name: e.Key, value: e.Value}
	}
}

// parseJSON indexes the DOTENV_PRIVATE_KEY* fields of a JSON object, and
// parses its "value" field when it has no key field.
func (p *parsedSecret) parseJSON(text string, depth int) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			p.err = &secretError{Shape: "JSON", Reason: fmt.Sprintf("invalid JSON at byte %d", se.Offset)}
		case errors.Is(err, io.ErrUnexpectedEOF):
			p.err = &secretError{Shape: "JSON", Reason: "invalid JSON: it ends early (truncated?)"}
		default:
			p.err = &secretError{Shape: "JSON", Reason: "not a JSON object of string fields"}
		}
		return
	}
	if dec.More() {
		p.err = &secretError{Shape: "JSON", Reason: "more than one JSON value"}
		return
	}
	p.shape = shapeJSON
	p.fields, p.exact = map[string]secretField{}, map[string]secretField{}
	for name, v := range obj {
		if !privateKeyName().MatchString(name) {
			continue
		}
		p.names = append(p.names, name)
		s, isString := v.(string)
		f := secretField{name: name, value: s, notString: !isString}
		p.exact[name] = f
		// Of names that differ only in case, the first in sorted order
		// answers for a key name spelt like none of them.
		k := foldName(name)
		if prev, dup := p.fields[k]; !dup || name < prev.name {
			p.fields[k] = f
		}
	}
	slices.Sort(p.names)
	if len(p.names) > 0 {
		return
	}
	if v, ok := obj["value"]; ok {
		s, isString := v.(string)
		if !isString {
			p.valueErr = &secretError{Shape: "JSON object", Reason: `field "value" is not a string`}
			return
		}
		p.value = parseSecretDepth([]byte(s), depth+1)
		return
	}
	names := make([]string, 0, len(obj))
	for name := range obj {
		if len(names) == 8 {
			names = append(names, "…")
			break
		}
		if safeFieldName().MatchString(name) && !hexRun().MatchString(name) {
			names = append(names, name)
		} else {
			names = append(names, "?")
		}
	}
	slices.Sort(names)
	p.fieldList = strings.Join(names, ", ")
}

// field returns the line or field for keyName: the one spelt exactly so,
// else one whose name differs only in case.
func (p *parsedSecret) field(keyName string) (secretField, bool) {
	if f, ok := p.exact[keyName]; ok {
		return f, true
	}
	f, ok := p.fields[foldName(keyName)]
	return f, ok
}

// key returns the key for keyName, validated once per name.
func (p *parsedSecret) key(keyName string) (Key, error) {
	if p.err != nil {
		return Key{}, p.err.copy()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.keys[keyName]; ok {
		return r.key, copyErr(r.err)
	}
	k, err := p.lookup(keyName)
	if p.keys == nil {
		p.keys = map[string]keyResult{}
	}
	p.keys[keyName] = keyResult{k, err}
	return k, copyErr(err)
}

func (p *parsedSecret) lookup(keyName string) (Key, error) {
	switch p.shape {
	case shapeBare:
		return validateKey(p.label, p.text)
	case shapeEnv:
		if f, ok := p.field(keyName); ok {
			return validateKey(p.label+" ("+keyName+")", f.value)
		}
		if len(p.names) > 0 {
			return Key{}, &secretError{Shape: p.label, Reason: fmt.Sprintf("labelled for another environment: holds %s, this folder needs %s", listNames(p.names), keyName)}
		}
		if p.entries == 0 {
			return Key{}, &secretError{Shape: "text", Reason: "neither a bare key nor NAME=value lines"}
		}
		return Key{}, &secretError{Shape: p.label, Reason: fmt.Sprintf("no %s line (found %d other variables)", keyName, p.entries)}
	case shapeJSON:
		return p.lookupJSON(keyName)
	}
	return Key{}, &secretError{Reason: "unreadable secret"}
}

func (p *parsedSecret) lookupJSON(keyName string) (Key, error) {
	if f, ok := p.field(keyName); ok {
		if f.notString {
			return Key{}, &secretError{Shape: "JSON object", Reason: fmt.Sprintf("field %s is not a string", f.name)}
		}
		return validateKey("JSON object ("+f.name+")", f.value)
	}
	switch {
	case len(p.names) > 0:
		return Key{}, &secretError{Shape: "JSON object", Reason: fmt.Sprintf("labelled for another environment: holds %s, this folder needs %s", listNames(p.names), keyName)}
	case p.valueErr != nil:
		return Key{}, p.valueErr.copy()
	case p.value != nil:
		k, err := p.value.key(keyName)
		var se *secretError
		if errors.As(err, &se) {
			se.Shape = `JSON "value" holding ` + orDefault(se.Shape, "a value")
		}
		return k, err
	}
	return Key{}, &secretError{Shape: "JSON object", Reason: fmt.Sprintf("no %s or \"value\" field (fields: %s)", keyName, p.fieldList)}
}

// copy returns a copy of e, which the caller may change.
func (e *secretError) copy() *secretError {
	c := *e
	return &c
}

// copyErr returns a copy of a *secretError, and any other error as it is,
// so that no caller changes an error another row holds.
func copyErr(err error) error {
	if se, ok := err.(*secretError); ok {
		return se.copy()
	}
	return err
}

func validateKey(shape, s string) (Key, error) {
	k, err := ParseKey(s)
	if err != nil {
		return Key{}, &secretError{Shape: shape, Reason: fmt.Sprintf("%d characters that are not a dotenvx private key: %s", utf8.RuneCountInString(s), reasonOf(err))}
	}
	return k, nil
}

// reasonOf strips the wrapping "dotenvx: invalid private key:" prefix so
// messages read naturally. dotenvx errors never contain key material.
func reasonOf(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && errors.Is(err, dotenvx.ErrInvalidKey) {
		return msg[i+2:]
	}
	return msg
}

// Field names are shown to help the user; names that could be a piece of a
// key (long hex runs) are not.
var (
	safeFieldName = lazyre.New(`^[A-Za-z0-9_.-]{1,40}$`)
	hexRun        = lazyre.New(`[0-9A-Fa-f]{8}`)
)

// isQuotedLine reports whether text is one NAME=value line of a
// DOTENV_PRIVATE_KEY* name inside matching quotes.
func isQuotedLine(text string) bool {
	if len(text) < 3 || (text[0] != '"' && text[0] != '\'') || text[len(text)-1] != text[0] || strings.Contains(text, "\n") {
		return false
	}
	name, _, ok := strings.Cut(text[1:], "=")
	return ok && privateKeyName().MatchString(strings.TrimSpace(strings.TrimPrefix(name, "export ")))
}

// maxListedNames is how many key names an error lists before "… and N more".
const maxListedNames = 5

// listNames joins names, listing at most maxListedNames of them.
func listNames(names []string) string {
	if len(names) <= maxListedNames {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:maxListedNames], ", ") + fmt.Sprintf(" … and %d more", len(names)-maxListedNames)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
