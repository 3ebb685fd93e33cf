package hashicorp

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzFieldsForRoundTrips checks what Put relies on: whatever payload it
// maps to KV fields, Fetch reads back byte for byte from what Vault stores.
func FuzzFieldsForRoundTrips(f *testing.F) {
	key := "9f2c1d8e7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa00112233"
	for _, s := range []string{
		key, `"` + key + `"`, "DOTENV_PRIVATE_KEY_PRODUCTION=" + key, "DOTENV_PRIVATE_KEY_A-B=" + key + "\n",
		`{"DOTENV_PRIVATE_KEY_CI":"a","DOTENV_PRIVATE_KEY_PRODUCTION":"b"}`, `{"value":"x"}`, `{"DOTENV_PRIVATE_KEY":"a"}`,
		`{"a":1,"b":[true,null]}`, "{\n \"a\": \"b\"\n}", `{"a":"<&>"}`, "", "=", "DOTENV_PRIVATE_KEY==x", "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		fields, _, err := fieldsFor(value)
		if err != nil {
			if utf8.Valid(value) {
				t.Fatalf("fieldsFor refused UTF-8 text: %v", err)
			}
			return
		}
		raw, err := json.Marshal(fields)
		if err != nil {
			t.Fatal(err)
		}
		var stored map[string]json.RawMessage
		if err := decodeJSON(raw, &stored); err != nil {
			t.Fatal(err)
		}
		got, err := extractValue(stored)
		if err != nil {
			t.Fatalf("the fields written for %q do not read back: %v", value, err)
		}
		if !bytes.Equal(got, value) {
			t.Fatalf("wrote %q, would read back %q (fields %s)", value, got, raw)
		}
	})
}
