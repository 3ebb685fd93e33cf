package dotenvx

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/keytable"
)

const (
	// curveOrder is n, the order of secp256k1.
	curveOrder = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
	// testKeyHex is a throwaway key used across the tests.
	testKeyHex = "3a0923beb4dd50a8705cb28a585c699a93f7e2c3a46004d970887b1555ed5167"
	// testKeyPub is the public key of testKeyHex, as dotenvx 2.38.2 wrote it.
	testKeyPub = "024aa602305e925ca2baadd778b7d318205fb1b6ef8069bacb6b720e096200af90"
	// generatorHex is G, the public key of the private key 1.
	generatorHex = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
)

func TestParsePrivateKey(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		pub    string // expected public key when valid
		reason string // expected error text when invalid
	}{
		{name: "dotenvx key", in: testKeyHex, pub: testKeyPub},
		{name: "upper case", in: strings.ToUpper(testKeyHex), pub: testKeyPub},
		{name: "one", in: strings.Repeat("0", 63) + "1", pub: generatorHex},
		{name: "n-1", in: curveOrder[:63] + "0", pub: "0379be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"},
		{name: "empty", in: "", reason: "not 64 hex digits (got 0 characters)"},
		{name: "short", in: testKeyHex[:63], reason: "not 64 hex digits (got 63 characters)"},
		{name: "long", in: testKeyHex + "0", reason: "not 64 hex digits (got 65 characters)"},
		{name: "leading space", in: " " + testKeyHex, reason: "not 64 hex digits (got 65 characters)"},
		{name: "trailing newline", in: testKeyHex + "\n", reason: "not 64 hex digits (got 65 characters)"},
		{name: "space inside", in: testKeyHex[:31] + " " + testKeyHex[32:], reason: "not hexadecimal"},
		{name: "not hex", in: strings.Repeat("g", 64), reason: "not hexadecimal"},
		{name: "multibyte", in: strings.Repeat("é", 32), reason: "not hexadecimal"},
		{name: "multibyte length", in: strings.Repeat("é", 64), reason: "not 64 hex digits (got 64 characters)"},
		{name: "zero", in: strings.Repeat("0", 64), reason: "zero"},
		{name: "n", in: curveOrder, reason: "not below the curve order"},
		{name: "n+1", in: curveOrder[:63] + "2", reason: "not below the curve order"},
		{name: "all ff", in: strings.Repeat("f", 64), reason: "not below the curve order"},
		{name: "all FF", in: strings.Repeat("F", 64), reason: "not below the curve order"},
		{name: "0x prefix", in: "0x" + testKeyHex[2:], reason: "not hexadecimal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParsePrivateKey(tt.in)
			if tt.reason != "" {
				require.Error(t, err)
				assert.Nil(t, k)
				assert.ErrorIs(t, err, ErrInvalidKey)
				assert.Equal(t, "dotenvx: invalid private key: "+tt.reason, err.Error())
				assertNoSecret(t, err.Error(), tt.in)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, strings.ToLower(tt.in), k.Hex())
			assert.Equal(t, tt.pub, k.PublicKey().Hex())
		})
	}
}

// assertNoSecret fails if s contains secret or any 8-character piece of it.
func assertNoSecret(t *testing.T, s, secret string) {
	t.Helper()
	if secret == "" {
		return
	}
	if len(secret) < 8 {
		assert.NotContains(t, s, secret)
		return
	}
	for i := 0; i+8 <= len(secret); i++ {
		piece := secret[i : i+8]
		if strings.Trim(piece, "0fF") == "" {
			continue // runs of 0 or f also occur in innocent text such as lengths
		}
		if strings.Contains(strings.ToLower(s), strings.ToLower(piece)) {
			t.Fatalf("%q contains part of the secret (%q)", s, piece)
		}
	}
}

