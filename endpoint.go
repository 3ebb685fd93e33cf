package envdrift

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/envdrift/envdrift/internal/reach"
	"github.com/envdrift/envdrift/provider"
)

// An endpoint is a run's memory of one place a provider sends requests to
// (a Vault address, an AWS region, a Key Vault): every request for it goes
// through the endpoint's breaker and limiter.
//
// The breaker: once the endpoint has failed in a way that will not change
// within the run — the connection was refused, the host name does not
// exist, the TLS certificate cannot be verified or the server does not
// speak TLS — or has failed tripAfter times in a row at the connection
// level (timeouts, resets; each already retried by the provider's SDK)
// without answering anything in between, the endpoint is down: every
// later request for it fails at once with the error that took it down,
// naming its own secret. An answer about one secret (not found,
// permission denied) is an answer: it trips nothing.
//
// The limiter: an endpoint that throttles ("throttled", after the
// SDK's own retries) gets fewer requests at once — additive increase,
// multiplicative decrease, between one and the run's concurrency — and the
// throttled request is sent again after the wait the service asked for
// (provider.Error.RetryAfter), else after a short backoff that grows with
// each of its tries: until the context ends or, when the context has no
// deadline, until the endpoint has answered nothing but throttling for its
// patience (the request time limit, provider.Options.Timeout, else
// defaultThrottlePatience). An endpoint that serves any positive rate of
// requests thus serves every request, at that rate.
type endpoint struct {
	// max is the run's concurrency, the most the limit grows back to.
	max int
	// patience is how long the endpoint may answer nothing but throttling
	// before a throttled request stops being retried (when the context has
	// no deadline).
	patience time.Duration

	mu       sync.Mutex
	limit    float64 // requests allowed at once (AIMD), 1..max
	inflight int
	epoch    uint64        // bumped by every decrease; a permit remembers it
	served   time.Time     // the last answer that was not throttling (or the start)
	fastest  time.Duration // the quickest answer so far; 0 before the first
	strikes  int           // connection-level failures in a row
	down     error         // the failure that took the endpoint down
	wake     chan struct{}
}

// tripAfter is how many connection-level failures in a row, with no answer
// between them, take an endpoint down. One timeout is not enough: a slow
// answer or a dropped connection happens to healthy endpoints.
const tripAfter = 3

// slowAnswer is how much longer than twice the endpoint's quickest answer
// an answer may take and still count as prompt, for the limiter to grow.
const slowAnswer = 50 * time.Millisecond

// defaultThrottlePatience is the endpoint's patience when the run has no
// request time limit.
const defaultThrottlePatience = 30 * time.Second

// The wait before a throttled request is sent again when the service named
// none: minThrottleWait, doubling with each try of the request, up to
// maxThrottleWait, with jitter. The provider's SDK has already backed off
// between its own attempts.
const (
	minThrottleWait = 100 * time.Millisecond
	maxThrottleWait = 2 * time.Second
)

func newEndpoint(maxInFlight int, patience time.Duration) *endpoint {
	maxInFlight = max(maxInFlight, 1)
	return &endpoint{max: maxInFlight, patience: patience, limit: float64(maxInFlight),
		served: time.Now(), wake: make(chan struct{})}
}

// permit is one request's place in the limiter.
type permit struct {
	epoch uint64    // the limiter's epoch when the request started
	start time.Time // when the request started
}

// acquire waits until the endpoint takes one more request and returns its
// permit, which release must return. It fails with the endpoint's failure
// (for ref) once the endpoint is down, and with ctx's error when ctx ends.
func (e *endpoint) acquire(ctx context.Context, ref provider.Ref) (permit, error) {
	for {
		e.mu.Lock()
		if e.down != nil {
			err := errorFor(e.down, ref)
			e.mu.Unlock()
			return permit{}, err
		}
		if err := ctx.Err(); err != nil {
			e.mu.Unlock()
			return permit{}, err
		}
		if float64(e.inflight) < e.limit {
			e.inflight++
			p := permit{epoch: e.epoch, start: time.Now()}
			e.mu.Unlock()
			return p, nil
		}
		wake := e.wake
		e.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
		}
	}
}

// outcome is what one request taught about its endpoint.
type outcome int

const (
	outcomeNone      outcome = iota // nothing: cancelled, or failed before reaching the endpoint
	outcomeAnswered                 // the endpoint answered: a secret, or an error about it
	outcomeThrottled                // the endpoint asked to slow down
	outcomeStrike                   // a connection-level failure that may pass
	outcomeDown                     // a failure that will not change within the run
)

