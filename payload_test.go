package envdrift

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReshape_KeepsTheShapeTheSecretAlreadyHas(t *testing.T) {
	oldHex, newHex := newKey(t), newKey(t)
	key, err := ParseKey(newHex)
	require.NoError(t, err)
	other := newKey(t)
	const name = "DOTENV_PRIVATE_KEY_PRODUCTION"
	for _, tc := range []struct {
		shape, current, want string
	}{
		{"bare", oldHex, newHex},
		{"bare with a newline", oldHex + "\n", newHex + "\n"},
		{"quoted", `"` + oldHex + `"`, `"` + newHex + `"`},
		{"NAME=key line", name + "=" + oldHex, name + "=" + newHex},
		{"quoted NAME=key line", `"` + name + "=" + oldHex + `"`, `"` + name + "=" + newHex + `"`},
		{"lower-case suffix keeps its spelling", "DOTENV_PRIVATE_KEY_production=" + oldHex, "DOTENV_PRIVATE_KEY_production=" + newHex},
		{".env.keys text keeps the other keys and comments",
			"#/--- header ---/\n\n# .env.staging\nDOTENV_PRIVATE_KEY_STAGING=" + other + "\n\n# .env.production\n" + name + "=" + oldHex + "\n",
			"#/--- header ---/\n\n# .env.staging\nDOTENV_PRIVATE_KEY_STAGING=" + other + "\n\n# .env.production\n" + name + "=" + newHex + "\n"},
		{".env.keys text without the key gains a block",
			"# .env.staging\nDOTENV_PRIVATE_KEY_STAGING=" + other + "\n",
			"# .env.staging\nDOTENV_PRIVATE_KEY_STAGING=" + other + "\n\n# .env.production\n" + name + "=" + newHex + "\n"},
		{"JSON keeps the other fields", `{"owner":"team-a","` + name + `":"` + oldHex + `"}`, `{"` + name + `":"` + newHex + `","owner":"team-a"}`},
		{"JSON value field", `{"value":"` + oldHex + `","rotated":"2026-01-01"}`, `{"rotated":"2026-01-01","value":"` + newHex + `"}`},
		{"JSON value holding a NAME=key line", `{"value":"` + name + `=` + oldHex + `"}`, `{"value":"` + name + `=` + newHex + `"}`},
	} {
		t.Run(tc.shape, func(t *testing.T) {
			out, ok, err := reshape([]byte(tc.current), name, key, ".env.production")
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, tc.want, string(out))
			got, err := parseSecret(out, name)
			require.NoError(t, err, "the result is read back as the new key")
			assert.True(t, got.equal(key))
		})
	}
	for _, notAKey := range []string{"hello", "", `{"x":1}x`, "12345"} {
		_, ok, err := reshape([]byte(notAKey), name, key, ".env.production")
		assert.NoError(t, err)
		assert.False(t, ok, "%q has no shape to keep", notAKey)
	}
}

func TestNewPayload_FollowsPushFormat(t *testing.T) {
	hex := newKey(t)
	key, err := ParseKey(hex)
	require.NoError(t, err)
	for format, want := range map[string]string{
		"":             hex,
		pushFormatBare: hex,
		pushFormatEnv:  "DOTENV_PRIVATE_KEY=" + hex,
		pushFormatJSON: `{"DOTENV_PRIVATE_KEY":"` + hex + `"}`,
	} {
		got, err := newPayload(format, "DOTENV_PRIVATE_KEY", key)
		require.NoError(t, err)
		assert.Equal(t, want, string(got), format)
	}
}
