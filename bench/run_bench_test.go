package bench

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/envdrift/envdrift/dotenvx"
)

// runRuns is how many times BenchmarkCLIRun runs each command.
const runRuns = 30

// BenchmarkCLIRun times `envdrift run -- true` in a service folder whose
// .env.production holds 20 encrypted values, with the file provider, against
// starting `true` directly: what envdrift adds to a service's start-up
// (find the configuration and the folder's mapping, read the key into
// memory, check that it pairs, decrypt and expand the values, then exec).
// The runs alternate. Metrics: ms-run and ms-exec (medians of runRuns) and
// ms-overhead (their difference; target < 50 ms, issue 13). Each run's
// command is `sh -c` that checks a decrypted value has reached it, so a run
// that starts the command without its environment fails the benchmark.
func BenchmarkCLIRun(b *testing.B) {
	if testing.Short() {
		b.Skip("runs the binary 30 times")
	}
	bin := envdriftBinary(b)
	sh, err := exec.LookPath("sh")
	if err != nil {
		b.Fatal(err)
	}
	dir := projectDir(b)
	svc := filepath.Join(dir, "services", "api")
	if err := os.MkdirAll(svc, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "secrets"), 0o700); err != nil {
		b.Fatal(err)
	}
	k, err := dotenvx.GeneratePrivateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	env := fmt.Sprintf("DOTENV_PUBLIC_KEY_PRODUCTION=%q\n", k.PublicKey().Hex())
	for i := range 20 {
		c, err := dotenvx.Encrypt(k.PublicKey(), fmt.Sprintf("value-%02d", i))
		if err != nil {
			b.Fatal(err)
		}
		env += fmt.Sprintf("VAR_%02d=%q\n", i, c)
	}
	if err := os.WriteFile(filepath.Join(svc, ".env.production"), []byte(env), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets", "api-production"), []byte(k.Hex()+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg := fileHeader + "\n[[vault.sync.mappings]]\nsecret_name = \"api-production\"\nfolder_path = \"services/api\"\nenvironment = \"production\"\n"
	if err := os.WriteFile(filepath.Join(dir, "envdrift.toml"), []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
	check := `test "$VAR_07" = value-07`
	var runs, execs []time.Duration
	b.ResetTimer()
	for range b.N {
		runs, execs = runs[:0], execs[:0]
		for range runRuns {
			r := runProgram(b, bin, svc, "run", "--", sh, "-c", check)
			if r.code != 0 {
				b.Fatalf("envdrift run: exit %d\n%s", r.code, r.stderr)
			}
			runs = append(runs, r.wall)
			// The same command started directly, with the value set, so
			// that it does the same work.
			e := runProgram(b, sh, svc, "-c", "VAR_07=value-07; "+check)
			if e.code != 0 {
				b.Fatalf("sh: exit %d\n%s", e.code, e.stderr)
			}
			execs = append(execs, e.wall)
		}
	}
	b.StopTimer()
	for _, p := range files(b, dir) {
		if strings.HasSuffix(p, ".env.keys") {
			b.Fatalf("envdrift run wrote %s", p)
		}
	}
	b.ReportMetric(ms(median(runs)), "ms-run")
	b.ReportMetric(ms(median(execs)), "ms-exec")
	b.ReportMetric(ms(median(runs)-median(execs)), "ms-overhead")
}

// files lists every file under dir.
func files(tb testing.TB, dir string) []string {
	tb.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
