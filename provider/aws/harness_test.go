package aws_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/testserver"
	"github.com/envdrift/envdrift/internal/testserver/awssm"
	"github.com/envdrift/envdrift/provider"
	awsp "github.com/envdrift/envdrift/provider/aws"
	"github.com/envdrift/envdrift/provider/providertest"
)

// Environment variables that point the conformance suite at a real endpoint.
const (
	// envEndpoint is a Secrets Manager-compatible endpoint such as LocalStack
	// (http://localhost:4566). Credentials come from the usual AWS variables,
	// defaulting to LocalStack's test/test.
	envEndpoint = "ENVDRIFT_TEST_AWS_ENDPOINT"
	// envReal=1 runs the suite against AWS itself with the ambient
	// credential chain. The caller needs secretsmanager:CreateSecret,
	// PutSecretValue, GetSecretValue, BatchGetSecretValue, DescribeSecret,
	// TagResource, ListSecretVersionIds, DeleteSecret, PutResourcePolicy and
	// DeleteResourcePolicy on envdrift-test-*.
	envReal = "ENVDRIFT_TEST_AWS"
	// envRegion and envOtherRegion pick the default and second region
	// (defaults: us-east-1 and us-west-2).
	envRegion      = "ENVDRIFT_TEST_AWS_REGION"
	envOtherRegion = "ENVDRIFT_TEST_AWS_OTHER_REGION"
)

// startServer starts a local Secrets Manager and points the process
// environment (and so the SDK's default chain) at it for the test.
func startServer(t *testing.T) *awssm.Server {
	t.Helper()
	srv, err := awssm.Start()
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return srv
}

// newProvider opens an aws provider through the registry, as envdrift does.
func newProvider(t *testing.T, s awsp.Settings, opts provider.Options) *awsp.Provider {
	t.Helper()
	d, lerr := provider.Default().Lookup(awsp.Name)
	require.NoError(t, lerr, "the aws provider registers itself")
	p, err := d.Open(context.Background(), &s, fastRetry(opts))
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.(io.Closer).Close() })
	return p.(*awsp.Provider)
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

// harness implements providertest.Harness for the local server (srv set),
// for a real endpoint (srv nil), or for the local server driven the way a
// real endpoint is (viaSDK: secrets are created with the SDK's CreateSecret
// and PutSecretValue, access is denied with a resource policy).
type harness struct {
	testserver.Faults // fault injection of the local server; unsupported on a real endpoint
	srv               *awssm.Server
	viaSDK            bool
	iamDeny           bool // DenyAccess through PutResourcePolicy
	settings          awsp.Settings
	region            string // default region
	other             string // second region
	prefix            string // prepended to every secret name (real endpoints)

	mu      sync.Mutex
	admins  map[string]*secretsmanager.Client
	created map[[2]string]bool // region, name
}

func (h *harness) MakeProvider(ctx context.Context) (provider.Provider, error) {
	d, _ := provider.Default().Lookup(awsp.Name)
	s := h.settings
	opts := provider.Options{}
	if h.srv != nil {
		opts = fastRetry(opts)
	}
	p, err := d.Open(ctx, &s, opts)
	if err != nil || h.prefix == "" {
		return p, err
	}
	return prefixed{p.(*awsp.Provider), h.prefix, h}, nil
}

// prefixed keeps the secrets of one run apart from every other run's on a
// shared real account.
type prefixed struct {
	*awsp.Provider
	prefix string
	h      *harness // records what Put creates, for cleanup
}

func (p prefixed) Fetch(ctx context.Context, ref provider.Ref) (provider.Secret, error) {
	ref.Name = p.prefix + ref.Name
	return p.Provider.Fetch(ctx, ref)
}

func (p prefixed) Current(ctx context.Context, ref provider.Ref) (provider.Current, error) {
	ref.Name = p.prefix + ref.Name
	return p.Provider.Current(ctx, ref)
}

func (p prefixed) Put(ctx context.Context, ref provider.Ref, req provider.PutRequest) (provider.PutResult, error) {
	ref.Name = p.prefix + ref.Name
	h := p.h
	res, err := p.Provider.Put(ctx, ref, req)
	if err == nil && req.Create && h != nil {
		h.remember(h.regionOf(ref.Vault), ref.Name)
	}
	return res, err
}

func (h *harness) regionOf(vault string) string {
	if vault == "" {
		return h.region
	}
	return vault
}

