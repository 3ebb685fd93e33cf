package aws_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/limits"
	"github.com/envdrift/envdrift/internal/testserver"
	"github.com/envdrift/envdrift/internal/testserver/awssm"
	"github.com/envdrift/envdrift/provider"
	awsp "github.com/envdrift/envdrift/provider/aws"
	"github.com/envdrift/envdrift/provider/providertest"
)

const otherRegion = "us-west-2"

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func providerError(t *testing.T, err error) *provider.Error {
	t.Helper()
	var pe *provider.Error
	require.ErrorAs(t, err, &pe)
	return pe
}

func TestRegistry_SettingsDecodeFromTOML(t *testing.T) {
	d, lerr := provider.Default().Lookup("aws")
	require.NoError(t, lerr)
	s := d.NewSettings()
	_, err := toml.Decode(`
region = "eu-west-1"
endpoint_url = "http://localhost:4566"
profile = "prod"
`, s)
	require.NoError(t, err)
	assert.Equal(t, &awsp.Settings{Region: "eu-west-1", EndpointURL: "http://localhost:4566", Profile: "prod"}, s)
}

func TestNew_RejectsBadSettingsWithoutIO(t *testing.T) {
	for _, tc := range []struct {
		s    awsp.Settings
		o    provider.Options
		want string
	}{
		{awsp.Settings{Region: "my-keyvault"}, provider.Options{}, `[vault.aws] region "my-keyvault"`},
		{awsp.Settings{}, provider.Options{Region: "US East"}, `--region "US East"`},
		{awsp.Settings{EndpointURL: "localhost:4566"}, provider.Options{}, "endpoint_url"},
		{awsp.Settings{}, provider.Options{URL: "ftp://x"}, "--vault-url"},
	} {
		_, err := awsp.New(tc.s, tc.o)
		require.Error(t, err, "%+v %+v", tc.s, tc.o)
		assert.ErrorIs(t, err, provider.ErrInvalid)
		assert.Contains(t, err.Error(), tc.want)
		assert.NotEmpty(t, providerError(t, err).Hint)
	}
}

func TestOpen_DoesNoIOUntilFirstFetch(t *testing.T) {
	srv := startServer(t)
	dir := t.TempDir()
	count := filepath.Join(dir, "runs")
	writeCredentialProcessProfile(t, srv, "counted", count, true)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_PROFILE", "counted")

	p := newProvider(t, awsp.Settings{}, provider.Options{})
	assert.Equal(t, 0, srv.Requests())
	assert.NoFileExists(t, count, "Open must not run the credential chain")
	_ = p
}

func TestFetch_VersionIsReported(t *testing.T) {
	srv := startServer(t)
	srv.Put("", "k", []byte(providertest.Key))
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	got, err := p.Fetch(ctx(t), provider.Ref{Name: "k"})
	require.NoError(t, err)
	assert.Len(t, got.Version, 36, "VersionId is a UUID")
}

func TestFetch_BinaryPayloads(t *testing.T) {
	srv := startServer(t)
	junk := []byte{0xff, 0xfe, 's', 'e', 'c', 'r', 'e', 't', '-', 'b', 'y', 't', 'e', 's', 0x80}
	srv.PutBinary("", "junk", junk)
	srv.PutBinary("", "text", []byte("DOTENV_PRIVATE_KEY="+providertest.Key))
	p := newProvider(t, awsp.Settings{}, provider.Options{})

	got, err := p.Fetch(ctx(t), provider.Ref{Name: "text"})
	require.NoError(t, err)
	assert.Equal(t, "DOTENV_PRIVATE_KEY="+providertest.Key, string(got.Value))

	_, err = p.Fetch(ctx(t), provider.Ref{Name: "junk"})
	require.ErrorIs(t, err, provider.ErrInvalid)
	assert.Contains(t, err.Error(), "SecretBinary (15 bytes) that is not UTF-8")
	assert.NotContains(t, err.Error(), "secret-bytes")
}

func TestFetch_OversizedPayloadIsInvalid(t *testing.T) {
	srv := startServer(t)
	srv.Put("", "huge", bytes.Repeat([]byte("a"), limits.MaxSecretSize+1))
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	_, err := p.Fetch(ctx(t), provider.Ref{Name: "huge"})
	require.ErrorIs(t, err, provider.ErrInvalid)
	assert.Contains(t, err.Error(), "limit")
	assert.NotContains(t, err.Error(), "aaaaaaaa")
}

