// Package awssm is a local AWS Secrets Manager endpoint for envdrift's tests.
//
// It speaks the service's wire protocol, AWS JSON 1.1 over HTTP: every call is
// `POST /` with `X-Amz-Target: secretsmanager.<Operation>` and a
// `Content-Type: application/x-amz-json-1.1` body. Responses and errors have
// the shapes the real service sends (`__type` and `Message`/`message` in the
// body, an `x-amzn-ErrorType` header, HTTP 400 for client errors and 500 for
// InternalServiceError), so the unmodified AWS SDK for Go v2 talks to it as it
// would to AWS.
//
// Every request must carry a valid Signature Version 4 signature made with
// [AccessKeyID] and [SecretAccessKey]: the server recomputes it with the SDK's
// own signer and answers a wrong secret key with InvalidSignatureException and
// an unknown access key with UnrecognizedClientException, as AWS does. The
// region a request addresses is the region of its SigV4 credential scope, and
// secrets are stored per region (the [testserver.Base] vault is the region),
// so a client that signs for the wrong region does not find the secret.
//
// Operations: GetSecretValue (by VersionId and VersionStage too),
// BatchGetSecretValue (SecretIdList only, at most 20 ids, NextToken
// pagination with a configurable page size, per-secret Errors), and the
// write side (write.go): CreateSecret (Tags; ResourceExistsException for an
// existing name), PutSecretValue (AWSCURRENT and AWSPREVIOUS move, every
// version is kept), both with ClientRequestToken semantics (the token is
// the VersionId; the same token and value again is a no-op, another value
// ResourceExistsException), DescribeSecret (Tags, VersionIdsToStages),
// TagResource, ListSecretVersionIds, DeleteSecret (a name scheduled for
// deletion cannot be created again; ForceDeleteWithoutRecovery frees it),
// PutResourcePolicy and DeleteResourcePolicy. A resource policy only
// matters here through explicit Denies: of secretsmanager:GetSecretValue,
// which makes reads fail with AccessDeniedException, and of PutSecretValue
// or TagResource, which do the same to writes ([Server.DenyWrite] too).
// [Server.Writes] counts the requests of operations that change secrets.
//
// Injected faults ([testserver.Fault]) become: ThrottlingException (HTTP 400),
// InternalServiceError carrying [testserver.Base.ErrorMessage] (HTTP 500), a
// stalled request, a dropped connection, a truncated JSON body, and
// UnrecognizedClientException.
package awssm

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/envdrift/envdrift/internal/testserver"
)

// The credentials and identity the server accepts. They are throwaway values
// that exist only inside tests.
const (
	AccessKeyID     = "AKIAENVDRIFTTEST0001"
	SecretAccessKey = "envdriftLocalTestSecretKeyNotARealOne0000"
	AccountID       = "123456789012"
	// DefaultRegion is the region Env points the SDK at, and the default
	// vault of the embedded Base.
	DefaultRegion = "eu-central-1"
	// MaxBatchIDs is the service's limit on SecretIdList.
	MaxBatchIDs = 20
	// callerARN is the identity named in AccessDeniedException messages.
	callerARN = "arn:aws:iam::" + AccountID + ":user/envdrift-test"
	service   = "secretsmanager"
	jsonType  = "application/x-amz-json-1.1"
	// maxSkew is how far X-Amz-Date may be from the server's clock.
	maxSkew = 5 * time.Minute
)

// Server is a running local Secrets Manager endpoint.
type Server struct {
	*testserver.Base

	url     string
	started time.Time

	pageSize  atomic.Int32
	batchMode atomic.Int32
	expired   atomic.Bool

	mu      sync.Mutex
	decrypt map[secretKey]bool // secrets whose reads fail with DecryptionFailure
	deleted map[secretKey]bool // secrets removed by DeleteSecret

	// The write side (write.go): versions and tags per secret, and secrets
	// whose writes are denied. writeMu makes each write one step, as the
	// service does.
	states  map[secretKey]*secretState
	writeMu sync.Mutex
}

type secretKey struct{ region, name string }

