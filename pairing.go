package envdrift

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/envdrift/envdrift/dotenvx"
)

// envKey is the public key an env file declares (DOTENV_PUBLIC_KEY*), as
// read when a row is prepared.
type envKey struct {
	name  string // DOTENV_PUBLIC_KEY_…; "" when the file declares none
	value string // as written in the file
}

// checkPairing enforces the pairing invariant: a private key is never
// installed, published or used unless it derives the public key the env
// file declares. dotenvx picks the private key whose public key equals the
// declared one, so a comma-separated list of keys (a rotation) pairs when
// any of its keys does. A file that declares no public key pairs with any
// key. whose names the key in messages ("the vault key").
func checkPairing(key Key, envFile string, declared envKey, whose string) error {
	if declared.name == "" || key.isZero() {
		return nil
	}
	// The common case, a key that derives exactly the declared text, needs
	// no parse of the declared key: a derived key is a valid one.
	for _, k := range key.keys {
		if strings.EqualFold(k.PublicKey().Hex(), declared.value) {
			return nil
		}
	}
	base := filepath.Base(envFile)
	pub, err := dotenvx.ParsePublicKey(declared.value)
	if err != nil {
		return fmt.Errorf("%w: %s declares %s, which is not a valid public key: re-encrypt the file", ErrMispaired, base, declared.name)
	}
	for _, k := range key.keys {
		if k.PublicKey().Hex() == pub.Hex() {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is for %s, %s was encrypted for %s: re-encrypt the file or fix the secret",
		ErrMispaired, whose, shortList(key.publicKeys()), base, dotenvx.ShortPublicKey(pub.Hex()))
}
