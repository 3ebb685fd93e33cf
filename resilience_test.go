package envdrift_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift"
	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/internal/testserver"
	"github.com/envdrift/envdrift/internal/testserver/awssm"
	"github.com/envdrift/envdrift/internal/testserver/gcpsm"
	"github.com/envdrift/envdrift/internal/testserver/vaultkv"
	"github.com/envdrift/envdrift/provider"
	_ "github.com/envdrift/envdrift/provider/aws"
	_ "github.com/envdrift/envdrift/provider/gcp"
	_ "github.com/envdrift/envdrift/provider/hashicorp"
)

// These tests run the Syncer through the real provider SDKs against the
// local test servers when the servers are unhappy: dead, over quota, or
// without BatchGetSecretValue. Timing is measured in bench/
// (BenchmarkDeadEndpoint, BenchmarkQuota, BenchmarkNoBatch); here
// the counts are checked: requests sent, rows failed, messages.

var trustErr error

func TestMain(m *testing.M) {
	// The GCP test server's certificate is signed by a test CA; trust it
	// before anything in the process loads the system roots.
	cleanup, err := testserver.TrustInProcess()
	trustErr = err
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// unhappyServer is what these tests need of a test server.
type unhappyServer interface {
	Env() []string
	Close()
	Ops() map[string]int
	Requests() int
	SetQuota(testserver.Quota)
	RefuseAfter(n int)
	Inject(testserver.Fault)
}

type cloud struct {
	name   string
	header string
	readOp string
	// batch is how many secrets one read request asks for at most.
	batch int
	start func(t *testing.T) (unhappyServer, func(name, value string))
}

var clouds = []cloud{
	{
		name: "hashicorp", header: "[vault]\nprovider = \"hashicorp\"\n\n[vault.hashicorp]\nkv_version = 2\n",
		readOp: vaultkv.OpKVv2Read, batch: 1,
		start: func(t *testing.T) (unhappyServer, func(string, string)) {
			s, err := vaultkv.Start()
			require.NoError(t, err)
			return s, func(name, value string) {
				_, err := s.PutValue("", vaultkv.DefaultMount, name, value)
				require.NoError(t, err)
			}
		},
	},
	{
		name: "aws", header: "[vault]\nprovider = \"aws\"\n", readOp: "BatchGetSecretValue", batch: 20,
		start: func(t *testing.T) (unhappyServer, func(string, string)) {
			s, err := awssm.Start()
			require.NoError(t, err)
			return s, func(name, value string) { s.Put(awssm.DefaultRegion, name, []byte(value)) }
		},
	},
	{
		name: "gcp", header: "[vault]\nprovider = \"gcp\"\n", readOp: "AccessSecretVersion", batch: 1,
		start: func(t *testing.T) (unhappyServer, func(string, string)) {
			if trustErr != nil {
				t.Skipf("the GCP test server needs SSL_CERT_DIR support: %v", trustErr)
			}
			s, err := gcpsm.Start()
			require.NoError(t, err)
			return s, func(name, value string) { s.Put(gcpsm.DefaultProject, name, []byte(value)) }
		},
	},
}

// startCloud starts c's server with n secrets app-000… (all holding one
// key), points the environment at it and writes a project of n mappings.
// It returns the server and the project's configuration file.
func startCloud(t *testing.T, c cloud, n int) (unhappyServer, string) {
	t.Helper()
	s, put := c.start(t)
	t.Cleanup(s.Close)
	t.Setenv("HOME", t.TempDir())
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	key, err := dotenvx.GeneratePrivateKey(rand.Reader)
	require.NoError(t, err)
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString(c.header + "\n[vault.sync]\n")
	for i := range n {
		name, folder := fmt.Sprintf("app-%03d", i), fmt.Sprintf("svc%03d", i)
		put(name, key.Hex())
		require.NoError(t, os.MkdirAll(filepath.Join(dir, folder), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, folder, ".env.production"),
			[]byte("DOTENV_PUBLIC_KEY_PRODUCTION=\""+key.PublicKey().Hex()+"\"\n"), 0o644))
		fmt.Fprintf(&cfg, "\n[[vault.sync.mappings]]\nsecret_name = %q\nfolder_path = %q\n", name, folder)
	}
	path := filepath.Join(dir, "envdrift.toml")
	require.NoError(t, os.WriteFile(path, []byte(cfg.String()), 0o644))
	return s, path
}

// requestCounter is a ProgressReporter that counts the requests sent.
type requestCounter struct {
	mu       sync.Mutex
	requests []envdrift.Request
}

func (r *requestCounter) Row(*envdrift.Row)     {}
func (r *requestCounter) Done(*envdrift.Result) {}
func (r *requestCounter) Start(envdrift.Plan)   {}
func (r *requestCounter) Progress(int, int)     {}
func (r *requestCounter) Request(q envdrift.Request) {
	r.mu.Lock()
	r.requests = append(r.requests, q)
	r.mu.Unlock()
}

func (r *requestCounter) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requests)
}

func syncWith(t *testing.T, ctx context.Context, path string, opts envdrift.Options) (*envdrift.Result, error) {
	t.Helper()
	cfg, err := envdrift.Load(path)
	require.NoError(t, err)
	sy, err := envdrift.New(cfg, opts)
	require.NoError(t, err)
	return sy.Sync(ctx)
}

