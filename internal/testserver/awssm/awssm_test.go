package awssm_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/testserver"
	"github.com/envdrift/envdrift/internal/testserver/awssm"
)

func start(t *testing.T) *awssm.Server {
	t.Helper()
	s, err := awssm.Start()
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// call sends one AWS JSON 1.1 request, signed with secret for region (no
// signature when secret is ""), and returns the status, the error type
// header and the decoded body.
func call(t *testing.T, s *awssm.Server, op, region, secret string, body any, edit func(*http.Request)) (int, string, map[string]any) {
	t.Helper()
	payload, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, s.URL()+"/", bytes.NewReader(payload))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "secretsmanager."+op)
	if secret != "" {
		sum := sha256.Sum256(payload)
		creds := awssdk.Credentials{AccessKeyID: awssm.AccessKeyID, SecretAccessKey: secret}
		require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "secretsmanager", region, time.Now()))
	}
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "application/x-amz-json-1.1", resp.Header.Get("Content-Type"))
	assert.NotEmpty(t, resp.Header.Get("x-amzn-RequestId"))
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	return resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), out
}

func TestWire_GetSecretValueShape(t *testing.T) {
	s := start(t)
	s.Put("", "app", []byte("value"))
	s.PutBinary("us-west-2", "bin", []byte{0, 1, 2})
	status, _, out := call(t, s, "GetSecretValue", awssm.DefaultRegion, awssm.SecretAccessKey, map[string]string{"SecretId": "app"}, nil)
	require.Equal(t, 200, status)
	assert.Equal(t, "app", out["Name"])
	assert.Equal(t, "value", out["SecretString"])
	assert.Equal(t, s.ARN("", "app"), out["ARN"])
	assert.Regexp(t, `^arn:aws:secretsmanager:eu-central-1:123456789012:secret:app-[A-Za-z0-9]{6}$`, out["ARN"])
	assert.IsType(t, float64(0), out["CreatedDate"])
	assert.Equal(t, []any{"AWSCURRENT"}, out["VersionStages"])
	assert.NotContains(t, out, "SecretBinary")

	status, _, out = call(t, s, "GetSecretValue", "us-west-2", awssm.SecretAccessKey, map[string]string{"SecretId": "bin"}, nil)
	require.Equal(t, 200, status)
	assert.Equal(t, "AAEC", out["SecretBinary"], "binary travels as base64")
	assert.NotContains(t, out, "SecretString")
}

