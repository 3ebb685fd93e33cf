package dotenvx

import "errors"

// Sentinel errors. Every error returned by this package that falls into one of
// these classes wraps the sentinel, so callers can test with errors.Is.
var (
	// ErrInvalidKey reports a private key that is not 64 hexadecimal digits
	// encoding a secp256k1 scalar d with 1 <= d < n, or a malformed key list.
	ErrInvalidKey = errors.New("dotenvx: invalid private key")

	// errInvalidPublicKey reports a public key that is not a SEC1-encoded
	// secp256k1 point (66 hex digits compressed or 130 hex digits
	// uncompressed).
	errInvalidPublicKey = errors.New("dotenvx: invalid public key")

	// ErrDecrypt is wrapped by every decryption failure. Errors that wrap it
	// also wrap errMalformedCiphertext or errAuthentication (or ErrInvalidKey
	// when no key was given) to say why.
	ErrDecrypt = errors.New("dotenvx: decryption failed")

	// errMalformedCiphertext reports an encrypted value that cannot have been
	// produced by dotenvx: a missing "encrypted:" prefix, invalid base64, a
	// payload that is too short, or an ephemeral public key that is not an
	// uncompressed point on the curve.
	errMalformedCiphertext = errors.New("malformed encrypted value")

	// errAuthentication reports that AES-GCM authentication failed: the value
	// was encrypted for another key, or it was modified.
	errAuthentication = errors.New("authentication failed (wrong private key or modified value)")

	// ErrNoMatchingKey reports that none of the candidate private keys derives
	// the public key an env file declares (or that no candidate was given for
	// a file with encrypted values).
	ErrNoMatchingKey = errors.New("dotenvx: no matching private key")

	// ErrExpansion reports a value whose variable expansion does not end
	// within envdrift's limits: 65,536 substitutions and 64 MiB of work per
	// value. dotenvx itself loops forever on such values, for example
	// X=a$LOOP with LOOP=$LOOP in the environment; values with thousands of
	// references to long values are refused too.
	ErrExpansion = errors.New("dotenvx: variable expansion does not end within the limits")

	// errFileTooLarge reports an env file larger than maxFileSize.
	errFileTooLarge = errors.New("dotenvx: env file too large")
)
