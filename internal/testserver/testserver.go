// Package testserver holds what the local wire-protocol servers used in
// envdrift's tests share: an in-memory secret store keyed by vault and name,
// request counting, injected latency, and injected faults. Each service's
// server lives in a sub-package (awssm, azurekv, gcpsm, vaultkv) and turns a
// [Fault] into that service's own error response, so the real SDK client sees
// exactly what the real service would send.
//
// Servers bind to 127.0.0.1 only and are started and stopped by the tests.
package testserver

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is what a server must do with one request instead of serving it.
type Fault int

// The faults a test can inject.
const (
	FaultNone      Fault = iota
	FaultThrottle        // the service's "slow down" response (429 / ThrottlingException / RESOURCE_EXHAUSTED)
	FaultError           // a server error (5xx / INTERNAL) carrying Base.ErrorMessage()
	FaultStall           // hang until the client goes away
	FaultReset           // drop the connection without a response
	FaultMalformed       // a body the client cannot parse (truncated JSON, HTML from a proxy, a cut gRPC frame)
	FaultAuth            // reject the request's credentials (401 / UNAUTHENTICATED)
)

// Secret is one stored secret.
type Secret struct {
	Value  []byte
	Binary bool // stored as binary where the service distinguishes (AWS SecretBinary)
	Denied bool // reads fail with the service's permission-denied response
}

type key struct{ vault, name string }

// Base is embedded by every test server.
type Base struct {
	// DefaultVault is the vault a request without one addresses.
	DefaultVault string

	mu       sync.Mutex
	secrets  map[key]Secret
	latency  time.Duration
	throttle int
	failMsg  string
	persist  Fault
	requests atomic.Int64
	ops      map[string]int
	closed   chan struct{}
	once     sync.Once
}

// NewBase returns a Base whose default vault is defaultVault.
func NewBase(defaultVault string) *Base {
	return &Base{DefaultVault: defaultVault, secrets: map[key]Secret{}, ops: map[string]int{}, closed: make(chan struct{})}
}

func (b *Base) vault(v string) string {
	if v == "" {
		return b.DefaultVault
	}
	return v
}

// Put stores a text secret.
func (b *Base) Put(vault, name string, value []byte) {
	b.PutSecret(vault, name, Secret{Value: append([]byte(nil), value...)})
}

// PutSecret stores s under vault/name, replacing any previous secret.
func (b *Base) PutSecret(vault, name string, s Secret) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.secrets[key{b.vault(vault), name}] = s
}

// Deny makes reads of vault/name fail with permission denied.
func (b *Base) Deny(vault, name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := key{b.vault(vault), name}
	s := b.secrets[k]
	s.Denied = true
	b.secrets[k] = s
}

// Delete removes vault/name, a denial included.
func (b *Base) Delete(vault, name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.secrets, key{b.vault(vault), name})
}

// Get returns the secret stored under vault/name.
func (b *Base) Get(vault, name string) (Secret, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.secrets[key{b.vault(vault), name}]
	return s, ok
}

// SetLatency adds d to every request before it is served.
func (b *Base) SetLatency(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.latency = d
}

// Throttle makes the next n requests get FaultThrottle.
func (b *Base) Throttle(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.throttle = n
}

// FailWith makes every request get FaultError with message until Reset.
func (b *Base) FailWith(message string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failMsg = message
	b.persist = FaultError
}

// Inject makes every request get f until Reset.
func (b *Base) Inject(f Fault) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.persist = f
}

// Reset clears every injected fault and the latency; stored secrets stay.
func (b *Base) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.latency, b.throttle, b.failMsg, b.persist = 0, 0, "", FaultNone
}

// ErrorMessage is the message a FaultError response carries.
func (b *Base) ErrorMessage() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failMsg == "" {
		return "internal server error (injected)"
	}
	return b.failMsg
}

// Requests returns the number of requests seen so far.
func (b *Base) Requests() int { return int(b.requests.Load()) }

// Ops returns how many requests each operation received ("GetSecretValue": 3).
func (b *Base) Ops() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]int, len(b.ops))
	for k, v := range b.ops {
		out[k] = v
	}
	return out
}

// Begin is called by a server at the start of every request for operation
// op. It counts the request, waits out the injected latency (or until ctx is
// done) and returns the fault to apply, FaultNone to serve normally.
func (b *Base) Begin(ctx context.Context, op string) Fault {
	b.requests.Add(1)
	b.mu.Lock()
	b.ops[op]++
	latency := b.latency
	f := b.persist
	if f == FaultNone && b.throttle > 0 {
		b.throttle--
		f = FaultThrottle
	}
	b.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return FaultStall
		case <-b.closed:
			t.Stop()
			return FaultStall
		}
	}
	if f == FaultStall {
		select {
		case <-ctx.Done():
		case <-b.closed:
		}
	}
	return f
}

// Close releases every request that is stalled or waiting out latency, so
// the server that embeds b can shut down. Servers call it from their own Close.
func (b *Base) Close() { b.once.Do(func() { close(b.closed) }) }
