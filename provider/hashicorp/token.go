package hashicorp

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/envdrift/envdrift/provider"
)

// Token sources, named in messages (never the token itself).
const (
	srcFlag = "--token"
	srcEnv  = "VAULT_TOKEN"
	srcFile = "~/.vault-token"
)

// tokenFileName is the file the vault CLI's default token helper keeps the
// token of `vault login` in, in the home directory.
const tokenFileName = ".vault-token"

// resolveToken returns the token and where it came from: flag, then
// VAULT_TOKEN, then ~/.vault-token. No token at all is not an error here:
// Vault (or an agent) decides.
func resolveToken(flag string) (token, source string, perr *provider.Error) {
	if t := strings.TrimSpace(flag); t != "" {
		token, source = t, srcFlag
	} else if t := strings.TrimSpace(lookupEnv("VAULT_TOKEN")); t != "" {
		token, source = t, srcEnv
	} else {
		t, err := readTokenFile()
		if err != nil {
			return "", "", provider.NewError(provider.ErrUnauthenticated, Name, provider.Ref{},
				"cannot read the Vault token file "+srcFile+": "+describeFSError(err), nil).
				WithHint("set VAULT_TOKEN or run `vault login`")
		}
		if t == "" {
			return "", "", nil
		}
		token, source = t, srcFile
	}
	if strings.IndexFunc(token, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return "", "", provider.NewError(provider.ErrUnauthenticated, Name, provider.Ref{},
			"the Vault token from "+source+" contains non-printable characters", nil).
			WithHint("set VAULT_TOKEN or run `vault login`")
	}
	return token, source, nil
}

// readTokenFile reads ~/.vault-token; a missing file (or home) is no token.
func readTokenFile() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return "", nil
	}
	f, err := os.Open(filepath.Join(home, tokenFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// describeFSError names the failure without repeating file contents.
func describeFSError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func lookupEnv(k string) string { return os.Getenv(k) }

// retryAfter parses a Retry-After header in seconds or as an HTTP date.
func retryAfter(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > 3600 {
			n = 3600
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := time.Parse(time.RFC1123, v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

func jitter() float64 { return rand.Float64() }

// flight runs a computation once for all concurrent callers; each waiter
// honours its own context. A failed flight is forgotten by its owner so
// that a later call retries.
type flight[T any] struct {
	done chan struct{}
	val  T
	err  error
}

func newFlight[T any]() *flight[T] { return &flight[T]{done: make(chan struct{})} }

func (f *flight[T]) wait(ctx context.Context) (T, error, bool) {
	select {
	case <-f.done:
		return f.val, f.err, true
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err(), false
	}
}

// settleOnce runs do once for all concurrent callers sharing *slot: the
// first caller runs it, the others wait with their own ctx. A verdict is
// kept: success for good, and a failure also as the provider's auth error,
// so every later fetch fails at once with it. A run whose owner's context
// ended gives no verdict: it is forgotten and the next caller (a waiter
// included) runs it again. path names the request in a transport error.
func (p *Provider) settleOnce(ctx context.Context, ref provider.Ref, slot **flight[struct{}], path string, do func(context.Context) *provider.Error) *provider.Error {
	for {
		p.mu.Lock()
		f := *slot
		owner := f == nil
		if owner {
			f = newFlight[struct{}]()
			*slot = f
		}
		p.mu.Unlock()
		if owner {
			perr := do(ctx)
			if cerr := ctx.Err(); cerr != nil {
				f.err = cerr
				p.mu.Lock()
				*slot = nil
				p.mu.Unlock()
				close(f.done)
				if perr != nil {
					return withRef(perr, ref)
				}
				return p.transportError(ctx, ref, path, cerr)
			}
			if perr != nil {
				f.err = perr
				p.setAuthErr(perr)
			}
			close(f.done)
			if perr != nil {
				return withRef(perr, ref)
			}
			return nil
		}
		_, err, ok := f.wait(ctx)
		if !ok {
			return p.transportError(ctx, ref, path, err)
		}
		if err == nil {
			return nil
		}
		var pe *provider.Error
		if errors.As(err, &pe) {
			return withRef(pe, ref)
		}
		// The owner's context ended before a verdict: run it ourselves.
	}
}