func TestFetch_ARN(t *testing.T) {
	srv := startServer(t)
	srv.Put(otherRegion, "team/api", []byte("west"))
	srv.Put("", "team/api", []byte("default"))
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	full := srv.ARN(otherRegion, "team/api")
	partial := strings.TrimSuffix(full, full[len(full)-7:])

	for _, tc := range []struct {
		name string
		ref  provider.Ref
	}{
		{"full ARN, default vault", provider.Ref{Name: full}},
		{"partial ARN", provider.Ref{Name: partial}},
		{"the ARN's region wins over vault_name", provider.Ref{Vault: "ap-south-1", Name: full}},
	} {
		got, err := p.Fetch(ctx(t), tc.ref)
		require.NoError(t, err, tc.name)
		assert.Equal(t, "west", string(got.Value), tc.name)
	}

	got, err := p.Fetch(ctx(t), provider.Ref{Name: "team/api"})
	require.NoError(t, err)
	assert.Equal(t, "default", string(got.Value))

	_, err = p.Fetch(ctx(t), provider.Ref{Name: "arn:aws:ssm:us-east-1:123456789012:parameter/x"})
	assert.ErrorIs(t, err, provider.ErrInvalid)

	// An ARN of the right shape but another account is simply not found.
	_, err = p.Fetch(ctx(t), provider.Ref{Name: strings.Replace(full, awssm.AccountID, "210987654321", 1)})
	assert.ErrorIs(t, err, provider.ErrNotFound)
}

func TestFetch_BadVaultNameIsInvalidNotAHostName(t *testing.T) {
	srv := startServer(t)
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	_, err := p.Fetch(ctx(t), provider.Ref{Vault: "my-keyvault", Name: "k"})
	require.ErrorIs(t, err, provider.ErrInvalid)
	assert.Contains(t, providerError(t, err).Hint, "region")
	_, err = p.Fetch(ctx(t), provider.Ref{Name: " "})
	assert.ErrorIs(t, err, provider.ErrInvalid)
	assert.Equal(t, 0, srv.Requests())
}

// TestRegionPrecedence stores a secret under the same name in several
// regions, each holding its region's name, and checks which one a fetch
// without a vault name reads: the region really routes the request.
func TestRegionPrecedence(t *testing.T) {
	regions := []string{"us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-south-1", "sa-east-1"}
	for _, tc := range []struct {
		name     string
		opts     provider.Options
		settings awsp.Settings
		env      map[string]string
		profile  string // region of the [default] profile in the shared config
		want     string
	}{
		{"--region beats everything", provider.Options{Region: "us-west-2"}, awsp.Settings{Region: "eu-west-1"},
			map[string]string{"AWS_REGION": "eu-central-1"}, "ap-south-1", "us-west-2"},
		{"setting beats the environment", provider.Options{}, awsp.Settings{Region: "eu-west-1"},
			map[string]string{"AWS_REGION": "eu-central-1"}, "ap-south-1", "eu-west-1"},
		{"AWS_REGION beats AWS_DEFAULT_REGION and the profile", provider.Options{}, awsp.Settings{},
			map[string]string{"AWS_REGION": "eu-central-1", "AWS_DEFAULT_REGION": "sa-east-1"}, "ap-south-1", "eu-central-1"},
		{"AWS_DEFAULT_REGION beats the profile", provider.Options{}, awsp.Settings{},
			map[string]string{"AWS_REGION": "", "AWS_DEFAULT_REGION": "sa-east-1"}, "ap-south-1", "sa-east-1"},
		{"the profile's region", provider.Options{}, awsp.Settings{},
			map[string]string{"AWS_REGION": ""}, "ap-south-1", "ap-south-1"},
		{"us-east-1 when nothing is set", provider.Options{}, awsp.Settings{},
			map[string]string{"AWS_REGION": ""}, "", "us-east-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t)
			for _, r := range regions {
				srv.Put(r, "where", []byte(r))
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			if tc.profile != "" {
				require.NoError(t, os.WriteFile(srv.ConfigFile(), []byte("[default]\nregion = "+tc.profile+"\n"), 0o600))
			}
			p := newProvider(t, tc.settings, tc.opts)
			region, err := p.Region(ctx(t))
			require.NoError(t, err)
			assert.Equal(t, tc.want, region)
			got, err := p.Fetch(ctx(t), provider.Ref{Name: "where"})
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got.Value))
			// vault_name still picks any region explicitly.
			got, err = p.Fetch(ctx(t), provider.Ref{Vault: "sa-east-1", Name: "where"})
			require.NoError(t, err)
			assert.Equal(t, "sa-east-1", string(got.Value))
		})
	}
}

