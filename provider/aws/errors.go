package aws

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go"

	"github.com/envdrift/envdrift/internal/lazyre"
	"github.com/envdrift/envdrift/internal/tlshint"
	"github.com/envdrift/envdrift/provider"
)

// The operations an error can come from; they pick the permission a hint
// names.
const (
	opGet      = "GetSecretValue"
	opBatch    = "BatchGetSecretValue"
	opDescribe = "DescribeSecret"
	opCreate   = "CreateSecret"
	opPut      = "PutSecretValue"
	opTag      = "TagResource"
)

// credHint is the generic advice for a caller without usable credentials.
const credHint = "configure AWS credentials: run `aws sso login` for an IAM Identity Center profile, set AWS_PROFILE to a profile that has credentials, " +
	"or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; in CI use OIDC (AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE)"

// classify turns an error from the SDK into a *provider.Error for ref, read
// in region by operation op.
func (p *Provider) classify(ctx context.Context, ref provider.Ref, region, op string, err error) *provider.Error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return cancelled(ref, ctxErr)
	}
	var ce *credentialError
	if errors.As(err, &ce) {
		return ce.providerError(ref)
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		status := 0
		var re *awshttp.ResponseError
		if errors.As(err, &re) {
			status = re.HTTPStatusCode()
		}
		return classifyAPI(ref, region, op, apiErr.ErrorCode(), apiErr.ErrorMessage(), status, err)
	}
	endpoint := p.endpoint
	if endpoint == "" {
		endpoint = "the Secrets Manager endpoint of " + region
	}
	if plainToTLS(err, endpoint) {
		return provider.NewError(provider.ErrUnavailable, Name, ref,
			op+": "+endpoint+" refused the plaintext request with a bare HTTP/1.0 400, as a TLS listener answers plain HTTP", err).
			WithHint("the server speaks TLS: use an https:// endpoint_url (and AWS_CA_BUNDLE if its certificate is not from a public CA)")
	}
	var de *smithy.DeserializationError
	if errors.As(err, &de) {
		return provider.NewError(provider.ErrUnavailable, Name, ref,
			op+": the response could not be parsed as a Secrets Manager answer", err).
			WithHint("check that " + endpoint + " is Secrets Manager and not a proxy or captive portal answering in its place (endpoint_url, AWS_ENDPOINT_URL*, HTTPS_PROXY)")
	}
	var ipe smithy.InvalidParamsError
	if errors.As(err, &ipe) {
		return provider.NewError(provider.ErrInvalid, Name, ref, op+": "+ipe.Error(), err)
	}
	attempts := 1
	var me *retry.MaxAttemptsError
	if errors.As(err, &me) {
		attempts = me.Attempt
	}
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		endpoint = strings.TrimSuffix(ue.URL, "/")
		msg = fmt.Sprintf("%s to %s failed after %d attempt(s): %v", op, endpoint, attempts, ue.Err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return provider.NewError(provider.ErrUnavailable, Name, ref,
			fmt.Sprintf("%s to %s timed out: no answer within %s (per attempt, %d attempt(s))", op, endpoint, p.timeout, attempts), err).
			WithHint("check network access to " + endpoint + " (proxy, VPC endpoint, firewall), or raise the timeout")
	}
	if hint := tlsHint(err, endpoint); hint != "" {
		return provider.NewError(provider.ErrUnavailable, Name, ref, msg, err).WithHint(hint)
	}
	return provider.NewError(provider.ErrUnavailable, Name, ref, msg, err).
		WithHint("check network access to " + endpoint + " (DNS, proxy, VPC endpoint, firewall)")
}

var accountRE = lazyre.New(`arn:aws[a-z-]*:(?:iam|sts)::([0-9]{12}):`)

// partition returns the ARN partition of region.
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "eusc-"):
		return "aws-eusc"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	}
	return "aws"
}

// resourcePattern is the IAM resource a policy must allow for ref: the ARN
// itself when ref is one, else the secret's ARN with the random suffix as a
// wildcard. The account comes from the error message when AWS named it.
func resourcePattern(ref provider.Ref, region, message string) string {
	if strings.HasPrefix(ref.Name, "arn:") {
		return ref.Name
	}
	account := "ACCOUNT"
	if m := accountRE().FindStringSubmatch(message); m != nil {
		account = m[1]
	}
	if region == "" {
		region = "REGION"
	}
	return fmt.Sprintf("arn:%s:secretsmanager:%s:%s:secret:%s-*", partition(region), region, account, ref.Name)
}

