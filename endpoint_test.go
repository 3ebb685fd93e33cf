package envdrift

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/provider"
)

// unavailable wraps a real transport error as a provider does.
func unavailable(ref string, err error) error {
	return provider.NewError(provider.ErrUnavailable, "test", provider.Ref{Name: ref}, "GET failed: "+err.Error(), err)
}

// closedAddr returns an address of 127.0.0.1 where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// get sends one GET with client and returns its error (nil for any answer).
func get(t *testing.T, client *http.Client, url string) error {
	t.Helper()
	resp, err := client.Get(url)
	if err == nil {
		_ = resp.Body.Close()
	}
	return err
}

func TestEndpointFailure_RealTransportErrors(t *testing.T) {
	plain := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(plain.Close)
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(tlsSrv.Close)
	stall := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-stall }))
	t.Cleanup(func() { close(stall); slow.Close() })
	reset := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = c.(*net.TCPConn).SetLinger(0)
			_ = c.Close()
		}
	}))
	t.Cleanup(reset.Close)

	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	impatient := &http.Client{Transport: &http.Transport{}, Timeout: 50 * time.Millisecond}
	cases := []struct {
		name string
		err  error
		want outcome
	}{
		{"connection refused", get(t, client, "http://"+closedAddr(t)+"/"), outcomeDown},
		{"certificate from an unknown authority", get(t, client, tlsSrv.URL), outcomeDown},
		{"https:// to a plaintext server", get(t, client, "https"+plain.URL[len("http"):]), outcomeDown},
		{"timeout", get(t, impatient, slow.URL), outcomeStrike},
		{"connection reset", get(t, client, reset.URL), outcomeStrike},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Error(t, tc.err)
			assert.Equal(t, tc.want, endpointFailure(unavailable("k", tc.err)), "%v", tc.err)
		})
	}
	t.Run("host name that does not exist", func(t *testing.T) {
		err := &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "kv1.vault.azure.net", IsNotFound: true}}
		// Azure reports a vault whose host does not exist as not found.
		nf := provider.NewError(provider.ErrNotFound, "azure", provider.Ref{Name: "k"}, "vault host does not exist", err)
		assert.Equal(t, outcomeDown, endpointFailure(nf))
		tmp := &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "server misbehaving", Name: "x", IsTemporary: true}}
		assert.Equal(t, outcomeStrike, endpointFailure(unavailable("k", tmp)), "a DNS server that failed to answer may answer next time")
	})
	t.Run("gRPC keeps only the text", func(t *testing.T) {
		refused := errors.New(`rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"`)
		assert.Equal(t, outcomeDown, endpointFailure(unavailable("k", refused)))
		reset := errors.New(`rpc error: code = Unavailable desc = error reading from server: read tcp 127.0.0.1:5->127.0.0.1:6: read: connection reset by peer`)
		assert.Equal(t, outcomeStrike, endpointFailure(unavailable("k", reset)))
	})
	t.Run("answers about one secret", func(t *testing.T) {
		for _, k := range []error{provider.ErrNotFound, provider.ErrPermissionDenied, provider.ErrInvalid, provider.ErrUnauthenticated} {
			assert.Equal(t, outcomeAnswered, endpointFailure(provider.NewError(k, "test", provider.Ref{Name: "k"}, "no", nil)), k.Error())
		}
		// A server error whose text quotes a refused connection of the
		// server's own (Vault's storage backend) is an answer.
		quoted := provider.NewError(provider.ErrUnavailable, "test", provider.Ref{Name: "k"},
			"500: dial tcp 10.0.0.5:5432: connect: connection refused", nil)
		assert.Equal(t, outcomeAnswered, endpointFailure(quoted))
	})
}

func TestJudge_ThrottlingCancellationAndPanicsAreNotEndpointFailures(t *testing.T) {
	ctx := context.Background()
	assert.Equal(t, outcomeAnswered, judge(ctx, nil))
	assert.Equal(t, outcomeThrottled, judge(ctx, provider.NewError(provider.ErrThrottled, "t", provider.Ref{}, "429", nil)))
	assert.Equal(t, outcomeNone, judge(ctx, fmt.Errorf("x: %w", &panicError{Where: "provider t"})))
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	assert.Equal(t, outcomeNone, judge(cancelled, unavailable("k", context.Canceled)), "a cancelled run says nothing about the endpoint")
}

// answer runs one request on e with outcome o.
func answer(t *testing.T, e *endpoint, ref string, o outcome, err error) {
	t.Helper()
	p, aerr := e.acquire(context.Background(), provider.Ref{Name: ref})
	require.NoError(t, aerr)
	e.release(p, o, err)
}

func TestEndpoint_DownFailsLaterRequestsAtOnceNamingTheirSecret(t *testing.T) {
	e := newEndpoint(4, time.Minute)
	refused := provider.NewError(provider.ErrUnavailable, "hashicorp", provider.Ref{Vault: "secret", Name: "first"},
		"cannot reach Vault at http://127.0.0.1:1", errors.New("connect: connection refused")).WithHint("check url")
	answer(t, e, "first", outcomeDown, refused)

	_, err := e.acquire(context.Background(), provider.Ref{Vault: "secret", Name: "second"})
	require.ErrorIs(t, err, provider.ErrUnavailable)
	var pe *provider.Error
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, provider.Ref{Vault: "secret", Name: "second"}, pe.Ref, "the row names its own secret")
	assert.Equal(t, refused.Message, pe.Message, "the same message, so the failure is explained once")
	assert.Equal(t, refused.Hint, pe.Hint)
	assert.Equal(t, "hashicorp: secret secret/second: unavailable: cannot reach Vault at http://127.0.0.1:1 (check url)", err.Error())
	assert.Equal(t, provider.Ref{Vault: "secret", Name: "first"}, refused.Ref, "the original is not changed")
}

