// Package providertest is the conformance suite every envdrift provider
// passes. A provider's tests implement [Harness] for a store (a local server
// speaking the service's wire protocol, or a real endpoint) and call [Run].
//
// The suite checks behaviour a user relies on: a stored key comes back byte
// for byte, failures are classified (not found, permission denied, …) and
// carry the store's own message, vault_name really routes, cancellation is
// prompt, throttling is retried, and no secret ever appears in an error.
//
// Its "Write" section runs when the provider implements [provider.Writer]
// (and says why it skips when it does not): create-only writes refuse to
// replace a secret, stale versions are conflicts where the store can tell,
// updates keep the store's history, the ownership marker and public key
// round-trip through the store's metadata, and Current sends no write. A
// Writer's harness must implement [WriteHarness], or the section fails.
package providertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/provider"
)

// ErrUnsupported is returned by optional Harness methods that the store under
// test cannot do (a real cloud endpoint cannot be told to throttle). The
// suite skips the check and says why.
var ErrUnsupported = errors.New("not supported by this harness")

// Harness connects the suite to one store.
type Harness interface {
	// MakeProvider returns a provider configured to talk to the store, with
	// the harness's default vault as its default.
	MakeProvider(ctx context.Context) (provider.Provider, error)
	// CreateSecret stores value as a text secret named name in vault ("" is
	// the default vault), replacing any previous value.
	CreateSecret(ctx context.Context, vault, name string, value []byte) error
	// CreateBinarySecret stores value as a binary secret where the store
	// distinguishes binary from text (AWS SecretBinary, GCP payload bytes, a
	// file). Stores that hold only text return ErrUnsupported.
	CreateBinarySecret(ctx context.Context, vault, name string, value []byte) error
	// OtherVault names a second vault of the store, distinct from the
	// default, for the routing check. "" skips it.
	OtherVault() string
	// DenyAccess makes reads of vault/name fail as the store does when the
	// caller lacks permission.
	DenyAccess(ctx context.Context, vault, name string) error
	// Throttle makes the next n requests fail as the store does when it
	// throttles; the provider is expected to retry through them.
	Throttle(n int) error
	// FailWith makes every request fail with a server error carrying message
	// until Reset.
	FailWith(message string) error
	// Stall makes every request hang until the client gives up, until Reset.
	Stall() error
	// Reset clears every injected fault.
	Reset()
	// Requests returns how many requests the store has served so far, or -1
	// if it cannot tell.
	Requests() int
}

// Options tunes the suite for a store's limits.
type Options struct {
	// LargePayload is the size of the large-payload check. Default 64 KiB,
	// the AWS and GCP limit; Azure Key Vault allows 25 KiB.
	LargePayload int
}

// Key is a valid dotenvx private key used as a payload (a throwaway).
const Key = "9f2c1d8e7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa00112233"

// Run runs the conformance suite against h.
func Run(t *testing.T, h Harness, opts Options) {
	t.Helper()
	if opts.LargePayload == 0 {
		opts.LargePayload = 64 << 10
	}
	s := &suite{h: h, opts: opts}
	t.Run("Found", s.found)
	t.Run("NotFound", s.notFound)
	t.Run("PermissionDenied", s.permissionDenied)
	t.Run("BinaryPayload", s.binaryPayload)
	t.Run("LargePayload", s.largePayload)
	t.Run("VaultNameRoutes", s.routing)
	t.Run("ConcurrentFetches", s.concurrent)
	t.Run("Cancellation", s.cancellation)
	t.Run("ThrottledThenOK", s.throttled)
	t.Run("ServerErrorSurfacesMessage", s.serverError)
	t.Run("Write", s.write)
}

type suite struct {
	h    Harness
	opts Options
}

func (s *suite) provider(t *testing.T) provider.Provider {
	t.Helper()
	t.Cleanup(s.h.Reset)
	p, err := s.h.MakeProvider(context.Background())
	require.NoError(t, err, "MakeProvider")
	if c, ok := p.(io.Closer); ok {
		t.Cleanup(func() { _ = c.Close() })
	}
	return p
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func skipIfUnsupported(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, ErrUnsupported) {
		t.Skipf("harness: %v", err)
	}
	require.NoError(t, err)
}

