package envdrift

import (
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/dotenvx"
)

// newKey returns a fresh throwaway private key's hex.
func newKey(t testing.TB) string {
	t.Helper()
	k, err := dotenvx.GeneratePrivateKey(rand.Reader)
	require.NoError(t, err)
	return k.Hex()
}

func TestParseSecret_AcceptedShapes(t *testing.T) {
	k := newKey(t)
	k2 := newKey(t)
	upper := strings.ToUpper(k)
	const name = "DOTENV_PRIVATE_KEY_PRODUCTION"
	cases := []struct {
		name    string
		payload string
		keyName string
		want    string
	}{
		{"bare", k, name, k},
		{"bare with newline", k + "\n", name, k},
		{"bare with CRLF and spaces", "  " + k + "\r\n", name, k},
		{"uppercase hex", upper, name, k},
		{"UTF-8 BOM", "\ufeff" + k, name, k},
		{"double quoted", `"` + k + `"`, name, k},
		{"single quoted", `'` + k + `'`, name, k},
		{"comma list", k + "," + k2, name, k + "," + k2},
		{"comma list with spaces", k + ", " + k2, name, k + "," + k2},
		{"NAME=key", name + "=" + k, name, k},
		{"NAME=\"key\"", name + `="` + k + `"`, name, k},
		{"export NAME=key", "export " + name + "=" + k + "\n", name, k},
		{"unsuffixed name for .env", "DOTENV_PRIVATE_KEY=" + k, "DOTENV_PRIVATE_KEY", k},
		{"dashed suffix", "DOTENV_PRIVATE_KEY_MY-APP=" + k, "DOTENV_PRIVATE_KEY_MY-APP", k},
		{"two-part suffix", "DOTENV_PRIVATE_KEY_PRODUCTION_LOCAL=" + k, "DOTENV_PRIVATE_KEY_PRODUCTION_LOCAL", k},
		{"keys file text picks the right block", keysFileHeader + "\n# .env.staging\nDOTENV_PRIVATE_KEY_STAGING=" + k2 + "\n\n# .env.production\n" + name + "=" + k + "\n", name, k},
		{"keys file text with CRLF", "# .env.production\r\n" + name + "=" + k + "\r\n", name, k},
		{"JSON named field", `{"` + name + `": "` + k + `"}`, name, k},
		{"JSON with several env fields", `{"DOTENV_PRIVATE_KEY_STAGING": "` + k2 + `", "` + name + `": "` + k + `"}`, name, k},
		{"JSON value field", `{"value": "` + k + `"}`, name, k},
		{"JSON value holding NAME=key", `{"value": "` + name + `=` + k + `"}`, name, k},
		{"JSON value with other fields", `{"value": "` + k + `", "rotated_at": "2026-01-01"}`, name, k},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSecret([]byte(tc.payload), tc.keyName)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.Reveal())
		})
	}
}

