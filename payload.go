package envdrift

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/envdrift/envdrift/dotenvx"
)

// newPayload is the payload of a new secret holding key for keyName, in
// the configured shape (Config.PushFormat).
func newPayload(format, keyName string, key Key) ([]byte, error) {
	switch format {
	case "", pushFormatBare:
		return []byte(key.Reveal()), nil
	case pushFormatEnv:
		return []byte(keyName + "=" + key.Reveal()), nil
	case pushFormatJSON:
		return json.Marshal(map[string]string{keyName: key.Reveal()})
	}
	return nil, fmt.Errorf("%w: push format %q", ErrInvalidConfig, format)
}

// reshape returns current with the key for keyName replaced by key, in the
// shape current already has, so that every other part of the secret stays:
// a bare key (and its trailing newline), the same in quotes, a NAME=key
// line or a multi-line .env.keys text (other lines byte for byte), a JSON
// object (other fields kept) or {"value": …}. envFile names the block a
// .env.keys text gains when it has no line for keyName. ok is false when
// current has no shape envdrift writes into (it is not a key in any
// accepted shape): the caller then writes a new payload.
func reshape(current []byte, keyName string, key Key, envFile string) (out []byte, ok bool, err error) {
	return reshapeDepth(current, keyName, key, envFile, 0)
}

func reshapeDepth(current []byte, keyName string, key Key, envFile string, depth int) ([]byte, bool, error) {
	raw := string(current)
	text := strings.TrimSpace(strings.TrimPrefix(raw, "\ufeff"))
	if text == "" || depth > 2 {
		return nil, false, nil
	}
	lead := raw[:strings.Index(raw, text)]
	trail := raw[strings.Index(raw, text)+len(text):]
	wrap := func(s string) []byte { return []byte(lead + s + trail) }
	switch {
	case text[0] == '{':
		return reshapeJSON(text, keyName, key, envFile, depth, wrap)
	case isQuotedLine(text):
		inner, ok, err := reshapeEnv(text[1:len(text)-1], keyName, key, envFile)
		if !ok || err != nil {
			return nil, ok, err
		}
		return wrap(text[:1] + string(inner) + text[len(text)-1:]), true, nil
	case len(text) >= 2 && (text[0] == '"' || text[0] == '\'') && text[len(text)-1] == text[0] && !strings.ContainsAny(text, "\n="):
		if _, err := ParseKey(text[1 : len(text)-1]); err != nil {
			return nil, false, nil
		}
		return wrap(text[:1] + key.Reveal() + text[len(text)-1:]), true, nil
	case strings.ContainsAny(text, "=\n") || strings.HasPrefix(text, "#"):
		out, ok, err := reshapeEnv(raw, keyName, key, envFile)
		return out, ok, err
	}
	if _, err := ParseKey(text); err != nil {
		return nil, false, nil
	}
	return wrap(key.Reveal()), true, nil
}

// reshapeEnv sets keyName in a NAME=value text, keeping every other byte
// (an existing name that differs only in case keeps its spelling).
func reshapeEnv(text, keyName string, key Key, envFile string) ([]byte, bool, error) {
	entries, err := dotenvx.Parse([]byte(text))
	if err != nil || len(entries) == 0 {
		return nil, false, nil
	}
	name := keyName
	for _, e := range entries {
		if strings.EqualFold(e.Key, keyName) {
			name = e.Key
		}
	}
	out, err := mergeKey([]byte(text), name, key.Reveal(), envFile)
	if err != nil {
		return nil, false, fmt.Errorf("the secret's text cannot be edited in place: %w", err)
	}
	return out, true, nil
}

// reshapeJSON sets keyName in a JSON object (a field of that name in any
// case, else the "value" field when the object has no key fields, else a
// new field), keeping every other field.
func reshapeJSON(text, keyName string, key Key, envFile string, depth int, wrap func(string) []byte) ([]byte, bool, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &obj); err != nil {
		return nil, false, nil
	}
	field := ""
	for name := range obj {
		if strings.EqualFold(name, keyName) {
			field = name
		}
	}
	if field == "" {
		if v, ok := obj["value"]; ok && !hasKeyField(obj) {
			var inner string
			if err := json.Unmarshal(v, &inner); err != nil {
				return nil, false, nil
			}
			out, ok, err := reshapeDepth([]byte(inner), keyName, key, envFile, depth+1)
			if !ok || err != nil {
				return nil, ok, err
			}
			return setJSONField(obj, "value", string(out), wrap)
		}
		field = keyName
	}
	return setJSONField(obj, field, key.Reveal(), wrap)
}

func hasKeyField(obj map[string]json.RawMessage) bool {
	for name := range obj {
		if privateKeyName().MatchString(strings.ToUpper(name)) {
			return true
		}
	}
	return false
}

func setJSONField(obj map[string]json.RawMessage, field, value string, wrap func(string) []byte) ([]byte, bool, error) {
	v, err := json.Marshal(value)
	if err != nil {
		return nil, false, err
	}
	obj[field] = v
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, false, err
	}
	return wrap(strings.TrimSuffix(b.String(), "\n")), true, nil
}