func (h *harness) admin(ctx context.Context, region string) (*secretsmanager.Client, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c := h.admins[region]; c != nil {
		return c, nil
	}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
	if err != nil {
		return nil, err
	}
	c := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if h.settings.EndpointURL != "" {
			o.BaseEndpoint = awssdk.String(h.settings.EndpointURL)
		}
	})
	if h.admins == nil {
		h.admins = map[string]*secretsmanager.Client{}
	}
	h.admins[region] = c
	return c, nil
}

func (h *harness) put(ctx context.Context, vault, name string, value []byte, binary bool) error {
	region := h.regionOf(vault)
	if !h.viaSDK {
		if binary {
			h.srv.PutBinary(region, name, value)
		} else {
			h.srv.Put(region, name, value)
		}
		return nil
	}
	c, err := h.admin(ctx, region)
	if err != nil {
		return err
	}
	id := h.prefix + name
	create := &secretsmanager.CreateSecretInput{Name: awssdk.String(id), Description: awssdk.String("envdrift conformance test; safe to delete")}
	update := &secretsmanager.PutSecretValueInput{SecretId: awssdk.String(id)}
	if binary {
		create.SecretBinary, update.SecretBinary = value, value
	} else {
		create.SecretString, update.SecretString = awssdk.String(string(value)), awssdk.String(string(value))
	}
	_, err = c.CreateSecret(ctx, create)
	var exists *types.ResourceExistsException
	if errors.As(err, &exists) {
		_, err = c.PutSecretValue(ctx, update)
	}
	if err == nil {
		h.remember(region, id)
	}
	return err
}

// remember records a secret the run created, for cleanup.
func (h *harness) remember(region, id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.created == nil {
		h.created = map[[2]string]bool{}
	}
	h.created[[2]string{region, id}] = true
}

// Conditional: CreateSecret refuses an existing name; PutSecretValue has
// no condition.
func (h *harness) Conditional() (create, update bool) { return true, false }

func (h *harness) Metadata(ctx context.Context, vault, name string) (map[string]string, error) {
	region := h.regionOf(vault)
	if !h.viaSDK {
		return h.srv.Tags(region, name), nil
	}
	c, err := h.admin(ctx, region)
	if err != nil {
		return nil, err
	}
	d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: awssdk.String(h.prefix + name)})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, t := range d.Tags {
		out[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
	}
	return out, nil
}

func (h *harness) History(ctx context.Context, vault, name string) ([][]byte, error) {
	region := h.regionOf(vault)
	if !h.viaSDK {
		return h.srv.Versions(region, name), nil
	}
	c, err := h.admin(ctx, region)
	if err != nil {
		return nil, err
	}
	id := awssdk.String(h.prefix + name)
	list, err := c.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: id, IncludeDeprecated: awssdk.Bool(true)})
	if err != nil {
		return nil, err
	}
	versions := list.Versions
	slices.SortFunc(versions, func(a, b types.SecretVersionsListEntry) int {
		return awssdk.ToTime(a.CreatedDate).Compare(awssdk.ToTime(b.CreatedDate))
	})
	var out [][]byte
	for _, v := range versions {
		got, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: id, VersionId: v.VersionId})
		if err != nil {
			return nil, err
		}
		if got.SecretString != nil {
			out = append(out, []byte(*got.SecretString))
		} else {
			out = append(out, got.SecretBinary)
		}
	}
	return out, nil
}

// DenyWrite denies PutSecretValue and TagResource: on the local server
// directly, else through a resource policy (not on LocalStack, which does
// not enforce IAM).
func (h *harness) DenyWrite(ctx context.Context, vault, name string) error {
	region := h.regionOf(vault)
	if !h.viaSDK {
		h.srv.DenyWrite(region, name)
		return nil
	}
	if !h.iamDeny {
		return providertest.ErrUnsupported
	}
	return h.putPolicy(ctx, region, name, "secretsmanager:PutSecretValue", "secretsmanager:TagResource")
}

func (h *harness) Writes() int {
	if h.srv == nil {
		return -1
	}
	return h.srv.Writes()
}

func (h *harness) CreateSecret(ctx context.Context, vault, name string, value []byte) error {
	return h.put(ctx, vault, name, value, false)
}