func TestWire_ErrorShapes(t *testing.T) {
	s := start(t)
	s.Put("", "app", []byte("v"))
	s.Put("", "denied", []byte("v"))
	s.Deny("", "denied")
	for _, tc := range []struct {
		name, op, region, secret string
		body                     any
		edit                     func(*http.Request)
		status                   int
		code, msgField           string
	}{
		{"missing secret", "GetSecretValue", awssm.DefaultRegion, awssm.SecretAccessKey, map[string]string{"SecretId": "nope"}, nil, 400, "ResourceNotFoundException", "Message"},
		{"wrong region", "GetSecretValue", "us-west-2", awssm.SecretAccessKey, map[string]string{"SecretId": "app"}, nil, 400, "ResourceNotFoundException", "Message"},
		{"denied", "GetSecretValue", awssm.DefaultRegion, awssm.SecretAccessKey, map[string]string{"SecretId": "denied"}, nil, 400, "AccessDeniedException", "Message"},
		{"no signature", "GetSecretValue", awssm.DefaultRegion, "", map[string]string{"SecretId": "app"}, nil, 400, "MissingAuthenticationTokenException", "message"},
		{"wrong secret key", "GetSecretValue", awssm.DefaultRegion, "not-the-key", map[string]string{"SecretId": "app"}, nil, 400, "InvalidSignatureException", "message"},
		{"unknown access key", "GetSecretValue", awssm.DefaultRegion, awssm.SecretAccessKey, map[string]string{"SecretId": "app"},
			func(r *http.Request) {
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), awssm.AccessKeyID, "AKIAOTHER00000000000", 1))
			}, 400, "UnrecognizedClientException", "message"},
		{"body changed after signing", "GetSecretValue", awssm.DefaultRegion, awssm.SecretAccessKey, map[string]string{"SecretId": "app"},
			func(r *http.Request) {
				b := []byte(`{"SecretId":"apq"}`)
				r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
			}, 400, "InvalidSignatureException", "message"},
		{"signed target changed", "GetSecretValue", awssm.DefaultRegion, awssm.SecretAccessKey, map[string]string{"SecretId": "app"},
			func(r *http.Request) { r.Header.Set("X-Amz-Target", "secretsmanager.DeleteSecret") }, 400, "InvalidSignatureException", "message"},
		{"stale date", "GetSecretValue", awssm.DefaultRegion, awssm.SecretAccessKey, map[string]string{"SecretId": "app"},
			func(r *http.Request) {
				old := time.Now().Add(-time.Hour)
				r.Header.Del("Authorization")
				sum := sha256.Sum256([]byte(`{"SecretId":"app"}`))
				_ = v4.NewSigner().SignHTTP(context.Background(), awssdk.Credentials{AccessKeyID: awssm.AccessKeyID, SecretAccessKey: awssm.SecretAccessKey},
					r, hex.EncodeToString(sum[:]), "secretsmanager", awssm.DefaultRegion, old)
			}, 400, "InvalidSignatureException", "message"},
		{"too many ids", "BatchGetSecretValue", awssm.DefaultRegion, awssm.SecretAccessKey,
			map[string][]string{"SecretIdList": strings.Split(strings.Repeat("a,", 21)[:41], ",")}, nil, 400, "ValidationException", "Message"},
		{"bad token", "BatchGetSecretValue", awssm.DefaultRegion, awssm.SecretAccessKey,
			map[string]any{"SecretIdList": []string{"app"}, "NextToken": "bogus"}, nil, 400, "InvalidNextTokenException", "Message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, errType, out := call(t, s, tc.op, tc.region, tc.secret, tc.body, tc.edit)
			assert.Equal(t, tc.status, status)
			assert.Equal(t, tc.code, out["__type"])
			assert.True(t, strings.HasPrefix(errType, tc.code+":"), errType)
			assert.Contains(t, out, tc.msgField)
		})
	}
}

func TestWire_UnknownOperationIsTheFrontEndsBareError(t *testing.T) {
	s := start(t)
	status, errType, out := call(t, s, "RotateSecret", awssm.DefaultRegion, awssm.SecretAccessKey, map[string]string{"SecretId": "app"}, nil)
	assert.Equal(t, 400, status)
	assert.Equal(t, map[string]any{"__type": "com.amazon.coral.service#UnknownOperationException"}, out, "a namespaced type and no message")
	assert.True(t, strings.HasPrefix(errType, "UnknownOperationException:"), errType)
}

// TestBatchModes checks each way an endpoint can lack BatchGetSecretValue,
// on the wire and as the SDK sees it, and that GetSecretValue is untouched.
func TestBatchModes(t *testing.T) {
	s := start(t)
	s.Put("", "app", []byte("v"))
	c := sdkClient(s, awssm.DefaultRegion, awssm.SecretAccessKey)
	for _, tc := range []struct {
		name    string
		mode    awssm.BatchMode
		status  int
		code    string
		errType string
		msg     string
	}{
		{"denied by IAM", awssm.BatchDenied, 400, "AccessDeniedException", "AccessDeniedException:",
			"is not authorized to perform: secretsmanager:BatchGetSecretValue"},
		{"endpoint without the operation", awssm.BatchUnknownOperation, 400, "UnknownOperationException", "UnknownOperationException:", ""},
		{"LocalStack without the operation", awssm.BatchNotImplemented, 501, "InternalFailure", "InternalFailure",
			"API action 'BatchGetSecretValue' for service 'secretsmanager' not yet implemented or pro feature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.SetBatchMode(tc.mode)
			t.Cleanup(func() { s.SetBatchMode(awssm.BatchSupported) })
			status, errType, out := call(t, s, "BatchGetSecretValue", awssm.DefaultRegion, awssm.SecretAccessKey, map[string][]string{"SecretIdList": {"app"}}, nil)
			assert.Equal(t, tc.status, status)
			assert.Contains(t, fmt.Sprint(out["__type"]), tc.code)
			assert.True(t, strings.HasPrefix(errType, tc.errType), errType)

			_, err := c.BatchGetSecretValue(context.Background(), &secretsmanager.BatchGetSecretValueInput{SecretIdList: []string{"app"}})
			var ae smithy.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tc.code, ae.ErrorCode())
			assert.Contains(t, ae.ErrorMessage(), tc.msg)

			got, err := c.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: awssdk.String("app")})
			require.NoError(t, err, "GetSecretValue still works")
			assert.Equal(t, "v", awssdk.ToString(got.SecretString))
		})
	}
}

