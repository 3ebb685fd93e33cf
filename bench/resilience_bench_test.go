package bench

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/envdrift/envdrift/internal/testserver"
	"github.com/envdrift/envdrift/internal/testserver/awssm"
	"github.com/envdrift/envdrift/internal/testserver/azurekv"
	"github.com/envdrift/envdrift/internal/testserver/gcpsm"
	"github.com/envdrift/envdrift/internal/testserver/vaultkv"
)

// The resilience benchmarks run the envdrift binary against a test server
// that is unhappy: dead (nothing listens), over its request quota, or
// without BatchGetSecretValue. Each server runs in this process and the
// binary reaches it through the environment of the server's Env, the
// same way a user's shell would point envdrift at a real service.

// faultyServer is what the resilience benchmarks need of a test server.
type faultyServer interface {
	Env() []string
	Close()
	Ops() map[string]int
	Requests() int
	SetLatency(time.Duration)
	SetQuota(testserver.Quota)
	RefuseAfter(n int)
}

// cliBackend starts one provider's test server for a generated project.
type cliBackend struct {
	name   string
	header string // the [vault] tables of envdrift.toml
	// readOp is the server operation that reads one secret.
	readOp string
	start  func(b *testing.B, p *project) faultyServer
}

var cliBackends = []cliBackend{
	{
		name:   "hashicorp",
		header: "[vault]\nprovider = \"hashicorp\"\n\n[vault.hashicorp]\nkv_version = 2\n",
		readOp: vaultkv.OpKVv2Read,
		start: func(b *testing.B, p *project) faultyServer {
			s, err := vaultkv.Start()
			if err != nil {
				b.Fatal(err)
			}
			for i, name := range p.secrets {
				if _, err := s.PutValue("", vaultkv.DefaultMount, name, p.keys[i]); err != nil {
					b.Fatal(err)
				}
			}
			return s
		},
	},
	{
		name:   "aws",
		header: "[vault]\nprovider = \"aws\"\n",
		readOp: "GetSecretValue",
		start: func(b *testing.B, p *project) faultyServer {
			s, err := awssm.Start()
			if err != nil {
				b.Fatal(err)
			}
			for i, name := range p.secrets {
				s.Put(awssm.DefaultRegion, name, []byte(p.keys[i]))
			}
			return s
		},
	},
	{
		name:   "gcp",
		header: "[vault]\nprovider = \"gcp\"\n",
		readOp: "AccessSecretVersion",
		start: func(b *testing.B, p *project) faultyServer {
			s, err := gcpsm.Start()
			if err != nil {
				b.Fatal(err)
			}
			for i, name := range p.secrets {
				s.Put(gcpsm.DefaultProject, name, []byte(p.keys[i]))
			}
			return s
		},
	},
	{
		name: "azure",
		// The vault's real host name; the server's Env sends it through
		// the server acting as an HTTPS proxy.
		header: "[vault]\nprovider = \"azure\"\n\n[vault.azure]\nvault_url = \"https://" + azurekv.DefaultVault + ".vault.azure.net/\"\n",
		readOp: "GetSecret",
		start: func(b *testing.B, p *project) faultyServer {
			s, err := azurekv.Start()
			if err != nil {
				b.Fatal(err)
			}
			for i, name := range p.secrets {
				s.SetSecret(azurekv.DefaultVault, name, []byte(p.keys[i]))
			}
			return s
		},
	},
}

// cliOutcome is what one `envdrift sync -o json` run reported.
type cliOutcome struct {
	run
	created, failed int
	kinds           map[string]int // error_kind → rows
	notices         []string       // the run's warnings
}

// syncCLI runs `envdrift sync --ci -o json` in p.dir with env added to
// the minimal environment, and counts its rows.
func syncCLI(b *testing.B, p *project, env []string, args ...string) cliOutcome {
	b.Helper()
	r := runProgramEnv(b, envdriftBinary(b), p.dir, env, append([]string{"sync", "--ci", "-o", "json"}, args...)...)
	var doc struct {
		Rows []struct {
			Action    string `json:"action"`
			ErrorKind string `json:"error_kind"`
		} `json:"rows"`
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		b.Fatalf("exit %d, not a JSON document (%v)\nstdout:\n%s\nstderr:\n%s", r.code, err, tail(r.stdout, 2000), tail(r.stderr, 2000))
	}
	if len(doc.Rows) != p.mappings {
		b.Fatalf("%d rows for %d mappings", len(doc.Rows), p.mappings)
	}
	o := cliOutcome{run: r, kinds: map[string]int{}}
	for _, row := range doc.Rows {
		switch row.Action {
		case "created":
			o.created++
		case "error":
			o.failed++
			o.kinds[row.ErrorKind]++
		}
	}
	o.notices = doc.Warnings
	return o
}