func (h *harness) CreateBinarySecret(ctx context.Context, vault, name string, value []byte) error {
	return h.put(ctx, vault, name, value, true)
}

func (h *harness) OtherVault() string { return h.other }

func (h *harness) DenyAccess(ctx context.Context, vault, name string) error {
	region := h.regionOf(vault)
	if !h.viaSDK {
		h.srv.Deny(region, name)
		return nil
	}
	if !h.iamDeny {
		return providertest.ErrUnsupported // LocalStack does not enforce IAM by default
	}
	return h.putPolicy(ctx, region, name, "secretsmanager:GetSecretValue")
}

// putPolicy attaches a resource policy that denies actions on the secret
// to everyone.
func (h *harness) putPolicy(ctx context.Context, region, name string, actions ...string) error {
	c, err := h.admin(ctx, region)
	if err != nil {
		return err
	}
	policy, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Effect":    "Deny",
			"Principal": map[string]string{"AWS": "*"},
			"Action":    actions,
			"Resource":  "*",
		}},
	})
	_, err = c.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{
		SecretId:       awssdk.String(h.prefix + name),
		ResourcePolicy: awssdk.String(string(policy)),
	})
	return err
}

// cleanup deletes what the harness created through the SDK: resource
// policies first (a Deny must not outlive the run), then the secrets,
// without a recovery window.
func (h *harness) cleanup(t *testing.T) {
	ctx := context.Background()
	h.mu.Lock()
	created := h.created
	h.mu.Unlock()
	for k := range created {
		c, err := h.admin(ctx, k[0])
		if err != nil {
			t.Logf("cleanup %s/%s: %v", k[0], k[1], err)
			continue
		}
		if h.iamDeny {
			_, _ = c.DeleteResourcePolicy(ctx, &secretsmanager.DeleteResourcePolicyInput{SecretId: awssdk.String(k[1])})
		}
		_, err = c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
			SecretId: awssdk.String(k[1]), ForceDeleteWithoutRecovery: awssdk.Bool(true),
		})
		if err != nil {
			t.Logf("cleanup %s/%s: %v", k[0], k[1], err)
		}
	}
}

func runPrefix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "envdrift-test-" + hex.EncodeToString(b[:]) + "/"
}

func TestConformance(t *testing.T) {
	srv := startServer(t)
	providertest.Run(t, &harness{Faults: testserver.Faults{S: srv.Base}, srv: srv, region: awssm.DefaultRegion, other: "us-west-2"}, providertest.Options{})
}

// TestConformance_SDKHarness drives the local server the way the
// real-endpoint tier drives AWS, so that tier's harness code is exercised on
// every run.
func TestConformance_SDKHarness(t *testing.T) {
	srv := startServer(t)
	h := &harness{Faults: testserver.Faults{S: srv.Base}, srv: srv, viaSDK: true, iamDeny: true, region: awssm.DefaultRegion, other: "us-west-2", prefix: runPrefix()}
	t.Cleanup(func() { h.cleanup(t) })
	providertest.Run(t, h, providertest.Options{})
}

// TestConformance_RealEndpoint runs the suite against LocalStack
// (ENVDRIFT_TEST_AWS_ENDPOINT) or AWS (ENVDRIFT_TEST_AWS=1).
func TestConformance_RealEndpoint(t *testing.T) {
	endpoint, real := os.Getenv(envEndpoint), os.Getenv(envReal) == "1"
	if endpoint == "" && !real {
		t.Skipf("set %s=http://localhost:4566 (LocalStack) or %s=1 (AWS, ambient credentials) to run the suite against a real endpoint; "+
			"%s and %s choose the regions", envEndpoint, envReal, envRegion, envOtherRegion)
	}
	region := os.Getenv(envRegion)
	if region == "" {
		region = "us-east-1"
	}
	other := os.Getenv(envOtherRegion)
	if other == "" {
		other = "us-west-2"
		if region == other {
			other = "us-east-1"
		}
	}
	if endpoint != "" && os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
		t.Setenv("AWS_ACCESS_KEY_ID", "test")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	}
	h := &harness{
		viaSDK:   true,
		iamDeny:  endpoint == "",
		settings: awsp.Settings{Region: region, EndpointURL: endpoint},
		region:   region,
		other:    other,
		prefix:   runPrefix(),
	}
	t.Cleanup(func() { h.cleanup(t) })
	providertest.Run(t, h, providertest.Options{})
}
