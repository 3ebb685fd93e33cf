package dotenvx

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheck(t *testing.T) {
	key := mustGenerate(t)
	other := mustGenerate(t)
	pub := key.PublicKey().Hex()

	enc := func(k *PrivateKey, v string) string {
		ct, err := Encrypt(k.PublicKey(), v)
		require.NoError(t, err)
		return ct
	}
	declared := []Entry{{Key: "DOTENV_PUBLIC_KEY_PRODUCTION", Value: pub, Line: 1}}
	withDeclared := func(es ...Entry) []Entry { return append(append([]Entry{}, declared...), es...) }

	tests := []struct {
		name    string
		entries []Entry
		keys    []*PrivateKey
		want    CheckResult
		err     error
	}{
		{
			name:    "ok",
			entries: withDeclared(Entry{Key: "A", Value: enc(key, "a")}, Entry{Key: "B", Value: "plain"}),
			keys:    []*PrivateKey{key},
			want:    CheckResult{DeclaredName: "DOTENV_PUBLIC_KEY_PRODUCTION", DeclaredPublic: pub, KeyPublic: []string{pub}, Matched: true, Encrypted: 1},
		},
		{
			name:    "rotation: second candidate matches",
			entries: withDeclared(Entry{Key: "A", Value: enc(key, "a")}),
			keys:    []*PrivateKey{other, key},
			want:    CheckResult{DeclaredName: "DOTENV_PUBLIC_KEY_PRODUCTION", DeclaredPublic: pub, KeyPublic: []string{other.PublicKey().Hex(), pub}, Matched: true, Encrypted: 1},
		},
		{
			name:    "wrong key",
			entries: withDeclared(Entry{Key: "A", Value: enc(key, "a")}, Entry{Key: "B", Value: enc(key, "b")}),
			keys:    []*PrivateKey{other},
			want:    CheckResult{DeclaredName: "DOTENV_PUBLIC_KEY_PRODUCTION", DeclaredPublic: pub, KeyPublic: []string{other.PublicKey().Hex()}, Encrypted: 2, Failed: []string{"A", "B"}},
			err:     ErrNoMatchingKey,
		},
		{
			name:    "key matches but a value was encrypted for another key",
			entries: withDeclared(Entry{Key: "A", Value: enc(key, "a")}, Entry{Key: "B", Value: enc(other, "b")}, Entry{Key: "B", Value: enc(other, "b2")}),
			keys:    []*PrivateKey{key},
			want:    CheckResult{DeclaredName: "DOTENV_PUBLIC_KEY_PRODUCTION", DeclaredPublic: pub, KeyPublic: []string{pub}, Matched: true, Encrypted: 3, Failed: []string{"B"}},
			err:     ErrDecrypt,
		},
		{
			name:    "declared key stale but candidate decrypts everything",
			entries: []Entry{{Key: "DOTENV_PUBLIC_KEY_PRODUCTION", Value: other.PublicKey().Hex()}, {Key: "A", Value: enc(key, "a")}},
			keys:    []*PrivateKey{key},
			want:    CheckResult{DeclaredName: "DOTENV_PUBLIC_KEY_PRODUCTION", DeclaredPublic: other.PublicKey().Hex(), KeyPublic: []string{pub}, Encrypted: 1},
			err:     ErrNoMatchingKey,
		},
		{
			name:    "none declared, all decrypt",
			entries: []Entry{{Key: "A", Value: enc(key, "a")}},
			keys:    []*PrivateKey{other, key},
			want:    CheckResult{KeyPublic: []string{other.PublicKey().Hex(), pub}, Matched: true, Encrypted: 1},
		},
		{
			name:    "none declared, one fails",
			entries: []Entry{{Key: "A", Value: enc(key, "a")}, {Key: "B", Value: "encrypted:broken"}},
			keys:    []*PrivateKey{key},
			want:    CheckResult{KeyPublic: []string{pub}, Encrypted: 2, Failed: []string{"B"}},
			err:     ErrDecrypt,
		},
		{
			name:    "no keys",
			entries: withDeclared(Entry{Key: "A", Value: enc(key, "a")}),
			want:    CheckResult{DeclaredName: "DOTENV_PUBLIC_KEY_PRODUCTION", DeclaredPublic: pub, Encrypted: 1, Failed: []string{"A"}},
			err:     ErrNoMatchingKey,
		},
		{
			name:    "no keys, none declared",
			entries: []Entry{{Key: "A", Value: enc(key, "a")}},
			want:    CheckResult{Encrypted: 1, Failed: []string{"A"}},
			err:     ErrNoMatchingKey,
		},
		{
			name:    "nothing encrypted",
			entries: withDeclared(Entry{Key: "A", Value: "a"}),
			keys:    []*PrivateKey{key},
			want:    CheckResult{DeclaredName: "DOTENV_PUBLIC_KEY_PRODUCTION", DeclaredPublic: pub, KeyPublic: []string{pub}, Matched: true},
		},
		{
			name:    "invalid declared public key",
			entries: []Entry{{Key: "DOTENV_PUBLIC_KEY_PRODUCTION", Value: key.Hex()}, {Key: "A", Value: enc(key, "a")}},
			keys:    []*PrivateKey{key},
			want:    CheckResult{DeclaredName: "DOTENV_PUBLIC_KEY_PRODUCTION", DeclaredInvalid: true, KeyPublic: []string{pub}, Encrypted: 1},
			err:     errInvalidPublicKey,
		},
		{
			name:    "nil keys are ignored",
			entries: withDeclared(Entry{Key: "A", Value: enc(key, "a")}),
			keys:    []*PrivateKey{nil, {}, key},
			want:    CheckResult{DeclaredName: "DOTENV_PUBLIC_KEY_PRODUCTION", DeclaredPublic: pub, KeyPublic: []string{pub}, Matched: true, Encrypted: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &File{Path: "svc/.env.production", Entries: tt.entries}
			tt.want.EnvFile = f.Path
			got := Check(f, tt.keys)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.err == nil, got.ok())
			err := got.err()
			if tt.err == nil {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.err)
			assert.Contains(t, err.Error(), "svc/.env.production")
			assertNoSecret(t, err.Error(), key.Hex())
			assertNoSecret(t, err.Error(), other.Hex())
		})
	}
}

func TestCheckNilFile(t *testing.T) {
	r := Check(nil, []*PrivateKey{mustGenerate(t)})
	assert.False(t, r.ok())
	assert.Error(t, r.err())
}

func TestCheckResultErrMessages(t *testing.T) {
	r := CheckResult{
		EnvFile:        "api/.env.production",
		DeclaredName:   "DOTENV_PUBLIC_KEY_PRODUCTION",
		DeclaredPublic: testKeyPub,
		KeyPublic:      []string{generatorHex},
		Encrypted:      2,
		Failed:         []string{"A", "B"},
	}
	assert.EqualError(t, r.err(), "dotenvx: api/.env.production: no matching private key: DOTENV_PUBLIC_KEY_PRODUCTION is 024aa602…af90 but the private key candidates derive 0279be66…1798")
	r.Matched = true
	assert.EqualError(t, r.err(), "dotenvx: api/.env.production: decryption failed: could not decrypt A, B")
	r.KeyPublic = nil
	r.Matched = false
	assert.EqualError(t, r.err(), "dotenvx: api/.env.production: no matching private key: DOTENV_PUBLIC_KEY_PRODUCTION is 024aa602…af90 but no private key was given")
}
