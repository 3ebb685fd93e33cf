package gcp_test

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/auth/credentials"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/envdrift/envdrift/internal/testserver"
	"github.com/envdrift/envdrift/internal/testserver/gcpsm"
	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/gcp"
	"github.com/envdrift/envdrift/provider/providertest"
)

// Environment variables of the real-endpoint tier.
const (
	realProjectEnv = "ENVDRIFT_TEST_GCP_PROJECT"
	realOtherEnv   = "ENVDRIFT_TEST_GCP_OTHER_PROJECT"
)

var trustErr error

func TestMain(m *testing.M) {
	// The local server's certificate is signed by a test CA; trust it the
	// standard way (SSL_CERT_DIR) before anything verifies a certificate.
	cleanup, err := testserver.TrustInProcess()
	trustErr = err
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// startServer starts a local Secret Manager and points this test's
// environment (ADC, endpoint, project, metadata server) at it.
func startServer(t *testing.T, cred gcpsm.CredentialType) *gcpsm.Server {
	t.Helper()
	if trustErr != nil {
		t.Skipf("local Secret Manager tests need SSL_CERT_DIR support (%s): %v", runtime.GOOS, trustErr)
	}
	srv, err := gcpsm.Start()
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	// Unrelated variables must not steer the provider.
	t.Setenv(gcp.GcloudProjectEnv, "")
	t.Setenv("HOME", t.TempDir())
	for _, kv := range srv.EnvWith(cred) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return srv
}

// harness runs the conformance suite against a Secret Manager: the local
// server (srv set) or a real project. Secrets are written through the same
// generated client the provider uses (CreateSecret, AddSecretVersion).
type harness struct {
	testserver.Faults // fault injection of the local server; unsupported on a real endpoint
	srv               *gcpsm.Server
	admin             *secretmanager.Client
	project           string
	other             string
	settings          gcp.Settings

	mu      sync.Mutex
	created map[string]bool // "project/secret"
}

func newHarness(t *testing.T, srv *gcpsm.Server, project, other string, settings gcp.Settings, adminOpts ...option.ClientOption) *harness {
	t.Helper()
	admin, err := secretmanager.NewClient(context.Background(), adminOpts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	return &harness{Faults: testserver.Faults{S: srv.Base}, srv: srv, admin: admin, project: project, other: other, settings: settings, created: map[string]bool{}}
}

func (h *harness) MakeProvider(ctx context.Context) (provider.Provider, error) {
	d, lerr := provider.Default().Lookup(gcp.Name)
	if lerr != nil {
		return nil, errors.New("gcp provider not registered")
	}
	s := h.settings
	opts := provider.Options{}
	if h.srv != nil {
		opts = fastRetry(opts)
	}
	p, err := d.Open(ctx, &s, opts)
	if err != nil || h.srv != nil {
		return p, err
	}
	return recording{p.(*gcp.Provider), h}, nil
}

func (h *harness) CreateSecret(ctx context.Context, vault, name string, value []byte) error {
	project := vault
	if project == "" {
		project = h.project
	}
	_, err := h.admin.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{
		Parent:   "projects/" + project,
		SecretId: name,
		Secret: &secretmanagerpb.Secret{
			Replication: &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}},
			Labels:      map[string]string{"envdrift-test": "conformance"},
		},
	})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return err
	}
	h.mu.Lock()
	h.created[project+"/"+name] = true
	h.mu.Unlock()
	crc := int64(crc32.Checksum(value, crc32.MakeTable(crc32.Castagnoli)))
	_, err = h.admin.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{
		Parent:  "projects/" + project + "/secrets/" + name,
		Payload: &secretmanagerpb.SecretPayload{Data: value, DataCrc32C: &crc},
	})
	return err
}

// CreateBinarySecret stores raw bytes: Secret Manager payloads are bytes.
func (h *harness) CreateBinarySecret(ctx context.Context, vault, name string, value []byte) error {
	return h.CreateSecret(ctx, vault, name, value)
}

func (h *harness) OtherVault() string { return h.other }

func (h *harness) DenyAccess(_ context.Context, vault, name string) error {
	if h.srv == nil {
		return providertest.ErrUnsupported // IAM allow policies cannot take access away from a project-level grant
	}
	h.srv.Deny(vault, name)
	return nil
}

