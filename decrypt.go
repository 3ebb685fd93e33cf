package envdrift

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/envdrift/envdrift/dotenvx"
)

// NativeDecrypter is the default Decrypter behind --check-decryption. It
// runs in Go with the dotenvx package: no Node.js, no subprocess, and a file
// of 1,000 encrypted values checks in milliseconds.
//
// A check passes when the key derives the public key the env file declares
// (DOTENV_PUBLIC_KEY*) and every encrypted: value decrypts. It is skipped
// when the file holds no encrypted values and declares no other key.
type NativeDecrypter struct{}

// CheckDecryption implements Decrypter. The result names variables and
// public keys only, never a value or a private key.
func (NativeDecrypter) CheckDecryption(ctx context.Context, envFile string, key Key) Check {
	if err := ctx.Err(); err != nil {
		return Check{Status: CheckFailed, Detail: "cancelled"}
	}
	f, err := dotenvx.ReadFile(envFile)
	if err != nil {
		return Check{Status: CheckFailed, Detail: err.Error()}
	}
	return checkResult(dotenvx.Check(f, key.PrivateKeys()))
}

func checkResult(r dotenvx.CheckResult) Check {
	switch {
	case r.DeclaredInvalid:
		return Check{Status: CheckFailed, Detail: fmt.Sprintf("%s in %s is not a valid public key", r.DeclaredName, filepath.Base(r.EnvFile))}
	case r.DeclaredPublic != "" && !r.Matched:
		return Check{Status: CheckFailed, Detail: fmt.Sprintf("mispaired key: %s declares %s %s, the key's public key is %s",
			filepath.Base(r.EnvFile), r.DeclaredName, dotenvx.ShortPublicKey(r.DeclaredPublic), shortList(r.KeyPublic))}
	case r.Encrypted == 0:
		return Check{Status: CheckSkipped, Detail: "no encrypted values"}
	case len(r.Failed) > 0:
		return Check{Status: CheckFailed, Detail: fmt.Sprintf("%d of %d encrypted values did not decrypt", len(r.Failed), r.Encrypted), Problems: r.Failed}
	}
	return Check{Status: CheckPassed, Detail: fmt.Sprintf("%d encrypted values decrypted", r.Encrypted)}
}

func shortList(pubs []string) string {
	s := make([]string, len(pubs))
	for i, p := range pubs {
		s[i] = dotenvx.ShortPublicKey(p)
	}
	return strings.Join(s, ", ")
}
