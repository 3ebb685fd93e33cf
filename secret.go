package envdrift

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/internal/lazyre"
	"github.com/envdrift/envdrift/provider"
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

// PublicKeys returns the compressed public key (66 hex digits) of each key.
func (k Key) PublicKeys() []string {
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

// String implements fmt.Stringer without revealing the key.
func (k Key) String() string { return "Key(" + k.preview() + ")" }

// Format implements fmt.Formatter so that no verb prints key material.
func (k Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

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
func parseSecret(payload []byte, keyName string) (Key, error) {
	return parseSecretDepth(payload, keyName, 0)
}

func parseSecretDepth(payload []byte, keyName string, depth int) (Key, error) {
	if len(payload) > provider.MaxSecretSize {
		return Key{}, &secretError{Reason: fmt.Sprintf("%d bytes, over the %d-byte limit", len(payload), provider.MaxSecretSize)}
	}
	if !utf8.Valid(payload) {
		return Key{}, &secretError{Shape: "binary payload", Reason: fmt.Sprintf("%d bytes that are not UTF-8 text", len(payload))}
	}
	if bytes.IndexByte(payload, 0) >= 0 {
		return Key{}, &secretError{Shape: "binary payload", Reason: fmt.Sprintf("%d bytes containing NUL", len(payload))}
	}
	text := strings.TrimSpace(strings.TrimPrefix(string(payload), "\ufeff"))
	if text == "" {
		return Key{}, &secretError{Reason: "the secret is empty"}
	}
	if depth > 2 {
		return Key{}, &secretError{Shape: "nested value", Reason: "nested too deeply"}
	}
	switch {
	case text[0] == '{':
		return parseJSONSecret(text, keyName, depth)
	case isQuotedLine(text):
		// A whole NAME=key line in quotes, as some teams paste it.
		return parseEnvSecret(text[1:len(text)-1], keyName)
	case len(text) >= 2 && (text[0] == '"' || text[0] == '\'') && text[len(text)-1] == text[0] && !strings.ContainsAny(text, "\n="):
		inner := text[1 : len(text)-1]
		if text[0] == '"' {
			var s string
			if err := json.Unmarshal([]byte(text), &s); err == nil {
				inner = s
			}
		}
		return validateKey("quoted value", inner)
	case strings.ContainsAny(text, "=\n") || strings.HasPrefix(text, "#"):
		return parseEnvSecret(text, keyName)
	}
	return validateKey("bare value", text)
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

func parseEnvSecret(text, keyName string) (Key, error) {
	entries, err := dotenvx.Parse([]byte(text))
	if err != nil {
		return Key{}, &secretError{Shape: "text", Reason: "cannot be parsed as NAME=value lines: " + err.Error()}
	}
	var found []string
	var value string
	var ok bool
	for _, e := range entries {
		if !privateKeyName().MatchString(e.Key) {
			continue
		}
		if strings.EqualFold(e.Key, keyName) {
			// DOTENV_PRIVATE_KEY_soak is the key of environment soak: the
			// name dotenvx writes is upper case, people type either.
			value, ok = e.Value, true
		} else if !slices.Contains(found, e.Key) {
			found = append(found, e.Key)
		}
	}
	shape := "NAME=value text"
	if len(entries) > 1 {
		shape = ".env.keys text"
	}
	if ok {
		return validateKey(shape+" ("+keyName+")", value)
	}
	if len(found) > 0 {
		return Key{}, &secretError{Shape: shape, Reason: fmt.Sprintf("labelled for another environment: holds %s, this folder needs %s", listNames(found), keyName)}
	}
	if len(entries) == 0 {
		return Key{}, &secretError{Shape: "text", Reason: "neither a bare key nor NAME=value lines"}
	}
	return Key{}, &secretError{Shape: shape, Reason: fmt.Sprintf("no %s line (found %d other variables)", keyName, len(entries))}
}

func parseJSONSecret(text, keyName string, depth int) (Key, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return Key{}, &secretError{Shape: "JSON", Reason: fmt.Sprintf("invalid JSON at byte %d", se.Offset)}
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Key{}, &secretError{Shape: "JSON", Reason: "invalid JSON: it ends early (truncated?)"}
		}
		return Key{}, &secretError{Shape: "JSON", Reason: "not a JSON object of string fields"}
	}
	if dec.More() {
		return Key{}, &secretError{Shape: "JSON", Reason: "more than one JSON value"}
	}
	var found []string
	for name, v := range obj {
		if !privateKeyName().MatchString(name) {
			continue
		}
		if !strings.EqualFold(name, keyName) {
			found = append(found, name)
			continue
		}
		s, ok := v.(string)
		if !ok {
			return Key{}, &secretError{Shape: "JSON object", Reason: fmt.Sprintf("field %s is not a string", name)}
		}
		return validateKey("JSON object ("+name+")", s)
	}
	if len(found) > 0 {
		slices.Sort(found)
		return Key{}, &secretError{Shape: "JSON object", Reason: fmt.Sprintf("labelled for another environment: holds %s, this folder needs %s", listNames(found), keyName)}
	}
	if v, ok := obj["value"]; ok {
		s, isString := v.(string)
		if !isString {
			return Key{}, &secretError{Shape: "JSON object", Reason: `field "value" is not a string`}
		}
		k, err := parseSecretDepth([]byte(s), keyName, depth+1)
		if err != nil {
			var se *secretError
			if errors.As(err, &se) {
				se.Shape = `JSON "value" holding ` + orDefault(se.Shape, "a value")
			}
			return Key{}, err
		}
		return k, nil
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
	return Key{}, &secretError{Shape: "JSON object", Reason: fmt.Sprintf("no %s or \"value\" field (fields: %s)", keyName, strings.Join(names, ", "))}
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
