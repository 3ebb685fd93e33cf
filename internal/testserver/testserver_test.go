package testserver_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/testserver"
)

// clock is a test clock that moves only when told to.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func begin(b *testserver.Base, op string) testserver.Verdict {
	return b.Begin(httptest.NewRequest(http.MethodGet, "/", nil), op)
}

func TestQuota_IsATokenBucketAndTellsWhenTheNextTokenComes(t *testing.T) {
	b := testserver.NewBase("v")
	c := &clock{now: time.Unix(1_700_000_000, 0)}
	b.SetClock(c.Now)
	b.SetQuota(testserver.Quota{Rate: 2, Burst: 2})

	v := begin(b, "Get")
	assert.Equal(t, testserver.FaultNone, v.Fault)
	require.NotNil(t, v.Quota)
	assert.Equal(t, testserver.QuotaState{Limit: 2, Remaining: 1, Reset: 500 * time.Millisecond}, *v.Quota)
	assert.Equal(t, testserver.FaultNone, begin(b, "Get").Fault, "the burst allows two at once")

	v = begin(b, "Get")
	assert.Equal(t, testserver.FaultThrottle, v.Fault, "the third request finds the bucket empty")
	assert.Equal(t, 500*time.Millisecond, v.RetryAfter, "a token comes every half second")
	assert.Equal(t, 0, v.Quota.Remaining)

	c.Advance(200 * time.Millisecond)
	v = begin(b, "Get")
	assert.Equal(t, testserver.FaultThrottle, v.Fault)
	assert.Equal(t, 300*time.Millisecond, v.RetryAfter)

	c.Advance(300 * time.Millisecond)
	assert.Equal(t, testserver.FaultNone, begin(b, "Get").Fault, "a token has come")
	assert.Equal(t, testserver.FaultThrottle, begin(b, "Get").Fault)

	c.Advance(time.Hour)
	v = begin(b, "Get")
	assert.Equal(t, testserver.FaultNone, v.Fault)
	assert.Equal(t, 1, v.Quota.Remaining, "the bucket holds no more than its burst")

	assert.Equal(t, 7, b.Requests(), "throttled requests count: the service saw them")
	assert.Equal(t, 7, b.Count("Get"))
}

func TestQuota_LimitsOnlyItsOperationsAndCanBeRemoved(t *testing.T) {
	b := testserver.NewBase("v")
	b.SetClock((&clock{now: time.Unix(0, 0)}).Now)
	b.SetQuota(testserver.Quota{Rate: 0.5, Ops: []string{"Batch"}})

	assert.Equal(t, testserver.FaultNone, begin(b, "Batch").Fault, "Burst 0 means Rate rounded up, at least 1")
	v := begin(b, "Batch")
	assert.Equal(t, testserver.FaultThrottle, v.Fault)
	assert.Equal(t, 2*time.Second, v.RetryAfter)
	for range 5 {
		v = begin(b, "Get")
		assert.Equal(t, testserver.FaultNone, v.Fault, "other operations are not limited")
		assert.Nil(t, v.Quota)
	}
	assert.Equal(t, map[string]int{"Batch": 2, "Get": 5}, b.Ops())
	assert.Equal(t, 7, b.Count("Batch", "Get"))

	b.SetQuota(testserver.Quota{})
	assert.Equal(t, testserver.FaultNone, begin(b, "Batch").Fault, "a zero Rate removes the quota")
	b.SetQuota(testserver.Quota{Rate: 1})
	b.Reset()
	assert.Nil(t, begin(b, "Batch").Quota, "Reset removes the quota")
}

func TestInjectedThrottleCarriesTheRetryAfterSet(t *testing.T) {
	b := testserver.NewBase("v")
	b.Throttle(2)
	b.SetRetryAfter(3 * time.Second)
	assert.Equal(t, testserver.Verdict{Fault: testserver.FaultThrottle, RetryAfter: 3 * time.Second}, begin(b, "Get"))
	b.SetRetryAfter(0)
	assert.Equal(t, testserver.Verdict{Fault: testserver.FaultThrottle}, begin(b, "Get"), "zero leaves it to the service")
	assert.Equal(t, testserver.FaultNone, begin(b, "Get").Fault, "only the next n requests")
}