// assertNoLeak checks that no 8-byte window of secret appears in err's text.
func assertNoLeak(t *testing.T, err error, secret []byte) {
	t.Helper()
	if err == nil || len(secret) < 8 {
		return
	}
	msg := err.Error()
	for i := 0; i+8 <= len(secret); i++ {
		if strings.Contains(msg, string(secret[i:i+8])) {
			t.Fatalf("error message contains secret material at offset %d: %q", i, msg)
		}
	}
}

func (s *suite) found(t *testing.T) {
	p := s.provider(t)
	name := "envdrift-found"
	value := []byte("DOTENV_PRIVATE_KEY_PRODUCTION=" + Key + "\n")
	require.NoError(t, s.h.CreateSecret(ctx(t), "", name, value))
	got, err := p.Fetch(ctx(t), provider.Ref{Name: name})
	require.NoError(t, err)
	assert.Equal(t, value, got.Value, "payload must come back byte for byte")

	// A second fetch after the value changed sees the new value: providers
	// read the latest version and do not cache across calls.
	value2 := []byte(Key)
	require.NoError(t, s.h.CreateSecret(ctx(t), "", name, value2))
	got, err = p.Fetch(ctx(t), provider.Ref{Name: name})
	require.NoError(t, err)
	assert.Equal(t, value2, got.Value, "fetch must return the latest version")
}

func (s *suite) notFound(t *testing.T) {
	p := s.provider(t)
	name := "envdrift-does-not-exist"
	_, err := p.Fetch(ctx(t), provider.Ref{Name: name})
	require.Error(t, err)
	assert.ErrorIs(t, err, provider.ErrNotFound, "got %v", err)
	assert.ErrorIs(t, err, provider.ErrNotFound)
	assert.Contains(t, err.Error(), name, "the error must name the secret")
}

func (s *suite) permissionDenied(t *testing.T) {
	p := s.provider(t)
	name := "envdrift-denied"
	value := []byte(Key)
	require.NoError(t, s.h.CreateSecret(ctx(t), "", name, value))
	skipIfUnsupported(t, s.h.DenyAccess(ctx(t), "", name))
	_, err := p.Fetch(ctx(t), provider.Ref{Name: name})
	require.Error(t, err)
	assert.ErrorIs(t, err, provider.ErrPermissionDenied, "got %v", err)
	assert.Contains(t, err.Error(), name)
	assertNoLeak(t, err, value)
	var pe *provider.Error
	if assert.ErrorAs(t, err, &pe) {
		assert.NotEmpty(t, pe.Hint, "a permission error must tell the user what permission is needed")
	}
}

func (s *suite) binaryPayload(t *testing.T) {
	p := s.provider(t)
	// Binary that happens to be UTF-8 must come back intact.
	text := []byte(Key)
	skipIfUnsupported(t, s.h.CreateBinarySecret(ctx(t), "", "envdrift-binary-utf8", text))
	got, err := p.Fetch(ctx(t), provider.Ref{Name: "envdrift-binary-utf8"})
	require.NoError(t, err)
	assert.Equal(t, text, got.Value)

	// Arbitrary bytes either come back intact or are refused as invalid;
	// they are never mangled, and never echoed in the error.
	junk := []byte{0x00, 0xff, 0xfe, 0x80, 0x81, 'k', 'e', 'y', 0xc3, 0x28, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05}
	require.NoError(t, s.h.CreateBinarySecret(ctx(t), "", "envdrift-binary-junk", junk))
	got, err = p.Fetch(ctx(t), provider.Ref{Name: "envdrift-binary-junk"})
	if err != nil {
		assert.ErrorIs(t, err, provider.ErrInvalid, "a refused binary payload is invalid, got %v", err)
		assert.Contains(t, err.Error(), "envdrift-binary-junk")
		return
	}
	assert.Equal(t, junk, got.Value, "binary payload must come back byte for byte")
}

func (s *suite) largePayload(t *testing.T) {
	p := s.provider(t)
	value := bytes.Repeat([]byte("0123456789abcdef"), s.opts.LargePayload/16)
	require.NoError(t, s.h.CreateSecret(ctx(t), "", "envdrift-large", value))
	got, err := p.Fetch(ctx(t), provider.Ref{Name: "envdrift-large"})
	require.NoError(t, err)
	assert.Equal(t, len(value), len(got.Value))
	assert.True(t, bytes.Equal(value, got.Value), "large payload must come back byte for byte")
}