// Conditional: CreateSecret refuses an existing secret; AddSecretVersion
// has no condition.
func (h *harness) Conditional() (create, update bool) { return true, false }

func (h *harness) projectOf(vault string) string {
	if vault == "" {
		return h.project
	}
	return vault
}

func (h *harness) Metadata(ctx context.Context, vault, name string) (map[string]string, error) {
	if h.srv != nil {
		return h.srv.Annotations(vault, name), nil
	}
	s, err := h.admin.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: "projects/" + h.projectOf(vault) + "/secrets/" + name})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range s.GetAnnotations() {
		out[k] = v
	}
	return out, nil
}

func (h *harness) History(ctx context.Context, vault, name string) ([][]byte, error) {
	if h.srv != nil {
		return h.srv.Versions(vault, name), nil
	}
	secret := "projects/" + h.projectOf(vault) + "/secrets/" + name
	var numbers []int
	it := h.admin.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: secret})
	for {
		v, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(v.GetName()[strings.LastIndexByte(v.GetName(), '/')+1:])
		if err != nil {
			return nil, err
		}
		numbers = append(numbers, n)
	}
	slices.Sort(numbers)
	var out [][]byte
	for _, n := range numbers {
		resp, err := h.admin.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: fmt.Sprintf("%s/versions/%d", secret, n)})
		if err != nil {
			return nil, err
		}
		out = append(out, resp.GetPayload().GetData())
	}
	return out, nil
}

func (h *harness) DenyWrite(_ context.Context, vault, name string) error {
	if h.srv == nil {
		return providertest.ErrUnsupported // IAM allow policies cannot take access away from a project-level grant
	}
	h.srv.DenyWrite(vault, name)
	return nil
}

func (h *harness) Writes() int {
	if h.srv == nil {
		return -1
	}
	return h.srv.Writes()
}

// recording records the secrets the provider creates on a real project,
// for cleanup.
type recording struct {
	*gcp.Provider
	h *harness
}

func (r recording) Put(ctx context.Context, ref provider.Ref, req provider.PutRequest) (provider.PutResult, error) {
	res, err := r.Provider.Put(ctx, ref, req)
	if req.Create {
		r.h.mu.Lock()
		r.h.created[r.h.projectOf(ref.Vault)+"/"+ref.Name] = true
		r.h.mu.Unlock()
	}
	return res, err
}

// cleanup deletes the secrets the harness created (real tier).
func (h *harness) cleanup(t *testing.T) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.created {
		project, name, _ := strings.Cut(k, "/")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := h.admin.DeleteSecret(ctx, &secretmanagerpb.DeleteSecretRequest{Name: "projects/" + project + "/secrets/" + name})
		cancel()
		if err != nil && status.Code(err) != codes.NotFound {
			t.Logf("cleanup: delete %s: %v", k, err)
		}
	}
}

func TestConformance(t *testing.T) {
	// Workload identity federation (external_account), as in GitHub Actions;
	// the endpoint comes from CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER
	// and the project from project_id.
	srv := startServer(t, gcpsm.ExternalAccount)
	h := newHarness(t, srv, gcpsm.DefaultProject, "envdrift-other", gcp.Settings{ProjectID: gcpsm.DefaultProject}, option.WithEndpoint(srv.Endpoint()))
	providertest.Run(t, h, providertest.Options{})
}

func TestOneTokenExchangeAndOneClientPerProvider(t *testing.T) {
	srv := startServer(t, gcpsm.ExternalAccount)
	srv.Put("", "k", []byte("a"))
	srv.Put("team-b", "k", []byte("b"))
	p := newProvider(t, gcp.Settings{}, provider.Options{})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ref := provider.Ref{Name: "k"}
			if i%2 == 1 {
				ref.Vault = "team-b"
			}
			_, err := fetch(t, p, ref)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	assert.Equal(t, 20, srv.Ops()["AccessSecretVersion"])
	assert.Equal(t, 2, srv.TokenRequests(), "one STS exchange and one impersonation for all fetches and projects")
}

