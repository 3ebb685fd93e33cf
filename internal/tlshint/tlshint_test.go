package tlshint_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/testserver/tlsfault"
	"github.com/envdrift/envdrift/internal/tlshint"
)

func TestClassify_EachRealHandshakeFailure(t *testing.T) {
	for fault, want := range map[tlsfault.Fault]tlshint.Cause{
		tlsfault.UnknownAuthority: tlshint.UnknownAuthority,
		tlsfault.WrongHost:        tlshint.WrongHost,
		tlsfault.Expired:          tlshint.Expired,
	} {
		srv, err := tlsfault.Start(fault)
		require.NoError(t, err)
		t.Cleanup(srv.Close)
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsfault.ClientConfig(t, srv, fault != tlsfault.UnknownAuthority)}}
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL(), nil)
		require.NoError(t, err)
		resp, err := c.Do(req)
		if resp != nil {
			resp.Body.Close()
		}
		require.Error(t, err)
		assert.Equal(t, want, tlshint.Classify(err), "%v", err)
		assert.Equal(t, want, tlshint.ClassifyText(err.Error()), "as text: %v", err)
	}
}

func TestClassify_PlaintextAndNonTLS(t *testing.T) {
	srv := &http.Server{Handler: http.NotFoundHandler()}
	ln := tlsfault.Listen(t)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	resp, err := http.Get("https://" + ln.Addr().String())
	if resp != nil {
		resp.Body.Close()
	}
	require.Error(t, err)
	assert.Equal(t, tlshint.Plaintext, tlshint.Classify(err), "%v", err)

	tsrv, err := tlsfault.Start(tlsfault.UnknownAuthority)
	require.NoError(t, err)
	t.Cleanup(tsrv.Close)
	resp, err = http.Get(strings.Replace(tsrv.URL(), "https://", "http://", 1))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.True(t, tlshint.PlainHTTPToTLS(string(body)), "%q", body)

	assert.Equal(t, tlshint.None, tlshint.Classify(errors.New("dial tcp 127.0.0.1:1: connect: connection refused")))
	assert.Equal(t, tlshint.None, tlshint.Classify(nil))
}