func TestProfileSetting_SelectsSharedConfigProfile(t *testing.T) {
	srv := startServer(t)
	srv.Put("ap-south-1", "k", []byte("v"))
	// An explicitly chosen profile wins over credentials in the environment
	// (the SDK's rule): these would fail the signature check.
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrongSecretKeyValue0000000000000000000000")
	t.Setenv("AWS_REGION", "")
	require.NoError(t, os.WriteFile(srv.ConfigFile(), []byte("[profile team]\nregion = ap-south-1\n"), 0o600))
	require.NoError(t, os.WriteFile(srv.CredentialsFile(), []byte(fmt.Sprintf(
		"[team]\naws_access_key_id = %s\naws_secret_access_key = %s\n", awssm.AccessKeyID, awssm.SecretAccessKey)), 0o600))
	p := newProvider(t, awsp.Settings{Profile: "team"}, provider.Options{})
	got, err := p.Fetch(ctx(t), provider.Ref{Name: "k"})
	require.NoError(t, err)
	assert.Equal(t, "v", string(got.Value))

	p = newProvider(t, awsp.Settings{Profile: "nope"}, provider.Options{})
	_, err = p.Fetch(ctx(t), provider.Ref{Name: "k"})
	require.ErrorIs(t, err, provider.ErrInvalid)
	assert.Contains(t, err.Error(), `"nope"`)
}

func TestEndpointPrecedence(t *testing.T) {
	srv := startServer(t)
	srv.Put("", "k", []byte("v"))
	dead := "http://127.0.0.1:1" // nothing listens there

	t.Run("endpoint_url beats AWS_ENDPOINT_URL_SECRETS_MANAGER", func(t *testing.T) {
		t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", dead)
		p := newProvider(t, awsp.Settings{EndpointURL: srv.URL()}, provider.Options{})
		_, err := p.Fetch(ctx(t), provider.Ref{Name: "k"})
		require.NoError(t, err)
	})
	t.Run("--vault-url beats endpoint_url", func(t *testing.T) {
		p := newProvider(t, awsp.Settings{EndpointURL: dead}, provider.Options{URL: srv.URL()})
		_, err := p.Fetch(ctx(t), provider.Ref{Name: "k"})
		require.NoError(t, err)
	})
	t.Run("AWS_ENDPOINT_URL is honoured", func(t *testing.T) {
		t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "")
		t.Setenv("AWS_ENDPOINT_URL", srv.URL())
		p := newProvider(t, awsp.Settings{}, provider.Options{})
		_, err := p.Fetch(ctx(t), provider.Ref{Name: "k"})
		require.NoError(t, err)
	})
	t.Run("an unreachable endpoint is unavailable and named", func(t *testing.T) {
		p := newProvider(t, awsp.Settings{EndpointURL: dead}, provider.Options{})
		_, err := p.Fetch(ctx(t), provider.Ref{Name: "k"})
		require.ErrorIs(t, err, provider.ErrUnavailable)
		assert.Contains(t, err.Error(), dead)
	})
}

// writeCredentialProcessProfile adds a profile whose credential_process
// appends a line to count each time the SDK runs it, then fails (or prints
// valid credentials when fail is false).
func writeCredentialProcessProfile(t *testing.T, srv *awssm.Server, name, count string, fail bool) {
	t.Helper()
	script := filepath.Join(t.TempDir(), "creds.sh")
	body := "#!/bin/sh\necho run >> '" + count + "'\n"
	if fail {
		body += "echo 'not json: do-not-print-this-token' \nexit 0\n"
	} else {
		body += fmt.Sprintf(`echo '{"Version":1,"AccessKeyId":"%s","SecretAccessKey":"%s"}'`+"\n", awssm.AccessKeyID, awssm.SecretAccessKey)
	}
	require.NoError(t, os.WriteFile(script, []byte(body), 0o700))
	require.NoError(t, os.WriteFile(srv.ConfigFile(), []byte(fmt.Sprintf(
		"[profile %s]\ncredential_process = %s\n", name, script)), 0o600))
}

func lines(t *testing.T, path string) int {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0
	}
	require.NoError(t, err)
	return strings.Count(string(b), "\n")
}

