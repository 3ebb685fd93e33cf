package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/envdrift/envdrift"
	"github.com/envdrift/envdrift/internal/testserver/awssm"
	"github.com/envdrift/envdrift/internal/testserver/vaultkv"
)

// keysProject is a generated repository whose folder i (svc000, svc001, …)
// has the env file .env.svc<i>, so that each folder's key has its own name
// (DOTENV_PRIVATE_KEY_SVC<i>) and many keys can live in one secret.
type keysProject struct {
	dir    string
	keys   []string // private key of folder i, hex
	shared bool     // one secret holds every key; else secret app-<i> holds key i
}

func keyNameOf(i int) string { return fmt.Sprintf("DOTENV_PRIVATE_KEY_SVC%03d", i) }

// newKeysProject writes a project of n folders under dir, mapped to one
// shared secret or to one secret each.
func newKeysProject(tb testing.TB, dir, header string, n int, shared bool) *keysProject {
	tb.Helper()
	p := &keysProject{dir: dir, shared: shared}
	var cfg strings.Builder
	cfg.WriteString(header)
	cfg.WriteString("\n[vault.sync]\n")
	for i, k := range generateKeys(tb, n) {
		p.keys = append(p.keys, k.private)
		folder := fmt.Sprintf("svc%03d", i)
		if err := os.MkdirAll(filepath.Join(dir, folder), 0o755); err != nil {
			tb.Fatal(err)
		}
		env := fmt.Sprintf("DOTENV_PUBLIC_KEY_SVC%03d=%q\nPORT=8080\n", i, k.public)
		if err := os.WriteFile(filepath.Join(dir, folder, ".env."+folder), []byte(env), 0o644); err != nil {
			tb.Fatal(err)
		}
		fmt.Fprintf(&cfg, "\n[[vault.sync.mappings]]\nsecret_name = %q\nfolder_path = %q\nenvironment = %q\n", p.secretOf(i), folder, folder)
	}
	if err := os.WriteFile(filepath.Join(dir, "envdrift.toml"), []byte(cfg.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

func (p *keysProject) secretOf(i int) string {
	if p.shared {
		return "shared"
	}
	return fmt.Sprintf("app-%03d", i)
}

// keysText is the .env.keys text holding keys from..to-1, as a team that
// stores its keys file in one secret has it.
func (p *keysProject) keysText(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "# .env.svc%03d\n%s=%s\n", i, keyNameOf(i), p.keys[i])
	}
	return b.String()
}

// secrets returns each secret's name and payload.
func (p *keysProject) secrets() map[string]string {
	out := map[string]string{}
	if p.shared {
		out["shared"] = p.keysText(0, len(p.keys))
		return out
	}
	for i := range p.keys {
		out[p.secretOf(i)] = p.keysText(i, i+1)
	}
	return out
}

// checkout copies the configuration and env files to a fresh directory
// (see project.checkout for why).
func (p *keysProject) checkout(tb testing.TB) *keysProject {
	tb.Helper()
	q := *p
	q.dir = projectDir(tb)
	copyFile(tb, filepath.Join(p.dir, "envdrift.toml"), filepath.Join(q.dir, "envdrift.toml"))
	for i := range p.keys {
		folder := fmt.Sprintf("svc%03d", i)
		if err := os.MkdirAll(filepath.Join(q.dir, folder), 0o755); err != nil {
			tb.Fatal(err)
		}
		copyFile(tb, filepath.Join(p.dir, folder, ".env."+folder), filepath.Join(q.dir, folder, ".env."+folder))
	}
	flushDisks()
	return &q
}

// sync syncs the project once and checks that every folder's keys file
// holds its key; it returns the wall time, configuration load included.
func (p *keysProject) sync(b *testing.B) time.Duration {
	b.Helper()
	start := time.Now()
	cfg, err := envdrift.Load(filepath.Join(p.dir, "envdrift.toml"))
	if err != nil {
		b.Fatal(err)
	}
	sy, err := envdrift.New(cfg, envdrift.Options{})
	if err != nil {
		b.Fatal(err)
	}
	res, err := sy.Sync(context.Background())
	elapsed := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	if res.Err() != nil || res.Summary.Created != len(p.keys) {
		b.Fatalf("sync: %d created of %d: %v", res.Summary.Created, len(p.keys), res.Err())
	}
	for i, k := range p.keys {
		data, err := os.ReadFile(filepath.Join(p.dir, fmt.Sprintf("svc%03d", i), ".env.keys"))
		if err != nil {
			b.Fatal(err)
		}
		if !strings.Contains(string(data), keyNameOf(i)+"="+k+"\n") {
			b.Fatalf("svc%03d/.env.keys does not hold its key", i)
		}
	}
	return elapsed
}

// BenchmarkSyncSharedKeys syncs 200 mappings whose keys all live in one
// secret (a .env.keys text of 200 DOTENV_PRIVATE_KEY_SVC<i> lines) and,
// paired sample by sample, the same 200 keys in 200 separate secrets, on
// HashiCorp Vault (kv_version = 2) and AWS Secrets Manager (separate
// secrets batched 20 a request) at 20 ms per request. The shared secret is
// fetched once and parsed once; its rows are then applied side by side and
// their keys files share group commits, as separate secrets' rows do.
// Metrics: ms-shared and ms-separate (medians of at least seven syncs),
// x-separate (their ratio; target ≤ 1) and fetches (requests per shared
// sync; exactly 1).
func BenchmarkSyncSharedKeys(b *testing.B) {
	for _, be := range []struct {
		name, header string
		put          func(b *testing.B, secrets map[string]string) server
	}{
		{"hashicorp", hashicorp.header, func(b *testing.B, secrets map[string]string) server {
			s, err := vaultkv.Start()
			if err != nil {
				b.Fatal(err)
			}
			for name, v := range secrets {
				if _, err := s.PutValue("", vaultkv.DefaultMount, name, v); err != nil {
					b.Fatal(err)
				}
			}
			return s
		}},
		{"aws", aws.header, func(b *testing.B, secrets map[string]string) server {
			s, err := awssm.Start()
			if err != nil {
				b.Fatal(err)
			}
			for name, v := range secrets {
				s.Put(awssm.DefaultRegion, name, []byte(v))
			}
			return s
		}},
	} {
		b.Run(be.name, func(b *testing.B) {
			shared := newKeysProject(b, projectDir(b), be.header, mappings, true)
			separate := newKeysProject(b, projectDir(b), be.header, mappings, false)
			all := shared.secrets()
			for name, v := range separate.secrets() {
				all[name] = v
			}
			s := be.put(b, all)
			b.Cleanup(s.Close)
			b.Setenv("HOME", b.TempDir())
			for _, kv := range s.Env() {
				k, v, _ := strings.Cut(kv, "=")
				b.Setenv(k, v)
			}
			s.SetLatency(latency)
			var sharedTimes, separateTimes []time.Duration
			fetches := 0
			b.ResetTimer()
			for n := 0; n < b.N || len(sharedTimes) < minSamples; n++ {
				b.StopTimer()
				q, r := shared.checkout(b), separate.checkout(b)
				if n < b.N {
					b.StartTimer()
				}
				// Alternate which goes first, so that neither always
				// runs right after the other's writes.
				for k := range 2 {
					if (n+k)%2 == 0 {
						before := s.Requests()
						sharedTimes = append(sharedTimes, q.sync(b))
						if fetches = s.Requests() - before; fetches != 1 {
							b.Fatalf("%d requests for one shared secret, want 1 (%v)", fetches, s.Ops())
						}
					} else {
						separateTimes = append(separateTimes, r.sync(b))
					}
				}
				b.StopTimer()
			}
			ms1, ms2 := median(sharedTimes), median(separateTimes)
			b.ReportMetric(ms(ms1), "ms-shared")
			b.ReportMetric(ms(ms2), "ms-separate")
			b.ReportMetric(float64(ms1)/float64(ms2), "x-separate")
			b.ReportMetric(float64(fetches), "fetches")
		})
	}
}
