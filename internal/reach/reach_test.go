package reach_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/reach"
	"github.com/envdrift/envdrift/provider"
)

func TestUnreachable_FailuresThatRetryingSoonWouldNotChange(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())
	plain := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(plain.Close)
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(tlsSrv.Close)
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	get := func(url string) error {
		resp, err := client.Get(url)
		if err == nil {
			_ = resp.Body.Close()
		}
		require.Error(t, err, url)
		return err
	}
	wrap := func(err error) error {
		return provider.NewError(provider.ErrUnavailable, "test", provider.Ref{Name: "k"}, "request failed", fmt.Errorf("GET: %w", err))
	}

	assert.True(t, reach.Unreachable(wrap(get("http://"+closed+"/"))), "connection refused")
	assert.True(t, reach.Unreachable(wrap(get(tlsSrv.URL))), "a certificate from an unknown authority")
	assert.True(t, reach.Unreachable(wrap(get("https"+plain.URL[len("http"):]))), "TLS to a plaintext server")
	assert.True(t, reach.Unreachable(wrap(&net.OpError{Op: "dial", Net: "tcp",
		Err: &net.DNSError{Err: "no such host", Name: "vault.example.invalid", IsNotFound: true}})), "a host name that does not exist")
	assert.True(t, reach.Unreachable(wrap(errors.New(`rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"`))),
		"gRPC keeps only the text of the dial error")

	assert.False(t, reach.Unreachable(nil))
	assert.False(t, reach.Unreachable(wrap(&net.OpError{Op: "dial", Net: "tcp",
		Err: &net.DNSError{Err: "server misbehaving", Name: "vault.example.com", IsTemporary: true}})), "a name server that failed this time")
	assert.False(t, reach.Unreachable(wrap(errors.New("read: connection reset by peer"))))
	assert.False(t, reach.Unreachable(provider.NewError(provider.ErrUnavailable, "test", provider.Ref{Name: "k"},
		"500: storage: dial tcp 10.0.0.5:5432: connect: connection refused", nil)), "a server's own words about its backend")
	assert.False(t, reach.Unreachable(provider.NewError(provider.ErrNotFound, "test", provider.Ref{Name: "k"}, "no such secret", nil)))
}