// Start starts a server on a random port of 127.0.0.1.
func Start() (*Server, error) {
	s := &Server{
		Base:    testserver.NewBase(DefaultRegion),
		started: time.Now().UTC().Truncate(time.Millisecond),
		decrypt: map[secretKey]bool{},
		deleted: map[secretKey]bool{},
		states:  map[secretKey]*secretState{},
	}
	s.pageSize.Store(MaxBatchIDs)
	if err := s.Serve(s, testserver.ServeOptions{TempDirPrefix: "envdrift-awssm-"}); err != nil {
		return nil, err
	}
	s.url = "http://" + s.Addr()
	// Empty shared config and credentials files keep the SDK away from the
	// user's ~/.aws while letting tests add profiles.
	for _, f := range []string{s.ConfigFile(), s.CredentialsFile()} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// URL is the endpoint URL, for AWS_ENDPOINT_URL_SECRETS_MANAGER or an
// endpoint_url setting.
func (s *Server) URL() string { return s.url }

// ConfigFile and CredentialsFile are the shared config and credentials files
// Env points the SDK at. They start empty; tests may write profiles to them.
func (s *Server) ConfigFile() string { return filepath.Join(s.Dir(), "config") }

// CredentialsFile: see ConfigFile.
func (s *Server) CredentialsFile() string { return filepath.Join(s.Dir(), "credentials") }

// Env returns the environment an SDK client (or the envdrift binary) needs
// to reach and authenticate against the server: static credentials, the
// default region, the service endpoint, shared config files that exist only
// for this server, and IMDS disabled. Entries with an empty value clear
// variables the SDK would otherwise pick up from the caller's environment
// (the SDK treats an empty variable as unset).
func (s *Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + SecretAccessKey,
		"AWS_SESSION_TOKEN=",
		"AWS_REGION=" + DefaultRegion,
		"AWS_DEFAULT_REGION=",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + s.url,
		"AWS_ENDPOINT_URL=",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=",
		"AWS_PROFILE=",
		"AWS_DEFAULT_PROFILE=",
		"AWS_CONFIG_FILE=" + s.ConfigFile(),
		"AWS_SHARED_CREDENTIALS_FILE=" + s.CredentialsFile(),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ROLE_ARN=",
		"AWS_WEB_IDENTITY_TOKEN_FILE=",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=",
		"AWS_MAX_ATTEMPTS=",
		"AWS_RETRY_MODE=",
	}
}

// ARN returns the full ARN of the secret name in region, with the random
// six-character suffix Secrets Manager appends (stable per region and name).
func (s *Server) ARN(region, name string) string {
	if region == "" {
		region = s.DefaultVault
	}
	return "arn:aws:secretsmanager:" + region + ":" + AccountID + ":secret:" + name + "-" + arnSuffix(region, name)
}

func arnSuffix(region, name string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	h := sha256.Sum256([]byte(region + "\x00" + name))
	var b [6]byte
	for i := range b {
		b[i] = alphabet[int(h[i])%len(alphabet)]
	}
	return string(b[:])
}

// Put stores a text secret (SecretString) in region ("" = DefaultRegion).
func (s *Server) Put(region, name string, value []byte) {
	s.PutSecret(region, name, testserver.Secret{Value: append([]byte(nil), value...)})
}

// PutBinary stores a binary secret (SecretBinary).
func (s *Server) PutBinary(region, name string, value []byte) {
	s.PutSecret(region, name, testserver.Secret{Value: append([]byte(nil), value...), Binary: true})
}

// PutSecret stores sec under region/name, replacing any previous secret.
func (s *Server) PutSecret(region, name string, sec testserver.Secret) {
	s.mu.Lock()
	delete(s.deleted, s.key(region, name))
	s.mu.Unlock()
	s.Base.PutSecret(region, name, sec)
}

func (s *Server) key(region, name string) secretKey {
	if region == "" {
		region = s.DefaultVault
	}
	return secretKey{region, name}
}

// SetBatchPageSize makes BatchGetSecretValue answer at most n secrets per
// page and return a NextToken for the rest (default MaxBatchIDs, which never
// paginates a valid request).
func (s *Server) SetBatchPageSize(n int) {
	if n <= 0 || n > MaxBatchIDs {
		n = MaxBatchIDs
	}
	s.pageSize.Store(int32(n))
}

// BatchMode is how the server answers BatchGetSecretValue.
type BatchMode int32

