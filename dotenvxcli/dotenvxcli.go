// Package dotenvxcli checks that a key decrypts an env file with the
// dotenvx command itself, for users who want the reference implementation
// (envdrift sync --check-decryption --decrypter dotenvx). It needs Node.js
// and dotenvx; envdrift.NativeDecrypter, the default, needs neither and is
// much faster. A program that does not import this package does not link
// the process-running code it uses.
package dotenvxcli

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

	"github.com/envdrift/envdrift"
	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/internal/lazyre"
)

// Decrypter is an envdrift.Decrypter that asks the dotenvx command itself, for users
// who want the reference implementation (--decrypter dotenvx). It needs
// Node.js and dotenvx on PATH and is much slower than NativeDecrypter.
//
// It never touches the real files: the env file is copied to a private
// temporary directory with a .env.keys holding only the key under test, and
// the child's environment carries no DOTENV_PRIVATE_KEY* or DOTENV_KEY*
// variables of its own.
type Decrypter struct {
	// Bin is the dotenvx executable; "dotenvx" (looked up on PATH) by default.
	Bin string
	// Timeout bounds each run; 60 seconds by default.
	Timeout time.Duration
}

// ErrNotInstalled is reported when the dotenvx command cannot be found.
var ErrNotInstalled = errors.New("dotenvx is not installed")

// CheckDecryption implements Decrypter by running `dotenvx get --strict`.
func (d Decrypter) CheckDecryption(ctx context.Context, envFile string, key envdrift.Key) envdrift.Check {
	bin := d.Bin
	if bin == "" {
		bin = "dotenvx"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return envdrift.Check{Status: envdrift.CheckFailed, Detail: fmt.Sprintf("%v (%s not found on PATH): install it with `npm install -g @dotenvx/dotenvx`, or use envdrift.NativeDecrypter (the default), which needs neither", ErrNotInstalled, bin)}
	}
	f, err := dotenvx.ReadFile(envFile)
	if err != nil {
		return envdrift.Check{Status: envdrift.CheckFailed, Detail: err.Error()}
	}
	tmp, err := os.MkdirTemp("", "envdrift-dotenvx-")
	if err != nil {
		return envdrift.Check{Status: envdrift.CheckFailed, Detail: err.Error()}
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
		err = os.WriteFile(keysPath, []byte(keyName+"="+key.Reveal()+"\n"), 0o600)
	}
	if err != nil {
		return envdrift.Check{Status: envdrift.CheckFailed, Detail: "preparing a copy for dotenvx: " + err.Error()}
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
		return envdrift.Check{Status: envdrift.CheckFailed, Detail: fmt.Sprintf("dotenvx did not finish within %s", timeout)}
	}
	var got map[string]string
	if jerr := json.Unmarshal(stdout.Bytes(), &got); jerr != nil || runErr != nil {
		// dotenvx prints error codes such as [DECRYPTION_FAILED]; they name
		// variables, not values.
		msg := firstLine(stderr.String())
		if msg == "" && runErr != nil {
			msg = runErr.Error()
		}
		return envdrift.Check{Status: envdrift.CheckFailed, Detail: "dotenvx: " + msg}
	}
	enc := f.Encrypted()
	var failed []string
	for _, e := range enc {
		if v, ok := got[e.Key]; !ok || strings.HasPrefix(v, "encrypted:") {
			failed = append(failed, e.Key)
		}
	}
	switch {
	case len(enc) == 0:
		return envdrift.Check{Status: envdrift.CheckSkipped, Detail: "no encrypted values"}
	case len(failed) > 0:
		return envdrift.Check{Status: envdrift.CheckFailed, Detail: fmt.Sprintf("%d of %d encrypted values did not decrypt", len(failed), len(enc)), Problems: failed}
	}
	return envdrift.Check{Status: envdrift.CheckPassed, Detail: fmt.Sprintf("%d encrypted values decrypted", len(enc))}
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
