package dotenvx

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/envdrift/envdrift/internal/keytable"
)

// privateKeyHexLen is the length of a private key in hex digits.
const privateKeyHexLen = 64

// PrivateKey is a dotenvx private key: a secp256k1 scalar d with 1 <= d < n.
//
// Its Format and LogValue methods print a redacted form that
// names only the derived public key; use [PrivateKey.Hex] to get the key
// itself. The zero value is not a usable key.
type PrivateKey struct {
	// The secret lives behind a pointer so that printing a struct that
	// embeds a PrivateKey in an unexported field (where fmt cannot call our
	// methods) shows an address, never the scalar.
	s *privateKeyState
}

type privateKeyState struct {
	key secp256k1.PrivateKey
	raw [32]byte
	// pub is derived on first use: a scalar multiplication (tens of
	// microseconds) that comparing two keys does not need.
	pubOnce sync.Once
	pub     *PublicKey
}

// publicKey returns d·G, computing it once.
func (st *privateKeyState) publicKey() *PublicKey {
	st.pubOnce.Do(func() { st.pub = newPublicKey(derivePublicKey(&st.key)) })
	return st.pub
}

// derivePublicKey returns k's public key, d·G, with or without the
// secp256k1 table of multiples of G (see internal/keytable); both give the
// same point.
func derivePublicKey(k *secp256k1.PrivateKey) *secp256k1.PublicKey {
	if keytable.UseTable() {
		return k.PubKey()
	}
	return scalarMultG(k)
}

// scalarMultG computes d·G without the table of multiples of G.
func scalarMultG(k *secp256k1.PrivateKey) *secp256k1.PublicKey {
	var r secp256k1.JacobianPoint
	g := generator()
	secp256k1.ScalarMultNonConst(&k.Key, &g, &r)
	r.ToAffine()
	return secp256k1.NewPublicKey(&r.X, &r.Y)
}

// generator returns G, the secp256k1 base point, in Jacobian coordinates.
func generator() secp256k1.JacobianPoint {
	var g secp256k1.JacobianPoint
	var b [32]byte
	params := secp256k1.Params()
	params.Gx.FillBytes(b[:])
	g.X.SetBytes(&b)
	params.Gy.FillBytes(b[:])
	g.Y.SetBytes(&b)
	g.Z.SetInt(1)
	return g
}

// PublicKey is a secp256k1 public key, as dotenvx writes it into
// DOTENV_PUBLIC_KEY* variables. Public keys are not secret.
type PublicKey struct {
	key        *secp256k1.PublicKey
	compressed [33]byte
}

// ParsePrivateKey parses a dotenvx private key: exactly 64 hexadecimal digits
// (either case, no surrounding whitespace) encoding a scalar d with
// 1 <= d < n, where n is the order of secp256k1. Out-of-range values are
// rejected, never reduced modulo n.
//
// Errors wrap ErrInvalidKey and say why without echoing the input.
func ParsePrivateKey(s string) (*PrivateKey, error) {
	k, reason := parsePrivateKey(s)
	if reason != "" {
		return nil, fmt.Errorf("%w: %s", ErrInvalidKey, reason)
	}
	return k, nil
}

// parsePrivateKey returns the key, or a reason it is invalid that does not
// contain any part of s.
func parsePrivateKey(s string) (*PrivateKey, string) {
	if len(s) != privateKeyHexLen {
		return nil, fmt.Sprintf("not %d hex digits (got %d characters)", privateKeyHexLen, utf8.RuneCountInString(s))
	}
	var raw [32]byte
	if _, err := hex.Decode(raw[:], []byte(s)); err != nil {
		return nil, "not hexadecimal"
	}
	k, reason := privateKeyFromBytes(&raw)
	clear(raw[:])
	return k, reason
}

func privateKeyFromBytes(raw *[32]byte) (*PrivateKey, string) {
	st := &privateKeyState{raw: *raw}
	overflow := st.key.Key.SetBytes(raw)
	switch {
	case overflow != 0:
		return nil, "not below the curve order"
	case st.key.Key.IsZero():
		return nil, "zero"
	}
	return &PrivateKey{s: st}, ""
}

