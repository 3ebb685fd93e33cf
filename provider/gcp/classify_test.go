package gcp

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/googleapis/gax-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/envdrift/envdrift/provider"
)

func TestClassifyStatusTable(t *testing.T) {
	ref := provider.Ref{Name: "api-key"}
	const (
		project   = "my-project"
		principal = "serviceAccount:ci@my-project.iam.gserviceaccount.com"
		endpoint  = "secretmanager.googleapis.com:443"
	)
	tests := []struct {
		code   codes.Code
		msg    string
		reason string
		kind   string
		prefix string
		hint   string
	}{
		{codes.NotFound, "Secret [projects/123/secrets/api-key] not found or has no versions.", "", "not_found",
			"NOT_FOUND: Secret [projects/123/secrets/api-key]", "gcloud secrets list --project my-project"},
		{codes.FailedPrecondition, "Secret Version [projects/123/secrets/api-key/versions/3] is in DESTROYED state.", "", "not_found",
			"FAILED_PRECONDITION: Secret Version", "gcloud secrets versions add api-key --project my-project"},
		{codes.FailedPrecondition, "Secret Version [projects/123/secrets/api-key/versions/3] is in DISABLED state.", "", "not_found",
			"FAILED_PRECONDITION: Secret Version", "gcloud secrets versions enable VERSION --secret api-key --project my-project"},
		{codes.PermissionDenied, "Permission 'secretmanager.versions.access' denied for resource 'projects/my-project/secrets/api-key/versions/latest' (or it may not exist).",
			"IAM_PERMISSION_DENIED", "permission_denied", "PERMISSION_DENIED: Permission 'secretmanager.versions.access'",
			"grant roles/secretmanager.secretAccessor on the secret or project my-project to " + principal},
		{codes.PermissionDenied, "Secret Manager API has not been used in project 123 before or it is disabled.", "SERVICE_DISABLED",
			"permission_denied", "PERMISSION_DENIED: Secret Manager API", "gcloud services enable secretmanager.googleapis.com --project my-project"},
		{codes.Unauthenticated, "Request had invalid authentication credentials.", "", "unauthenticated",
			"UNAUTHENTICATED: Request had invalid", "run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS"},
		{codes.ResourceExhausted, "Quota exceeded for quota metric 'Access requests'", "RATE_LIMIT_EXCEEDED", "throttled",
			"RESOURCE_EXHAUSTED: Quota exceeded", "lower --concurrency"},
		{codes.ResourceExhausted, "grpc: received message larger than max (2097200 vs. 1052672)", "", "invalid",
			"payload is over envdrift's 1048576-byte secret limit", "store only"},
		{codes.Unavailable, "connection error: desc = \"transport: Error while dialing: dial tcp: connection refused\"", "", "unavailable",
			"UNAVAILABLE: connection error", "check network access to " + endpoint},
		{codes.Unavailable, "connection error: desc = \"transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority\"",
			"", "unavailable", "UNAVAILABLE: connection error", "SSL_CERT_FILE"},
		{codes.Internal, "Internal error encountered.", "", "unavailable", "INTERNAL: Internal error encountered.", ""},
		{codes.Unknown, "unexpected EOF", "", "unavailable", "UNKNOWN: unexpected EOF", ""},
		{codes.DeadlineExceeded, "context deadline exceeded", "", "unavailable",
			"DEADLINE_EXCEEDED: no response from " + endpoint + " within 30s", "raise --timeout"},
		{codes.InvalidArgument, "The provided Secret Version ID [x] does not match the expected format [projects/*/secrets/*/versions/*]", "",
			"invalid", "INVALID_ARGUMENT: The provided Secret Version ID", "check the secret name"},
		{codes.Unimplemented, "unknown service google.cloud.secretmanager.v1.SecretManagerService", "", "invalid",
			"UNIMPLEMENTED: unknown service", "does not serve the Secret Manager API"},
		{codes.Aborted, "aborted", "", "unavailable", "ABORTED: aborted", ""},
	}
	for _, tc := range tests {
		t.Run(tc.code.String()+"/"+tc.reason, func(t *testing.T) {
			e := classifyStatus(tc.code, tc.msg, tc.reason, ref, project, principal, endpoint, 30*time.Second)
			assert.Equal(t, tc.kind, provider.KindOf(e))
			assert.Equal(t, Name, e.Provider)
			assert.Equal(t, ref, e.Ref)
			assert.Contains(t, e.Message, tc.prefix)
			if tc.hint == "" {
				assert.Empty(t, e.Hint)
			} else {
				assert.Contains(t, e.Hint, tc.hint)
			}
		})
	}
	// Without a known principal the hint still says what to grant.
	e := classifyStatus(codes.PermissionDenied, "denied", "", ref, project, "", endpoint, time.Second)
	assert.Contains(t, e.Hint, "roles/secretmanager.secretAccessor")
}

