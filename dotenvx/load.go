package dotenvx

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
)

// Load reads the env file at path and returns all its variables with every
// encrypted value decrypted; DOTENV_PUBLIC_KEY* entries are left out and,
// when a variable is assigned more than once, the last assignment wins.
//
// privateKeys is a private key or a comma-separated list of candidates (for
// example the value of DOTENV_PRIVATE_KEY_PRODUCTION); it may be empty when
// the file holds no encrypted values. Among the candidates Load uses those
// whose public key equals the DOTENV_PUBLIC_KEY* the file declares, or all of
// them when the file declares none. See [File.Decrypt] for the errors.
//
// Load does not expand $VAR references, does not run $(command)
// substitutions and does not consult the process environment; [File.Resolve]
// does what `dotenvx run` does.
func load(path string, privateKeys string) (map[string]string, error) {
	f, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	var keys []*PrivateKey
	if privateKeys != "" {
		if keys, err = ParsePrivateKeys(privateKeys); err != nil {
			return nil, inFile(path, err)
		}
	}
	return f.Decrypt(keys)
}

// Decrypt returns the file's variables with every encrypted value decrypted,
// like [Load]. It is [File.Resolve] with the zero [ResolveOptions]: no
// environment, no expansion.
//
// Errors: if the file declares a public key and no candidate derives it, or
// the file has encrypted values and there are no candidates, the error wraps
// ErrNoMatchingKey and names the declared public key and the candidates'
// public keys, shortened. If values fail to decrypt, the error names the
// variables and wraps the first failure's error (ErrDecrypt and a reason). A
// declared public key that is not a valid key gives an error wrapping
// errInvalidPublicKey. No error contains a value or a private key.
//
// Unlike dotenvx, which falls back to trying every key it has, Decrypt does
// not use candidates that do not match the declared public key.
func (f *File) Decrypt(keys []*PrivateKey) (map[string]string, error) {
	res, err := f.Resolve(keys, ResolveOptions{})
	if err != nil {
		return nil, err
	}
	return res.Values, nil
}

// selectKeys returns the candidates to decrypt f with.
func (f *File) selectKeys(keys []*PrivateKey) ([]*PrivateKey, error) {
	name, declared, ok := f.PublicKey()
	if !ok {
		var valid []*PrivateKey
		for _, k := range keys {
			if k.valid() {
				valid = append(valid, k)
			}
		}
		if len(valid) == 0 {
			return nil, fmt.Errorf("%w: no private key given", ErrNoMatchingKey)
		}
		return valid, nil
	}
	pub, err := ParsePublicKey(declared)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cands, others := matchingKeys(pub, keys)
	if len(cands) == 0 {
		if len(others) == 0 {
			return nil, fmt.Errorf("%w: no private key given for %s=%s", ErrNoMatchingKey, name, ShortPublicKey(pub.Hex()))
		}
		return nil, fmt.Errorf("%w: %s is %s but the private key candidates derive %s",
			ErrNoMatchingKey, name, ShortPublicKey(pub.Hex()), strings.Join(others, ", "))
	}
	return cands, nil
}

// matchingKeys splits keys into those deriving pub and the shortened public
// keys of the others.
func matchingKeys(pub *PublicKey, keys []*PrivateKey) (match []*PrivateKey, others []string) {
	for _, k := range keys {
		if !k.valid() {
			continue
		}
		if k.PublicKey().equal(pub) {
			match = append(match, k)
		} else {
			others = append(others, ShortPublicKey(k.PublicKey().Hex()))
		}
	}
	return match, others
}

// decryptAll decrypts the values of entries with keys, in parallel when there
// are many.
func decryptAll(entries []Entry, keys []*PrivateKey) ([]string, []error) {
	plain := make([]string, len(entries))
	errs := make([]error, len(entries))
	one := func(i int) { plain[i], errs[i] = decryptAny(keys, entries[i].Value) }
	workers := min(runtime.GOMAXPROCS(0), len(entries)/8)
	if workers < 2 {
		for i := range entries {
			one(i)
		}
		return plain, errs
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	for range workers {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(entries) {
					return
				}
				one(i)
			}
		})
	}
	wg.Wait()
	return plain, errs
}

// fileError prefixes an error with the env file it concerns.
type fileError struct {
	path string
	err  error
}

func inFile(path string, err error) error { return &fileError{path: path, err: err} }

func (e *fileError) Error() string {
	msg := strings.TrimPrefix(e.err.Error(), "dotenvx: ")
	if e.path == "" {
		return "dotenvx: " + msg
	}
	return "dotenvx: " + e.path + ": " + msg
}

func (e *fileError) Unwrap() error { return e.err }
