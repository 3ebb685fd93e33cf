package aws_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/reach"
	"github.com/envdrift/envdrift/internal/testserver/awssm"
	"github.com/envdrift/envdrift/provider"
	awsp "github.com/envdrift/envdrift/provider/aws"
)

// TestFetchBatch_ConcurrentCallsShareOneRefusedProbe: the Syncer hands a
// provider one chunk of 20 secrets per FetchBatch call, several calls at
// once. When BatchGetSecretValue is not allowed, the calls still make one
// refused batch request between them, not one each, and every secret is
// read with GetSecretValue.
func TestFetchBatch_ConcurrentCallsShareOneRefusedProbe(t *testing.T) {
	srv := startServer(t)
	srv.DenyBatch(true)
	srv.SetLatency(20 * time.Millisecond)
	refs := seed(srv, "", "c", 200)
	p := newProvider(t, awsp.Settings{}, provider.Options{})

	var wg sync.WaitGroup
	for chunk := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			part := refs[chunk*20 : (chunk+1)*20]
			for i, r := range p.FetchBatch(ctx(t), part) {
				assert.NoError(t, r.Err, part[i].String())
			}
		}()
	}
	wg.Wait()
	ops := srv.Ops()
	assert.Equal(t, 1, ops["BatchGetSecretValue"], "one refused batch call between the concurrent calls")
	assert.Equal(t, 200, ops["GetSecretValue"])
	require.Len(t, p.Notices(), 1)
}

// TestFetchBatch_ConcurrentCallsBatchOnceAllowed: when batches are allowed,
// concurrent calls each use BatchGetSecretValue once their first probe
// succeeded.
func TestFetchBatch_ConcurrentCallsBatchOnceAllowed(t *testing.T) {
	srv := startServer(t)
	srv.SetLatency(20 * time.Millisecond)
	refs := seed(srv, "", "ok", 200)
	p := newProvider(t, awsp.Settings{}, provider.Options{})

	var wg sync.WaitGroup
	for chunk := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			part := refs[chunk*20 : (chunk+1)*20]
			for i, r := range p.FetchBatch(ctx(t), part) {
				if assert.NoError(t, r.Err, part[i].String()) {
					assert.Equal(t, fmt.Sprintf("%s:%d", awssm.DefaultRegion, chunk*20+i), string(r.Secret.Value))
				}
			}
		}()
	}
	wg.Wait()
	ops := srv.Ops()
	assert.Equal(t, 10, ops["BatchGetSecretValue"])
	assert.Zero(t, ops["GetSecretValue"])
}

// TestFetchBatch_EndpointWithoutBatchIsRememberedAfterOneCall: an endpoint
// that does not have BatchGetSecretValue (one that predates it, or
// LocalStack) answers the first batch call; the provider remembers that
// answer for its lifetime, reads every secret with GetSecretValue, and
// says so once in a notice that names the answer.
func TestFetchBatch_EndpointWithoutBatchIsRememberedAfterOneCall(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode awssm.BatchMode
		why  string
	}{
		{"unknown operation", awssm.BatchUnknownOperation, "UnknownOperationException"},
		{"not implemented", awssm.BatchNotImplemented, "HTTP 501 Not Implemented"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t)
			srv.SetBatchMode(tc.mode)
			refs := seed(srv, "", "u", 100)
			p := newProvider(t, awsp.Settings{}, provider.Options{})

			var wg sync.WaitGroup
			for chunk := range 5 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					part := refs[chunk*20 : (chunk+1)*20]
					for i, r := range p.FetchBatch(ctx(t), part) {
						assert.NoError(t, r.Err, part[i].String())
					}
				}()
			}
			wg.Wait()
			for i, r := range p.FetchBatch(ctx(t), refs[:20]) {
				assert.NoError(t, r.Err, refs[i].String())
			}
			ops := srv.Ops()
			assert.Equal(t, 1, ops["BatchGetSecretValue"], "one batch call for the provider's lifetime")
			assert.Equal(t, 120, ops["GetSecretValue"])
			require.Error(t, p.BatchFallback())
			require.Len(t, p.Notices(), 1)
			assert.Contains(t, p.Notices()[0], "does not support BatchGetSecretValue ("+tc.why+")")
			assert.Contains(t, p.Notices()[0], "one at a time with GetSecretValue")
		})
	}
}

// TestFetch_RefusedConnectionIsReportedWithoutRetries: retrying a refused
// connection within seconds gives the same answer, so the first attempt's
// error is reported; envdrift fails the run's other requests for the
// endpoint with it.
func TestFetch_RefusedConnectionIsReportedWithoutRetries(t *testing.T) {
	srv := startServer(t)
	srv.RefuseAfter(0)
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	_, err := p.Fetch(ctx(t), provider.Ref{Name: "k"})
	require.ErrorIs(t, err, provider.ErrUnavailable)
	assert.Contains(t, err.Error(), "connection refused")
	assert.Contains(t, err.Error(), "after 1 attempt(s)")
	assert.True(t, reach.Unreachable(err))
}