// classifyAPI maps a Secrets Manager error code (from an error response or
// a BatchGetSecretValue Errors entry) to a kind and a hint.
func classifyAPI(ref provider.Ref, region, op, code, message string, status int, cause error) *provider.Error {
	msg := code
	if message != "" {
		msg += ": " + message
	}
	if op == opBatch {
		msg = opBatch + ": " + msg
	}
	e := func(k error, hint string) *provider.Error {
		return provider.NewError(k, Name, ref, msg, cause).WithHint(hint)
	}
	switch code {
	case "ResourceNotFoundException":
		return e(provider.ErrNotFound, fmt.Sprintf(
			"check the secret name and its region: it was looked up in %s (set vault_name, [vault.aws] region or --region for another region)", region))
	case "AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "NotAuthorized":
		if op == opBatch {
			return e(provider.ErrPermissionDenied,
				"grant secretsmanager:BatchGetSecretValue (Resource \"*\") to read up to 20 secrets per request; envdrift reads secrets one at a time with GetSecretValue without it")
		}
		switch op {
		case opCreate:
			return e(provider.ErrPermissionDenied, fmt.Sprintf(
				"to publish keys the caller needs secretsmanager:CreateSecret and secretsmanager:TagResource (envdrift tags the secrets it creates) on %s",
				resourcePattern(ref, region, message)))
		case opPut, opTag, opDescribe:
			return e(provider.ErrPermissionDenied, fmt.Sprintf(
				"to publish keys the caller needs secretsmanager:%s on %s (and kms:GenerateDataKey and kms:Decrypt on the secret's KMS key if it uses a customer managed key)",
				op, resourcePattern(ref, region, message)))
		}
		return e(provider.ErrPermissionDenied, fmt.Sprintf(
			"the caller needs secretsmanager:GetSecretValue on %s (and kms:Decrypt on the secret's KMS key if it uses a customer managed key)",
			resourcePattern(ref, region, message)))
	case "ResourceExistsException":
		return e(provider.ErrConflict, "the secret exists: someone created it since it was read, or the name is taken")
	case "EncryptionFailure":
		return e(provider.ErrPermissionDenied,
			"Secrets Manager could not encrypt the value with the secret's KMS key: the caller needs kms:GenerateDataKey on that key, and the key must be enabled")
	case "DecryptionFailure":
		return e(provider.ErrPermissionDenied,
			"Secrets Manager could not decrypt the secret with its KMS key: the caller needs kms:Decrypt on that key (key policy or grant), and the key must be enabled")
	case "UnrecognizedClientException", "InvalidClientTokenId", "MissingAuthenticationTokenException", "MissingAuthenticationToken":
		return e(provider.ErrUnauthenticated, "AWS does not recognise the access key or session token; "+credHint)
	case "InvalidSignatureException", "SignatureDoesNotMatch", "IncompleteSignatureException", "IncompleteSignature":
		if strings.Contains(message, "Signature expired") || strings.Contains(message, "not yet current") {
			return e(provider.ErrUnauthenticated, "the system clock is off by more than 5 minutes; synchronise it (NTP) and retry")
		}
		return e(provider.ErrUnauthenticated,
			"the secret access key does not match the access key id: check AWS_SECRET_ACCESS_KEY or the profile's aws_secret_access_key")
	case "ExpiredTokenException", "ExpiredToken", "RequestExpired", "TokenRefreshRequired":
		return e(provider.ErrUnauthenticated,
			"the session credentials have expired: run `aws sso login` (or refresh the assumed role / rerun configure-aws-credentials) and retry")
	case "ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException", "RequestLimitExceeded",
		"RequestThrottled", "RequestThrottledException", "LimitExceededException":
		return e(provider.ErrThrottled,
			"AWS kept throttling the requests after retries; lower --concurrency or retry later")
	case "InternalServiceError", "InternalFailure", "InternalError", "InternalServerError", "ServiceUnavailable",
		"ServiceUnavailableException", "RequestTimeout", "RequestTimeoutException":
		return e(provider.ErrUnavailable, "Secrets Manager failed to answer; retry later and check https://health.aws.amazon.com")
	case "InvalidRequestException":
		if strings.Contains(message, "deletion") {
			return e(provider.ErrInvalid, "the secret is scheduled for deletion: restore it with `aws secretsmanager restore-secret --secret-id NAME`")
		}
		return e(provider.ErrInvalid, "")
	case "InvalidParameterException", "ValidationException", "SerializationException", "InvalidNextTokenException",
		"UnknownOperationException", "InvalidParameterValue":
		return e(provider.ErrInvalid, "")
	}
	switch {
	case status == 429:
		return e(provider.ErrThrottled, "AWS kept throttling the requests after retries; lower --concurrency or retry later")
	case status == 401:
		return e(provider.ErrUnauthenticated, credHint)
	case status == 403:
		return e(provider.ErrPermissionDenied, "")
	case status >= 500 || status == 0:
		return e(provider.ErrUnavailable, "")
	}
	return e(provider.ErrInvalid, "")
}

