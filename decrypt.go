package envdrift

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/internal/lazyre"
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

// DotenvxCLI is a Decrypter that asks the dotenvx command itself, for users
// who want the reference implementation (--decrypter dotenvx). It needs
// Node.js and dotenvx on PATH and is much slower than NativeDecrypter.
//
// It never touches the real files: the env file is copied to a private
// temporary directory with a .env.keys holding only the key under test, and
// the child's environment carries no DOTENV_PRIVATE_KEY* or DOTENV_KEY*
// variables of its own.
type DotenvxCLI struct {
	// Bin is the dotenvx executable; "dotenvx" (looked up on PATH) by default.
	Bin string
	// Timeout bounds each run; 60 seconds by default.
	Timeout time.Duration
}

// ErrDotenvxNotInstalled is reported when the dotenvx command cannot be found.
var ErrDotenvxNotInstalled = errors.New("dotenvx is not installed")

// CheckDecryption implements Decrypter by running `dotenvx get --strict`.
func (d DotenvxCLI) CheckDecryption(ctx context.Context, envFile string, key Key) Check {
	bin := d.Bin
	if bin == "" {
		bin = "dotenvx"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return Check{Status: CheckFailed, Detail: fmt.Sprintf("%v (%s not found on PATH): install it with `npm install -g @dotenvx/dotenvx`, or drop --decrypter dotenvx to use the built-in check", ErrDotenvxNotInstalled, bin)}
	}
	f, err := dotenvx.ReadFile(envFile)
	if err != nil {
		return Check{Status: CheckFailed, Detail: err.Error()}
	}
	tmp, err := os.MkdirTemp("", "envdrift-dotenvx-")
	if err != nil {
		return Check{Status: CheckFailed, Detail: err.Error()}
	}
	defer os.RemoveAll(tmp)
	base := filepath.Base(envFile)
	copyPath, keysPath := filepath.Join(tmp, base), filepath.Join(tmp, ".env.keys")
	src, err := os.ReadFile(envFile)
	if err == nil {
		err = os.WriteFile(copyPath, src, 0o600)
	}
	keyName, _ := dotenvx.KeyNames(base)
	if name, _, ok := f.PublicKey(); ok {
		keyName = strings.Replace(name, "DOTENV_PUBLIC_KEY", "DOTENV_PRIVATE_KEY", 1)
	}
	if err == nil {
		var keys []byte
		keys, err = mergeKey(nil, keyName, key.Reveal(), base)
		if err == nil {
			err = os.WriteFile(keysPath, keys, 0o600)
		}
	}
	if err != nil {
		return Check{Status: CheckFailed, Detail: "preparing a copy for dotenvx: " + err.Error()}
	}

	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "get", "-f", copyPath, "-fk", keysPath, "--strict")
	cmd.Dir = tmp
	cmd.Env = childEnv(os.Environ())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return Check{Status: CheckFailed, Detail: fmt.Sprintf("dotenvx did not finish within %s", timeout)}
	}
	var got map[string]string
	if jerr := json.Unmarshal(stdout.Bytes(), &got); jerr != nil || runErr != nil {
		// dotenvx prints error codes such as [DECRYPTION_FAILED]; they name
		// variables, not values.
		msg := firstLine(stderr.String())
		if msg == "" && runErr != nil {
			msg = runErr.Error()
		}
		return Check{Status: CheckFailed, Detail: "dotenvx: " + msg}
	}
	enc := f.Encrypted()
	var failed []string
	for _, e := range enc {
		if v, ok := got[e.Key]; !ok || strings.HasPrefix(v, "encrypted:") {
			failed = append(failed, e.Key)
		}
	}
	r := dotenvx.CheckResult{EnvFile: envFile, Encrypted: len(enc), Failed: failed, Matched: true}
	return checkResult(r)
}

// childEnv is the environment for a dotenvx child: ours without any
// dotenvx key variables.
func childEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if strings.HasPrefix(kv, "DOTENV_PRIVATE_KEY") || strings.HasPrefix(kv, "DOTENV_KEY") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// hexRun8 matches what could be a piece of a key in a child's message.
var hexRun8 = lazyre.New(`[0-9a-fA-F]{8,}`)

// firstLine returns the first line of a child's stderr, with anything that
// looks like key material removed (some dotenvx versions quote part of the
// private key in their errors).
func firstLine(s string) string {
	s = hexRun8().ReplaceAllString(strings.TrimSpace(s), "…")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