func TestClassifyReadsTheErrorInfoReason(t *testing.T) {
	st, err := status.New(codes.PermissionDenied, "Permission denied on resource project nope.").
		WithDetails(&errdetails.ErrorInfo{Reason: "SERVICE_DISABLED", Domain: "googleapis.com"})
	require.NoError(t, err)
	p := &Provider{timeout: time.Second}
	e := providerErr(t, p.classify(t.Context(), provider.Ref{Name: "k"}, "nope", st.Err()))
	assert.Equal(t, "permission_denied", provider.KindOf(e))
	assert.Contains(t, e.Hint, "gcloud services enable")
	assert.True(t, errors.Is(e, provider.ErrPermissionDenied))
}

func providerErr(t *testing.T, err error) *provider.Error {
	t.Helper()
	var pe *provider.Error
	require.ErrorAs(t, err, &pe)
	return pe
}

func TestRetryerRetriesOnlyTransientCodesAFewTimes(t *testing.T) {
	for _, tc := range []struct {
		err   error
		retry bool
	}{
		{status.Error(codes.Unavailable, "connection reset by peer"), true},
		{status.Error(codes.ResourceExhausted, "Quota exceeded"), true},
		{status.Error(codes.ResourceExhausted, "grpc: received message larger than max (5 vs. 4)"), false},
		{status.Error(codes.Unavailable, "tls: failed to verify certificate: x509: certificate signed by unknown authority"), false},
		{status.Error(codes.Internal, "boom"), false},
		{status.Error(codes.DeadlineExceeded, "context deadline exceeded"), false},
		{status.Error(codes.NotFound, "nope"), false},
		{errors.New("not a status"), false},
	} {
		d, ok := (&Provider{}).newRetryer().Retry(tc.err)
		assert.Equal(t, tc.retry, ok, "%v", tc.err)
		assert.LessOrEqual(t, d, maxBackoff)
	}
	r := (&Provider{}).newRetryer()
	n := 1
	for {
		d, ok := r.Retry(status.Error(codes.Unavailable, "down"))
		if !ok {
			break
		}
		assert.LessOrEqual(t, d, maxBackoff)
		n++
	}
	assert.Equal(t, maxAttempts, n, "attempts in all")
	var _ gax.Retryer = r
}

func TestRetryer_FollowsTheRetryPolicy(t *testing.T) {
	p := &Provider{retry: provider.RetryPolicy{MaxAttempts: 2, MinDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}}
	r := p.newRetryer()
	d, ok := r.Retry(status.Error(codes.Unavailable, "down"))
	assert.True(t, ok)
	assert.LessOrEqual(t, d, time.Millisecond, "gax jitters the first pause below Initial")
	_, ok = r.Retry(status.Error(codes.Unavailable, "down"))
	assert.False(t, ok, "two attempts in all")

	none := (&Provider{retry: provider.RetryPolicy{MaxAttempts: 1}}).newRetryer()
	_, ok = none.Retry(status.Error(codes.Unavailable, "down"))
	assert.False(t, ok, "MaxAttempts 1 turns retries off")
}

