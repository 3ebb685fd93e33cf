package aws

import (
	"context"
	"errors"
	"fmt"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/provider"
)

func TestClassifyAPI_Table(t *testing.T) {
	ref := provider.Ref{Name: "team/api"}
	const denied = "User: arn:aws:sts::210987654321:assumed-role/ci/run is not authorized to perform: secretsmanager:GetSecretValue on resource: team/api"
	for _, tc := range []struct {
		code, msg string
		op        string
		status    int
		kind      string
		hint      string // substring of the hint; "" = no hint expected
	}{
		{"ResourceNotFoundException", "Secrets Manager can't find the specified secret.", opGet, 400, "not_found", "looked up in eu-west-1"},
		{"AccessDeniedException", denied, opGet, 400, "permission_denied",
			"secretsmanager:GetSecretValue on arn:aws:secretsmanager:eu-west-1:210987654321:secret:team/api-*"},
		{"AccessDeniedException", "User: x is not authorized", opBatch, 400, "permission_denied", "secretsmanager:BatchGetSecretValue"},
		{"DecryptionFailure", "Secrets Manager can't decrypt", opGet, 400, "permission_denied", "kms:Decrypt"},
		{"UnrecognizedClientException", "The security token included in the request is invalid.", opGet, 400, "unauthenticated", "aws sso login"},
		{"InvalidClientTokenId", "", opGet, 403, "unauthenticated", "AWS_PROFILE"},
		{"MissingAuthenticationTokenException", "Missing Authentication Token", opGet, 400, "unauthenticated", "AWS_ACCESS_KEY_ID"},
		{"InvalidSignatureException", "The request signature we calculated does not match", opGet, 400, "unauthenticated", "AWS_SECRET_ACCESS_KEY"},
		{"InvalidSignatureException", "Signature expired: 20260101T000000Z is now earlier than …", opGet, 400, "unauthenticated", "clock"},
		{"IncompleteSignatureException", "", opGet, 400, "unauthenticated", "AWS_SECRET_ACCESS_KEY"},
		{"ExpiredTokenException", "The security token included in the request is expired", opGet, 400, "unauthenticated", "aws sso login"},
		{"ThrottlingException", "Rate exceeded", opGet, 400, "throttled", "concurrency"},
		{"TooManyRequestsException", "", opGet, 429, "throttled", "concurrency"},
		{"RequestLimitExceeded", "", opGet, 400, "throttled", "concurrency"},
		{"InternalServiceError", "An error occurred on the server side.", opGet, 500, "unavailable", "retry later"},
		{"ServiceUnavailable", "", opGet, 503, "unavailable", "retry later"},
		{"InvalidParameterException", "You provided an invalid value for a parameter.", opGet, 400, "invalid", ""},
		{"InvalidRequestException", "You can't perform this operation on the secret because it was marked for deletion.", opGet, 400, "invalid", "restore-secret"},
		{"InvalidRequestException", "something else", opGet, 400, "invalid", ""},
		{"ValidationException", "1 validation error detected", opBatch, 400, "invalid", ""},
		{"SomethingNew", "", opGet, 502, "unavailable", ""},
		{"SomethingNew", "", opGet, 429, "throttled", "concurrency"},
		{"SomethingNew", "", opGet, 401, "unauthenticated", "aws sso login"},
		{"SomethingNew", "", opGet, 403, "permission_denied", ""},
		{"SomethingNew", "", opGet, 400, "invalid", ""},
	} {
		name := fmt.Sprintf("%s/%s/%d", tc.code, tc.op, tc.status)
		e := classifyAPI(ref, "eu-west-1", tc.op, tc.code, tc.msg, tc.status, nil)
		assert.Equal(t, tc.kind, provider.KindOf(e), name)
		assert.Equal(t, Name, e.Provider, name)
		assert.Equal(t, ref, e.Ref, name)
		assert.Contains(t, e.Message, tc.code, name)
		assert.Contains(t, e.Message, tc.msg, name)
		if tc.hint != "" {
			assert.Contains(t, e.Hint, tc.hint, name)
		}
		if tc.op == opBatch {
			assert.Contains(t, e.Message, "BatchGetSecretValue: ", name)
		}
	}
}