func TestWire_Faults(t *testing.T) {
	s := start(t)
	s.Put("", "app", []byte("v"))
	body := map[string]string{"SecretId": "app"}

	s.Throttle(1)
	status, _, out := call(t, s, "GetSecretValue", awssm.DefaultRegion, awssm.SecretAccessKey, body, nil)
	assert.Equal(t, 400, status)
	assert.Equal(t, "ThrottlingException", out["__type"])
	status, _, _ = call(t, s, "GetSecretValue", awssm.DefaultRegion, awssm.SecretAccessKey, body, nil)
	assert.Equal(t, 200, status, "throttling ends after n requests")

	s.FailWith("disk on fire")
	status, _, out = call(t, s, "GetSecretValue", awssm.DefaultRegion, awssm.SecretAccessKey, body, nil)
	assert.Equal(t, 500, status)
	assert.Equal(t, "InternalServiceError", out["__type"])
	assert.Equal(t, "disk on fire", out["Message"])

	s.Inject(testserver.FaultAuth)
	_, _, out = call(t, s, "GetSecretValue", awssm.DefaultRegion, awssm.SecretAccessKey, body, nil)
	assert.Equal(t, "UnrecognizedClientException", out["__type"])

	s.Inject(testserver.FaultReset)
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"/", strings.NewReader("{}"))
	_, err := http.DefaultClient.Do(req)
	assert.Error(t, err, "the connection is dropped")

	s.Inject(testserver.FaultMalformed)
	resp, err := http.Post(s.URL()+"/", "application/x-amz-json-1.1", strings.NewReader("{}"))
	require.NoError(t, err)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Error(t, json.Unmarshal(raw, new(any)), "a truncated body")

	s.Inject(testserver.FaultStall)
	c, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ = http.NewRequestWithContext(c, http.MethodPost, s.URL()+"/", strings.NewReader("{}"))
	_, err = http.DefaultClient.Do(req)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	s.Reset()

	assert.Equal(t, 7, s.Requests())
	assert.Equal(t, 4, s.Ops()["GetSecretValue"])
	assert.Equal(t, 3, s.Ops()["Unknown"], "requests without an X-Amz-Target")
}

// sdkClient is a real SDK client with static credentials pointed at s.
func sdkClient(s *awssm.Server, region, secret string) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region:           region,
		BaseEndpoint:     awssdk.String(s.URL()),
		Credentials:      credentials.NewStaticCredentialsProvider(awssm.AccessKeyID, secret, ""),
		RetryMaxAttempts: 1,
	})
}