// The ways an endpoint answers BatchGetSecretValue.
const (
	// BatchSupported serves the operation (the default).
	BatchSupported BatchMode = iota
	// BatchDenied refuses it with AccessDeniedException (HTTP 400), as for
	// a caller whose IAM policy allows secretsmanager:GetSecretValue but not
	// secretsmanager:BatchGetSecretValue, the most common case in practice.
	BatchDenied
	// BatchUnknownOperation answers as an endpoint that predates the
	// operation (added to Secrets Manager in November 2023) or a
	// compatible service without it: the AWS front end's HTTP 400 with
	// {"__type":"com.amazon.coral.service#UnknownOperationException"} and
	// no message.
	BatchUnknownOperation
	// BatchNotImplemented answers as LocalStack answers an operation it
	// does not implement: HTTP 501, __type InternalFailure, and a message
	// saying the API action is not yet implemented or a pro feature.
	BatchNotImplemented
)

// SetBatchMode chooses how BatchGetSecretValue is answered; GetSecretValue
// is unaffected.
func (s *Server) SetBatchMode(m BatchMode) { s.batchMode.Store(int32(m)) }

// DenyBatch is SetBatchMode(BatchDenied) when deny is true, and
// SetBatchMode(BatchSupported) when it is false.
func (s *Server) DenyBatch(deny bool) {
	if deny {
		s.SetBatchMode(BatchDenied)
	} else {
		s.SetBatchMode(BatchSupported)
	}
}

// ExpireCredentials makes every correctly signed request fail with
// ExpiredTokenException, as after a session's credentials expired.
func (s *Server) ExpireCredentials(expired bool) { s.expired.Store(expired) }

// FailDecryption makes reads of region/name fail with DecryptionFailure, as
// when the caller may not use the secret's KMS key.
func (s *Server) FailDecryption(region, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.decrypt[s.key(region, name)] = true
}

