// Package testserver is the harness every local wire-protocol server used in
// envdrift's tests is built on. A service's server lives in a sub-package
// (awssm, azurekv, gcpsm, vaultkv), embeds a [*Base] and only speaks the
// service's protocol; the Base does, once, what they all need:
//
//   - serving: an HTTP server on a random port of 127.0.0.1, plain or TLS
//     with a certificate from the process-wide test CA ([Base.Serve]),
//     connection tracking, and a Close that releases stalled requests and
//     waits for every handler;
//   - an in-memory secret store keyed by vault and name;
//   - request counting, in total and per operation ([Base.Requests],
//     [Base.Count], [Base.Ops]);
//   - injected latency and faults ([Base.SetLatency], [Base.Throttle],
//     [Base.FailWith], [Base.Inject]);
//   - a request quota ([Base.SetQuota]): a token bucket of N requests per
//     second, answered over quota with the service's own throttling
//     response;
//   - a dead endpoint ([Base.RefuseAfter]): after N more requests the
//     listener closes, so new connections are refused and open ones reset.
//
// A server calls [Base.Begin] at the start of every request of its service.
// Begin counts the request and applies latency, quota and faults; the
// transport faults (stall, reset, a dead endpoint) it carries out itself, and
// the rest it returns as a [Verdict] that the server turns into the
// service's own error response, so the real SDK client sees exactly what the
// real service would send.
package testserver

import (
	"maps"
	"net/http"
	"sync"
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

// Base is embedded by every test server: see the package documentation.
type Base struct {
	// DefaultVault is the vault a request without one addresses.
	DefaultVault string

	mu         sync.Mutex
	secrets    map[key]Secret
	noWrite    map[key]bool
	latency    time.Duration
	throttle   int
	retryAfter time.Duration
	failMsg    string
	persist    Fault
	requests   int
	ops        map[string]int
	quota      *bucket
	refuseIn   int // requests left before the endpoint dies; 0 = never
	now        func() time.Time

	closed    chan struct{}
	closeOnce sync.Once
	http      httpState
}

// NewBase returns a Base whose default vault is defaultVault.
func NewBase(defaultVault string) *Base {
	return &Base{
		DefaultVault: defaultVault,
		secrets:      map[key]Secret{},
		noWrite:      map[key]bool{},
		ops:          map[string]int{},
		now:          time.Now,
		closed:       make(chan struct{}),
	}
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

// DenyWrite makes writes of vault/name fail with the service's
// permission-denied answer, as for a caller allowed to read the secret but
// not to change it. Reads go on. Servers check [Base.WriteDenied].
func (b *Base) DenyWrite(vault, name string) { b.SetWriteDenied(vault, name, true) }

// SetWriteDenied sets whether writes of vault/name are refused (see
// [Base.DenyWrite]).
func (b *Base) SetWriteDenied(vault, name string, denied bool) {
	b.set(func() {
		if denied {
			b.noWrite[key{b.vault(vault), name}] = true
		} else {
			delete(b.noWrite, key{b.vault(vault), name})
		}
	})
}

// WriteDenied reports whether writes of vault/name are refused.
func (b *Base) WriteDenied(vault, name string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.noWrite[key{b.vault(vault), name}]
}

// SetLatency adds d to every request before it is served.
func (b *Base) SetLatency(d time.Duration) { b.set(func() { b.latency = d }) }

// Throttle makes the next n requests get FaultThrottle.
func (b *Base) Throttle(n int) { b.set(func() { b.throttle = n }) }

// SetRetryAfter sets how long the answers to [Base.Throttle]'s requests
// tell the client to wait (Retry-After, where the service sends one). Zero,
// the default, leaves it to the service: Key Vault always asks for at least
// a second; Vault sends no Retry-After unless asked to.
func (b *Base) SetRetryAfter(d time.Duration) { b.set(func() { b.retryAfter = d }) }

// FailWith makes every request get FaultError with message until Reset.
func (b *Base) FailWith(message string) {
	b.set(func() { b.failMsg, b.persist = message, FaultError })
}

// Inject makes every request get f until Reset.
func (b *Base) Inject(f Fault) { b.set(func() { b.persist = f }) }

// Reset clears every injected fault, the latency and the quota; stored
// secrets stay. An endpoint that [Base.RefuseAfter] has killed stays dead.
func (b *Base) Reset() {
	b.set(func() {
		b.latency, b.throttle, b.retryAfter, b.failMsg, b.persist = 0, 0, 0, "", FaultNone
		b.quota, b.refuseIn = nil, 0
	})
}

func (b *Base) set(f func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f()
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
func (b *Base) Requests() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.requests
}

// Count returns how many requests the operations ops received together.
func (b *Base) Count(ops ...string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, op := range ops {
		n += b.ops[op]
	}
	return n
}

// Ops returns how many requests each operation received ("GetSecretValue": 3).
func (b *Base) Ops() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.ops)
}

// Verdict is what [Base.Begin] decided for one request that the server
// must answer itself.
type Verdict struct {
	// Fault is FaultNone (serve the request), FaultThrottle, FaultError,
	// FaultMalformed or FaultAuth; Begin carries out the transport faults.
	Fault Fault
	// RetryAfter is, for FaultThrottle, how long the client should wait:
	// until the quota has a token again, or what [Base.SetRetryAfter] set.
	// Zero means the service's default.
	RetryAfter time.Duration
	// Quota describes the quota when one is set, for services that report
	// it on every response (Vault's X-Ratelimit-* headers).
	Quota *QuotaState
}

// Begin is called by a server at the start of every request r for
// operation op. It counts the request, waits out the injected latency (or
// until the client or the server goes away), applies the quota and the
// injected faults, and returns what the server must answer. A stalled,
// reset or refused request never returns: Begin drops the connection and
// aborts the handler (panic(http.ErrAbortHandler), which net/http recovers
// silently).
func (b *Base) Begin(r *http.Request, op string) Verdict {
	b.mu.Lock()
	if b.dead() {
		b.mu.Unlock()
		b.Drop(r)
	}
	b.requests++
	b.ops[op]++
	latency := b.latency
	v := Verdict{Fault: b.persist}
	if b.refuseIn > 0 {
		b.refuseIn--
		if b.refuseIn == 0 {
			b.die()
		}
	}
	if b.quota != nil && b.quota.counts(op) {
		st, wait := b.quota.take(b.now())
		v.Quota = &st
		if wait > 0 && v.Fault == FaultNone {
			v.Fault, v.RetryAfter = FaultThrottle, wait
		}
	}
	if v.Fault == FaultNone && b.throttle > 0 {
		b.throttle--
		v.Fault, v.RetryAfter = FaultThrottle, b.retryAfter
	}
	b.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			panic(http.ErrAbortHandler) // the client has gone: nobody to answer
		case <-b.closed:
			t.Stop()
			b.Drop(r)
		}
	}
	switch v.Fault {
	case FaultStall:
		select {
		case <-r.Context().Done():
			panic(http.ErrAbortHandler)
		case <-b.closed:
			b.Drop(r)
		}
	case FaultReset:
		b.Drop(r)
	}
	return v
}
