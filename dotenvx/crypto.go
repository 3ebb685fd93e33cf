package dotenvx

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// encryptedPrefix starts every value dotenvx has encrypted.
const encryptedPrefix = "encrypted:"

// Sizes of the parts of a decoded encrypted value:
// ephemeral public key ‖ nonce ‖ tag ‖ ciphertext.
const (
	ephemeralKeyLen = 65
	nonceLen        = 16
	tagLen          = 16
	// minCiphertextLen is the length of the decoded payload of an encrypted
	// empty string; every valid payload is at least this long.
	minCiphertextLen = ephemeralKeyLen + nonceLen + tagLen
)

// isEncrypted reports whether value is an encrypted dotenvx value, that is
// whether it starts with "encrypted:" (the test dotenvx itself applies).
func isEncrypted(value string) bool { return strings.HasPrefix(value, encryptedPrefix) }

// Encrypt encrypts plaintext for pub the way dotenvx does and returns
// "encrypted:<base64>". The ephemeral key and the nonce come from crypto/rand,
// so encrypting the same value twice gives different results.
func Encrypt(pub *PublicKey, plaintext string) (string, error) {
	return encrypt(cryptoRand, pub, plaintext)
}

func encrypt(rand io.Reader, pub *PublicKey, plaintext string) (string, error) {
	if pub == nil || pub.key == nil {
		return "", fmt.Errorf("dotenvx: encrypt: %w: no public key", errInvalidPublicKey)
	}
	eph, err := GeneratePrivateKey(rand)
	if err != nil {
		return "", fmt.Errorf("dotenvx: encrypt: ephemeral key: %w", err)
	}
	ephPub := eph.s.publicKey().key.SerializeUncompressed()
	key, err := sharedKey(&eph.s.key.Key, pub.key, ephPub)
	if err != nil {
		return "", fmt.Errorf("dotenvx: encrypt: %w", err)
	}
	aead, err := newAEAD(key)
	if err != nil {
		return "", fmt.Errorf("dotenvx: encrypt: %w", err)
	}
	out := make([]byte, minCiphertextLen, minCiphertextLen+len(plaintext)+tagLen)
	copy(out, ephPub)
	nonce := out[ephemeralKeyLen : ephemeralKeyLen+nonceLen]
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return "", fmt.Errorf("dotenvx: encrypt: nonce: %w", err)
	}
	// Go's AEAD appends ciphertext ‖ tag; dotenvx stores tag ‖ ciphertext.
	sealed := aead.Seal(out[minCiphertextLen:minCiphertextLen], nonce, []byte(plaintext), nil)
	ctLen := len(sealed) - tagLen
	copy(out[ephemeralKeyLen+nonceLen:minCiphertextLen], sealed[ctLen:])
	out = out[:minCiphertextLen+ctLen]
	return encryptedPrefix + base64.StdEncoding.EncodeToString(out), nil
}

// Decrypt decrypts an "encrypted:" value with key. Errors wrap ErrDecrypt and
// one of errMalformedCiphertext (bad prefix, bad base64, too short, ephemeral
// key not an uncompressed point on the curve) or errAuthentication (wrong key
// or modified value). Error messages never include the value or the key.
//
// The plaintext is returned byte for byte as it was encrypted. (dotenvx would
// replace invalid UTF-8 with U+FFFD; values dotenvx encrypts are always valid
// UTF-8, so this only matters for values encrypted by other tools.)
func Decrypt(key *PrivateKey, value string) (string, error) {
	if !key.valid() {
		return "", fmt.Errorf("%w: %w: no private key", ErrDecrypt, ErrInvalidKey)
	}
	ct, err := decodeValue(value)
	if err != nil {
		return "", err
	}
	return ct.open(key)
}

// decryptAny decrypts value with the first of keys that works. A malformed
// value fails at once; otherwise, if no key works, the error wraps ErrDecrypt
// and errAuthentication.
func decryptAny(keys []*PrivateKey, value string) (string, error) {
	ct, err := decodeValue(value)
	if err != nil {
		return "", err
	}
	return ct.openAny(keys)
}