func TestSDK_AdminAndReadOperations(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	c := sdkClient(s, "ap-south-1", awssm.SecretAccessKey)

	created, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: awssdk.String("team/key"), SecretString: awssdk.String("v1")})
	require.NoError(t, err)
	assert.Equal(t, s.ARN("ap-south-1", "team/key"), awssdk.ToString(created.ARN))
	_, err = c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: awssdk.String("team/key"), SecretString: awssdk.String("v1")})
	var exists *types.ResourceExistsException
	require.ErrorAs(t, err, &exists)

	_, err = c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: created.ARN, SecretBinary: []byte("v2")})
	require.NoError(t, err)
	got, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: awssdk.String("team/key")})
	require.NoError(t, err)
	assert.Equal(t, []byte("v2"), got.SecretBinary)
	assert.Nil(t, got.SecretString)

	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":["secretsmanager:GetSecretValue"],"Resource":"*"}]}`
	_, err = c.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: awssdk.String("team/key"), ResourcePolicy: awssdk.String(policy)})
	require.NoError(t, err)
	_, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: awssdk.String("team/key")})
	var api smithy.APIError
	require.ErrorAs(t, err, &api)
	assert.Equal(t, "AccessDeniedException", api.ErrorCode())
	_, err = c.DeleteResourcePolicy(ctx, &secretsmanager.DeleteResourcePolicyInput{SecretId: awssdk.String("team/key")})
	require.NoError(t, err)

	_, err = c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: awssdk.String("team/key"), ForceDeleteWithoutRecovery: awssdk.Bool(true)})
	require.NoError(t, err)
	_, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: awssdk.String("team/key")})
	var nf *types.ResourceNotFoundException
	require.ErrorAs(t, err, &nf)
	assert.Equal(t, "Secrets Manager can't find the specified secret.", nf.ErrorMessage())
}

func TestSDK_BatchPaginationAndErrors(t *testing.T) {
	s := start(t)
	ids := make([]string, 0, 20)
	for i := range 18 {
		name := fmt.Sprintf("s%02d", i)
		s.Put("", name, []byte(name))
		ids = append(ids, name)
	}
	s.Put("", "denied", []byte("x"))
	s.Deny("", "denied")
	ids = append(ids, "missing", "denied")
	s.SetBatchPageSize(8)
	c := sdkClient(s, awssm.DefaultRegion, awssm.SecretAccessKey)

	var values, errs int
	var token *string
	pages := 0
	for {
		out, err := c.BatchGetSecretValue(context.Background(), &secretsmanager.BatchGetSecretValueInput{SecretIdList: ids, NextToken: token})
		require.NoError(t, err)
		pages++
		values += len(out.SecretValues)
		for _, e := range out.Errors {
			errs++
			switch awssdk.ToString(e.SecretId) {
			case "missing":
				assert.Equal(t, "ResourceNotFoundException", awssdk.ToString(e.ErrorCode))
			case "denied":
				assert.Equal(t, "AccessDeniedException", awssdk.ToString(e.ErrorCode))
			default:
				t.Errorf("unexpected error entry %+v", e)
			}
		}
		if out.NextToken == nil {
			break
		}
		token = out.NextToken
	}
	assert.Equal(t, 3, pages)
	assert.Equal(t, 18, values)
	assert.Equal(t, 2, errs)

	s.DenyBatch(true)
	_, err := c.BatchGetSecretValue(context.Background(), &secretsmanager.BatchGetSecretValueInput{SecretIdList: ids})
	var api smithy.APIError
	require.ErrorAs(t, err, &api)
	assert.Equal(t, "AccessDeniedException", api.ErrorCode())
	_, err = c.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: awssdk.String("s00")})
	assert.NoError(t, err, "denying batches leaves GetSecretValue alone")
}

func TestSDK_WrongSecretKeyIsRejected(t *testing.T) {
	s := start(t)
	s.Put("", "app", []byte("v"))
	_, err := sdkClient(s, awssm.DefaultRegion, "wrong").GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: awssdk.String("app")})
	var api smithy.APIError
	require.ErrorAs(t, err, &api)
	assert.Equal(t, "InvalidSignatureException", api.ErrorCode())
	assert.Equal(t, 1, s.Requests())
}

func TestEnv_IsSelfContained(t *testing.T) {
	s := start(t)
	env := map[string]string{}
	for _, kv := range s.Env() {
		k, v, ok := strings.Cut(kv, "=")
		require.True(t, ok)
		env[k] = v
	}
	assert.Equal(t, s.URL(), env["AWS_ENDPOINT_URL_SECRETS_MANAGER"])
	assert.Equal(t, "true", env["AWS_EC2_METADATA_DISABLED"])
	assert.Equal(t, awssm.DefaultRegion, env["AWS_REGION"])
	assert.FileExists(t, env["AWS_CONFIG_FILE"])
	assert.FileExists(t, env["AWS_SHARED_CREDENTIALS_FILE"])
	assert.Contains(t, env, "AWS_PROFILE", "clears a profile inherited from the caller")
}