// configError classifies a failure of config.LoadDefaultConfig: a missing
// profile or a malformed shared config file. Both are settings the user has
// to fix, so they are ErrInvalid.
func configError(err error, profile string) *provider.Error {
	var pe config.SharedConfigProfileNotExistError
	if errors.As(err, &pe) {
		return provider.NewError(provider.ErrInvalid, Name, provider.Ref{},
			fmt.Sprintf("AWS profile %q does not exist in the shared config files", pe.Profile), err).
			WithHint("check [vault.aws] profile and AWS_PROFILE (`aws configure list-profiles` lists the profiles), or AWS_CONFIG_FILE")
	}
	hint := "check the shared config files (~/.aws/config, ~/.aws/credentials, AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE)"
	if profile != "" {
		hint += " and the profile " + profile
	}
	return provider.NewError(provider.ErrInvalid, Name, provider.Ref{},
		"loading the AWS configuration failed: "+sanitizeCredentialMessage(err.Error()), err).WithHint(hint)
}

// credentialError marks a failure of the credential chain.
type credentialError struct{ err error }

func (e *credentialError) Error() string { return "no usable AWS credentials: " + e.err.Error() }
func (e *credentialError) Unwrap() error { return e.err }

func (e *credentialError) providerError(ref provider.Ref) *provider.Error {
	text := e.err.Error()
	hint := credHint
	lower := strings.ToLower(text)
	switch {
	case strings.Contains(lower, "sso"):
		hint = "the IAM Identity Center (SSO) session is missing or expired: run `aws sso login` (with --profile if you use AWS_PROFILE or [vault.aws] profile)"
	case strings.Contains(lower, "webidentity") || strings.Contains(lower, "web identity"):
		hint = "the OIDC web identity exchange failed: check AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE and the role's trust policy (audience sts.amazonaws.com, subject of this pipeline)"
	}
	return provider.NewError(provider.ErrUnauthenticated, Name, ref,
		"no usable AWS credentials: "+sanitizeCredentialMessage(text), e).WithHint(hint)
}

// sanitizeCredentialMessage removes the output of a credential_process from
// an SDK message: when that output is not valid JSON the SDK quotes it, and
// it may hold a secret key.
func sanitizeCredentialMessage(msg string) string {
	const marker = "process output: "
	i := strings.Index(msg, marker)
	if i < 0 {
		return msg
	}
	rest := msg[i+len(marker):]
	if j := strings.Index(rest, ", error: "); j >= 0 {
		return msg[:i+len(marker)] + "<withheld>" + rest[j:]
	}
	return msg[:i+len(marker)] + "<withheld>"
}

// stickyCredentials wraps the SDK's credential chain (a cache) and keeps its
// first failure: once the chain has failed, every later retrieval fails at
// once with the same error instead of running the chain again.
type stickyCredentials struct {
	inner awssdk.CredentialsProvider
	mu    sync.Mutex
	err   *credentialError
}

// Retrieve implements aws.CredentialsProvider.
func (s *stickyCredentials) Retrieve(ctx context.Context) (awssdk.Credentials, error) {
	if err := s.failed(); err != nil {
		return awssdk.Credentials{}, err
	}
	if s.inner == nil {
		return awssdk.Credentials{}, s.fail(errors.New("no credential provider configured"))
	}
	c, err := s.inner.Retrieve(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return c, err // a cancelled lookup says nothing about the chain
		}
		return awssdk.Credentials{}, s.fail(err)
	}
	return c, nil
}

func (s *stickyCredentials) fail(err error) *credentialError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = &credentialError{err: err}
	}
	return s.err
}

// failed returns the kept failure, or nil.
func (s *stickyCredentials) failed() *credentialError {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// tlsHint names the cause of a failed TLS connection to endpoint, "" when
// err is not one.
func tlsHint(err error, endpoint string) string {
	switch tlshint.Classify(err) {
	case tlshint.UnknownAuthority:
		return "the certificate of " + endpoint + " is signed by an authority this machine does not trust: set AWS_CA_BUNDLE (or ca_bundle in the profile) to that CA, e.g. a TLS-inspecting proxy's"
	case tlshint.WrongHost:
		return "the certificate of " + endpoint + " is for another host name: use a host name the certificate names in endpoint_url / AWS_ENDPOINT_URL*"
	case tlshint.Expired:
		return "the certificate of " + endpoint + " has expired or is not yet valid: it must be renewed; if it is current, check this machine's clock"
	case tlshint.OtherCertificate:
		return "the certificate of " + endpoint + " was refused: check endpoint_url and AWS_CA_BUNDLE"
	case tlshint.Plaintext:
		return endpoint + " answers in plaintext, not TLS: use an http:// endpoint_url for it (e.g. http://localhost:4566 for LocalStack)"
	}
	return ""
}

// plainToTLS recognises the answer of a TLS listener to plaintext HTTP (an
// http:// endpoint for an HTTPS server): Go's servers, and many others,
// send a bare "HTTP/1.0 400 Bad Request" with no header and close the
// connection; Secrets Manager always answers with headers.
func plainToTLS(err error, endpoint string) bool {
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.Response == nil || re.Response.Response == nil {
		return false
	}
	r := re.Response.Response
	plain := strings.HasPrefix(endpoint, "http://")
	if r.Request != nil && r.Request.URL != nil {
		plain = r.Request.URL.Scheme == "http"
	}
	return plain && r.StatusCode == 400 && r.Proto == "HTTP/1.0" && len(r.Header) == 0
}
