package envdrift

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCheckPairing_ComparesTheDeclaredKeyInAnyCase checks the pairing
// invariant on both of its paths: a key that derives the declared public
// key (in either case) pairs without parsing it, a rotation list pairs
// when any key does, and another key or an invalid declaration is refused.
func TestCheckPairing_ComparesTheDeclaredKeyInAnyCase(t *testing.T) {
	a, b := newKey(t), newKey(t)
	ka, err := ParseKey(a)
	require.NoError(t, err)
	kb, err := ParseKey(b)
	require.NoError(t, err)
	list, err := ParseKey(b + "," + a)
	require.NoError(t, err)
	pub := ka.publicKeys()[0]
	decl := func(v string) envKey { return envKey{name: "DOTENV_PUBLIC_KEY_PRODUCTION", value: v} }

	require.NoError(t, checkPairing(ka, ".env.production", decl(pub), "the vault key"))
	require.NoError(t, checkPairing(ka, ".env.production", decl(strings.ToUpper(pub)), "the vault key"))
	require.NoError(t, checkPairing(list, ".env.production", decl(pub), "the vault key"))
	err = checkPairing(kb, ".env.production", decl(pub), "the vault key")
	require.ErrorIs(t, err, ErrMispaired)
	assert.Contains(t, err.Error(), "was encrypted for")
	err = checkPairing(ka, ".env.production", decl("02"+strings.Repeat("0", 64)), "the vault key")
	require.ErrorIs(t, err, ErrMispaired)
	assert.Contains(t, err.Error(), "not a valid public key")
}
