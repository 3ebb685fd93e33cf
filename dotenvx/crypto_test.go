package dotenvx

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dotenvxValue was encrypted for testKeyPub by dotenvx 2.38.2 (`dotenvx
// encrypt` of HELLO=world).
const dotenvxValue = "encrypted:BEPTX+keOornEX5TJrgVg29+3lGmwZ/u3qaa1XAqN4OMmpnPbhgdz5BNlN8T0Lim7TJF3eN03TzWEmMm28TipYZvMf9c3OacSANtF4NOTQCCBZew6TL07dHnifDj3DAB8NKui4+d"

func TestDecryptDotenvxValue(t *testing.T) {
	got, err := Decrypt(mustKey(t, testKeyHex), dotenvxValue)
	require.NoError(t, err)
	assert.Equal(t, "world", got)
}

func TestEncryptRoundTrip(t *testing.T) {
	k := mustGenerate(t)
	for _, pt := range []string{
		"", "x", "world", "héllo ✓ 日本 🚀", "multi\nline\r\n\tvalue", strings.Repeat("long value ", 10000),
		"\x00binary\xff\xfe", "encrypted:looks encrypted",
	} {
		ct, err := Encrypt(k.PublicKey(), pt)
		require.NoError(t, err)
		assert.True(t, isEncrypted(ct))
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(ct, encryptedPrefix))
		require.NoError(t, err)
		assert.Len(t, raw, minCiphertextLen+len(pt), "ciphertext is as long as the plaintext")
		assert.Equal(t, byte(4), raw[0], "uncompressed ephemeral key")

		got, err := Decrypt(k, ct)
		require.NoError(t, err)
		assert.Equal(t, pt, got)

		again, err := Encrypt(k.PublicKey(), pt)
		require.NoError(t, err)
		assert.NotEqual(t, ct, again, "randomized")
	}
}

func TestEncryptErrors(t *testing.T) {
	_, err := Encrypt(nil, "x")
	assert.ErrorIs(t, err, errInvalidPublicKey)
	_, err = Encrypt(&PublicKey{}, "x")
	assert.ErrorIs(t, err, errInvalidPublicKey)
	_, err = encrypt(strings.NewReader("short"), mustGenerate(t).PublicKey(), "x")
	assert.Error(t, err)
}

func TestIsEncrypted(t *testing.T) {
	assert.True(t, isEncrypted("encrypted:abc"))
	assert.True(t, isEncrypted("encrypted:"))
	assert.False(t, isEncrypted(" encrypted:abc"))
	assert.False(t, isEncrypted("ENCRYPTED:abc"))
	assert.False(t, isEncrypted("plain"))
	assert.False(t, isEncrypted(""))
}

// corrupt decodes an encrypted value, lets f change the payload and encodes it
// again.
func corrupt(t *testing.T, value string, f func([]byte) []byte) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(value, encryptedPrefix))
	require.NoError(t, err)
	return encryptedPrefix + base64.StdEncoding.EncodeToString(f(raw))
}

func flip(i int) func([]byte) []byte {
	return func(b []byte) []byte { b[i] ^= 0x01; return b }
}

