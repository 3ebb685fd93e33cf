package gcpsm_test

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/auth/credentials"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/googleapis/gax-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/option"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/envdrift/envdrift/internal/testserver"
	"github.com/envdrift/envdrift/internal/testserver/gcpsm"
)

var trustErr error

func TestMain(m *testing.M) {
	cleanup, err := testserver.TrustInProcess()
	trustErr = err
	code := m.Run()
	cleanup()
	os.Exit(code)
}

func start(t *testing.T, cred gcpsm.CredentialType) *gcpsm.Server {
	t.Helper()
	if trustErr != nil {
		t.Skipf("cannot trust the test CA on %s: %v", runtime.GOOS, trustErr)
	}
	srv, err := gcpsm.Start()
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	for _, kv := range srv.EnvWith(cred) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return srv
}

// client is the real generated client, built the default way: ADC from the
// environment, TLS verified against the system roots.
func client(t *testing.T, srv *gcpsm.Server, extra ...option.ClientOption) *secretmanager.Client {
	t.Helper()
	c, err := secretmanager.NewClient(context.Background(), append([]option.ClientOption{option.WithEndpoint(srv.Endpoint())}, extra...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

var noRetry = gax.WithRetry(func() gax.Retryer { return nil })

func access(t *testing.T, c *secretmanager.Client, name string) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	t.Helper()
	return c.AccessSecretVersion(ctx(t), &secretmanagerpb.AccessSecretVersionRequest{Name: name}, noRetry)
}

func createAndAdd(t *testing.T, c *secretmanager.Client, project, id string, data []byte) {
	t.Helper()
	_, err := c.CreateSecret(ctx(t), &secretmanagerpb.CreateSecretRequest{
		Parent:   "projects/" + project,
		SecretId: id,
		Secret: &secretmanagerpb.Secret{Replication: &secretmanagerpb.Replication{
			Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}},
		}},
	})
	require.NoError(t, err)
	crc := int64(crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
	v, err := c.AddSecretVersion(ctx(t), &secretmanagerpb.AddSecretVersionRequest{
		Parent:  "projects/" + project + "/secrets/" + id,
		Payload: &secretmanagerpb.SecretPayload{Data: data, DataCrc32C: &crc},
	})
	require.NoError(t, err)
	assert.True(t, v.GetClientSpecifiedPayloadChecksum())
}

func code(err error) codes.Code { return status.Code(err) }

func TestWorkloadIdentityFederationThroughADC(t *testing.T) {
	srv := start(t, gcpsm.ExternalAccount)
	c := client(t, srv)
	createAndAdd(t, c, gcpsm.DefaultProject, "db-key", []byte("v1"))

	resp, err := access(t, c, "projects/"+gcpsm.DefaultProject+"/secrets/db-key/versions/latest")
	require.NoError(t, err)
	assert.Equal(t, "v1", string(resp.GetPayload().GetData()))
	require.NotNil(t, resp.GetPayload().DataCrc32C)
	assert.Equal(t, int64(crc32.Checksum([]byte("v1"), crc32.MakeTable(crc32.Castagnoli))), resp.GetPayload().GetDataCrc32C())
	assert.Regexp(t, `^projects/\d+/secrets/db-key/versions/1$`, resp.GetName(), "names come back with the project number")
	// One STS exchange and one impersonation, then the cached token.
	assert.Equal(t, 2, srv.TokenRequests())
	assert.Equal(t, 3, srv.Requests())
	assert.Equal(t, 1, srv.Ops()["AccessSecretVersion"])
}

func TestServiceAccountKeySendsSelfSignedJWT(t *testing.T) {
	srv := start(t, gcpsm.ServiceAccountKey)
	srv.Put("", "k", []byte("value"))
	c := client(t, srv)
	resp, err := access(t, c, "projects/"+gcpsm.DefaultProject+"/secrets/k/versions/latest")
	require.NoError(t, err)
	assert.Equal(t, "value", string(resp.GetPayload().GetData()))
	assert.Zero(t, srv.TokenRequests(), "the generated client signs its own JWT with the key")
}

func TestTokenEndpointJWTBearerGrantVerifiesTheAssertion(t *testing.T) {
	srv := start(t, gcpsm.ServiceAccountKey)
	srv.Put("", "k", []byte("value"))
	// Without self-signed JWTs the credentials use token_uri: the server's
	// OAuth2 endpoint verifies the signed assertion and issues a token.
	creds, err := credentials.DetectDefault(&credentials.DetectOptions{
		Scopes:          []string{"https://www.googleapis.com/auth/cloud-platform"},
		CredentialsFile: srv.CredentialsFile(gcpsm.ServiceAccountKey), //lint:ignore SA1019 the test's own credential file, the path ADC users take
	})
	require.NoError(t, err)
	tok, err := creds.Token(ctx(t))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(tok.Value, "ya29."), "an issued access token, not a JWT")
	assert.Equal(t, 1, srv.TokenRequests())
	c := client(t, srv, option.WithAuthCredentials(creds))
	_, err = access(t, c, "projects/"+gcpsm.DefaultProject+"/secrets/k/versions/latest")
	require.NoError(t, err)

	// A forged assertion is refused the way Google refuses it.
	forged := "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9." +
		"eyJpc3MiOiJlbnZkcmlmdC1zeW5jQGVudmRyaWZ0LXRlc3QuaWFtLmdzZXJ2aWNlYWNjb3VudC5jb20ifQ.c2lnbmF0dXJl"
	resp, err := http.PostForm(srv.URL()+"/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {forged}})
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestRequestsWithoutCredentialsAreUnauthenticated(t *testing.T) {
	srv := start(t, gcpsm.ExternalAccount)
	srv.Put("", "k", []byte("value"))
	c := client(t, srv, option.WithoutAuthentication())
	_, err := access(t, c, "projects/"+gcpsm.DefaultProject+"/secrets/k/versions/latest")
	assert.Equal(t, codes.Unauthenticated, code(err), "%v", err)
	assert.Contains(t, err.Error(), "Request had invalid authentication credentials")
}

func TestResourceNamesVersionsAndStates(t *testing.T) {
	srv := start(t, gcpsm.ExternalAccount)
	c := client(t, srv)
	p := "projects/" + gcpsm.DefaultProject + "/secrets/"
	createAndAdd(t, c, gcpsm.DefaultProject, "rotated", []byte("one"))
	srv.Put("", "rotated", []byte("two")) // a Base write is a new version

	for name, want := range map[string]string{p + "rotated/versions/latest": "two", p + "rotated/versions/1": "one", p + "rotated/versions/2": "two"} {
		resp, err := access(t, c, name)
		require.NoError(t, err, name)
		assert.Equal(t, want, string(resp.GetPayload().GetData()), name)
	}
	_, err := access(t, c, p+"rotated/versions/3")
	assert.Equal(t, codes.NotFound, code(err))
	assert.Contains(t, err.Error(), "/versions/3] not found")
	_, err = access(t, c, p+"missing/versions/latest")
	assert.Equal(t, codes.NotFound, code(err))
	assert.Contains(t, err.Error(), "not found or has no versions")
	for _, bad := range []string{"rotated", "projects/x/secrets/a/b/versions/1", "projects//secrets/a/versions/1", p + "rotated/versions/"} {
		_, err = access(t, c, bad)
		assert.Equal(t, codes.InvalidArgument, code(err), bad)
	}

	// The latest version disabled: "latest" fails, older versions still work.
	_, err = c.DisableSecretVersion(ctx(t), &secretmanagerpb.DisableSecretVersionRequest{Name: p + "rotated/versions/2"})
	require.NoError(t, err)
	_, err = access(t, c, p+"rotated/versions/latest")
	assert.Equal(t, codes.FailedPrecondition, code(err))
	assert.Contains(t, err.Error(), "is in DISABLED state")
	_, err = access(t, c, p+"rotated/versions/1")
	assert.NoError(t, err)
	_, err = c.DestroySecretVersion(ctx(t), &secretmanagerpb.DestroySecretVersionRequest{Name: p + "rotated/versions/2"})
	require.NoError(t, err)
	_, err = access(t, c, p+"rotated/versions/2")
	assert.Contains(t, err.Error(), "is in DESTROYED state")

	// Create twice, delete, access.
	_, err = c.CreateSecret(ctx(t), &secretmanagerpb.CreateSecretRequest{Parent: "projects/" + gcpsm.DefaultProject, SecretId: "rotated",
		Secret: &secretmanagerpb.Secret{Replication: &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{}}}})
	assert.Equal(t, codes.AlreadyExists, code(err))
	_, err = c.CreateSecret(ctx(t), &secretmanagerpb.CreateSecretRequest{Parent: "projects/" + gcpsm.DefaultProject, SecretId: "no-replication",
		Secret: &secretmanagerpb.Secret{}})
	assert.Equal(t, codes.InvalidArgument, code(err))
	require.NoError(t, c.DeleteSecret(ctx(t), &secretmanagerpb.DeleteSecretRequest{Name: p + "rotated"}))
	_, err = access(t, c, p+"rotated/versions/1")
	assert.Equal(t, codes.NotFound, code(err))
}

func TestProjectsAndLocationsRoute(t *testing.T) {
	srv := start(t, gcpsm.ExternalAccount)
	srv.Put("", "k", []byte("default"))
	srv.Put("other-project", "k", []byte("other"))
	srv.PutRegional(gcpsm.DefaultProject, "me-central2", "k", []byte("regional"))
	c := client(t, srv)
	for name, want := range map[string]string{
		"projects/envdrift-test/secrets/k/versions/latest":                       "default",
		"projects/other-project/secrets/k/versions/latest":                       "other",
		"projects/envdrift-test/locations/me-central2/secrets/k/versions/latest": "regional",
	} {
		resp, err := access(t, c, name)
		require.NoError(t, err, name)
		assert.Equal(t, want, string(resp.GetPayload().GetData()))
	}
	_, err := access(t, c, "projects/third-project/secrets/k/versions/latest")
	assert.Equal(t, codes.NotFound, code(err))
}

func TestDeniedSecret(t *testing.T) {
	srv := start(t, gcpsm.ExternalAccount)
	srv.Put("", "k", []byte("value"))
	srv.Deny("", "k")
	_, err := access(t, client(t, srv), "projects/envdrift-test/secrets/k/versions/latest")
	assert.Equal(t, codes.PermissionDenied, code(err))
	assert.Contains(t, err.Error(), "Permission 'secretmanager.versions.access' denied for resource 'projects/envdrift-test/secrets/k/versions/latest'")
}

func TestFaults(t *testing.T) {
	srv := start(t, gcpsm.ExternalAccount)
	srv.Put("", "k", []byte("value"))
	c := client(t, srv)
	name := "projects/envdrift-test/secrets/k/versions/latest"
	_, err := access(t, c, name) // warm up: token exchange, connection
	require.NoError(t, err)

	tests := []struct {
		name  string
		setup func()
		code  codes.Code
		msg   string
	}{
		{"throttle", func() { srv.Throttle(1) }, codes.ResourceExhausted, "Quota exceeded"},
		{"error", func() { srv.FailWith("backend on fire") }, codes.Internal, "backend on fire"},
		{"auth", func() { srv.Inject(testserver.FaultAuth) }, codes.Unauthenticated, "invalid authentication credentials"},
		{"reset", func() { srv.Inject(testserver.FaultReset) }, codes.Unavailable, ""},
		{"truncated frame", func() { srv.Inject(testserver.FaultMalformed) }, codes.Internal, ""},
		{"proxy html", func() { srv.Inject(testserver.FaultMalformed); srv.SetMalformedStyle(gcpsm.ProxyHTML) }, codes.Unavailable, "502"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Cleanup(srv.Reset)
			tc.setup()
			_, err := access(t, c, name)
			require.Error(t, err)
			assert.Equal(t, tc.code, code(err), "%v", err)
			assert.Contains(t, err.Error(), tc.msg)
			srv.Reset()
			_, err = access(t, c, name)
			assert.NoError(t, err, "the client recovers once the fault is gone")
		})
	}

	t.Run("stall", func(t *testing.T) {
		t.Cleanup(srv.Reset)
		srv.Inject(testserver.FaultStall)
		c2, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.AccessSecretVersion(c2, &secretmanagerpb.AccessSecretVersionRequest{Name: name}, noRetry)
		assert.Equal(t, codes.DeadlineExceeded, code(err), "%v", err)
		assert.Less(t, time.Since(start), 2*time.Second)
	})

	t.Run("corrupt checksum", func(t *testing.T) {
		t.Cleanup(srv.Reset)
		srv.CorruptChecksums()
		resp, err := access(t, c, name)
		require.NoError(t, err)
		assert.NotEqual(t, int64(crc32.Checksum(resp.GetPayload().GetData(), crc32.MakeTable(crc32.Castagnoli))), resp.GetPayload().GetDataCrc32C())
	})
}