// judge says what err, the result of a request made under ctx, teaches
// about the endpoint.
func judge(ctx context.Context, err error) outcome {
	switch {
	case err == nil:
		return outcomeAnswered
	case ctx.Err() != nil, errors.Is(err, errPanic), errors.Is(err, errClosed):
		return outcomeNone
	case errors.Is(err, provider.ErrThrottled):
		return outcomeThrottled
	}
	return endpointFailure(err)
}

// release returns p after a request whose outcome is o (err its error) and
// updates the breaker and the limiter.
func (e *endpoint) release(p permit, o outcome, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.inflight--
	now := time.Now()

	switch o {
	case outcomeAnswered:
		e.served, e.strikes = now, 0
		took := now.Sub(p.start)
		if e.fastest == 0 || took < e.fastest {
			e.fastest = took
		}
		if took <= 2*e.fastest+slowAnswer {
			// Grow back only on prompt answers: a slow one most likely
			// spent time in the SDK's own retries, throttled.
			e.limit = min(float64(e.max), e.limit+1/e.limit)
		}
	case outcomeThrottled:
		e.strikes = 0
		if p.epoch == e.epoch {
			// One decrease per round of requests: those sent before it
			// were throttled by the same overload.
			e.limit = max(1, e.limit/2)
			e.epoch++
		}
	case outcomeStrike:
		e.strikes++
		if e.strikes >= tripAfter && e.down == nil {
			e.down = err
		}
	case outcomeDown:
		if e.down == nil {
			e.down = err
		}
	}
	close(e.wake) // a place is free, or the endpoint is down: waiters look again
	e.wake = make(chan struct{})
}

// retryable reports whether a request the endpoint throttled is sent
// again: while ctx lasts and, when it has no deadline, while the endpoint
// has answered something other than throttling within its patience.
func (e *endpoint) retryable(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	if _, ok := ctx.Deadline(); ok {
		return true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.down == nil && time.Since(e.served) < e.patience
}

// backoff waits before try (1 for the first retry) of a request the
// endpoint throttled with err: the wait the service asked for, else the
// growing backoff. It reports false when ctx ended first.
func backoff(ctx context.Context, try int, err error) bool {
	wait := retryAfter(err)
	if wait <= 0 {
		wait = min(maxThrottleWait, minThrottleWait<<min(try-1, 8))
		wait = wait/2 + rand.N(wait/2+1) // jitter, so that retries spread out
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// retryAfter is the wait a throttled answer asked for, zero when none.
func retryAfter(err error) time.Duration {
	var pe *provider.Error
	if errors.As(err, &pe) {
		return pe.RetryAfter
	}
	return 0
}

// errorFor is err, the failure that took an endpoint down, for another
// secret: the same kind, message and hint, naming ref.
func errorFor(err error, ref provider.Ref) error {
	var pe *provider.Error
	if !errors.As(err, &pe) {
		return err
	}
	c := *pe
	c.Ref = ref
	return &c
}

// endpointFailure says whether err, a failed request, shows that the
// endpoint cannot be reached: outcomeDown for what will not change within
// a run (reach.Unreachable: connection refused, no such host, a
// certificate that cannot be verified, TLS spoken to a plaintext server),
// outcomeStrike for a connection-level failure that may pass (a timeout, a
// reset), and outcomeAnswered for anything else (the endpoint answered).
//
// It reads the error chain the provider kept; gRPC keeps only the text of
// a transport failure, so for an unavailable error the innermost error's
// text is read too, for the phrases Go's net package (and Windows) use.
func endpointFailure(err error) outcome {
	if reach.Unreachable(err) {
		return outcomeDown
	}
	var ne net.Error
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns): // a name server that did not answer, this time
		return outcomeStrike
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, context.DeadlineExceeded):
		return outcomeStrike
	case errors.As(err, &ne) && ne.Timeout():
		return outcomeStrike
	case !errors.Is(err, provider.ErrUnavailable):
		return outcomeAnswered
	}
	inner := reach.Innermost(err)
	if _, ok := inner.(*provider.Error); ok {
		return outcomeAnswered // no cause was kept: nothing says the endpoint failed
	}
	msg := strings.ToLower(inner.Error())
	for _, s := range []string{"connection reset", "i/o timeout", "deadline exceeded", "broken pipe",
		"unexpected eof", "forcibly closed", "network is unreachable", "no route to host"} {
		if strings.Contains(msg, s) {
			return outcomeStrike
		}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// net/http could not send the request or read an answer, for a
		// reason not named above.
		return outcomeStrike
	}
	return outcomeAnswered
}