func TestConformance_ServiceAccountKey(t *testing.T) {
	// A service_account key file, the endpoint from the endpoint setting and
	// the project from GOOGLE_CLOUD_PROJECT.
	srv := startServer(t, gcpsm.ServiceAccountKey)
	t.Setenv(gcp.EndpointEnv, "")
	h := newHarness(t, srv, gcpsm.DefaultProject, "envdrift-other", gcp.Settings{Endpoint: srv.Endpoint()}, option.WithEndpoint(srv.Endpoint()))
	providertest.Run(t, h, providertest.Options{})
}

func TestConformance_RealEndpoint(t *testing.T) {
	project := os.Getenv(realProjectEnv)
	if project == "" {
		t.Skipf("set %s (and optionally %s) with Application Default Credentials allowed to create, read and delete secrets there to run against real Secret Manager",
			realProjectEnv, realOtherEnv)
	}
	// Only the standard environment steers the clients here: ADC, and no
	// endpoint override.
	t.Setenv(gcp.EndpointEnv, "")
	h := newHarness(t, nil, project, os.Getenv(realOtherEnv), gcp.Settings{ProjectID: project})
	t.Cleanup(func() { h.cleanup(t) })
	providertest.Run(t, h, providertest.Options{})
}

// adminClient is a plain generated client for the local server, for
// writing test data the way an operator would.
func adminClient(t *testing.T, srv *gcpsm.Server) *secretmanager.Client {
	t.Helper()
	c, err := secretmanager.NewClient(context.Background(), option.WithEndpoint(srv.Endpoint()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// addVersions creates the secret if needed and adds one version per value.
func addVersions(t *testing.T, admin *secretmanager.Client, project, name string, values ...string) {
	t.Helper()
	h := &harness{admin: admin, project: project, created: map[string]bool{}}
	for _, v := range values {
		require.NoError(t, h.CreateSecret(context.Background(), project, name, []byte(v)))
	}
}

func newProvider(t *testing.T, s gcp.Settings, opts provider.Options) *gcp.Provider {
	t.Helper()
	p, err := gcp.New(s, fastRetry(opts))
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// fastRetry keeps the provider's retry counts but waits milliseconds
// between attempts, so tests against the local server never sleep through
// real backoff. Tests that set their own Options.Retry keep it.
func fastRetry(o provider.Options) provider.Options {
	if o.Retry == (provider.RetryPolicy{}) {
		o.Retry = provider.RetryPolicy{MinDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond}
	}
	return o
}

func fetch(t *testing.T, p provider.Provider, ref provider.Ref) (provider.Secret, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return p.Fetch(ctx, ref)
}

func providerError(t *testing.T, err error) *provider.Error {
	t.Helper()
	var pe *provider.Error
	require.ErrorAs(t, err, &pe)
	return pe
}

func TestVaultNameRoutesToTheProject(t *testing.T) {
	srv := startServer(t, gcpsm.ExternalAccount)
	srv.Put("team-a", "api-key", []byte("a"))
	srv.Put("team-b", "api-key", []byte("b"))
	p := newProvider(t, gcp.Settings{ProjectID: "team-a"}, provider.Options{})

	got, err := fetch(t, p, provider.Ref{Name: "api-key"})
	require.NoError(t, err)
	assert.Equal(t, "a", string(got.Value))
	assert.Equal(t, "1", got.Version)
	got, err = fetch(t, p, provider.Ref{Vault: "team-b", Name: "api-key"})
	require.NoError(t, err)
	assert.Equal(t, "b", string(got.Value))

	// --project-id wins over project_id.
	p2 := newProvider(t, gcp.Settings{ProjectID: "team-a"}, provider.Options{ProjectID: "team-b"})
	got, err = fetch(t, p2, provider.Ref{Name: "api-key"})
	require.NoError(t, err)
	assert.Equal(t, "b", string(got.Value))

	// No project anywhere: vault_name still works, a bare name is refused
	// before any request.
	t.Setenv(gcp.ProjectEnv, "")
	p3 := newProvider(t, gcp.Settings{}, provider.Options{})
	got, err = fetch(t, p3, provider.Ref{Vault: "team-b", Name: "api-key"})
	require.NoError(t, err)
	assert.Equal(t, "b", string(got.Value))
	before := srv.Requests()
	_, err = fetch(t, p3, provider.Ref{Name: "api-key"})
	assert.ErrorIs(t, err, provider.ErrInvalid)
	assert.Contains(t, providerError(t, err).Hint, "--project-id")
	assert.Equal(t, before, srv.Requests())
}

func TestFullResourceNames(t *testing.T) {
	srv := startServer(t, gcpsm.ExternalAccount)
	admin := adminClient(t, srv)
	addVersions(t, admin, gcpsm.DefaultProject, "db", "first", "second")
	addVersions(t, admin, "team-b", "db", "other project")
	p := newProvider(t, gcp.Settings{ProjectID: gcpsm.DefaultProject}, provider.Options{})

	for name, want := range map[string]string{
		"projects/envdrift-test/secrets/db":                 "second",
		"projects/envdrift-test/secrets/db/versions/latest": "second",
		"projects/envdrift-test/secrets/db/versions/1":      "first",
	} {
		got, err := fetch(t, p, provider.Ref{Name: name})
		require.NoError(t, err, name)
		assert.Equal(t, want, string(got.Value), name)
	}
	got, err := fetch(t, p, provider.Ref{Vault: "team-b", Name: "projects/team-b/secrets/db/versions/latest"})
	require.NoError(t, err)
	assert.Equal(t, "other project", string(got.Value))

	// A name in another project than the mapping's is refused, without a
	// request.
	before := srv.Requests()
	for _, ref := range []provider.Ref{
		{Name: "projects/team-b/secrets/db"},
		{Vault: "team-c", Name: "projects/team-b/secrets/db/versions/1"},
	} {
		_, err := fetch(t, p, ref)
		require.ErrorIs(t, err, provider.ErrInvalid, "%+v", ref)
		pe := providerError(t, err)
		assert.Contains(t, pe.Message, `is in project "team-b"`)
		assert.Contains(t, pe.Hint, `vault_name = "team-b"`)
	}
	for _, name := range []string{"projects/envdrift-test/secrets/db/versions/", "projects/envdrift-test/db", "db/versions/1", "a b", "../x"} {
		_, err := fetch(t, p, provider.Ref{Name: name})
		assert.ErrorIs(t, err, provider.ErrInvalid, name)
	}
	assert.Equal(t, before, srv.Requests())
}

func TestRegionalSecretsByFullName(t *testing.T) {
	srv := startServer(t, gcpsm.ExternalAccount)
	srv.PutRegional(gcpsm.DefaultProject, "me-central2", "db", []byte("regional"))
	p := newProvider(t, gcp.Settings{ProjectID: gcpsm.DefaultProject}, provider.Options{})
	got, err := fetch(t, p, provider.Ref{Name: "projects/envdrift-test/locations/me-central2/secrets/db"})
	require.NoError(t, err)
	assert.Equal(t, "regional", string(got.Value))
}

func TestChecksumMismatchIsRefused(t *testing.T) {
	srv := startServer(t, gcpsm.ExternalAccount)
	srv.Put("", "k", []byte(providertest.Key))
	srv.CorruptChecksums()
	p := newProvider(t, gcp.Settings{}, provider.Options{})
	_, err := fetch(t, p, provider.Ref{Name: "k"})
	require.ErrorIs(t, err, provider.ErrUnavailable)
	assert.Contains(t, err.Error(), "integrity check")
	assert.Contains(t, err.Error(), "data_crc32c")
	assert.NotContains(t, err.Error(), providertest.Key[:8])
}

func TestServerErrorsAreClassified(t *testing.T) {
	srv := startServer(t, gcpsm.ExternalAccount)
	srv.Put("", "k", []byte(providertest.Key))
	srv.Put("", "locked", []byte(providertest.Key))
	srv.Deny("", "locked")
	srv.Put("", "huge", make([]byte, 2<<20))
	tests := []struct {
		name     string
		setup    func()
		secret   string
		kind     string
		requests int // requests the fetch makes
		msg      string
		hint     string
	}{
		{"not found", nil, "absent", "not_found", 1, "NOT_FOUND: Secret [projects/", "gcloud secrets list --project envdrift-test"},
		{"permission denied", nil, "locked", "permission_denied", 1, "PERMISSION_DENIED: Permission 'secretmanager.versions.access' denied",
			"grant roles/secretmanager.secretAccessor on the secret or project envdrift-test to serviceAccount:" + gcpsm.ServiceAccountEmail},
		{"throttled past the retries", func() { srv.Throttle(10) }, "k", "throttled", 4, "RESOURCE_EXHAUSTED: Quota exceeded", "quota"},
		{"internal error is not retried", func() { srv.FailWith("storage backend exploded") }, "k", "unavailable", 1, "INTERNAL: storage backend exploded", ""},
		{"connection reset is retried", func() { srv.Inject(testserver.FaultReset) }, "k", "unavailable", 4, "UNAVAILABLE", "network access"},
		{"truncated frame", func() { srv.Inject(testserver.FaultMalformed) }, "k", "unavailable", 1, "INTERNAL", ""},
		{"proxy html page", func() { srv.Inject(testserver.FaultMalformed); srv.SetMalformedStyle(gcpsm.ProxyHTML) }, "k", "unavailable", 4, "502 (Bad Gateway)", ""},
		{"oversized payload", nil, "huge", "invalid", 1, "limit", "store only"},
		{"unauthenticated", func() { srv.Inject(testserver.FaultAuth) }, "k", "unauthenticated", 1, "UNAUTHENTICATED: Request had invalid authentication credentials", "gcloud auth application-default login"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Cleanup(srv.Reset)
			p := newProvider(t, gcp.Settings{}, provider.Options{})
			_, err := fetch(t, p, provider.Ref{Name: "k"}) // connect and authenticate first
			require.NoError(t, err)
			if tc.setup != nil {
				tc.setup()
			}
			before := srv.Requests()
			_, err = fetch(t, p, provider.Ref{Name: tc.secret})
			require.Error(t, err)
			pe := providerError(t, err)
			assert.Equal(t, tc.kind, provider.KindOf(pe), "%v", err)
			assert.Equal(t, gcp.Name, pe.Provider)
			assert.Contains(t, pe.Message, tc.msg)
			assert.Contains(t, pe.Hint, tc.hint)
			assert.Contains(t, err.Error(), tc.secret, "the error names the secret")
			assert.NotContains(t, err.Error(), providertest.Key[:8])
			assert.NotContains(t, err.Error(), "<html>", "a proxy's page is not copied into the message")
			assert.Equal(t, tc.requests, srv.Requests()-before, "requests for %v", err)
		})
	}
}

func TestDisabledLatestVersionIsNotFoundWithAHint(t *testing.T) {
	srv := startServer(t, gcpsm.ExternalAccount)
	admin := adminClient(t, srv)
	addVersions(t, admin, gcpsm.DefaultProject, "k", "v1", "v2")
	_, err := admin.DisableSecretVersion(context.Background(), &secretmanagerpb.DisableSecretVersionRequest{Name: "projects/envdrift-test/secrets/k/versions/2"})
	require.NoError(t, err)

	p := newProvider(t, gcp.Settings{}, provider.Options{})
	_, err = fetch(t, p, provider.Ref{Name: "k"})
	require.ErrorIs(t, err, provider.ErrNotFound)
	pe := providerError(t, err)
	assert.Contains(t, pe.Message, "FAILED_PRECONDITION: Secret Version [projects/")
	assert.Contains(t, pe.Message, "is in DISABLED state")
	assert.Contains(t, pe.Hint, "gcloud secrets versions enable VERSION --secret k --project envdrift-test")
	got, err := fetch(t, p, provider.Ref{Name: "projects/envdrift-test/secrets/k/versions/1"})
	require.NoError(t, err)
	assert.Equal(t, "v1", string(got.Value))
}

func TestUnauthenticatedIsCachedPerProvider(t *testing.T) {
	srv := startServer(t, gcpsm.ExternalAccount)
	srv.Put("", "k", []byte("v"))
	srv.Inject(testserver.FaultAuth)
	p := newProvider(t, gcp.Settings{}, provider.Options{})
	_, err := fetch(t, p, provider.Ref{Name: "k"})
	require.ErrorIs(t, err, provider.ErrUnauthenticated)
	srv.Reset()
	before := srv.Requests()
	_, err = fetch(t, p, provider.Ref{Name: "other"})
	require.ErrorIs(t, err, provider.ErrUnauthenticated)
	assert.Contains(t, err.Error(), "secret other", "the cached error names the new secret")
	assert.Equal(t, before, srv.Requests(), "a rejected credential is not retried for every secret")
	// A new provider (a new sync) tries again.
	_, err = fetch(t, newProvider(t, gcp.Settings{}, provider.Options{}), provider.Ref{Name: "k"})
	assert.NoError(t, err)
}

func TestTokenEndpointFailureIsUnauthenticated(t *testing.T) {
	srv := startServer(t, gcpsm.ExternalAccount)
	srv.Put("", "k", []byte("v"))
	// The federation exchange fails: the subject token file disappeared
	// is the common CI failure; here the STS audience does not match.
	b, err := os.ReadFile(srv.CredentialsFile(gcpsm.ExternalAccount))
	require.NoError(t, err)
	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(strings.Replace(string(b), "providers/github", "providers/gitlab", 1)), 0o600))
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", bad)
	p := newProvider(t, gcp.Settings{}, provider.Options{})
	_, err = fetch(t, p, provider.Ref{Name: "k"})
	require.ErrorIs(t, err, provider.ErrUnauthenticated)
	assert.Contains(t, err.Error(), "invalid_target")
	assert.Contains(t, providerError(t, err).Hint, "GOOGLE_APPLICATION_CREDENTIALS="+bad)
	assert.Zero(t, srv.Requests(), "no token, no Secret Manager request")
	tokens := srv.TokenRequests()
	_, err = fetch(t, p, provider.Ref{Name: "k2"})
	require.ErrorIs(t, err, provider.ErrUnauthenticated)
	assert.Equal(t, tokens, srv.TokenRequests(), "the failed exchange is not repeated per secret")
}

func TestMissingADCIsUnauthenticatedOnceWithTheGcloudHint(t *testing.T) {
	srv := startServer(t, gcpsm.ExternalAccount)
	srv.Put("", "k", []byte("v"))
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	t.Setenv("GCE_METADATA_HOST", "")
	if runtime.GOOS == "windows" {
		t.Setenv("APPDATA", home)
	}
	if credentials.OnGCE() {
		t.Skip("running on Google Cloud: the metadata server provides Application Default Credentials")
	}
	p := newProvider(t, gcp.Settings{}, provider.Options{})

	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = fetch(t, p, provider.Ref{Name: "k"})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.ErrorIs(t, err, provider.ErrUnauthenticated)
		pe := providerError(t, err)
		assert.Contains(t, pe.Message, "could not find default credentials")
		assert.Equal(t, "run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS", pe.Hint)
	}
	// Credentials appearing now do not matter: the chain ran once for this
	// provider, and its failure stands.
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", srv.CredentialsFile(gcpsm.ExternalAccount))
	_, err := fetch(t, p, provider.Ref{Name: "k"})
	require.ErrorIs(t, err, provider.ErrUnauthenticated)
	assert.Zero(t, srv.Requests())
	assert.Zero(t, srv.TokenRequests())
}