func TestCloseReleasesStalledRequestsAndRemovesFiles(t *testing.T) {
	if trustErr != nil {
		t.Skip(trustErr)
	}
	before := runtime.NumGoroutine()
	srv, err := gcpsm.Start()
	require.NoError(t, err)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	srv.Put("", "k", []byte("value"))
	c, err := secretmanager.NewClient(context.Background(), option.WithEndpoint(srv.Endpoint()))
	require.NoError(t, err)
	srv.Inject(testserver.FaultStall)
	done := make(chan error, 1)
	go func() {
		_, err := c.AccessSecretVersion(context.Background(), &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/envdrift-test/secrets/k/versions/latest"}, noRetry)
		done <- err
	}()
	require.Eventually(t, func() bool { return srv.Requests() == 1 }, 10*time.Second, 10*time.Millisecond)
	credFile := srv.CredentialsFile(gcpsm.ExternalAccount)
	srv.Close()
	select {
	case err := <-done:
		assert.Error(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("a stalled request was not released by Close")
	}
	require.NoError(t, c.Close())
	_, err = os.Stat(credFile)
	assert.True(t, errors.Is(err, os.ErrNotExist), "credential files are removed")
	assert.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+2 }, 5*time.Second, 50*time.Millisecond,
		"goroutines left behind: %d before, %d after", before, runtime.NumGoroutine())
}