// ParsePrivateKeys parses a comma-separated list of private keys, the form
// dotenvx accepts for rotated keys ("newkey,oldkey"). Each item is trimmed of
// surrounding whitespace; an empty item (including an empty string) is an
// error. Errors wrap ErrInvalidKey and name the position of the bad item, never
// its value.
func ParsePrivateKeys(s string) ([]*PrivateKey, error) {
	items := strings.Split(s, ",")
	keys := make([]*PrivateKey, 0, len(items))
	for i, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			if len(items) == 1 {
				return nil, fmt.Errorf("%w: empty key list", ErrInvalidKey)
			}
			return nil, fmt.Errorf("%w: key %d of %d in the list is empty", ErrInvalidKey, i+1, len(items))
		}
		k, reason := parsePrivateKey(item)
		if reason != "" {
			if len(items) == 1 {
				return nil, fmt.Errorf("%w: %s", ErrInvalidKey, reason)
			}
			return nil, fmt.Errorf("%w: key %d of %d in the list: %s", ErrInvalidKey, i+1, len(items), reason)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// GeneratePrivateKey returns a new random private key read from rand, or from
// crypto/rand when rand is nil.
func GeneratePrivateKey(rand io.Reader) (*PrivateKey, error) {
	if rand == nil {
		rand = cryptoRand
	}
	var raw [32]byte
	defer clear(raw[:])
	// A uniformly random 256-bit string is out of range with probability
	// about 2^-128, so more than a few attempts means a broken reader.
	for range 16 {
		if _, err := io.ReadFull(rand, raw[:]); err != nil {
			return nil, fmt.Errorf("dotenvx: generate private key: %w", err)
		}
		if k, reason := privateKeyFromBytes(&raw); reason == "" {
			return k, nil
		}
	}
	return nil, errors.New("dotenvx: generate private key: random source keeps returning invalid scalars")
}

var cryptoRand = rand.Reader

// Hex returns the key as 64 lowercase hex digits, the form dotenvx writes to
// .env.keys. It returns "" for a nil or zero PrivateKey.
func (k *PrivateKey) Hex() string {
	if !k.valid() {
		return ""
	}
	return hex.EncodeToString(k.s.raw[:])
}

// PublicKey returns the public key d·G. It returns nil for a nil or zero
// PrivateKey.
func (k *PrivateKey) PublicKey() *PublicKey {
	if !k.valid() {
		return nil
	}
	return k.s.publicKey()
}

// Equal reports whether k and o are the same key, in constant time. Two nil
// (or zero) keys are equal.
func (k *PrivateKey) Equal(o *PrivateKey) bool {
	kv, ov := k.valid(), o.valid()
	if !kv || !ov {
		return kv == ov
	}
	return subtle.ConstantTimeCompare(k.s.raw[:], o.s.raw[:]) == 1
}

func (k *PrivateKey) valid() bool { return k != nil && k.s != nil }

// redacted is the description every printing of k shows, naming its public
// key: "PrivateKey(REDACTED, public 02a1b2c3…9f8e)".
func (k PrivateKey) redacted() string {
	if k.s == nil {
		return "PrivateKey(invalid)"
	}
	return "PrivateKey(REDACTED, public " + ShortPublicKey(k.s.publicKey().Hex()) + ")"
}

// Format implements fmt.Formatter so that every verb (%v, %s, %x, %q, %#v, …)
// prints the redacted form instead of the key.
func (k PrivateKey) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, "dotenvx.")
	}
	_, _ = io.WriteString(f, k.redacted())
}

// LogValue implements slog.LogValuer so that structured logs show the
// redacted form.
func (k PrivateKey) LogValue() slog.Value { return slog.StringValue(k.redacted()) }

// ParsePublicKey parses a public key written as 66 hex digits (compressed SEC1,
// prefix 02 or 03, as dotenvx writes it) or 130 hex digits (uncompressed SEC1,
// prefix 04). Either case is accepted; surrounding whitespace is not. Errors
// wrap errInvalidPublicKey.
func ParsePublicKey(s string) (*PublicKey, error) {
	switch len(s) {
	case 66, 130:
	default:
		return nil, fmt.Errorf("%w: not 66 or 130 hex digits (got %d characters)", errInvalidPublicKey, utf8.RuneCountInString(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not hexadecimal", errInvalidPublicKey)
	}
	switch {
	case len(b) == 33 && (b[0] == 2 || b[0] == 3):
	case len(b) == 65 && b[0] == 4:
	default:
		return nil, fmt.Errorf("%w: unsupported SEC1 prefix %02x", errInvalidPublicKey, b[0])
	}
	pk, err := secp256k1.ParsePubKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: not a point on secp256k1", errInvalidPublicKey)
	}
	return newPublicKey(pk), nil
}

func newPublicKey(pk *secp256k1.PublicKey) *PublicKey {
	p := &PublicKey{key: pk}
	copy(p.compressed[:], pk.SerializeCompressed())
	return p
}

// Hex returns the public key as 66 lowercase hex digits (compressed SEC1), the
// form dotenvx writes to DOTENV_PUBLIC_KEY*. It returns "" for a nil or zero
// PublicKey.
func (p *PublicKey) Hex() string {
	if p == nil || p.key == nil {
		return ""
	}
	return hex.EncodeToString(p.compressed[:])
}

// equal reports whether p and o are the same point. Two nil (or zero)
// public keys are equal.
func (p *PublicKey) equal(o *PublicKey) bool {
	pv, ov := p != nil && p.key != nil, o != nil && o.key != nil
	if !pv || !ov {
		return pv == ov
	}
	return p.compressed == o.compressed
}

// ShortPublicKey shortens a public key (or any identifier) for display: the
// first 8 characters, an ellipsis and the last 4, as in "02a1b2c3…9f8e".
// Strings of 13 characters or fewer are returned unchanged. Use it only for
// public values.
func ShortPublicKey(hex string) string {
	r := []rune(hex)
	if len(r) <= 13 {
		return hex
	}
	return string(r[:8]) + "…" + string(r[len(r)-4:])
}