// deadMappings is the size of the dead-endpoint benchmark's project.
const deadMappings = 200

// BenchmarkDeadEndpoint runs `envdrift sync` on 200 mappings of 200
// distinct secrets whose provider's endpoint is dead: the test server was
// started and then stopped listening, so every connection is refused (for
// Azure, the HTTPS proxy in front of Key Vault; for GCP, the token
// endpoint as well). Every row must fail with error_kind "unavailable".
// Sub-benchmarks per provider: default (the default concurrency) and c1
// (--concurrency 1). Metrics: s-wall (wall time of the whole process;
// target < 3 s), failed (rows; all 200 fail, as they must) and requests
// (that reached the server: 0, it is dead).
func BenchmarkDeadEndpoint(b *testing.B) {
	envdriftBinary(b)
	for _, be := range cliBackends {
		b.Run(be.name, func(b *testing.B) {
			p := newProject(b, projectDir(b), be.header, deadMappings, deadMappings, func(i int) string { return fmt.Sprintf("app-%03d", i) })
			s := be.start(b, p)
			b.Cleanup(s.Close)
			env := s.Env()
			s.RefuseAfter(0)
			for _, c := range []struct {
				name string
				args []string
			}{{"default", nil}, {"c1", []string{"--concurrency", "1"}}} {
				b.Run(c.name, func(b *testing.B) {
					var o cliOutcome
					for range b.N {
						b.StopTimer()
						q := p.checkout(b)
						b.StartTimer()
						o = syncCLI(b, q, env, c.args...)
					}
					b.StopTimer()
					if o.code != 1 || o.failed != deadMappings || o.kinds["unavailable"] != deadMappings {
						b.Fatalf("exit %d, %d rows failed (%v), want exit 1 and %d unavailable\nstderr:\n%s",
							o.code, o.failed, o.kinds, deadMappings, tail(o.stderr, 2000))
					}
					b.ReportMetric(o.wall.Seconds(), "s-wall")
					b.ReportMetric(float64(o.failed), "failed")
					b.ReportMetric(float64(s.Requests()), "requests")
				})
			}
		})
	}
}

// quotaRate is the quota of BenchmarkQuota: requests per second, with a
// burst of as many.
const quotaRate = 5

// quotaCase is one provider's run of BenchmarkQuota.
type quotaCase struct {
	name    string
	backend cliBackend
	secrets int
	// requests is how many read requests the secrets need at best (AWS
	// batches 20 secrets a request).
	requests int
	// noBatch refuses BatchGetSecretValue (AWS), so that every secret is a
	// request of its own.
	noBatch bool
}