func TestClose_LeavesNothingBehind(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := awssm.Start()
	require.NoError(t, err)
	s.Put("", "app", []byte("v"))
	s.Inject(testserver.FaultStall)
	done := make(chan error, 1)
	go func() {
		_, err := sdkClient(s, awssm.DefaultRegion, awssm.SecretAccessKey).GetSecretValue(context.Background(),
			&secretsmanager.GetSecretValueInput{SecretId: awssdk.String("app")})
		done <- err
	}()
	for s.Requests() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	dir := s.ConfigFile()
	s.Close()
	select {
	case err := <-done:
		assert.Error(t, err, "a stalled request is released by Close")
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not release a stalled request")
	}
	s.Close() // idempotent
	_, err = os.Stat(dir)
	assert.True(t, errors.Is(err, os.ErrNotExist), "temporary files are removed")
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		http.DefaultClient.CloseIdleConnections()
		time.Sleep(20 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "no goroutines left behind")
}

func TestQuota_OverQuotaIsThrottlingException(t *testing.T) {
	s := start(t)
	s.Put("", "app", []byte("v"))
	s.SetQuota(testserver.Quota{Rate: 0.001, Burst: 2}) // two requests, then none for a long while
	c := sdkClient(s, awssm.DefaultRegion, awssm.SecretAccessKey)
	in := &secretsmanager.GetSecretValueInput{SecretId: awssdk.String("app")}
	for range 2 {
		_, err := c.GetSecretValue(context.Background(), in)
		require.NoError(t, err)
	}
	_, err := c.GetSecretValue(context.Background(), in)
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "ThrottlingException", ae.ErrorCode())
	assert.Equal(t, "Rate exceeded", ae.ErrorMessage())

	status, errType, out := call(t, s, "GetSecretValue", awssm.DefaultRegion, awssm.SecretAccessKey, map[string]string{"SecretId": "app"}, nil)
	assert.Equal(t, 400, status)
	assert.Equal(t, map[string]any{"__type": "ThrottlingException", "message": "Rate exceeded"}, out)
	assert.True(t, strings.HasPrefix(errType, "ThrottlingException:"), errType)
	assert.Equal(t, 4, s.Count("GetSecretValue"))
}

func TestQuota_OnOneOperationLeavesTheOthersAlone(t *testing.T) {
	s := start(t)
	s.Put("", "a", []byte("1"))
	s.Put("", "b", []byte("2"))
	s.SetQuota(testserver.Quota{Rate: 0.001, Burst: 1, Ops: []string{"BatchGetSecretValue"}})
	c := sdkClient(s, awssm.DefaultRegion, awssm.SecretAccessKey)
	batch := &secretsmanager.BatchGetSecretValueInput{SecretIdList: []string{"a", "b"}}
	_, err := c.BatchGetSecretValue(context.Background(), batch)
	require.NoError(t, err)
	_, err = c.BatchGetSecretValue(context.Background(), batch)
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae, "%v", err)
	assert.Equal(t, "ThrottlingException", ae.ErrorCode())
	for range 3 {
		_, err := c.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: awssdk.String("a")})
		require.NoError(t, err)
	}
}

func TestRefuseAfter_TheSDKFindsNothingListening(t *testing.T) {
	s := start(t)
	s.Put("", "app", []byte("v"))
	c := sdkClient(s, awssm.DefaultRegion, awssm.SecretAccessKey)
	in := &secretsmanager.GetSecretValueInput{SecretId: awssdk.String("app")}
	s.RefuseAfter(1)
	_, err := c.GetSecretValue(context.Background(), in)
	require.NoError(t, err, "the last request is answered")
	_, err = c.GetSecretValue(context.Background(), in)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.Equal(t, 1, s.Requests())
}