func TestResourceNameTable(t *testing.T) {
	global := &Provider{project: "proj-a"}
	regional := &Provider{project: "proj-a", endpoint: "secretmanager.me-central2.rep.googleapis.com:443", location: "me-central2"}
	custom := &Provider{project: "proj-a", endpoint: "127.0.0.1:8443"}
	none := &Provider{}
	tests := []struct {
		p    *Provider
		ref  provider.Ref
		want string // "" = ErrInvalid
	}{
		{global, provider.Ref{Name: "k"}, "projects/proj-a/secrets/k/versions/latest"},
		{global, provider.Ref{Vault: "proj-b", Name: "k"}, "projects/proj-b/secrets/k/versions/latest"},
		{global, provider.Ref{Vault: "123456789012", Name: "k"}, "projects/123456789012/secrets/k/versions/latest"},
		{global, provider.Ref{Name: "projects/proj-a/secrets/k"}, "projects/proj-a/secrets/k/versions/latest"},
		{global, provider.Ref{Name: "projects/proj-a/secrets/k/versions/7"}, "projects/proj-a/secrets/k/versions/7"},
		{global, provider.Ref{Name: "projects/proj-a/secrets/k/versions/prod-alias"}, "projects/proj-a/secrets/k/versions/prod-alias"},
		{global, provider.Ref{Vault: "proj-b", Name: "projects/proj-b/secrets/k/versions/2"}, "projects/proj-b/secrets/k/versions/2"},
		{global, provider.Ref{Name: "projects/proj-b/secrets/k"}, ""},
		{global, provider.Ref{Vault: "proj-c", Name: "projects/proj-b/secrets/k"}, ""},
		{global, provider.Ref{Name: "projects/proj-a/locations/me-central2/secrets/k"}, ""}, // needs the regional endpoint
		{global, provider.Ref{Name: "projects/proj-a/secrets/k/versions/"}, ""},
		{global, provider.Ref{Name: "projects/proj-a/secrets/k/versions/1/extra"}, ""},
		{global, provider.Ref{Name: "projects/proj-a/secrets"}, ""},
		{global, provider.Ref{Name: "k/versions/1"}, ""},
		{global, provider.Ref{Name: "../k"}, ""},
		{global, provider.Ref{Name: ""}, ""},
		{global, provider.Ref{Vault: "proj/b", Name: "k"}, ""},
		{global, provider.Ref{Vault: "Proj", Name: "k"}, ""},
		{regional, provider.Ref{Name: "k"}, "projects/proj-a/locations/me-central2/secrets/k/versions/latest"},
		{regional, provider.Ref{Name: "projects/proj-a/locations/me-central2/secrets/k/versions/3"}, "projects/proj-a/locations/me-central2/secrets/k/versions/3"},
		{regional, provider.Ref{Name: "projects/proj-a/locations/us-east1/secrets/k"}, ""},
		{regional, provider.Ref{Name: "projects/proj-a/secrets/k"}, ""},
		{custom, provider.Ref{Name: "projects/proj-a/locations/us-east1/secrets/k"}, "projects/proj-a/locations/us-east1/secrets/k/versions/latest"},
		{none, provider.Ref{Name: "k"}, ""},
		{none, provider.Ref{Vault: "proj-b", Name: "k"}, "projects/proj-b/secrets/k/versions/latest"},
		{none, provider.Ref{Name: "projects/proj-b/secrets/k"}, "projects/proj-b/secrets/k/versions/latest"},
	}
	for _, tc := range tests {
		got, _, err := tc.p.resourceName(tc.ref)
		if tc.want == "" {
			assert.ErrorIs(t, err, provider.ErrInvalid, "%+v (location %q) gave %q", tc.ref, tc.p.location, got)
			if err != nil {
				assert.NotEmpty(t, providerErr(t, err).Hint, "%+v", tc.ref)
			}
			continue
		}
		require.NoError(t, err, "%+v", tc.ref)
		assert.Equal(t, tc.want, got, "%+v", tc.ref)
	}
}

func TestParseEndpoint(t *testing.T) {
	for in, want := range map[string][2]string{
		"secretmanager.googleapis.com":                           {"secretmanager.googleapis.com:443", ""},
		"secretmanager.me-central2.rep.googleapis.com:443":       {"secretmanager.me-central2.rep.googleapis.com:443", "me-central2"},
		"https://secretmanager.europe-west3.rep.googleapis.com/": {"secretmanager.europe-west3.rep.googleapis.com:443", "europe-west3"},
		"https://secretmanager-psc.p.googleapis.com":             {"secretmanager-psc.p.googleapis.com:443", ""},
		"127.0.0.1:8443":          {"127.0.0.1:8443", ""},
		"https://127.0.0.1:8443/": {"127.0.0.1:8443", ""},
		"[::1]:8443":              {"[::1]:8443", ""},
		"SECRETMANAGER.US-EAST1.REP.GOOGLEAPIS.COM": {"SECRETMANAGER.US-EAST1.REP.GOOGLEAPIS.COM:443", "us-east1"},
	} {
		hp, loc, plain, err := parseEndpoint(in)
		require.NoError(t, err, in)
		assert.Equal(t, want[0], hp, in)
		assert.Equal(t, want[1], loc, in)
		assert.False(t, plain, in)
	}
	hp, _, plain, err := parseEndpoint("http://127.0.0.1:8085")
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8085", hp)
	assert.True(t, plain, "http:// is a plaintext emulator endpoint")
	for _, bad := range []string{"http://secretmanager.googleapis.com", "ftp://h:1", "https://user@h", "https://h?x=1", "h:0", "h:x", "https://", "a b", ":443"} {
		_, _, _, err := parseEndpoint(bad)
		assert.Error(t, err, bad)
	}
}

func TestDescribePrincipal(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	write := func(body string) {
		p := dir + "/creds.json"
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", p)
	}
	write(`{"type":"service_account","client_email":"sa@p.iam.gserviceaccount.com","private_key":"-----BEGIN PRIVATE KEY-----"}`)
	assert.Equal(t, "serviceAccount:sa@p.iam.gserviceaccount.com", describePrincipal())
	write(`{"type":"external_account","audience":"//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/gh",` +
		`"service_account_impersonation_url":"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/ci%40p.iam.gserviceaccount.com:generateAccessToken"}`)
	assert.Equal(t, "serviceAccount:ci@p.iam.gserviceaccount.com", describePrincipal())
	write(`{"type":"external_account","audience":"//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/gh"}`)
	assert.Equal(t, "the federated principal of projects/1/locations/global/workloadIdentityPools/p/providers/gh", describePrincipal())
	write(`{"type":"authorized_user","refresh_token":"x"}`)
	assert.Contains(t, describePrincipal(), "your user account")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	assert.Contains(t, describePrincipal(), "metadata server")
}
