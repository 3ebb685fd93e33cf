package gcp_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/testserver/gcpsm"
	"github.com/envdrift/envdrift/internal/testserver/tlsfault"
	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/gcp"
)

// startEmulator starts a plaintext Secret Manager that checks no
// credentials, and takes every credential away from the environment.
func startEmulator(t *testing.T) *gcpsm.Server {
	t.Helper()
	srv, err := gcpsm.StartEmulator()
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	for _, k := range []string{gcp.GcloudProjectEnv, gcp.EndpointEnv, "GOOGLE_APPLICATION_CREDENTIALS", "GCE_METADATA_HOST"} {
		t.Setenv(k, "")
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv(gcp.ProjectEnv, gcpsm.DefaultProject)
	return srv
}

func TestEmulator_HTTPEndpointIsPlaintextWithoutCredentials(t *testing.T) {
	srv := startEmulator(t)
	srv.Put("", "api-key", []byte("v"))
	p, err := gcp.New(gcp.Settings{Endpoint: srv.URL()}, provider.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	assert.Equal(t, "project "+gcpsm.DefaultProject+" at "+srv.Endpoint()+" (plaintext emulator)", p.Describe(""))
	got, err := p.Fetch(context.Background(), provider.Ref{Name: "api-key"})
	require.NoError(t, err, "no TLS, no Application Default Credentials")
	assert.Equal(t, "v", string(got.Value))
}

func TestEmulator_PlaintextEndpointWithoutSchemeIsExplained(t *testing.T) {
	srv := startEmulator(t)
	srv.Put("", "api-key", []byte("v"))
	t.Setenv("GCE_METADATA_HOST", "127.0.0.1:1") // no metadata server probe
	p, err := gcp.New(gcp.Settings{Endpoint: srv.Endpoint()}, provider.Options{Retry: provider.RetryPolicy{MaxAttempts: 1}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	_, err = p.Fetch(context.Background(), provider.Ref{Name: "api-key"})
	require.Error(t, err)
	var pe *provider.Error
	require.ErrorAs(t, err, &pe)
	if errors.Is(pe, provider.ErrUnauthenticated) {
		t.Skip("this machine has no credentials for the TLS client to start with; the handshake was never tried")
	}
	assert.Equal(t, "unavailable", provider.KindOf(pe), "%v", err)
	assert.Contains(t, pe.Hint, srv.Endpoint()+" answers in plaintext, not TLS")
	assert.Contains(t, pe.Hint, `endpoint = "http://`+srv.Endpoint()+`"`)
	assert.NotContains(t, pe.Hint, "not trusted")
}

func TestPinnedVersion_DisabledOrDestroyedNamesThatVersion(t *testing.T) {
	srv := startServer(t, gcpsm.ExternalAccount)
	admin := adminClient(t, srv)
	addVersions(t, admin, gcpsm.DefaultProject, "k", "v1", "v2", "v3")
	ctx := context.Background()
	_, err := admin.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: "projects/envdrift-test/secrets/k/versions/1"})
	require.NoError(t, err)
	_, err = admin.DestroySecretVersion(ctx, &secretmanagerpb.DestroySecretVersionRequest{Name: "projects/envdrift-test/secrets/k/versions/2"})
	require.NoError(t, err)
	p := newProvider(t, gcp.Settings{}, provider.Options{})

	_, err = fetch(t, p, provider.Ref{Name: "projects/envdrift-test/secrets/k/versions/1"})
	require.ErrorIs(t, err, provider.ErrNotFound)
	pe := providerError(t, err)
	assert.Contains(t, pe.Message, "is in DISABLED state")
	assert.Equal(t, "version 1 of k is disabled: enable it (`gcloud secrets versions enable 1 --secret k --project envdrift-test`) or pin another version", pe.Hint)
	assert.NotContains(t, pe.Hint, "latest")

	_, err = fetch(t, p, provider.Ref{Name: "projects/envdrift-test/secrets/k/versions/2"})
	require.ErrorIs(t, err, provider.ErrNotFound)
	pe = providerError(t, err)
	assert.Contains(t, pe.Message, "is in DESTROYED state")
	assert.Contains(t, pe.Hint, "version 2 of k was destroyed and cannot come back")
	assert.NotContains(t, pe.Hint, "enable")
}

// TestTLS_EachFailureHasItsOwnHint provokes each certificate fault through
// the real gRPC client.
func TestTLS_EachFailureHasItsOwnHint(t *testing.T) {
	for fault, want := range map[tlsfault.Fault]string{
		tlsfault.UnknownAuthority: "is not trusted",
		tlsfault.WrongHost:        "is for another host name",
		tlsfault.Expired:          "has expired",
	} {
		startServer(t, gcpsm.ExternalAccount) // credentials the client can use
		srv, err := tlsfault.Start(fault)
		require.NoError(t, err)
		t.Cleanup(srv.Close)
		endpoint := strings.TrimPrefix(srv.URL(), "https://")
		p := newProvider(t, gcp.Settings{Endpoint: endpoint}, provider.Options{Retry: provider.RetryPolicy{MaxAttempts: 1}})
		_, err = fetch(t, p, provider.Ref{Name: "k"})
		require.ErrorIs(t, err, provider.ErrUnavailable)
		pe := providerError(t, err)
		assert.Contains(t, pe.Hint, want, "%v", err)
	}
}
