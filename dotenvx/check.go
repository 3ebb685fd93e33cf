package dotenvx

import (
	"fmt"
	"strings"
)

// CheckResult is the outcome of [Check]: whether a set of candidate private
// keys fits an env file. It holds public keys and variable names only, never
// private keys or values, so it is safe to print or serialise.
type CheckResult struct {
	EnvFile string
	// DeclaredName is the DOTENV_PUBLIC_KEY* variable the file declares (""
	// if none).
	DeclaredName string
	// DeclaredPublic is the public key declared in the file, as 66 lowercase
	// hex digits ("" if none, or if the declared value is not a valid public
	// key; DeclaredInvalid tells these apart).
	DeclaredPublic string
	// DeclaredInvalid is true when the file declares a public key variable
	// whose value is not a valid public key.
	DeclaredInvalid bool
	KeyPublic       []string // public key hex of each candidate private key
	// Matched is true when a candidate derives the declared public key, or,
	// when the file declares none, when every encrypted value decrypts.
	Matched   bool
	Encrypted int      // number of encrypted values (duplicates included)
	Failed    []string // names of variables that failed to decrypt, in file order
}

// OK reports whether the check passed: a candidate matches and every
// encrypted value decrypts.
func (r CheckResult) ok() bool { return r.Matched && len(r.Failed) == 0 }

// Err returns nil when r.ok(), and otherwise an error describing the problem
// that wraps ErrNoMatchingKey, errInvalidPublicKey or ErrDecrypt. Like r, it
// contains public keys and variable names only.
func (r CheckResult) err() error {
	if r.ok() {
		return nil
	}
	var err error
	switch {
	case r.DeclaredInvalid:
		err = fmt.Errorf("%s: %w", r.DeclaredName, errInvalidPublicKey)
	case !r.Matched && r.DeclaredPublic != "":
		cands := "no private key was given"
		if len(r.KeyPublic) > 0 {
			short := make([]string, len(r.KeyPublic))
			for i, k := range r.KeyPublic {
				short[i] = ShortPublicKey(k)
			}
			cands = "the private key candidates derive " + strings.Join(short, ", ")
		}
		err = fmt.Errorf("%w: %s is %s but %s", ErrNoMatchingKey, r.DeclaredName, ShortPublicKey(r.DeclaredPublic), cands)
	case len(r.KeyPublic) == 0:
		err = fmt.Errorf("%w: no private key given", ErrNoMatchingKey)
	default:
		err = fmt.Errorf("%w: could not decrypt %s", ErrDecrypt, strings.Join(r.Failed, ", "))
	}
	return inFile(r.EnvFile, err)
}

// Check reports whether keys fit the env file f: a key derives the public key
// f declares, and every encrypted value in f decrypts (with the matching keys;
// when none match, with all candidates, so that Failed still says what they
// can decrypt). It decrypts in parallel and does not need Node.js. This is
// what envdrift --check-decryption runs.
func Check(f *File, keys []*PrivateKey) CheckResult {
	var r CheckResult
	if f == nil {
		return r
	}
	r.EnvFile = f.Path
	var valid []*PrivateKey
	for _, k := range keys {
		if k.valid() {
			valid = append(valid, k)
			r.KeyPublic = append(r.KeyPublic, k.PublicKey().Hex())
		}
	}
	enc := f.Encrypted()
	r.Encrypted = len(enc)

	use := valid
	name, declared, declaredOK := f.PublicKey()
	if declaredOK {
		r.DeclaredName = name
		if pub, err := ParsePublicKey(declared); err != nil {
			r.DeclaredInvalid = true
		} else {
			r.DeclaredPublic = pub.Hex()
			if cands, _ := matchingKeys(pub, valid); len(cands) > 0 {
				r.Matched = true
				use = cands
			}
		}
	}
	if len(enc) > 0 {
		_, errs := decryptAll(enc, use)
		seen := make(map[string]bool)
		for i, err := range errs {
			if err != nil && !seen[enc[i].Key] {
				seen[enc[i].Key] = true
				r.Failed = append(r.Failed, enc[i].Key)
			}
		}
	}
	if !declaredOK {
		r.Matched = len(r.Failed) == 0
	}
	return r
}