func TestEnvNamesEverythingTheBinaryNeeds(t *testing.T) {
	if trustErr != nil {
		t.Skip(trustErr)
	}
	srv, err := gcpsm.Start()
	require.NoError(t, err)
	defer srv.Close()
	keys := map[string]string{}
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		keys[k] = v
	}
	for _, k := range []string{"GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER", "GOOGLE_CLOUD_PROJECT", "SSL_CERT_DIR", "GCE_METADATA_HOST"} {
		assert.NotEmpty(t, keys[k], k)
	}
	assert.Equal(t, fmt.Sprintf("%s/", srv.URL()), keys["CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER"])
	b, err := os.ReadFile(keys["GOOGLE_APPLICATION_CREDENTIALS"])
	require.NoError(t, err)
	assert.Contains(t, string(b), `"type": "external_account"`)
}

func TestQuota_OverQuotaIsResourceExhausted(t *testing.T) {
	srv := start(t, gcpsm.ExternalAccount)
	srv.Put("", "k", []byte("value"))
	c := client(t, srv)
	name := "projects/envdrift-test/secrets/k/versions/latest"
	_, err := access(t, c, name) // token exchange and connection first
	require.NoError(t, err)

	srv.SetQuota(testserver.Quota{Rate: 0.001, Burst: 1})
	_, err = access(t, c, name)
	require.NoError(t, err)
	_, err = access(t, c, name)
	assert.Equal(t, codes.ResourceExhausted, code(err), "%v", err)
	assert.Contains(t, status.Convert(err).Message(), "Quota exceeded for quota metric")
	var info *errdetails.ErrorInfo
	for _, d := range status.Convert(err).Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	require.NotNil(t, info, "the ErrorInfo detail Google's front end sends")
	assert.Equal(t, "RATE_LIMIT_EXCEEDED", info.GetReason())
	assert.Equal(t, 3, srv.Count("AccessSecretVersion"))
}

func TestRefuseAfter_TheClientFindsNothingListening(t *testing.T) {
	srv := start(t, gcpsm.ExternalAccount)
	srv.Put("", "k", []byte("value"))
	c := client(t, srv)
	name := "projects/envdrift-test/secrets/k/versions/latest"
	srv.RefuseAfter(1)
	_, err := access(t, c, name)
	require.NoError(t, err, "the last request is answered")
	_, err = access(t, c, name)
	assert.Equal(t, codes.Unavailable, code(err), "%v", err)
	assert.Contains(t, err.Error(), "connection refused")
}