func (s *suite) routing(t *testing.T) {
	other := s.h.OtherVault()
	if other == "" {
		t.Skip("harness has no second vault")
	}
	p := s.provider(t)
	name := "envdrift-routed"
	require.NoError(t, s.h.CreateSecret(ctx(t), "", name, []byte("default-vault-value")))
	require.NoError(t, s.h.CreateSecret(ctx(t), other, name, []byte("other-vault-value")))

	got, err := p.Fetch(ctx(t), provider.Ref{Name: name})
	require.NoError(t, err)
	assert.Equal(t, "default-vault-value", string(got.Value))

	got, err = p.Fetch(ctx(t), provider.Ref{Vault: other, Name: name})
	require.NoError(t, err)
	assert.Equal(t, "other-vault-value", string(got.Value), "vault_name must route the request")

	// A secret that exists only in the default vault is not found in the other.
	require.NoError(t, s.h.CreateSecret(ctx(t), "", "envdrift-only-default", []byte("x")))
	_, err = p.Fetch(ctx(t), provider.Ref{Vault: other, Name: "envdrift-only-default"})
	assert.ErrorIs(t, err, provider.ErrNotFound)
}

func (s *suite) concurrent(t *testing.T) {
	p := s.provider(t)
	const n = 16
	for i := range n {
		require.NoError(t, s.h.CreateSecret(ctx(t), "", fmt.Sprintf("envdrift-conc-%d", i), []byte(fmt.Sprintf("value-%d", i))))
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	vals := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sec, err := p.Fetch(ctx(t), provider.Ref{Name: fmt.Sprintf("envdrift-conc-%d", i)})
			errs[i], vals[i] = err, string(sec.Value)
		}()
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		assert.Equal(t, fmt.Sprintf("value-%d", i), vals[i])
	}
}

func (s *suite) cancellation(t *testing.T) {
	p := s.provider(t)
	require.NoError(t, s.h.CreateSecret(ctx(t), "", "envdrift-stalled", []byte(Key)))
	skipIfUnsupported(t, s.h.Stall())
	stopsPromptlyWhenCancelled(t, "fetch", func(c context.Context) error {
		_, err := p.Fetch(c, provider.Ref{Name: "envdrift-stalled"})
		return err
	})
}

// stopsPromptlyWhenCancelled runs op (a call to a stalled server) with a
// context cancelled after 100 ms, and checks that it returns within 3 s with
// an error that reports the cancellation.
func stopsPromptlyWhenCancelled(t *testing.T, what string, op func(context.Context) error) {
	t.Helper()
	c, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err := op(c)
	elapsed := time.Since(start)
	require.Error(t, err)
	assert.Less(t, elapsed, 3*time.Second, "a %s must stop promptly when its context is cancelled", what)
	assert.True(t, errors.Is(err, context.Canceled) || errors.Is(err, provider.ErrUnavailable),
		"a cancelled %s reports cancellation, got %v", what, err)
}

func (s *suite) throttled(t *testing.T) {
	p := s.provider(t)
	require.NoError(t, s.h.CreateSecret(ctx(t), "", "envdrift-throttled", []byte(Key)))
	before := s.h.Requests()
	skipIfUnsupported(t, s.h.Throttle(2))
	got, err := p.Fetch(ctx(t), provider.Ref{Name: "envdrift-throttled"})
	require.NoError(t, err, "throttling must be retried")
	assert.Equal(t, Key, string(got.Value))
	if before >= 0 {
		assert.GreaterOrEqual(t, s.h.Requests()-before, 3, "two throttled requests and one that succeeded")
	}
}

func (s *suite) serverError(t *testing.T) {
	p := s.provider(t)
	require.NoError(t, s.h.CreateSecret(ctx(t), "", "envdrift-broken", []byte(Key)))
	const msg = "conformance backend exploded"
	skipIfUnsupported(t, s.h.FailWith(msg))
	_, err := p.Fetch(ctx(t), provider.Ref{Name: "envdrift-broken"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), msg, "the store's own message must reach the user")
	assert.ErrorIs(t, err, provider.ErrUnavailable, "got %v", err)
	assertNoLeak(t, err, []byte(Key))
}
