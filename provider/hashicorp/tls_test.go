package hashicorp_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/testserver/tlsfault"
	"github.com/envdrift/envdrift/internal/testserver/vaultkv"
	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/hashicorp"
)

// Each TLS failure gets its own cause and remedy, provoked through the
// real client against a real listener.
func TestTLS_EachFailureHasItsOwnHint(t *testing.T) {
	type outcome struct{ msg, hint, notHint string }
	faults := map[tlsfault.Fault]outcome{
		tlsfault.UnknownAuthority: {"signed by an authority this machine does not trust", "set VAULT_CACERT", "VAULT_TLS_SERVER_NAME"},
		tlsfault.WrongHost:        {"is not for this host name", "VAULT_TLS_SERVER_NAME", "VAULT_CACERT"},
		tlsfault.Expired:          {"has expired or is not yet valid", "renew the certificate", "VAULT_CACERT"},
	}
	for fault, want := range faults {
		srv, err := tlsfault.Start(fault)
		require.NoError(t, err)
		t.Cleanup(srv.Close)
		startServer(t) // a clean VAULT_* environment
		if fault != tlsfault.UnknownAuthority {
			t.Setenv("VAULT_CACERT", srv.CAFile()) // trusted: only the one fault remains
		} else {
			t.Setenv("VAULT_CACERT", "")
		}
		p := open(t, hashicorp.Settings{URL: srv.URL(), KVVersion: 2}, provider.Options{Retry: provider.RetryPolicy{MaxAttempts: 1}})
		_, err = fetch(p, "", "app")
		assert.ErrorIs(t, err, provider.ErrUnavailable, "%v", fault)
		assert.Contains(t, err.Error(), want.msg)
		assert.Contains(t, hintOf(t, err), want.hint)
		assert.NotContains(t, hintOf(t, err), want.notHint)
	}
}

func TestTLS_PlaintextServerBehindHTTPSURL(t *testing.T) {
	s := startServer(t)
	p := open(t, hashicorp.Settings{URL: strings.Replace(s.URL(), "http://", "https://", 1), KVVersion: 2}, provider.Options{Retry: provider.RetryPolicy{MaxAttempts: 1}})
	_, err := fetch(p, "", "app")
	assert.ErrorIs(t, err, provider.ErrUnavailable)
	assert.Contains(t, err.Error(), "does not speak TLS")
	assert.Contains(t, hintOf(t, err), "use an http:// url")
}

func TestTLS_TLSServerBehindHTTPURL(t *testing.T) {
	s, err := vaultkv.StartTLS()
	require.NoError(t, err)
	t.Cleanup(s.Close)
	setEnv(t, s)
	p := open(t, hashicorp.Settings{URL: strings.Replace(s.URL(), "https://", "http://", 1)}, provider.Options{Retry: provider.RetryPolicy{MaxAttempts: 1}})
	_, err = fetch(p, "", "app")
	assert.ErrorIs(t, err, provider.ErrUnavailable)
	assert.Contains(t, err.Error(), "speaks TLS, but the address says http://")
	assert.Contains(t, hintOf(t, err), "use an https:// url")
	assert.NotContains(t, err.Error(), "proxy")
}