func TestCredentialChainFailure_ReportedOnceAndUnauthenticated(t *testing.T) {
	srv := startServer(t)
	for i := range 30 {
		srv.Put("", fmt.Sprintf("k%d", i), []byte("v"))
	}
	count := filepath.Join(t.TempDir(), "runs")
	writeCredentialProcessProfile(t, srv, "broken", count, true)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_PROFILE", "broken")

	p := newProvider(t, awsp.Settings{}, provider.Options{})
	var first *provider.Error
	for i := range 5 {
		_, err := p.Fetch(ctx(t), provider.Ref{Name: fmt.Sprintf("k%d", i)})
		require.ErrorIs(t, err, provider.ErrUnauthenticated)
		pe := providerError(t, err)
		assert.Equal(t, fmt.Sprintf("k%d", i), pe.Ref.Name)
		assert.NotContains(t, err.Error(), "do-not-print-this-token", "credential_process output is withheld")
		if first == nil {
			first = pe
		} else {
			assert.Equal(t, first.Message, pe.Message, "the same failure every time")
		}
	}
	refs := make([]provider.Ref, 30)
	for i := range refs {
		refs[i] = provider.Ref{Name: fmt.Sprintf("k%d", i)}
	}
	for _, r := range p.FetchBatch(ctx(t), refs) {
		assert.ErrorIs(t, r.Err, provider.ErrUnauthenticated)
	}
	assert.Equal(t, 1, lines(t, count), "the credential chain runs once per provider")
	assert.Equal(t, 0, srv.Requests(), "nothing is sent without credentials")
	assert.Contains(t, first.Hint, "aws sso login")
	assert.Contains(t, first.Hint, "AWS_PROFILE")
}

func TestCredentialProcess_SucceedsAndRunsOnce(t *testing.T) {
	srv := startServer(t)
	srv.Put("", "k", []byte("v"))
	count := filepath.Join(t.TempDir(), "runs")
	writeCredentialProcessProfile(t, srv, "proc", count, false)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_PROFILE", "proc")
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	for range 3 {
		got, err := p.Fetch(ctx(t), provider.Ref{Name: "k"})
		require.NoError(t, err)
		assert.Equal(t, "v", string(got.Value))
	}
	assert.Equal(t, 1, lines(t, count))
}