// BenchmarkQuota runs `envdrift sync` (default concurrency, 20 ms a
// round trip) against a test server that enforces a quota of 5 requests a
// second (a token bucket holding 5, answered over quota with the
// service's throttling response and its Retry-After, where the service
// sends one). Every secret must be fetched. Metrics: s-wall (wall time of
// the whole process), failed (rows; target 0), x-quota (wall time over
// requests ÷ quota, where requests is what the secrets need at best: one
// each, or one per 20 for AWS batches; target ≤ 1.5), server-requests
// (every request the server saw, those answered over quota included).
func BenchmarkQuota(b *testing.B) {
	envdriftBinary(b)
	backends := map[string]cliBackend{}
	for _, be := range cliBackends {
		backends[be.name] = be
	}
	cases := []quotaCase{
		{name: "hashicorp", backend: backends["hashicorp"], secrets: 40, requests: 40},
		{name: "aws-batch", backend: backends["aws"], secrets: 200, requests: 10},
		{name: "aws-single", backend: backends["aws"], secrets: 40, requests: 40, noBatch: true},
		{name: "gcp", backend: backends["gcp"], secrets: 40, requests: 40},
		{name: "azure", backend: backends["azure"], secrets: 40, requests: 40},
	}
	for _, qc := range cases {
		b.Run(qc.name, func(b *testing.B) {
			be := qc.backend
			p := newProject(b, projectDir(b), be.header, qc.secrets, qc.secrets, func(i int) string { return fmt.Sprintf("app-%03d", i) })
			s := be.start(b, p)
			b.Cleanup(s.Close)
			if qc.noBatch {
				s.(*awssm.Server).DenyBatch(true)
			}
			s.SetLatency(latency)
			var o cliOutcome
			var served int
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				q := p.checkout(b)
				s.SetQuota(testserver.Quota{}) // a full bucket for every run
				s.SetQuota(testserver.Quota{Rate: quotaRate})
				before := s.Requests()
				b.StartTimer()
				o = syncCLI(b, q, s.Env())
				b.StopTimer()
				served = s.Requests() - before
				if o.failed == 0 {
					q.checkKeysFiles(b)
				}
				b.StartTimer()
			}
			b.StopTimer()
			ideal := time.Duration(float64(qc.requests) / quotaRate * float64(time.Second))
			b.ReportMetric(o.wall.Seconds(), "s-wall")
			b.ReportMetric(float64(o.failed), "failed")
			b.ReportMetric(o.wall.Seconds()/ideal.Seconds(), "x-quota")
			b.ReportMetric(float64(served), "server-requests")
			if o.failed > 0 {
				b.Fatalf("%d of %d rows failed: %v", o.failed, qc.secrets, o.kinds)
			}
		})
	}
}

// BenchmarkNoBatch runs `envdrift sync` on 200 mappings of 200 AWS
// secrets against endpoints without BatchGetSecretValue: one that refuses
// it (AccessDeniedException, an IAM policy without the action), one that
// does not know it (UnknownOperationException) and LocalStack's answer for
// an operation it lacks (HTTP 501). Every secret must be fetched with one
// refused batch call in all. Metrics: ms-wall, failed (target 0),
// batch-requests (target 1), get-requests (200), notices (the run's
// warnings; target 1).
func BenchmarkNoBatch(b *testing.B) {
	envdriftBinary(b)
	aws := cliBackends[1]
	modes := []struct {
		name string
		mode awssm.BatchMode
	}{
		{"denied", awssm.BatchDenied},
		{"unknown-operation", awssm.BatchUnknownOperation},
		{"not-implemented", awssm.BatchNotImplemented},
	}
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			p := newProject(b, projectDir(b), aws.header, mappings, mappings, func(i int) string { return fmt.Sprintf("app-%03d", i) })
			s := aws.start(b, p).(*awssm.Server)
			b.Cleanup(s.Close)
			s.SetBatchMode(m.mode)
			s.SetLatency(latency)
			var o cliOutcome
			var ops map[string]int
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				q := p.checkout(b)
				before := s.Ops()
				b.StartTimer()
				o = syncCLI(b, q, s.Env(), "--verbose")
				b.StopTimer()
				ops = s.Ops()
				for k, v := range before {
					ops[k] -= v
				}
				if o.failed == 0 {
					q.checkKeysFiles(b)
				}
				b.StartTimer()
			}
			b.StopTimer()
			b.ReportMetric(ms(o.wall), "ms-wall")
			b.ReportMetric(float64(o.failed), "failed")
			b.ReportMetric(float64(ops["BatchGetSecretValue"]), "batch-requests")
			b.ReportMetric(float64(ops["GetSecretValue"]), "get-requests")
			n := 0
			for _, w := range o.notices {
				if strings.Contains(w, "BatchGetSecretValue") {
					n++
				}
			}
			b.ReportMetric(float64(n), "notices")
			if o.failed > 0 || ops["BatchGetSecretValue"] != 1 || ops["GetSecretValue"] != mappings || n != 1 {
				b.Fatalf("%d of %d rows failed (%v); %d batch and %d single requests, %d notices; want none failed, 1 batch, %d single, 1 notice",
					o.failed, mappings, o.kinds, ops["BatchGetSecretValue"], ops["GetSecretValue"], n, mappings)
			}
		})
	}
}
