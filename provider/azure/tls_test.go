package azure_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/testserver/tlsfault"
	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/azure"
)

// noCredential is never asked for a token: the handshake fails first.
type noCredential struct{}

func (noCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, nil
}

// Each TLS failure gets its own cause and remedy, provoked through the
// real SDK against a real listener. The faulty servers' CAs are not in
// the system store, but Go reports a wrong host name or an expired
// certificate before it looks for the authority.
func TestTLS_EachFailureHasItsOwnHint(t *testing.T) {
	for fault, want := range map[tlsfault.Fault]string{
		tlsfault.UnknownAuthority: "signed by an authority this machine does not trust",
		tlsfault.WrongHost:        "is for another host name",
		tlsfault.Expired:          "has expired or is not yet valid",
	} {
		srv, err := tlsfault.Start(fault)
		require.NoError(t, err)
		t.Cleanup(srv.Close)
		p := open(t, azure.Settings{VaultURL: srv.URL() + "/", DisableChallengeResourceVerification: true, Credential: noCredential{}},
			provider.Options{Retry: provider.RetryPolicy{MaxAttempts: 1}})
		_, err = p.Fetch(context.Background(), provider.Ref{Name: "x"})
		require.ErrorIs(t, err, provider.ErrUnavailable)
		var pe *provider.Error
		require.ErrorAs(t, err, &pe)
		assert.Contains(t, pe.Hint, want, "%v", err)
	}
}

func TestTLS_PlaintextServerBehindHTTPSURL(t *testing.T) {
	ln := tlsfault.Listen(t)
	plain := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = plain.Serve(ln) }()
	t.Cleanup(func() { _ = plain.Close() })
	p := open(t, azure.Settings{VaultURL: "https://" + ln.Addr().String() + "/", DisableChallengeResourceVerification: true, Credential: noCredential{}},
		provider.Options{Retry: provider.RetryPolicy{MaxAttempts: 1}})
	_, err := p.Fetch(context.Background(), provider.Ref{Name: "x"})
	require.ErrorIs(t, err, provider.ErrUnavailable)
	var pe *provider.Error
	require.ErrorAs(t, err, &pe)
	assert.Contains(t, pe.Hint, "answers in plaintext, not TLS")
	assert.False(t, strings.Contains(pe.Hint, "proxy may be in the way"))
}