func TestDecryptCorrupted(t *testing.T) {
	key := mustKey(t, testKeyHex)
	const plaintext = "world"
	v := dotenvxValue
	offTag, offCT := ephemeralKeyLen+nonceLen, minCiphertextLen
	// Replace the ephemeral key with a valid point in another format.
	withEph := func(eph []byte) func([]byte) []byte {
		return func(b []byte) []byte { return append(append([]byte{}, eph...), b[ephemeralKeyLen:]...) }
	}
	g := secp256k1.NewPrivateKey(new(secp256k1.ModNScalar).SetInt(1)).PubKey()
	compressedPadded := append(g.SerializeCompressed(), make([]byte, 32)...)
	hybrid := g.SerializeUncompressed()
	hybrid[0] = 6 // G's y is even

	tests := []struct {
		name   string
		value  string
		kind   error
		reason string
	}{
		{name: "flip ephemeral prefix", value: corrupt(t, v, flip(0)), kind: errMalformedCiphertext, reason: "not an uncompressed point (prefix 05, want 04)"},
		{name: "flip ephemeral x", value: corrupt(t, v, flip(10)), kind: errMalformedCiphertext, reason: "not on secp256k1"},
		{name: "flip ephemeral y", value: corrupt(t, v, flip(64)), kind: errMalformedCiphertext, reason: "not on secp256k1"},
		{name: "compressed ephemeral", value: corrupt(t, v, withEph(compressedPadded)), kind: errMalformedCiphertext, reason: "prefix 02"},
		{name: "hybrid ephemeral", value: corrupt(t, v, withEph(hybrid)), kind: errMalformedCiphertext, reason: "prefix 06"},
		{name: "other valid ephemeral", value: corrupt(t, v, withEph(g.SerializeUncompressed())), kind: errAuthentication},
		{name: "flip nonce", value: corrupt(t, v, flip(ephemeralKeyLen)), kind: errAuthentication},
		{name: "flip last nonce byte", value: corrupt(t, v, flip(offTag-1)), kind: errAuthentication},
		{name: "flip tag", value: corrupt(t, v, flip(offTag)), kind: errAuthentication},
		{name: "flip last tag byte", value: corrupt(t, v, flip(offCT-1)), kind: errAuthentication},
		{name: "flip ciphertext", value: corrupt(t, v, flip(offCT)), kind: errAuthentication},
		{name: "flip last ciphertext byte", value: corrupt(t, v, func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }), kind: errAuthentication},
		{name: "drop last byte", value: corrupt(t, v, func(b []byte) []byte { return b[:len(b)-1] }), kind: errAuthentication},
		{name: "extra byte", value: corrupt(t, v, func(b []byte) []byte { return append(b, 0) }), kind: errAuthentication},
		{name: "no ciphertext", value: corrupt(t, v, func(b []byte) []byte { return b[:minCiphertextLen] }), kind: errAuthentication},
		{name: "truncated into tag", value: corrupt(t, v, func(b []byte) []byte { return b[:minCiphertextLen-1] }), kind: errMalformedCiphertext, reason: "too short (96 bytes, need at least 97)"},
		{name: "truncated into nonce", value: corrupt(t, v, func(b []byte) []byte { return b[:70] }), kind: errMalformedCiphertext, reason: "too short"},
		{name: "truncated into key", value: corrupt(t, v, func(b []byte) []byte { return b[:10] }), kind: errMalformedCiphertext, reason: "too short"},
		{name: "empty payload", value: encryptedPrefix, kind: errMalformedCiphertext, reason: "too short (0 bytes"},
		{name: "truncated base64", value: v[:len(v)-3], kind: errMalformedCiphertext, reason: "invalid base64"},
		{name: "bad base64 character", value: v[:40] + "!" + v[41:], kind: errMalformedCiphertext, reason: "invalid base64"},
		{name: "url-safe base64", value: strings.NewReplacer("+", "-", "/", "_").Replace(v), kind: errMalformedCiphertext, reason: "invalid base64"},
		{name: "space inside", value: v[:40] + " " + v[40:], kind: errMalformedCiphertext, reason: "invalid base64"},
		{name: "no prefix", value: strings.TrimPrefix(v, encryptedPrefix), kind: errMalformedCiphertext, reason: `missing "encrypted:" prefix`},
		{name: "wrong prefix", value: "encrypt:" + strings.TrimPrefix(v, encryptedPrefix), kind: errMalformedCiphertext, reason: "prefix"},
		{name: "upper-case prefix", value: "ENCRYPTED:" + strings.TrimPrefix(v, encryptedPrefix), kind: errMalformedCiphertext, reason: "prefix"},
		{name: "plain value", value: plaintext, kind: errMalformedCiphertext, reason: "prefix"},
		{name: "empty", value: "", kind: errMalformedCiphertext, reason: "prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decrypt(key, tt.value)
			require.Error(t, err)
			assert.Empty(t, got)
			assert.ErrorIs(t, err, ErrDecrypt)
			assert.ErrorIs(t, err, tt.kind)
			if tt.kind == errMalformedCiphertext {
				assert.NotErrorIs(t, err, errAuthentication)
			}
			assert.Contains(t, err.Error(), tt.reason)
			assert.NotContains(t, err.Error(), plaintext)
			assertNoSecret(t, err.Error(), testKeyHex)
			assertNoSecret(t, err.Error(), strings.TrimPrefix(v, encryptedPrefix))

			_, errAny := decryptAny([]*PrivateKey{mustGenerate(t), key}, tt.value)
			assert.ErrorIs(t, errAny, tt.kind)
		})
	}
}

func TestDecryptWrongKey(t *testing.T) {
	other := mustGenerate(t)
	_, err := Decrypt(other, dotenvxValue)
	require.ErrorIs(t, err, ErrDecrypt)
	assert.ErrorIs(t, err, errAuthentication)
	assert.Equal(t, "dotenvx: decryption failed: authentication failed (wrong private key or modified value)", err.Error())
}

func TestDecryptInvalidKeys(t *testing.T) {
	// Keys that ParsePrivateKey rejects can never reach Decrypt; the zero
	// value and nil are rejected cleanly.
	for _, s := range []string{strings.Repeat("0", 64), curveOrder, curveOrder[:63] + "2", strings.Repeat("f", 64)} {
		k, err := ParsePrivateKey(s)
		require.ErrorIs(t, err, ErrInvalidKey)
		_, err = Decrypt(k, dotenvxValue)
		assert.ErrorIs(t, err, ErrDecrypt)
		assert.ErrorIs(t, err, ErrInvalidKey)
	}
	_, err := Decrypt(&PrivateKey{}, dotenvxValue)
	assert.ErrorIs(t, err, ErrInvalidKey)
}

func TestDecryptAny(t *testing.T) {
	right := mustKey(t, testKeyHex)
	wrong1, wrong2 := mustGenerate(t), mustGenerate(t)
	tests := []struct {
		name string
		keys []*PrivateKey
		err  error
		msg  string
	}{
		{name: "only right", keys: []*PrivateKey{right}},
		{name: "rotated: new first", keys: []*PrivateKey{wrong1, right}},
		{name: "rotated: old first", keys: []*PrivateKey{right, wrong1}},
		{name: "nil entries skipped", keys: []*PrivateKey{nil, {}, right}},
		{name: "none work", keys: []*PrivateKey{wrong1, wrong2}, err: errAuthentication, msg: "(tried 2 keys)"},
		{name: "one wrong", keys: []*PrivateKey{wrong1}, err: errAuthentication},
		{name: "empty", keys: nil, err: ErrInvalidKey, msg: "no private key"},
		{name: "only nil", keys: []*PrivateKey{nil}, err: ErrInvalidKey, msg: "no private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decryptAny(tt.keys, dotenvxValue)
			if tt.err != nil {
				require.ErrorIs(t, err, ErrDecrypt)
				assert.ErrorIs(t, err, tt.err)
				assert.Contains(t, err.Error(), tt.msg)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "world", got)
		})
	}
}

func TestDecryptUnpaddedBase64(t *testing.T) {
	k := mustGenerate(t)
	ct, err := Encrypt(k.PublicKey(), "abc") // 100 bytes: base64 ends with "=="
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(ct, "="))
	got, err := Decrypt(k, strings.TrimRight(ct, "="))
	require.NoError(t, err)
	assert.Equal(t, "abc", got)
}