// ciphertext is a decoded, structurally valid encrypted value.
type ciphertext struct {
	ephPub []byte // 65 bytes, uncompressed
	eph    *secp256k1.PublicKey
	nonce  []byte
	sealed []byte // ciphertext ‖ tag, as Go's AEAD wants it
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %w: %s", ErrDecrypt, errMalformedCiphertext, fmt.Sprintf(format, args...))
}

func decodeValue(value string) (*ciphertext, error) {
	if !isEncrypted(value) {
		return nil, malformed("missing %q prefix", encryptedPrefix)
	}
	b64 := value[len(encryptedPrefix):]
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil && !strings.HasSuffix(b64, "=") {
		// dotenvx always pads, but accept unpadded input too.
		raw, err = base64.RawStdEncoding.DecodeString(b64)
	}
	if err != nil {
		return nil, malformed("invalid base64")
	}
	if len(raw) < minCiphertextLen {
		return nil, malformed("too short (%d bytes, need at least %d)", len(raw), minCiphertextLen)
	}
	if raw[0] != secp256k1.PubKeyFormatUncompressed {
		return nil, malformed("ephemeral public key is not an uncompressed point (prefix %02x, want 04)", raw[0])
	}
	eph, err := secp256k1.ParsePubKey(raw[:ephemeralKeyLen])
	if err != nil {
		return nil, malformed("ephemeral public key is not on secp256k1")
	}
	tag := raw[ephemeralKeyLen+nonceLen : minCiphertextLen]
	body := raw[minCiphertextLen:]
	sealed := make([]byte, 0, len(body)+tagLen)
	sealed = append(append(sealed, body...), tag...)
	return &ciphertext{
		ephPub: raw[:ephemeralKeyLen],
		eph:    eph,
		nonce:  raw[ephemeralKeyLen : ephemeralKeyLen+nonceLen],
		sealed: sealed,
	}, nil
}

func (c *ciphertext) open(key *PrivateKey) (string, error) {
	k, err := sharedKey(&key.s.key.Key, c.eph, c.ephPub)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrDecrypt, err)
	}
	aead, err := newAEAD(k)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrDecrypt, err)
	}
	pt, err := aead.Open(nil, c.nonce, c.sealed, nil)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrDecrypt, errAuthentication)
	}
	return string(pt), nil
}

func (c *ciphertext) openAny(keys []*PrivateKey) (string, error) {
	tried := 0
	for _, k := range keys {
		if !k.valid() {
			continue
		}
		tried++
		pt, err := c.open(k)
		if err == nil {
			return pt, nil
		}
		if !errors.Is(err, errAuthentication) {
			return "", err
		}
	}
	if tried == 0 {
		return "", fmt.Errorf("%w: %w: no private key", ErrDecrypt, ErrInvalidKey)
	}
	if tried == 1 {
		return "", fmt.Errorf("%w: %w", ErrDecrypt, errAuthentication)
	}
	return "", fmt.Errorf("%w: %w (tried %d keys)", ErrDecrypt, errAuthentication, tried)
}

// sharedKey derives the AES key: HKDF-SHA256 over E ‖ d·E (both
// uncompressed), no salt, no info, 32 bytes.
func sharedKey(d *secp256k1.ModNScalar, other *secp256k1.PublicKey, ephPub []byte) ([]byte, error) {
	var p, shared secp256k1.JacobianPoint
	other.AsJacobian(&p)
	secp256k1.ScalarMultNonConst(d, &p, &shared)
	if shared.Z.Normalize().IsZero() {
		// Impossible for a valid d and an on-curve point (the cofactor is
		// 1), but never divide by zero.
		return nil, errors.New("shared point is at infinity")
	}
	shared.ToAffine()
	var ikm [2 * ephemeralKeyLen]byte
	copy(ikm[:], ephPub)
	ikm[ephemeralKeyLen] = secp256k1.PubKeyFormatUncompressed
	shared.X.PutBytesUnchecked(ikm[ephemeralKeyLen+1 : ephemeralKeyLen+33])
	shared.Y.PutBytesUnchecked(ikm[ephemeralKeyLen+33:])
	key, err := hkdf.Key(sha256.New, ikm[:], nil, "", 32)
	clear(ikm[ephemeralKeyLen:])
	if err != nil {
		return nil, fmt.Errorf("hkdf: %w", err)
	}
	return key, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	clear(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCMWithNonceSize(block, nonceLen)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return aead, nil
}