// TestClassify_SDKErrorChain checks classification through the error
// wrapping the SDK really produces.
func TestClassify_SDKErrorChain(t *testing.T) {
	p, err := New(Settings{}, provider.Options{})
	require.NoError(t, err)
	ref := provider.Ref{Name: "k"}
	apiErr := &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	e := p.classify(context.Background(), ref, "us-east-1", opGet, fmt.Errorf("op: %w", apiErr))
	assert.Equal(t, "throttled", provider.KindOf(e))
	assert.Equal(t, "ThrottlingException: Rate exceeded", e.Message)
	assert.True(t, errors.Is(e, provider.ErrThrottled))
	var got smithy.APIError
	assert.True(t, errors.As(e, &got), "the SDK error stays reachable")

	e = p.classify(context.Background(), ref, "us-east-1", opGet, &credentialError{err: errors.New("no EC2 IMDS role found")})
	assert.Equal(t, "unauthenticated", provider.KindOf(e))

	e = p.classify(context.Background(), ref, "us-east-1", opGet, &smithy.DeserializationError{Err: errors.New("unexpected EOF")})
	assert.Equal(t, "unavailable", provider.KindOf(e))
	assert.Contains(t, e.Hint, "proxy")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e = p.classify(ctx, ref, "us-east-1", opGet, errors.New("whatever the SDK said"))
	assert.ErrorIs(t, e, context.Canceled)
	assert.Equal(t, "unavailable", provider.KindOf(e))
}

func TestResourcePattern(t *testing.T) {
	for _, tc := range []struct {
		ref             provider.Ref
		region, message string
		want            string
	}{
		{provider.Ref{Name: "app"}, "us-east-1", "", "arn:aws:secretsmanager:us-east-1:ACCOUNT:secret:app-*"},
		{provider.Ref{Name: "app"}, "cn-north-1", "User: arn:aws-cn:iam::123456789012:user/x is not", "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:app-*"},
		{provider.Ref{Name: "app"}, "us-gov-west-1", "", "arn:aws-us-gov:secretsmanager:us-gov-west-1:ACCOUNT:secret:app-*"},
		{provider.Ref{Name: "arn:aws:secretsmanager:eu-west-1:1:secret:x-AbCdEf"}, "eu-west-1", "", "arn:aws:secretsmanager:eu-west-1:1:secret:x-AbCdEf"},
	} {
		assert.Equal(t, tc.want, resourcePattern(tc.ref, tc.region, tc.message))
	}
}

func TestResolveTarget(t *testing.T) {
	for _, tc := range []struct {
		ref     provider.Ref
		want    target
		invalid bool
	}{
		{provider.Ref{Name: "app"}, target{"", "app"}, false},
		{provider.Ref{Vault: "eu-west-1", Name: "team/app"}, target{"eu-west-1", "team/app"}, false},
		{provider.Ref{Vault: "us-gov-east-1", Name: "app"}, target{"us-gov-east-1", "app"}, false},
		{provider.Ref{Vault: "ap-south-1", Name: "arn:aws:secretsmanager:us-west-2:123456789012:secret:app-AbCdEf"},
			target{"us-west-2", "arn:aws:secretsmanager:us-west-2:123456789012:secret:app-AbCdEf"}, false},
		{provider.Ref{Name: "arn:aws:secretsmanager:us-west-2:123456789012:secret:app"},
			target{"us-west-2", "arn:aws:secretsmanager:us-west-2:123456789012:secret:app"}, false},
		{provider.Ref{Name: "arn:aws:ssm:us-west-2:123456789012:parameter/app"}, target{}, true},
		{provider.Ref{Name: "arn:aws:secretsmanager:us-west-2:123456789012:secret:"}, target{}, true},
		{provider.Ref{Name: "arn:aws:secretsmanager::123456789012:secret:app"}, target{}, true},
		{provider.Ref{Name: "arn:nonsense"}, target{}, true},
		{provider.Ref{Vault: "my-keyvault", Name: "app"}, target{}, true},
		{provider.Ref{Vault: "https://x.vault.azure.net/", Name: "app"}, target{}, true},
		{provider.Ref{Name: ""}, target{}, true},
	} {
		got, err := resolveTarget(tc.ref)
		if tc.invalid {
			require.Error(t, err, "%+v", tc.ref)
			assert.Equal(t, "invalid", provider.KindOf(err))
			assert.NotEmpty(t, err.Hint)
			continue
		}
		require.Nil(t, err, "%+v", tc.ref)
		assert.Equal(t, tc.want, got)
	}
}

