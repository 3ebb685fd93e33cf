package envdrift

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/internal/limits"
)

// refParseSecret is the implementation parseSecret replaced, which parsed
// the payload again for every row that shares it: FuzzParseSecret_MatchesReference
// holds the parse-once version to the same results.
func refParseSecret(payload []byte, keyName string) (Key, error) {
	return refParseSecretDepth(payload, keyName, 0)
}

func refParseSecretDepth(payload []byte, keyName string, depth int) (Key, error) {
	if len(payload) > limits.MaxSecretSize {
		return Key{}, &secretError{Reason: fmt.Sprintf("%d bytes, over the %d-byte limit", len(payload), limits.MaxSecretSize)}
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
		return refParseJSONSecret(text, keyName, depth)
	case isQuotedLine(text):
		// A whole NAME=key line in quotes, as some teams paste it.
		return refParseEnvSecret(text[1:len(text)-1], keyName)
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
		return refParseEnvSecret(text, keyName)
	}
	return validateKey("bare value", text)
}

func refParseEnvSecret(text, keyName string) (Key, error) {
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

func refParseJSONSecret(text, keyName string, depth int) (Key, error) {
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
		k, err := refParseSecretDepth([]byte(s), keyName, depth+1)
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

// FuzzParseSecret_MatchesReference holds parseSecret to the results of the
// implementation it replaced: the same key, or the same error message.
// Where the reference picked among JSON fields in map order (two key
// fields that differ only in case; the first eight of many field names),
// any of its answers is accepted.
func FuzzParseSecret_MatchesReference(f *testing.F) {
	k := "9f2c1d8e7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa00112233"
	for _, seed := range []string{
		k, `"` + k + `"`, "DOTENV_PRIVATE_KEY_PRODUCTION=" + k, `{"value":"` + k + `"}`,
		`{"DOTENV_PRIVATE_KEY_PRODUCTION":"` + k + `"}`, keysFileHeader + "\n# .env.production\nDOTENV_PRIVATE_KEY_PRODUCTION=" + k,
		`{"DOTENV_PRIVATE_KEY_production":"` + k + `","DOTENV_PRIVATE_KEY_PRODUCTION":"x"}`,
		"DOTENV_PRIVATE_KEY_PRODUCTION=x\ndotenv_private_key_production=" + k + "\nDOTENV_PRIVATE_KEY_production=" + k,
		`{"value":"{\"value\":\"DOTENV_PRIVATE_KEY_CI=` + k + `\"}"}`, `{"a":1,"b":2}`, `{"value":{"value":1}}`,
		"", "{", "'", `"`, "=\n=", "\xff\xfe", k + "," + k,
	} {
		for _, name := range []string{"DOTENV_PRIVATE_KEY_PRODUCTION", "DOTENV_PRIVATE_KEY", "DOTENV_PRIVATE_KEY_production"} {
			f.Add([]byte(seed), name)
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte, keyName string) {
		got, err := parseSecret(payload, keyName)
		for range 32 {
			want, werr := refParseSecret(payload, keyName)
			if (err == nil) != (werr == nil) {
				continue
			}
			if err != nil && err.Error() == werr.Error() {
				return
			}
			if err == nil && got.equal(want) {
				return
			}
		}
		want, werr := refParseSecret(payload, keyName)
		t.Fatalf("parseSecret(%q, %q) = %v, %v; the reference gives %v, %v", payload, keyName, got, err, want, werr)
	})
}

// TestParsedSecret_EveryRowGetsItsOwnError checks that a row changing the
// error it got (as the sync does, prefixing the secret's name) does not
// change what the next row sharing the secret gets.
func TestParsedSecret_EveryRowGetsItsOwnError(t *testing.T) {
	p := newParsedSecret([]byte(`{"value":"DOTENV_PRIVATE_KEY_CI=x"}`))
	_, err1 := p.key("DOTENV_PRIVATE_KEY_CI")
	var se *secretError
	require.ErrorAs(t, err1, &se)
	se.Shape = "changed"
	_, err2 := p.key("DOTENV_PRIVATE_KEY_CI")
	assert.Contains(t, err2.Error(), `JSON "value" holding NAME=value text`)
	assert.NotContains(t, err2.Error(), "changed")
}