// serve starts a Base whose every request is one operation answered "ok".
func serve(t *testing.T, o testserver.ServeOptions) *testserver.Base {
	t.Helper()
	b := testserver.NewBase("v")
	require.NoError(t, b.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := b.Begin(r, "Op"); v.Fault != testserver.FaultNone {
			http.Error(w, "fault", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}), o))
	t.Cleanup(b.Close)
	return b
}

func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

func TestServe_ListensOnLoopbackOnly(t *testing.T) {
	b := serve(t, testserver.ServeOptions{})
	host, _, err := net.SplitHostPort(b.Addr())
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", host)
	body, err := get(http.DefaultClient, "http://"+b.Addr()+"/")
	require.NoError(t, err)
	assert.Equal(t, "ok", body)
}

func TestServe_TLSWithTheTestCAAndHTTP2(t *testing.T) {
	b := serve(t, testserver.ServeOptions{TLS: true, HTTP2: true, Hosts: []string{"*.example.test"}})
	pool, err := testserver.CAPool()
	require.NoError(t, err)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr}).Get("https://" + b.Addr() + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 2, resp.ProtoMajor, "h2 is offered")
	assert.Equal(t, "127.0.0.1", resp.TLS.PeerCertificates[0].Subject.CommonName)
	assert.Contains(t, resp.TLS.PeerCertificates[0].DNSNames, "*.example.test")

	_, err = get(http.DefaultClient, "https://"+b.Addr()+"/")
	var unknown x509.UnknownAuthorityError
	assert.ErrorAs(t, err, &unknown, "the test CA is not in the system roots of this process")
}

func TestRefuseAfter_TheEndpointDiesAfterNRequests(t *testing.T) {
	b := serve(t, testserver.ServeOptions{})
	url := "http://" + b.Addr() + "/"
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr}

	b.RefuseAfter(2)
	for range 2 {
		body, err := get(c, url)
		require.NoError(t, err)
		assert.Equal(t, "ok", body)
	}
	assert.True(t, b.Dead())
	_, err := get(c, url)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED, "the listener is closed: %v", err)
	conn, err := net.DialTimeout("tcp", b.Addr(), time.Second)
	if err == nil {
		conn.Close()
	}
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.Equal(t, 2, b.Requests(), "a dead endpoint sees nothing")

	b.Reset()
	assert.True(t, b.Dead(), "Reset does not revive it")
}

func TestRefuseAfter_ResetsRequestsOnConnectionsStillOpen(t *testing.T) {
	b := serve(t, testserver.ServeOptions{})
	conn, err := net.Dial("tcp", b.Addr())
	require.NoError(t, err)
	defer conn.Close()
	b.RefuseAfter(0)
	_, err = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return // the reset arrived before the request could even be sent
	}
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	n, err := conn.Read(make([]byte, 64))
	assert.Zero(t, n, "no answer")
	assert.True(t, errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF), "the connection is dropped: %v", err)
}

func TestClose_ReleasesStalledRequests(t *testing.T) {
	b := serve(t, testserver.ServeOptions{})
	b.Inject(testserver.FaultStall)
	done := make(chan error, 1)
	go func() {
		_, err := get(http.DefaultClient, "http://"+b.Addr()+"/")
		done <- err
	}()
	require.Eventually(t, func() bool { return b.Requests() == 1 }, 5*time.Second, 5*time.Millisecond)
	b.Close()
	select {
	case err := <-done:
		assert.Error(t, err, "the stalled request gets no answer")
	case <-time.After(5 * time.Second):
		t.Fatal("Close left the stalled request hanging")
	}
}

func TestStall_EndsWhenTheClientGivesUp(t *testing.T) {
	b := serve(t, testserver.ServeOptions{})
	b.Inject(testserver.FaultStall)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.Addr()+"/", nil)
	require.NoError(t, err)
	_, err = http.DefaultClient.Do(req)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	b.Reset()
	body, err := get(http.DefaultClient, "http://"+b.Addr()+"/")
	require.NoError(t, err)
	assert.Equal(t, "ok", body, "the server serves on")
}