func TestParsePrivateKeys(t *testing.T) {
	k2 := strings.Repeat("0", 63) + "2"
	tests := []struct {
		name string
		in   string
		want []string
		err  string
	}{
		{name: "one", in: testKeyHex, want: []string{testKeyHex}},
		{name: "two", in: testKeyHex + "," + k2, want: []string{testKeyHex, k2}},
		{name: "trimmed items", in: " " + testKeyHex + " ,\t" + k2 + "\n", want: []string{testKeyHex, k2}},
		{name: "empty", in: "", err: "dotenvx: invalid private key: empty key list"},
		{name: "blank", in: "  ", err: "dotenvx: invalid private key: empty key list"},
		{name: "trailing comma", in: testKeyHex + ",", err: "dotenvx: invalid private key: key 2 of 2 in the list is empty"},
		{name: "double comma", in: testKeyHex + ",," + k2, err: "dotenvx: invalid private key: key 2 of 3 in the list is empty"},
		{name: "bad second", in: testKeyHex + "," + curveOrder, err: "dotenvx: invalid private key: key 2 of 2 in the list: not below the curve order"},
		{name: "bad single", in: "abc", err: "dotenvx: invalid private key: not 64 hex digits (got 3 characters)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := ParsePrivateKeys(tt.in)
			if tt.err != "" {
				require.ErrorIs(t, err, ErrInvalidKey)
				assert.Equal(t, tt.err, err.Error())
				assertNoSecret(t, err.Error(), testKeyHex)
				return
			}
			require.NoError(t, err)
			var got []string
			for _, k := range keys {
				got = append(got, k.Hex())
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestGeneratePrivateKey(t *testing.T) {
	t.Run("crypto/rand", func(t *testing.T) {
		a, err := GeneratePrivateKey(nil)
		require.NoError(t, err)
		b, err := GeneratePrivateKey(nil)
		require.NoError(t, err)
		assert.False(t, a.Equal(b))
		again, err := ParsePrivateKey(a.Hex())
		require.NoError(t, err)
		assert.True(t, a.Equal(again))
		assert.True(t, a.PublicKey().equal(again.PublicKey()))
	})
	t.Run("deterministic reader", func(t *testing.T) {
		k, err := GeneratePrivateKey(bytes.NewReader(bytes.Repeat([]byte{0x11}, 32)))
		require.NoError(t, err)
		assert.Equal(t, strings.Repeat("11", 32), k.Hex())
	})
	t.Run("skips out of range", func(t *testing.T) {
		src := append(bytes.Repeat([]byte{0xff}, 32), bytes.Repeat([]byte{0x22}, 32)...)
		k, err := GeneratePrivateKey(bytes.NewReader(src))
		require.NoError(t, err)
		assert.Equal(t, strings.Repeat("22", 32), k.Hex())
	})
	t.Run("short reader", func(t *testing.T) {
		_, err := GeneratePrivateKey(bytes.NewReader([]byte{1, 2, 3}))
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	})
	t.Run("reader of zeros gives up", func(t *testing.T) {
		_, err := GeneratePrivateKey(zeroReader{})
		assert.ErrorContains(t, err, "invalid scalars")
	})
}

func TestPrivateKeyEqual(t *testing.T) {
	a := mustKey(t, testKeyHex)
	b := mustKey(t, strings.ToUpper(testKeyHex))
	c := mustKey(t, strings.Repeat("0", 63)+"1")
	var nilKey *PrivateKey
	assert.True(t, a.Equal(b))
	assert.False(t, a.Equal(c))
	assert.False(t, a.Equal(nil))
	assert.False(t, nilKey.Equal(a))
	assert.True(t, nilKey.Equal(nil))
	assert.True(t, nilKey.Equal(&PrivateKey{}))
	assert.Equal(t, "", nilKey.Hex())
	assert.Nil(t, nilKey.PublicKey())
	assert.Equal(t, "", (&PrivateKey{}).Hex())
}

func TestPrivateKeyRedaction(t *testing.T) {
	k := mustKey(t, testKeyHex)
	want := "PrivateKey(REDACTED, public 024aa602…af90)"
	type holder struct {
		Key     *PrivateKey
		Value   PrivateKey
		private PrivateKey
		ptr     *PrivateKey
	}
	h := holder{Key: k, Value: *k, private: *k, ptr: k}
	outputs := map[string]string{
		"Sprint":   fmt.Sprint(k),
		"%v":       fmt.Sprintf("%v", k),
		"%s":       fmt.Sprintf("%s", k),
		"%x":       fmt.Sprintf("%x", k),
		"%X":       fmt.Sprintf("%X", *k),
		"%q":       fmt.Sprintf("%q", k),
		"%d":       fmt.Sprintf("%d", k),
		"%+v":      fmt.Sprintf("%+v", *k),
		"%#v":      fmt.Sprintf("%#v", k),
		"Println":  fmt.Sprintln(k, *k),
		"struct":   fmt.Sprintf("%v", h),
		"struct+":  fmt.Sprintf("%+v", h),
		"struct#":  fmt.Sprintf("%#v", h),
		"slice":    fmt.Sprintf("%v", []*PrivateKey{k}),
		"errorf":   fmt.Errorf("wrapped %v", k).Error(),
		"GoString": fmt.Sprintf("%#v", *k),
	}
	var logBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("loaded", "key", k, "value", *k)
	outputs["slog"] = logBuf.String()
	logBuf.Reset()
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("loaded", "key", k)
	outputs["slog json"] = logBuf.String()

	for name, out := range outputs {
		t.Run(name, func(t *testing.T) {
			assertNoSecret(t, out, testKeyHex)
		})
	}
	assert.Equal(t, want, k.redacted())
	assert.Equal(t, want, fmt.Sprint(k))
	assert.Equal(t, "dotenvx."+want, fmt.Sprintf("%#v", k))
	assert.Equal(t, "PrivateKey(invalid)", PrivateKey{}.redacted())
	var nilKey *PrivateKey
	assert.Equal(t, "<nil>", fmt.Sprint(nilKey))
}

func TestParsePublicKey(t *testing.T) {
	uncompressedG := "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798" +
		"483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8"
	tests := []struct {
		name string
		in   string
		want string
		err  string
	}{
		{name: "compressed", in: testKeyPub, want: testKeyPub},
		{name: "compressed upper", in: strings.ToUpper(testKeyPub), want: testKeyPub},
		{name: "uncompressed", in: uncompressedG, want: generatorHex},
		{name: "empty", in: "", err: "not 66 or 130 hex digits (got 0 characters)"},
		{name: "private key", in: testKeyHex, err: "not 66 or 130 hex digits (got 64 characters)"},
		{name: "quoted", in: `"` + testKeyPub + `"`, err: "not 66 or 130 hex digits (got 68 characters)"},
		{name: "not hex", in: "zz" + testKeyPub[2:], err: "not hexadecimal"},
		{name: "prefix 04 compressed length", in: "04" + testKeyPub[2:], err: "unsupported SEC1 prefix 04"},
		{name: "prefix 05", in: "05" + testKeyPub[2:], err: "unsupported SEC1 prefix 05"},
		{name: "hybrid", in: "06" + uncompressedG[2:], err: "unsupported SEC1 prefix 06"},
		{name: "x not on curve", in: "02" + strings.Repeat("0", 63) + "5", err: "not a point on secp256k1"},
		{name: "x too big", in: "02" + strings.Repeat("f", 64), err: "not a point on secp256k1"},
		{name: "y wrong", in: uncompressedG[:129] + "9", err: "not a point on secp256k1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePublicKey(tt.in)
			if tt.err != "" {
				require.ErrorIs(t, err, errInvalidPublicKey)
				assert.Equal(t, "dotenvx: invalid public key: "+tt.err, err.Error())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, p.Hex())
		})
	}
}

func TestPublicKeyEqual(t *testing.T) {
	a, err := ParsePublicKey(testKeyPub)
	require.NoError(t, err)
	b := mustKey(t, testKeyHex).PublicKey()
	g, err := ParsePublicKey(generatorHex)
	require.NoError(t, err)
	var nilPub *PublicKey
	assert.True(t, a.equal(b))
	assert.False(t, a.equal(g))
	assert.False(t, a.equal(nil))
	assert.True(t, nilPub.equal(nil))
	assert.Equal(t, "", nilPub.Hex())
}

func TestShortPublicKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{testKeyPub, "024aa602…af90"},
		{"", ""},
		{"0123456789abc", "0123456789abc"},
		{"0123456789abcd", "01234567…abcd"},
		{"ééééééééééééééé", "éééééééé…éééé"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ShortPublicKey(tt.in), tt.in)
	}
}

func mustKey(t testing.TB, s string) *PrivateKey {
	t.Helper()
	k, err := ParsePrivateKey(s)
	require.NoError(t, err)
	return k
}

func mustGenerate(t testing.TB) *PrivateKey {
	t.Helper()
	k, err := GeneratePrivateKey(nil)
	require.NoError(t, err)
	return k
}

func TestPrivateKey_PublicKeyIsDerivedOnceEvenConcurrently(t *testing.T) {
	k, err := ParsePrivateKey(testKeyHex)
	require.NoError(t, err)
	got := make([]*PublicKey, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() { got[i] = k.PublicKey() })
	}
	wg.Wait()
	for _, p := range got {
		assert.Same(t, got[0], p, "one derivation, shared")
	}
	assert.Equal(t, testKeyPub, got[0].Hex())
}

// TestPublicKey_SameWithAndWithoutTheTable checks that the plain scalar
// multiplication used for a process's first public keys gives the point
// the secp256k1 package's table does, and that keys derived past the
// switch (keytable.Threshold) still pair with their private keys.
func TestPublicKey_SameWithAndWithoutTheTable(t *testing.T) {
	for range 2 * keytable.Threshold {
		k, err := GeneratePrivateKey(rand.Reader)
		require.NoError(t, err)
		plain := scalarMultG(&k.s.key)
		assert.True(t, plain.IsEqual(k.s.key.PubKey()))
		again, err := ParsePrivateKey(k.Hex())
		require.NoError(t, err)
		assert.Equal(t, hex.EncodeToString(plain.SerializeCompressed()), again.PublicKey().Hex())
	}
}