func TestParseSecret_RejectedShapesNameTheShapeNotTheValue(t *testing.T) {
	k := newKey(t)
	const name = "DOTENV_PRIVATE_KEY_PRODUCTION"
	curveOrder := "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
	cases := []struct {
		name    string
		payload []byte
		want    string // substring of the error
	}{
		{"empty", nil, "empty"},
		{"whitespace", []byte(" \n\t"), "empty"},
		{"non-hex", []byte(strings.Repeat("zz", 32)), "hexadecimal"},
		{"short", []byte(k[:63]), "63 characters"},
		{"long", []byte(k + "0"), "65 characters"},
		{"zero scalar", []byte(strings.Repeat("0", 64)), "zero"},
		{"scalar equal to the curve order", []byte(curveOrder), "order"},
		{"all ff", []byte(strings.Repeat("f", 64)), "order"},
		{"labelled for another environment", []byte("DOTENV_PRIVATE_KEY_STAGING=" + k), "another environment"},
		{"unsuffixed label for a suffixed file", []byte("DOTENV_PRIVATE_KEY=" + k), "another environment"},
		{"JSON labelled for another environment", []byte(`{"DOTENV_PRIVATE_KEY_CI": "` + k + `"}`), "another environment"},
		{"JSON without a key field", []byte(`{"username": "app", "password": "x"}`), `no DOTENV_PRIVATE_KEY_PRODUCTION or "value" field (fields: password, username)`},
		{"JSON key field not a string", []byte(`{"` + name + `": 42}`), "not a string"},
		{"JSON value not a string", []byte(`{"value": [1]}`), `"value" is not a string`},
		{"invalid JSON", []byte(`{"value": "` + k + `"`), "invalid JSON"},
		{"JSON array", []byte(`[1,2]`), "bare value"},
		{"binary", []byte{0xff, 0xfe, 0x00, 0x01, 0x80}, "binary payload"},
		{"NUL in text", []byte(k[:32] + "\x00" + k[32:]), "NUL"},
		{"text without the variable", []byte("FOO=bar\nBAZ=qux\n"), "no DOTENV_PRIVATE_KEY_PRODUCTION line"},
		{"list with an empty item", []byte(k + ","), "not a dotenvx private key"},
		{"too large", []byte(strings.Repeat("a", 2<<20)), "limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseSecret(tc.payload, name)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidSecret)
			assert.Contains(t, err.Error(), tc.want)
			for i := 0; i+8 <= len(k); i++ {
				assert.NotContains(t, err.Error(), k[i:i+8], "error leaks key material")
			}
		})
	}
}

func TestKey_NeverPrintsItsValue(t *testing.T) {
	hex := newKey(t)
	k, err := ParseKey(hex)
	require.NoError(t, err)
	for _, s := range []string{
		fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s %q %x", k, k, k, k, k, k), k.label(), fmt.Sprintf("%#v", k),
		fmt.Sprintf("%v", &k), fmt.Sprintf("%+v", Row{Key: &k}),
	} {
		assert.NotContains(t, s, hex[:8])
		assert.NotContains(t, s, hex[40:48])
	}
	assert.Equal(t, hex, k.Reveal())
	assert.Contains(t, k.preview(), "public ")
}

func TestKey_EqualComparesEveryKeyInOrder(t *testing.T) {
	a, b := newKey(t), newKey(t)
	ka, _ := ParseKey(a)
	kab, _ := ParseKey(a + "," + b)
	kba, _ := ParseKey(b + "," + a)
	kab2, _ := ParseKey(strings.ToUpper(a) + " , " + b)
	assert.True(t, ka.equal(ka))
	assert.False(t, ka.equal(kab))
	assert.False(t, kab.equal(kba))
	assert.True(t, kab.equal(kab2))
}

func FuzzParseSecret(f *testing.F) {
	k := "9f2c1d8e7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa00112233"
	for _, seed := range []string{
		k, `"` + k + `"`, "DOTENV_PRIVATE_KEY_PRODUCTION=" + k, `{"value":"` + k + `"}`,
		`{"DOTENV_PRIVATE_KEY_PRODUCTION":"` + k + `"}`, keysFileHeader + "\n# .env.production\nDOTENV_PRIVATE_KEY_PRODUCTION=" + k,
		"", "{", `{"value":{"value":1}}`, "'", `"`, "=\n=", "\xff\xfe", k + "," + k,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		key, err := parseSecret(payload, "DOTENV_PRIVATE_KEY_PRODUCTION")
		if err != nil {
			if !strings.Contains(string(payload), "\x00") && len(payload) >= 16 {
				// The error must not echo a 16-byte window of the input
				// that is hex (a possible key).
				msg := err.Error()
				for i := 0; i+16 <= len(payload); i++ {
					w := string(payload[i : i+16])
					if isHex(w) && strings.Contains(msg, w) {
						t.Fatalf("error %q echoes payload window %q", msg, w)
					}
				}
			}
			return
		}
		// A parsed key re-parses to itself.
		again, err := ParseKey(key.Reveal())
		if err != nil || !again.equal(key) {
			t.Fatalf("round trip failed: %v", err)
		}
	})
}

func isHex(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}
