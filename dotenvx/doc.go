// Package dotenvx is a native Go implementation of what dotenvx
// (https://dotenvx.com) does with env files and keys: it reads .env files with
// the grammar dotenvx uses, derives the DOTENV_PRIVATE_KEY_* / DOTENV_PUBLIC_KEY_*
// names dotenvx gives an env file, parses and generates secp256k1 key pairs,
// and encrypts and decrypts "encrypted:" values with dotenvx's ECIES scheme.
//
// It needs neither Node.js nor the dotenvx CLI, so a Go service can load an
// encrypted .env file at start-up:
//
//	vars, err := dotenvx.Load(".env.production", os.Getenv("DOTENV_PRIVATE_KEY_PRODUCTION"))
//
// and a tool can check that a private key really decrypts a file:
//
//	f, _ := dotenvx.ReadFile(".env.production")
//	keys, _ := dotenvx.ParsePrivateKeys(key)
//	if r := dotenvx.Check(f, keys); !r.OK() { ... }
//
// # Compatibility
//
// The formats were measured against dotenvx 2.38.2 and 1.75.1; the test data
// under testdata/ was produced by those versions and is decrypted by the tests.
//
// Encrypted value: "encrypted:" followed by standard base64 of
// E(65) ‖ N(16) ‖ T(16) ‖ C, where E is an ephemeral uncompressed secp256k1
// public key, N the AES-GCM nonce, T the GCM tag and C the ciphertext. The AES
// key is HKDF-SHA256 (no salt, no info, 32 bytes) over E ‖ (d·E), both
// uncompressed.
//
// What this package deliberately does not do, although dotenvx does: it does
// not expand $VAR / ${VAR} references, does not run $(command) substitutions,
// and does not let variables already present in the process environment
// override values from the file. [Load] returns the file's values as written
// (after unquoting and decryption).
//
// # Secrets
//
// Errors and the String, GoString and Format methods of [PrivateKey] never
// contain private key material or decrypted values; public keys, which are not
// secret, are shown shortened (see [ShortPublicKey]).
package dotenvx