func TestRegionShape(t *testing.T) {
	for _, r := range []string{"us-east-1", "eu-central-2", "ap-southeast-5", "us-gov-west-1", "cn-northwest-1", "us-isob-east-1", "il-central-1", "eusc-de-east-1", "mx-central-1"} {
		assert.True(t, regionRE().MatchString(r), r)
	}
	for _, r := range []string{"", "us-east", "US-EAST-1", "my-keyvault", "us_east_1", "us-east-1.evil.com", "local"} {
		assert.False(t, regionRE().MatchString(r), r)
	}
}

func TestSanitizeCredentialMessage(t *testing.T) {
	msg := "process provider error: parse failed of process output: {AccessKeyId: AKIA..., SecretAccessKey: hunter2, error: invalid character"
	got := sanitizeCredentialMessage(msg)
	assert.NotContains(t, got, "hunter2")
	assert.Contains(t, got, "<withheld>, error: invalid character")
	assert.Equal(t, "no EC2 IMDS role found", sanitizeCredentialMessage("no EC2 IMDS role found"))
	assert.Equal(t, "x process output: <withheld>", sanitizeCredentialMessage("x process output: secret"))
}

func TestCredentialErrorHints(t *testing.T) {
	ref := provider.Ref{Name: "k"}
	e := (&credentialError{err: errors.New("refresh cached SSO token failed, unable to refresh SSO token")}).providerError(ref)
	assert.Contains(t, e.Hint, "aws sso login")
	e = (&credentialError{err: errors.New("failed to retrieve credentials, operation error STS: AssumeRoleWithWebIdentity, InvalidIdentityToken")}).providerError(ref)
	assert.Contains(t, e.Hint, "AWS_ROLE_ARN")
	assert.Equal(t, "unauthenticated", provider.KindOf(e))
}

func TestStickyCredentials_KeepsFirstFailureButNotCancellation(t *testing.T) {
	calls := 0
	fail := true
	s := &stickyCredentials{inner: credsFunc(func(ctx context.Context) error {
		calls++
		if err := ctx.Err(); err != nil {
			return err
		}
		if fail {
			return errors.New("chain failed")
		}
		return nil
	})}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Retrieve(ctx)
	require.Error(t, err)
	assert.Nil(t, s.failed(), "a cancelled lookup is not kept")
	for range 3 {
		_, err = s.Retrieve(context.Background())
		require.Error(t, err)
	}
	assert.Equal(t, 2, calls, "after one failure the chain is not run again")
	fail = false
	_, err = s.Retrieve(context.Background())
	assert.Error(t, err)
}

type credsFunc func(context.Context) error

func (f credsFunc) Retrieve(ctx context.Context) (awssdk.Credentials, error) {
	if err := f(ctx); err != nil {
		return awssdk.Credentials{}, err
	}
	return awssdk.Credentials{AccessKeyID: "AKIA", SecretAccessKey: "x"}, nil
}
