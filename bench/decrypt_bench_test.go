package bench

import (
	"bytes"
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

// decryptValues is the size of the env file BenchmarkCheckDecryption checks.
const decryptValues = 1000

// dotenvxBin returns the reference dotenvx (DOTENVX_BIN, else on PATH), or "".
func dotenvxBin() string {
	if bin := os.Getenv("DOTENVX_BIN"); bin != "" {
		return bin
	}
	bin, _ := exec.LookPath("dotenvx")
	return bin
}

// BenchmarkCheckDecryption compares, side by side in one run, the whole
// `envdrift sync --check-decryption` process on a service whose
// .env.production holds 1,000 encrypted values (ms-envdrift: median of 5)
// with `dotenvx decrypt --stdout` of the same file (s-dotenvx: one run, as
// it takes tens of seconds; skipped when dotenvx is not installed). Both
// must succeed; the ratio is reported as speedup.
func BenchmarkCheckDecryption(b *testing.B) {
	envdriftBinary(b)
	dir := projectDir(b)
	k, err := dotenvx.GeneratePrivateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	var env strings.Builder
	fmt.Fprintf(&env, "DOTENV_PUBLIC_KEY_PRODUCTION=%q\n", k.PublicKey().Hex())
	for i := range decryptValues {
		v, err := dotenvx.Encrypt(k.PublicKey(), fmt.Sprintf("value-%04d", i))
		if err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(&env, "VAR_%04d=%q\n", i, v)
	}
	svc := filepath.Join(dir, "services", "api")
	for _, f := range []struct {
		path, data string
		mode       os.FileMode
	}{
		{filepath.Join(svc, ".env.production"), env.String(), 0o644},
		{filepath.Join(dir, "secrets", "api-key"), k.Hex() + "\n", 0o600},
		{filepath.Join(dir, "envdrift.toml"), fileHeader + "\n[[vault.sync.mappings]]\nsecret_name = \"api-key\"\nfolder_path = \"services/api\"\n", 0o644},
	} {
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(f.path, []byte(f.data), f.mode); err != nil {
			b.Fatal(err)
		}
	}

	var runs []time.Duration
	var dotenvxWall time.Duration
	bin := dotenvxBin()
	b.ResetTimer()
	for range b.N {
		runs = runs[:0]
		for range 5 {
			r := runEnvdrift(b, dir, "sync", "--ci", "--check-decryption")
			mustSucceed(b, r, "Decryption: PASSED", "Passed: 1")
			runs = append(runs, r.wall)
		}
		if bin != "" {
			cmd := exec.Command(bin, "decrypt", "--stdout", "-f", filepath.Join(svc, ".env.production"))
			cmd.Dir = dir
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "DOTENV_PRIVATE_KEY_PRODUCTION=" + k.Hex()}
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			start := time.Now()
			if err := cmd.Run(); err != nil {
				b.Fatalf("dotenvx decrypt: %v\n%s", err, errb.String())
			}
			dotenvxWall = time.Since(start)
			if !strings.Contains(out.String(), "value-0999") || strings.Contains(out.String(), "encrypted:") {
				b.Fatal("dotenvx did not decrypt every value")
			}
		}
	}
	b.StopTimer()
	m := median(runs)
	b.ReportMetric(ms(m), "ms-envdrift")
	if bin == "" {
		b.Log("dotenvx not installed (set DOTENVX_BIN): measured envdrift only")
		return
	}
	b.ReportMetric(dotenvxWall.Seconds(), "s-dotenvx")
	b.ReportMetric(float64(dotenvxWall)/float64(m), "speedup")
}
