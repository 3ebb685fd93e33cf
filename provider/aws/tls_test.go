package aws_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/testserver/awssm"
	"github.com/envdrift/envdrift/internal/testserver/tlsfault"
	"github.com/envdrift/envdrift/provider"
	awsp "github.com/envdrift/envdrift/provider/aws"
)

// Each TLS failure gets its own cause and remedy, provoked through the
// real SDK against a real listener.
func TestTLS_EachFailureHasItsOwnHint(t *testing.T) {
	for fault, want := range map[tlsfault.Fault]string{
		tlsfault.UnknownAuthority: "signed by an authority this machine does not trust: set AWS_CA_BUNDLE",
		tlsfault.WrongHost:        "is for another host name",
		tlsfault.Expired:          "has expired or is not yet valid",
	} {
		startServer(t) // credentials and a clean AWS_* environment
		srv, err := tlsfault.Start(fault)
		require.NoError(t, err)
		t.Cleanup(srv.Close)
		t.Setenv("AWS_CA_BUNDLE", "")
		if fault != tlsfault.UnknownAuthority {
			t.Setenv("AWS_CA_BUNDLE", srv.CAFile())
		}
		p := newProvider(t, awsp.Settings{EndpointURL: srv.URL()}, provider.Options{Retry: provider.RetryPolicy{MaxAttempts: 1}})
		_, err = p.Fetch(context.Background(), provider.Ref{Name: "x"})
		require.ErrorIs(t, err, provider.ErrUnavailable)
		var pe *provider.Error
		require.ErrorAs(t, err, &pe)
		assert.Contains(t, pe.Hint, want, "%v", err)
		assert.NotContains(t, pe.Hint, "check network access")
	}
}

func TestTLS_PlaintextServerBehindHTTPSURL(t *testing.T) {
	srv := startServer(t)
	srv.Put(awssm.DefaultRegion, "x", []byte("v"))
	https := strings.Replace(srv.URL(), "http://", "https://", 1)
	p := newProvider(t, awsp.Settings{EndpointURL: https}, provider.Options{Retry: provider.RetryPolicy{MaxAttempts: 1}})
	_, err := p.Fetch(context.Background(), provider.Ref{Name: "x"})
	require.ErrorIs(t, err, provider.ErrUnavailable)
	var pe *provider.Error
	require.ErrorAs(t, err, &pe)
	assert.Contains(t, pe.Hint, "answers in plaintext, not TLS: use an http:// endpoint_url")
}

func TestTLS_TLSServerBehindHTTPURL(t *testing.T) {
	startServer(t)
	srv, err := tlsfault.Start(tlsfault.UnknownAuthority)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	p := newProvider(t, awsp.Settings{EndpointURL: strings.Replace(srv.URL(), "https://", "http://", 1)}, provider.Options{Retry: provider.RetryPolicy{MaxAttempts: 1}})
	_, err = p.Fetch(context.Background(), provider.Ref{Name: "x"})
	require.Error(t, err)
	var pe *provider.Error
	require.ErrorAs(t, err, &pe)
	assert.Contains(t, pe.Hint, "the server speaks TLS: use an https:// endpoint_url")
	assert.NotContains(t, pe.Hint, "captive portal")
}