func TestOpenDoesNoNetworkIOAndNoCredentialLookup(t *testing.T) {
	srv := startServer(t, gcpsm.ExternalAccount)
	d, lerr := provider.Default().Lookup(gcp.Name)
	require.NoError(t, lerr)
	p, err := d.Open(context.Background(), &gcp.Settings{ProjectID: "x-project"}, provider.Options{})
	require.NoError(t, err)
	assert.Zero(t, srv.Requests())
	assert.Zero(t, srv.TokenRequests())
	require.NoError(t, p.(io.Closer).Close())
	_, err = p.Fetch(context.Background(), provider.Ref{Name: "k"})
	assert.Error(t, err, "fetch after Close fails")
}

func TestTimeoutBoundsEachAttempt(t *testing.T) {
	srv := startServer(t, gcpsm.ExternalAccount)
	srv.Put("", "k", []byte("v"))
	p := newProvider(t, gcp.Settings{}, provider.Options{Timeout: 300 * time.Millisecond})
	_, err := fetch(t, p, provider.Ref{Name: "k"})
	require.NoError(t, err)
	srv.Inject(testserver.FaultStall)
	before := srv.Requests()
	start := time.Now()
	_, err = fetch(t, p, provider.Ref{Name: "k"})
	elapsed := time.Since(start)
	require.ErrorIs(t, err, provider.ErrUnavailable)
	assert.Contains(t, err.Error(), "within 300ms")
	assert.Contains(t, providerError(t, err).Hint, "--timeout")
	assert.Less(t, elapsed, 2*time.Second)
	assert.Equal(t, 1, srv.Requests()-before, "a timed-out attempt is not retried")
}