// apiError is an error response of the service.
type apiError struct {
	status int
	code   string
	msg    string
	// frontend errors (authentication, throttling) come from the AWS request
	// front end rather than the service and spell the field "message".
	frontend bool
	// bare errors carry only a namespaced __type, no message (the front
	// end's UnknownOperationException); plain ones name no namespace in
	// x-amzn-ErrorType (LocalStack).
	bare, plain bool
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func clientErr(code, msg string) *apiError { return &apiError{status: 400, code: code, msg: msg} }
func frontendErr(code, msg string) *apiError {
	return &apiError{status: 400, code: code, msg: msg, frontend: true}
}

const (
	msgNotFound     = "Secrets Manager can't find the specified secret."
	msgBadSignature = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgBadToken   = "The security token included in the request is invalid."
	msgDecryption = "Secrets Manager can't decrypt the protected secret text using the provided KMS key."
)

func notFound() *apiError { return clientErr("ResourceNotFoundException", msgNotFound) }

// unknownOperation is the AWS front end's answer to an X-Amz-Target it does
// not know.
func unknownOperation() *apiError {
	return &apiError{status: http.StatusBadRequest, code: "UnknownOperationException", frontend: true, bare: true}
}

func accessDenied(action, resource string) *apiError {
	msg := fmt.Sprintf("User: %s is not authorized to perform: secretsmanager:%s", callerARN, action)
	if resource != "" {
		msg += " on resource: " + resource
	}
	msg += fmt.Sprintf(" because no identity-based policy allows the secretsmanager:%s action", action)
	return clientErr("AccessDeniedException", msg)
}

func newRequestID() string {
	var b [16]byte
	h := sha256.Sum256([]byte(strconv.FormatInt(time.Now().UnixNano(), 10)))
	copy(b[:], h[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (s *Server) writeJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.writeError(w, &apiError{status: 500, code: "InternalServiceError", msg: err.Error()})
		return
	}
	w.Header().Set("Content-Type", jsonType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func (s *Server) writeError(w http.ResponseWriter, e *apiError) {
	field, ns := "Message", "com.amazonaws.secretsmanager"
	if e.frontend {
		field, ns = "message", "com.amazon.coral.service"
	}
	fields := map[string]string{"__type": e.code, field: e.msg}
	errType := e.code + ":http://internal.amazon.com/coral/" + ns + "/"
	switch {
	case e.bare:
		fields = map[string]string{"__type": ns + "#" + e.code}
	case e.plain:
		errType = e.code
	}
	body, _ := json.Marshal(fields)
	w.Header().Set("Content-Type", jsonType)
	w.Header().Set("x-amzn-ErrorType", errType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}

// ServeHTTP implements the wire protocol.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-amzn-RequestId", newRequestID())
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		s.Drop(r)
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, service+".")
	if !ok || op == "" {
		op = "Unknown"
	}
	switch v := s.Begin(r, op); v.Fault {
	case testserver.FaultMalformed:
		w.Header().Set("Content-Type", jsonType)
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"ARN":"arn:aws:secretsmanager:`+DefaultRegion+`:`+AccountID+`:secret:trunc`)
		return
	case testserver.FaultThrottle:
		s.writeError(w, frontendErr("ThrottlingException", "Rate exceeded"))
		return
	case testserver.FaultError:
		s.writeError(w, &apiError{status: 500, code: "InternalServiceError", msg: s.ErrorMessage()})
		return
	case testserver.FaultAuth:
		s.writeError(w, frontendErr("UnrecognizedClientException", msgBadToken))
		return
	}
	region, aerr := s.authenticate(r, body)
	if aerr != nil {
		s.writeError(w, aerr)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" || !ok {
		s.writeError(w, unknownOperation())
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, jsonType) {
		s.writeError(w, frontendErr("SerializationException", "Unexpected content type "+strconv.Quote(ct)))
		return
	}
	var out any
	switch op {
	case "GetSecretValue":
		out, aerr = s.getSecretValue(region, body)
	case "BatchGetSecretValue":
		out, aerr = s.batchGetSecretValue(region, body)
	case "CreateSecret":
		out, aerr = s.createSecret(region, body)
	case "PutSecretValue":
		out, aerr = s.putSecretValue(region, body)
	case "DescribeSecret":
		out, aerr = s.describeSecret(region, body)
	case "TagResource":
		out, aerr = s.tagResource(region, body)
	case "ListSecretVersionIds":
		out, aerr = s.listSecretVersionIDs(region, body)
	case "DeleteSecret":
		out, aerr = s.deleteSecret(region, body)
	case "PutResourcePolicy":
		out, aerr = s.resourcePolicy(region, body, true)
	case "DeleteResourcePolicy":
		out, aerr = s.resourcePolicy(region, body, false)
	default:
		aerr = unknownOperation()
	}
	if aerr != nil {
		s.writeError(w, aerr)
		return
	}
	s.writeJSON(w, out)
}

// authenticate checks the request's SigV4 signature and returns the region
// of its credential scope.
func (s *Server) authenticate(r *http.Request, body []byte) (string, *apiError) {
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return "", frontendErr("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	const algo = "AWS4-HMAC-SHA256"
	rest, ok := strings.CutPrefix(authz, algo+" ")
	if !ok {
		return "", frontendErr("IncompleteSignatureException", "Unsupported AWS 'algorithm': '"+strings.SplitN(authz, " ", 2)[0]+"'")
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if fields[k] == "" {
			return "", frontendErr("IncompleteSignatureException",
				fmt.Sprintf("Authorization header requires '%s' parameter. Authorization=%s", k, algo))
		}
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return "", frontendErr("IncompleteSignatureException", "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term")
	}
	akid, day, region, svc := scope[0], scope[1], scope[2], scope[3]
	amzDate := r.Header.Get("X-Amz-Date")
	when, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return "", frontendErr("IncompleteSignatureException", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if svc != service {
		return "", frontendErr("InvalidSignatureException", "Credential should be scoped to correct service: '"+service+"'. ")
	}
	if day != amzDate[:8] {
		return "", frontendErr("InvalidSignatureException", fmt.Sprintf(
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from 'X-Amz-Date'.", day, amzDate[:8]))
	}
	now := time.Now().UTC()
	if d := now.Sub(when); d > maxSkew || d < -maxSkew {
		return "", frontendErr("InvalidSignatureException", fmt.Sprintf(
			"Signature expired: %s is now earlier than %s (%s - 5 min.)", amzDate,
			now.Add(-maxSkew).Format("20060102T150405Z"), now.Format("20060102T150405Z")))
	}
	token := r.Header.Get("X-Amz-Security-Token")
	if akid != AccessKeyID || token != "" {
		return "", frontendErr("UnrecognizedClientException", msgBadToken)
	}

	// Recompute the signature over exactly the headers the client signed.
	check, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return "", frontendErr("InvalidSignatureException", msgBadSignature)
	}
	check.Host = r.Host
	signed := strings.Split(fields["SignedHeaders"], ";")
	if !slices.Contains(signed, "host") {
		return "", frontendErr("InvalidSignatureException", "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	for _, h := range signed {
		switch h {
		case "host":
		case "content-length":
			check.ContentLength = r.ContentLength
		default:
			vals := r.Header.Values(h)
			if len(vals) == 0 {
				return "", frontendErr("InvalidSignatureException", msgBadSignature)
			}
			check.Header[http.CanonicalHeaderKey(h)] = vals
		}
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash {
		return "", frontendErr("InvalidSignatureException", "The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	creds := aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, check, payloadHash, svc, region, when); err != nil {
		return "", frontendErr("InvalidSignatureException", msgBadSignature)
	}
	want := check.Header.Get("Authorization")
	i := strings.Index(want, "Signature=")
	if i < 0 || !strings.Contains(want, "SignedHeaders="+fields["SignedHeaders"]+",") ||
		!hmac.Equal([]byte(want[i+len("Signature="):]), []byte(fields["Signature"])) {
		return "", frontendErr("InvalidSignatureException", msgBadSignature)
	}
	if s.expired.Load() {
		return "", frontendErr("ExpiredTokenException", "The security token included in the request is expired")
	}
	return region, nil
}

// resolve finds the secret a SecretId (name, full ARN or partial ARN)
// addresses in region.
func (s *Server) resolve(region, id string) (string, bool) {
	if !strings.HasPrefix(id, "arn:") {
		return id, s.exists(region, id)
	}
	a, err := arn.Parse(id)
	if err != nil || a.Service != service || a.Region != region || a.AccountID != AccountID {
		return "", false
	}
	rest, ok := strings.CutPrefix(a.Resource, "secret:")
	if !ok {
		return "", false
	}
	if n := len(rest); n > 7 && rest[n-7] == '-' {
		name := rest[:n-7]
		if rest[n-6:] == arnSuffix(region, name) && s.exists(region, name) {
			return name, true
		}
	}
	return rest, s.exists(region, rest) // a partial ARN
}

func (s *Server) exists(region, name string) bool {
	s.mu.Lock()
	gone := s.deleted[secretKey{region, name}]
	s.mu.Unlock()
	sec, ok := s.Get(region, name)
	return ok && !gone && (sec.Value != nil || !sec.Denied)
}

type secretValue struct {
	ARN           string   `json:"ARN"`
	CreatedDate   float64  `json:"CreatedDate"`
	Name          string   `json:"Name"`
	SecretBinary  []byte   `json:"SecretBinary,omitempty"` // encoding/json writes base64, as the service does
	SecretString  *string  `json:"SecretString,omitempty"`
	VersionID     string   `json:"VersionId"`
	VersionStages []string `json:"VersionStages"`
}

type apiErrorEntry struct {
	ErrorCode string `json:"ErrorCode"`
	Message   string `json:"Message"`
	SecretID  string `json:"SecretId"`
}

// versionID names a version the server made up for a value stored straight
// into the Base: stable for the secret, the value and its place n in the
// secret's history.
func versionID(region, name string, value []byte, n int) string {
	h := sha256.New()
	h.Write([]byte(region + "\x00" + name + "\x00" + strconv.Itoa(n) + "\x00"))
	h.Write(value)
	b := h.Sum(nil)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// read returns the current value of the secret id in region, or the error
// the service would give.
func (s *Server) read(region, id string) (secretValue, *apiError) {
	if id == "" {
		return secretValue{}, clientErr("ValidationException", "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null")
	}
	if !strings.HasPrefix(id, "arn:") {
		// Permission is checked before existence, so a denied caller
		// cannot probe which secrets exist.
		if sec, ok := s.Get(region, id); ok && sec.Denied {
			return secretValue{}, accessDenied("GetSecretValue", id)
		}
	}
	name, ok := s.resolve(region, id)
	if !ok {
		return secretValue{}, notFound()
	}
	sec, _ := s.Get(region, name)
	if sec.Denied {
		return secretValue{}, accessDenied("GetSecretValue", id)
	}
	s.mu.Lock()
	kms := s.decrypt[secretKey{region, name}]
	s.mu.Unlock()
	if kms {
		return secretValue{}, clientErr("DecryptionFailure", msgDecryption)
	}
	v := secretValue{
		ARN:           s.ARN(region, name),
		CreatedDate:   float64(s.started.UnixMilli()) / 1000,
		Name:          name,
		VersionID:     s.currentVersion(region, name, sec).id,
		VersionStages: []string{"AWSCURRENT"},
	}
	if sec.Binary {
		v.SecretBinary = append([]byte{}, sec.Value...)
	} else {
		str := string(sec.Value)
		v.SecretString = &str
	}
	return v, nil
}

func decode(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return frontendErr("SerializationException", "Start of structure or map found where not expected.")
	}
	return nil
}

func (s *Server) getSecretValue(region string, body []byte) (any, *apiError) {
	var in struct {
		SecretID     string `json:"SecretId"`
		VersionID    string `json:"VersionId"`
		VersionStage string `json:"VersionStage"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	v, e := s.read(region, in.SecretID)
	if e != nil {
		return nil, e
	}
	if (in.VersionStage == "" || in.VersionStage == "AWSCURRENT") && (in.VersionID == "" || in.VersionID == v.VersionID) {
		return v, nil
	}
	return s.readVersion(region, v, in.VersionID, in.VersionStage)
}

type pageToken struct {
	Offset int    `json:"o"`
	IDs    string `json:"h"`
}

func idsHash(ids []string) string {
	h := sha256.Sum256([]byte(strings.Join(ids, "\x00")))
	return hex.EncodeToString(h[:8])
}

func (s *Server) batchGetSecretValue(region string, body []byte) (any, *apiError) {
	var in struct {
		SecretIDList []string        `json:"SecretIdList"`
		Filters      json.RawMessage `json:"Filters"`
		MaxResults   *int            `json:"MaxResults"`
		NextToken    *string         `json:"NextToken"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	switch BatchMode(s.batchMode.Load()) {
	case BatchDenied:
		return nil, accessDenied("BatchGetSecretValue", "")
	case BatchUnknownOperation:
		return nil, unknownOperation()
	case BatchNotImplemented:
		return nil, &apiError{status: http.StatusNotImplemented, code: "InternalFailure", frontend: true, plain: true, msg: "API action 'BatchGetSecretValue' for service 'secretsmanager' not yet implemented or pro feature" +
			" - please check https://docs.localstack.cloud/references/coverage/coverage_secretsmanager/ for further information"}
	}
	pageSize := int(s.pageSize.Load())
	switch {
	case len(in.Filters) > 0 && in.SecretIDList != nil:
		return nil, clientErr("InvalidParameterException", "Either SecretIdList or Filters must be specified, but not both.")
	case len(in.Filters) > 0:
		return nil, clientErr("InvalidRequestException", "Filters are not supported by this local test server.")
	case len(in.SecretIDList) == 0:
		return nil, clientErr("InvalidParameterException", "You must specify either SecretIdList or Filters.")
	case len(in.SecretIDList) > MaxBatchIDs:
		return nil, clientErr("ValidationException", fmt.Sprintf(
			"1 validation error detected: Value '%v' at 'secretIdList' failed to satisfy constraint: Member must have length less than or equal to %d",
			in.SecretIDList, MaxBatchIDs))
	case in.MaxResults != nil:
		return nil, clientErr("InvalidParameterException", "MaxResults can only be used with Filters.")
	}
	offset := 0
	if in.NextToken != nil {
		raw, err := base64.StdEncoding.DecodeString(*in.NextToken)
		var tok pageToken
		if err != nil || json.Unmarshal(raw, &tok) != nil || tok.IDs != idsHash(in.SecretIDList) ||
			tok.Offset <= 0 || tok.Offset >= len(in.SecretIDList) {
			return nil, clientErr("InvalidNextTokenException", "The NextToken value is invalid.")
		}
		offset = tok.Offset
	}
	end := min(offset+pageSize, len(in.SecretIDList))
	out := struct {
		Errors       []apiErrorEntry `json:"Errors"`
		NextToken    *string         `json:"NextToken,omitempty"`
		SecretValues []secretValue   `json:"SecretValues"`
	}{Errors: []apiErrorEntry{}, SecretValues: []secretValue{}}
	for _, id := range in.SecretIDList[offset:end] {
		v, e := s.read(region, id)
		if e != nil {
			out.Errors = append(out.Errors, apiErrorEntry{ErrorCode: e.code, Message: e.msg, SecretID: id})
			continue
		}
		out.SecretValues = append(out.SecretValues, v)
	}
	if end < len(in.SecretIDList) {
		raw, _ := json.Marshal(pageToken{Offset: end, IDs: idsHash(in.SecretIDList)})
		tok := base64.StdEncoding.EncodeToString(raw)
		out.NextToken = &tok
	}
	return out, nil
}

func (s *Server) deleteSecret(region string, body []byte) (any, *apiError) {
	var in struct {
		SecretID                   string `json:"SecretId"`
		ForceDeleteWithoutRecovery bool   `json:"ForceDeleteWithoutRecovery"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	name, ok := s.resolve(region, in.SecretID)
	if !ok {
		return nil, notFound()
	}
	k := secretKey{region, name}
	s.mu.Lock()
	// Without recovery the name is free at once; otherwise it stays
	// reserved ("scheduled for deletion") for the recovery window.
	s.deleted[k] = !in.ForceDeleteWithoutRecovery
	delete(s.decrypt, k)
	delete(s.states, k)
	s.mu.Unlock()
	s.SetWriteDenied(region, name, false)
	if in.ForceDeleteWithoutRecovery {
		s.Base.Delete(region, name)
	} else {
		s.Base.PutSecret(region, name, testserver.Secret{})
	}
	return map[string]any{"ARN": s.ARN(region, name), "Name": name, "DeletionDate": float64(time.Now().Unix())}, nil
}

// resourcePolicy handles PutResourcePolicy (put=true) and
// DeleteResourcePolicy. Only an explicit Deny of GetSecretValue is modelled.
func (s *Server) resourcePolicy(region string, body []byte, put bool) (any, *apiError) {
	var in struct {
		SecretID       string `json:"SecretId"`
		ResourcePolicy string `json:"ResourcePolicy"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	name, ok := s.resolve(region, in.SecretID)
	if !ok {
		return nil, notFound()
	}
	deny, denyWrite := false, false
	if put {
		var err error
		if deny, denyWrite, err = policyDenies(in.ResourcePolicy); err != nil {
			return nil, clientErr("MalformedPolicyDocumentException", "This resource policy contains a syntax error.")
		}
	}
	sec, _ := s.Get(region, name)
	sec.Denied = deny
	s.Base.PutSecret(region, name, sec)
	s.SetWriteDenied(region, name, denyWrite)
	return map[string]string{"ARN": s.ARN(region, name), "Name": name}, nil
}

// policyDenies reports whether a resource policy explicitly denies reading
// the secret (GetSecretValue) and writing it (PutSecretValue, TagResource).
func policyDenies(policy string) (read, write bool, err error) {
	var doc struct {
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		return false, false, err
	}
	type statement struct {
		Effect string          `json:"Effect"`
		Action json.RawMessage `json:"Action"`
	}
	var stmts []statement
	if err := json.Unmarshal(doc.Statement, &stmts); err != nil {
		var one statement
		if err := json.Unmarshal(doc.Statement, &one); err != nil {
			return false, false, err
		}
		stmts = []statement{one}
	}
	for _, st := range stmts {
		var actions []string
		if err := json.Unmarshal(st.Action, &actions); err != nil {
			var a string
			if err := json.Unmarshal(st.Action, &a); err != nil {
				return false, false, errors.New("bad Action")
			}
			actions = []string{a}
		}
		if st.Effect != "Deny" {
			continue
		}
		for _, a := range actions {
			switch strings.ToLower(a) {
			case "*", "secretsmanager:*":
				read, write = true, true
			case "secretsmanager:getsecretvalue":
				read = true
			case "secretsmanager:putsecretvalue", "secretsmanager:tagresource":
				write = true
			}
		}
	}
	return read, write, nil
}