func TestNoCredentialsAnywhere_IsUnauthenticatedQuickly(t *testing.T) {
	srv := startServer(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	start := time.Now()
	_, err := p.Fetch(ctx(t), provider.Ref{Name: "k"})
	require.ErrorIs(t, err, provider.ErrUnauthenticated)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Contains(t, err.Error(), "no usable AWS credentials")
	assert.Equal(t, 0, srv.Requests())
}

func TestSignatureVerification_WrongSecretKeyIsRejected(t *testing.T) {
	srv := startServer(t)
	srv.Put("", "k", []byte(providertest.Key))
	const wrong = "wrongSecretKeyValue0000000000000000000000"
	t.Setenv("AWS_SECRET_ACCESS_KEY", wrong)
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	_, err := p.Fetch(ctx(t), provider.Ref{Name: "k"})
	require.ErrorIs(t, err, provider.ErrUnauthenticated)
	assert.Contains(t, err.Error(), "InvalidSignatureException")
	assert.Contains(t, providerError(t, err).Hint, "AWS_SECRET_ACCESS_KEY")
	assert.NotContains(t, err.Error(), wrong)
	assert.NotContains(t, err.Error(), providertest.Key)
	assert.Equal(t, 1, srv.Requests(), "authentication errors are not retried")
}

func TestSignatureVerification_UnknownAccessKey(t *testing.T) {
	srv := startServer(t)
	srv.Put("", "k", []byte("v"))
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000")
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	_, err := p.Fetch(ctx(t), provider.Ref{Name: "k"})
	require.ErrorIs(t, err, provider.ErrUnauthenticated)
	assert.Contains(t, err.Error(), "UnrecognizedClientException: The security token included in the request is invalid.")
}

func TestServiceErrors_EndToEnd(t *testing.T) {
	srv := startServer(t)
	srv.Put("", "k", []byte(providertest.Key))
	srv.Put("", "kms", []byte(providertest.Key))
	srv.FailDecryption("", "kms")
	p := newProvider(t, awsp.Settings{}, provider.Options{})

	_, err := p.Fetch(ctx(t), provider.Ref{Name: "kms"})
	require.ErrorIs(t, err, provider.ErrPermissionDenied)
	assert.Contains(t, err.Error(), "DecryptionFailure")
	assert.Contains(t, providerError(t, err).Hint, "kms:Decrypt")

	srv.Deny("", "k")
	_, err = p.Fetch(ctx(t), provider.Ref{Name: "k"})
	require.ErrorIs(t, err, provider.ErrPermissionDenied)
	assert.Contains(t, providerError(t, err).Hint,
		"secretsmanager:GetSecretValue on arn:aws:secretsmanager:"+awssm.DefaultRegion+":"+awssm.AccountID+":secret:k-*")

	srv.ExpireCredentials(true)
	_, err = p.Fetch(ctx(t), provider.Ref{Name: "kms"})
	require.ErrorIs(t, err, provider.ErrUnauthenticated)
	assert.Contains(t, err.Error(), "ExpiredTokenException")
	srv.ExpireCredentials(false)

	srv.Inject(testserver.FaultAuth)
	_, err = p.Fetch(ctx(t), provider.Ref{Name: "kms"})
	assert.ErrorIs(t, err, provider.ErrUnauthenticated)
	srv.Reset()
}

func TestFaults_RetriedThenClassified(t *testing.T) {
	for _, tc := range []struct {
		fault    testserver.Fault
		kind     error
		attempts int
		contains string
	}{
		{testserver.FaultReset, provider.ErrUnavailable, awsp.MaxAttempts, "connection reset"},
		{testserver.FaultError, provider.ErrUnavailable, awsp.MaxAttempts, "InternalServiceError"},
		{testserver.FaultThrottle, provider.ErrThrottled, awsp.MaxAttempts, "ThrottlingException: Rate exceeded"},
		{testserver.FaultMalformed, provider.ErrUnavailable, 1, "could not be parsed"},
	} {
		t.Run(fmt.Sprint(tc.contains), func(t *testing.T) {
			srv := startServer(t)
			srv.Put("", "k", []byte(providertest.Key))
			p := newProvider(t, awsp.Settings{}, provider.Options{})
			srv.Inject(tc.fault)
			_, err := p.Fetch(ctx(t), provider.Ref{Name: "k"})
			require.ErrorIs(t, err, tc.kind)
			assert.Contains(t, err.Error(), tc.contains)
			assert.Equal(t, tc.attempts, srv.Requests())
			assert.NotEmpty(t, providerError(t, err).Hint)
		})
	}
}

func TestTimeout_BoundsEachAttempt(t *testing.T) {
	srv := startServer(t)
	srv.Put("", "k", []byte(providertest.Key))
	p := newProvider(t, awsp.Settings{}, provider.Options{Timeout: 150 * time.Millisecond})
	srv.Inject(testserver.FaultStall)
	start := time.Now()
	_, err := p.Fetch(ctx(t), provider.Ref{Name: "k"})
	require.ErrorIs(t, err, provider.ErrUnavailable)
	assert.Contains(t, err.Error(), "timed out")
	assert.Equal(t, awsp.MaxAttempts, srv.Requests(), "a stalled attempt is abandoned and retried")
	assert.Less(t, time.Since(start), 8*time.Second)

	// After the stall clears, the same provider works again.
	srv.Reset()
	_, err = p.Fetch(ctx(t), provider.Ref{Name: "k"})
	require.NoError(t, err)
}

func TestFetch_CancelledContext(t *testing.T) {
	startServer(t)
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	c, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.Fetch(c, provider.Ref{Name: "k"})
	assert.ErrorIs(t, err, context.Canceled)
	results := p.FetchBatch(c, []provider.Ref{{Name: "a"}, {Name: "b"}})
	for _, r := range results {
		assert.ErrorIs(t, r.Err, context.Canceled)
	}
}

func TestAWSMaxAttemptsOverridesTheAttemptCount(t *testing.T) {
	srv := startServer(t)
	srv.Put("", "k", []byte("v"))
	t.Setenv("AWS_MAX_ATTEMPTS", "2")
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	srv.FailWith("down")
	_, err := p.Fetch(ctx(t), provider.Ref{Name: "k"})
	require.ErrorIs(t, err, provider.ErrUnavailable)
	assert.Equal(t, 2, srv.Requests())
}

func TestRetryPolicy_MaxAttemptsBeatsAWSMaxAttempts(t *testing.T) {
	srv := startServer(t)
	srv.Put("", "k", []byte("v"))
	t.Setenv("AWS_MAX_ATTEMPTS", "2")
	p := newProvider(t, awsp.Settings{}, provider.Options{Retry: provider.RetryPolicy{MaxAttempts: 3, MaxDelay: time.Millisecond}})
	srv.FailWith("down")
	_, err := p.Fetch(ctx(t), provider.Ref{Name: "k"})
	require.ErrorIs(t, err, provider.ErrUnavailable)
	assert.Equal(t, 3, srv.Requests())
}

func TestRetryPolicy_OneAttemptMeansNoRetry(t *testing.T) {
	srv := startServer(t)
	srv.Put("", "k", []byte("v"))
	p := newProvider(t, awsp.Settings{}, provider.Options{Retry: provider.RetryPolicy{MaxAttempts: 1}})
	srv.Throttle(1)
	_, err := p.Fetch(ctx(t), provider.Ref{Name: "k"})
	require.ErrorIs(t, err, provider.ErrThrottled)
	assert.Equal(t, 1, srv.Requests())
}