func TestEndpoint_ConnectionFailuresTripOnlyWhenRepeatedWithoutAnAnswer(t *testing.T) {
	e := newEndpoint(4, time.Minute)
	timeout := unavailable("k", context.DeadlineExceeded)
	for range tripAfter - 1 {
		answer(t, e, "k", outcomeStrike, timeout)
	}
	answer(t, e, "ok", outcomeAnswered, nil)
	for range tripAfter - 1 {
		answer(t, e, "k", outcomeStrike, timeout)
	}
	p, err := e.acquire(context.Background(), provider.Ref{Name: "next"})
	require.NoError(t, err, "an answer in between starts the count again")
	e.release(p, outcomeStrike, timeout)
	_, err = e.acquire(context.Background(), provider.Ref{Name: "after"})
	assert.ErrorIs(t, err, provider.ErrUnavailable, "%d failures in a row take the endpoint down", tripAfter)
}

func TestEndpoint_PerSecretErrorsNeverTakeItDown(t *testing.T) {
	e := newEndpoint(2, time.Minute)
	for i := range 100 {
		err := provider.NewError(provider.ErrNotFound, "t", provider.Ref{Name: "k"}, "no such secret", nil)
		answer(t, e, fmt.Sprint(i), judge(context.Background(), err), err)
	}
	_, err := e.acquire(context.Background(), provider.Ref{Name: "k"})
	assert.NoError(t, err)
}

func (e *endpoint) state() (limit float64, inflight int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.limit, e.inflight
}

func TestEndpoint_ThrottlingHalvesTheLimitOncePerRoundAndAnswersGrowItBack(t *testing.T) {
	e := newEndpoint(16, time.Minute)
	throttled := provider.NewError(provider.ErrThrottled, "t", provider.Ref{}, "429", nil)
	var round []permit
	for range 16 {
		p, err := e.acquire(context.Background(), provider.Ref{Name: "k"})
		require.NoError(t, err)
		round = append(round, p)
	}
	for _, p := range round {
		e.release(p, outcomeThrottled, throttled)
	}
	limit, inflight := e.state()
	assert.Equal(t, 8.0, limit, "16 requests throttled together halve the limit once")
	assert.Zero(t, inflight)
	answer(t, e, "k", outcomeThrottled, throttled)
	limit, _ = e.state()
	assert.Equal(t, 4.0, limit, "a request sent after the decrease decreases again")

	for range 4 {
		answer(t, e, "k", outcomeAnswered, nil)
	}
	limit, _ = e.state()
	assert.InDelta(t, 5.0, limit, 0.1, "a round of prompt answers adds about one")
	for range 1000 {
		answer(t, e, "k", outcomeAnswered, nil)
	}
	limit, _ = e.state()
	assert.Equal(t, 16.0, limit, "never above the run's concurrency")
}

func TestEndpoint_AcquireWaitsForAPlaceAndForTheContext(t *testing.T) {
	e := newEndpoint(1, time.Minute)
	p, err := e.acquire(context.Background(), provider.Ref{Name: "a"})
	require.NoError(t, err)

	got := make(chan error, 1)
	go func() {
		q, err := e.acquire(context.Background(), provider.Ref{Name: "b"})
		if err == nil {
			e.release(q, outcomeAnswered, nil)
		}
		got <- err
	}()
	select {
	case <-got:
		t.Fatal("a second request started while the only place was taken")
	case <-time.After(20 * time.Millisecond):
	}
	e.release(p, outcomeAnswered, nil)
	assert.NoError(t, <-got, "the waiting request starts once the place is free")

	p, err = e.acquire(context.Background(), provider.Ref{Name: "a"})
	require.NoError(t, err)
	defer e.release(p, outcomeNone, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = e.acquire(ctx, provider.Ref{Name: "c"})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestEndpoint_WaitersFailAtOnceWhenTheEndpointGoesDown(t *testing.T) {
	e := newEndpoint(1, time.Minute)
	p, err := e.acquire(context.Background(), provider.Ref{Name: "a"})
	require.NoError(t, err)
	got := make(chan error, 1)
	go func() {
		_, err := e.acquire(context.Background(), provider.Ref{Name: "b"})
		got <- err
	}()
	e.release(p, outcomeDown, unavailable("a", errors.New("connect: connection refused")))
	err = <-got
	require.ErrorIs(t, err, provider.ErrUnavailable)
	var pe *provider.Error
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "b", pe.Ref.Name)
}

func TestEndpoint_ThrottledRequestsAreRetriedWhileTheEndpointAnswersOrTheDeadlineLasts(t *testing.T) {
	e := newEndpoint(1, time.Hour)
	assert.True(t, e.retryable(context.Background()))
	e.served = time.Now().Add(-2 * time.Hour)
	assert.False(t, e.retryable(context.Background()), "nothing but throttling for the endpoint's patience")
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	assert.True(t, e.retryable(ctx), "a deadline of the caller's own is the limit")
	cancel()
	assert.False(t, e.retryable(ctx))
}