func TestSync_DeadEndpointFailsTheOtherRequestsAtOnceWithTheSameError(t *testing.T) {
	const n = 60
	for _, c := range clouds {
		for _, concurrency := range []int{1, 16} {
			t.Run(fmt.Sprintf("%s/concurrency %d", c.name, concurrency), func(t *testing.T) {
				s, path := startCloud(t, c, n)
				s.RefuseAfter(0)
				counter := &requestCounter{}
				res, err := syncWith(t, context.Background(), path, envdrift.Options{Concurrency: concurrency, Reporter: counter})
				require.NoError(t, err)

				var first *provider.Error
				for i, row := range res.Rows {
					require.Equal(t, envdrift.ActionError, row.Action, "%s: %s", row.Folder, row.Message)
					require.ErrorIs(t, row.Err, provider.ErrUnavailable, "%s", row.Folder)
					var pe *provider.Error
					require.ErrorAs(t, row.Err, &pe)
					assert.Equal(t, fmt.Sprintf("app-%03d", i), pe.Ref.Name, "each row names its own secret")
					if first == nil {
						first = pe
						continue
					}
					assert.Equal(t, first.Message, pe.Message, "one failure, one message: the CLI explains it once")
					assert.Equal(t, first.Hint, pe.Hint)
				}
				// Only the requests sent before the endpoint was known to
				// be dead reached the provider: at most one round.
				assert.LessOrEqual(t, counter.count(), concurrency, "requests sent for %d mappings", n)
				assert.Positive(t, counter.count())
			})
		}
	}
}

func TestSync_ThrottlingSlowsTheRunDownAndEveryRowSucceeds(t *testing.T) {
	const n = 30
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			s, path := startCloud(t, c, n)
			// 25 reads a second, one at a time: far fewer than 16 at once.
			s.SetQuota(testserver.Quota{Rate: 25, Burst: 1, Ops: []string{c.readOp}})
			res, err := syncWith(t, context.Background(), path, envdrift.Options{})
			require.NoError(t, err)
			require.NoError(t, res.Err())
			assert.Equal(t, n, res.Summary.Created)
			reads := s.Ops()[c.readOp]
			assert.Greater(t, reads, (n+c.batch-1)/c.batch, "the server throttled some reads, which were sent again")
		})
	}
}

func TestSync_ThrottledRowsFailOnlyWhenTheDeadlinePasses(t *testing.T) {
	c := clouds[0]
	const n = 3
	s, path := startCloud(t, c, n)
	s.Inject(testserver.FaultThrottle)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// The client gives up after two attempts; the run sends the request
	// again, past the request time limit of 500 ms (the endpoint's
	// patience when a run has no deadline), until the context's deadline.
	overrides := provider.Options{Timeout: 500 * time.Millisecond,
		Retry: provider.RetryPolicy{MaxAttempts: 2, MinDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond}}
	res, err := syncWith(t, ctx, path, envdrift.Options{Overrides: overrides})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	for _, row := range res.Rows {
		assert.ErrorIs(t, row.Err, provider.ErrThrottled, "%s: throttled until the deadline, not cancelled", row.Folder)
	}
	assert.Greater(t, s.Ops()[c.readOp], 4*n, "each secret was asked for again after the client gave up")
}

func TestSync_ThrottledRowsFailWhenTheEndpointAnswersNothingElseForTheRequestTimeLimit(t *testing.T) {
	c := clouds[0]
	const n = 3
	s, path := startCloud(t, c, n)
	s.Inject(testserver.FaultThrottle)
	overrides := provider.Options{Timeout: 300 * time.Millisecond,
		Retry: provider.RetryPolicy{MaxAttempts: 2, MinDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond}}
	res, err := syncWith(t, context.Background(), path, envdrift.Options{Overrides: overrides})
	require.NoError(t, err)
	for _, row := range res.Rows {
		assert.ErrorIs(t, row.Err, provider.ErrThrottled, row.Folder)
	}
	assert.Greater(t, s.Ops()[c.readOp], 2*n, "sent again after the client gave up")
}

func TestSync_PerSecretErrorsDoNotStopTheOtherRows(t *testing.T) {
	c := clouds[0]
	const n = 20
	s, path := startCloud(t, c, n)
	v := s.(*vaultkv.Server)
	for i := 0; i < n; i += 2 {
		v.Deny("", vaultkv.DefaultMount, fmt.Sprintf("app-%03d", i))
	}
	res, err := syncWith(t, context.Background(), path, envdrift.Options{Concurrency: 1})
	require.NoError(t, err)
	for i, row := range res.Rows {
		if i%2 == 0 {
			assert.ErrorIs(t, row.Err, provider.ErrPermissionDenied, row.Folder)
			continue
		}
		assert.Equal(t, envdrift.ActionCreated, row.Action, "%s: %s", row.Folder, row.Message)
	}
	assert.Equal(t, n, s.Ops()[c.readOp], "every secret was asked for")
}

func TestSync_AWSEndpointWithoutBatchIsAskedOnceAndSaysSo(t *testing.T) {
	const n = 100
	s, path := startCloud(t, clouds[1], n)
	s.(*awssm.Server).SetBatchMode(awssm.BatchUnknownOperation)
	res, err := syncWith(t, context.Background(), path, envdrift.Options{})
	require.NoError(t, err)
	require.NoError(t, res.Err())
	ops := s.Ops()
	assert.Equal(t, 1, ops["BatchGetSecretValue"], "one refused batch call for five chunks")
	assert.Equal(t, n, ops["GetSecretValue"])
	var notices []string
	for _, w := range res.Warnings {
		if w.Provider == "aws" {
			notices = append(notices, w.String())
		}
	}
	require.Len(t, notices, 1)
	assert.True(t, strings.HasPrefix(notices[0], "aws: the Secrets Manager endpoint does not support BatchGetSecretValue (UnknownOperationException)"), notices[0])
	assert.False(t, errors.Is(res.Err(), provider.ErrInvalid))
}