func TestCancelledContextWrapsContextError(t *testing.T) {
	srv := startServer(t, gcpsm.ExternalAccount)
	srv.Put("", "k", []byte("v"))
	p := newProvider(t, gcp.Settings{}, provider.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.Fetch(ctx, provider.Ref{Name: "k"})
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, err, provider.ErrUnavailable)

	srv.Inject(testserver.FaultStall)
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = p.Fetch(ctx, provider.Ref{Name: "k"})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestSettingsPrecedence(t *testing.T) {
	t.Setenv(gcp.ProjectEnv, "env-project")
	t.Setenv(gcp.GcloudProjectEnv, "gcloud-project")
	t.Setenv(gcp.EndpointEnv, "https://secretmanager.europe-west3.rep.googleapis.com/")
	tests := []struct {
		name                        string
		s                           gcp.Settings
		opts                        provider.Options
		project, endpoint, location string
	}{
		{"flag wins", gcp.Settings{ProjectID: "toml-project"}, provider.Options{ProjectID: "flag-project"}, "flag-project", "secretmanager.europe-west3.rep.googleapis.com:443", "europe-west3"},
		{"toml over env", gcp.Settings{ProjectID: "toml-project", Endpoint: "secretmanager.me-central2.rep.googleapis.com:443"}, provider.Options{}, "toml-project", "secretmanager.me-central2.rep.googleapis.com:443", "me-central2"},
		{"env", gcp.Settings{}, provider.Options{}, "env-project", "secretmanager.europe-west3.rep.googleapis.com:443", "europe-west3"},
		{"vault-url is not an endpoint", gcp.Settings{Endpoint: "psc.example.internal"}, provider.Options{URL: "https://x.vault.azure.net/"}, "env-project", "psc.example.internal:443", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := gcp.New(tc.s, tc.opts)
			require.NoError(t, err)
			assert.Equal(t, tc.project, p.Project())
			assert.Equal(t, tc.endpoint, p.Endpoint())
			assert.Equal(t, tc.location, p.Location())
		})
	}
	t.Run("gcloud project last", func(t *testing.T) {
		t.Setenv(gcp.ProjectEnv, "")
		p, err := gcp.New(gcp.Settings{}, provider.Options{})
		require.NoError(t, err)
		assert.Equal(t, "gcloud-project", p.Project())
	})
	t.Run("no endpoint", func(t *testing.T) {
		t.Setenv(gcp.EndpointEnv, "")
		p, err := gcp.New(gcp.Settings{}, provider.Options{})
		require.NoError(t, err)
		assert.Empty(t, p.Endpoint(), "the library's default global endpoint")
	})
	for _, bad := range []struct {
		s    gcp.Settings
		opts provider.Options
	}{
		{gcp.Settings{ProjectID: "my project"}, provider.Options{}},
		{gcp.Settings{ProjectID: "projects/p"}, provider.Options{}},
		{gcp.Settings{}, provider.Options{ProjectID: "Upper"}},
		{gcp.Settings{Endpoint: "http://127.0.0.1"}, provider.Options{}}, // an emulator endpoint needs its port
		{gcp.Settings{Endpoint: "grpc://127.0.0.1:8080"}, provider.Options{}},
		{gcp.Settings{Endpoint: "https://host/?alt=json"}, provider.Options{}},
		{gcp.Settings{Endpoint: "host:99999"}, provider.Options{}},
	} {
		_, err := gcp.New(bad.s, bad.opts)
		assert.ErrorIs(t, err, provider.ErrInvalid, "%+v", bad)
	}
}
