package bench

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/envdrift/envdrift/dotenvx"
)

// project is a generated repository: n service folders svc00000, svc00001, …
// each with a .env.production naming its key's public key, and an
// envdrift.toml mapping folder i to secret secretName(i % secrets).
type project struct {
	dir      string
	config   string   // path of envdrift.toml
	folders  []string // folder of each mapping
	secrets  []string // name of each distinct secret
	keys     []string // private key (hex) of each distinct secret
	mappings int
}

// dirEnv names a directory to generate projects in instead of the
// system's temporary directory. On some machines creating files under /tmp
// costs far more than elsewhere on the same disk (docs/performance.md); a
// benchmark should measure envdrift, not that.
const dirEnv = "ENVDRIFT_BENCH_DIR"

// projectDir returns a fresh directory for a generated project, removed
// when the benchmark ends: under $ENVDRIFT_BENCH_DIR when set, else
// tb.TempDir().
func projectDir(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(dirEnv)
	if base == "" {
		return tb.TempDir()
	}
	dir, err := os.MkdirTemp(base, "envdrift-bench-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// keyPair is one generated dotenvx key.
type keyPair struct{ private, public string }

// generateKeys returns n fresh keys, generated on every core.
func generateKeys(tb testing.TB, n int) []keyPair {
	tb.Helper()
	out := make([]keyPair, n)
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var firstErr error
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				k, err := dotenvx.GeneratePrivateKey(rand.Reader)
				if err != nil {
					errMu.Lock()
					firstErr = err
					errMu.Unlock()
					return
				}
				out[i] = keyPair{k.Hex(), k.PublicKey().Hex()}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		tb.Fatal(firstErr)
	}
	return out
}

// newProject writes a project under dir: header (the [vault] tables) then n
// mappings over the given number of distinct secrets, named by name.
func newProject(tb testing.TB, dir, header string, n, secrets int, name func(i int) string) *project {
	tb.Helper()
	p := &project{dir: dir, config: filepath.Join(dir, "envdrift.toml"), mappings: n}
	keys := generateKeys(tb, secrets)
	for i, k := range keys {
		p.secrets = append(p.secrets, name(i))
		p.keys = append(p.keys, k.private)
	}
	var cfg strings.Builder
	cfg.WriteString(header)
	cfg.WriteString("\n[vault.sync]\n")
	for i := range n {
		folder := fmt.Sprintf("svc%05d", i)
		p.folders = append(p.folders, folder)
		if err := os.MkdirAll(filepath.Join(dir, folder), 0o755); err != nil {
			tb.Fatal(err)
		}
		k := keys[i%secrets]
		env := fmt.Sprintf("DOTENV_PUBLIC_KEY_PRODUCTION=\"%s\"\nPORT=8080\n", k.public)
		if err := os.WriteFile(filepath.Join(dir, folder, ".env.production"), []byte(env), 0o644); err != nil {
			tb.Fatal(err)
		}
		fmt.Fprintf(&cfg, "\n[[vault.sync.mappings]]\nsecret_name = %q\nfolder_path = %q\n", p.secrets[i%secrets], folder)
	}
	if err := os.WriteFile(p.config, []byte(cfg.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// writeSecretFiles stores every secret as a file under dir/secrets, for the
// file provider.
func (p *project) writeSecretFiles(tb testing.TB) {
	tb.Helper()
	sdir := filepath.Join(p.dir, "secrets")
	if err := os.MkdirAll(sdir, 0o700); err != nil {
		tb.Fatal(err)
	}
	for i, name := range p.secrets {
		if err := os.WriteFile(filepath.Join(sdir, name), []byte(p.keys[i]+"\n"), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
}

// checkout copies the project's configuration and env files (and the file
// provider's secrets, if any) to a fresh directory, like a new clone of the
// same repository, so that a sync of the copy creates every keys file anew,
// and flushes them to disk (sync(2)) as an older checkout would be.
//
// Benchmarks sync a fresh checkout rather than delete the last sync's keys
// files: on ext4 without a journal, files created in a folder right after
// others were deleted there cost several times the kernel CPU (the inode
// allocator skips recently freed inodes, one by one; docs/performance.md),
// which measured the file system, not envdrift.
func (p *project) checkout(tb testing.TB) *project {
	tb.Helper()
	q := *p
	q.dir = projectDir(tb)
	q.config = filepath.Join(q.dir, "envdrift.toml")
	copyFile(tb, p.config, q.config)
	for _, f := range p.folders {
		if err := os.MkdirAll(filepath.Join(q.dir, f), 0o755); err != nil {
			tb.Fatal(err)
		}
		copyFile(tb, filepath.Join(p.dir, f, ".env.production"), filepath.Join(q.dir, f, ".env.production"))
	}
	if _, err := os.Stat(filepath.Join(p.dir, "secrets")); err == nil {
		(&q).writeSecretFiles(tb)
	}
	flushDisks()
	return &q
}

func copyFile(tb testing.TB, from, to string) {
	tb.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// removeKeysFiles deletes every folder's .env.keys, so the next sync
// creates them all again.
func (p *project) removeKeysFiles(tb testing.TB) {
	tb.Helper()
	for _, f := range p.folders {
		if err := os.Remove(filepath.Join(p.dir, f, ".env.keys")); err != nil && !os.IsNotExist(err) {
			tb.Fatal(err)
		}
	}
}

// checkKeysFiles asserts that every folder's .env.keys holds the key of
// its mapping's secret.
func (p *project) checkKeysFiles(tb testing.TB) {
	tb.Helper()
	secrets := len(p.secrets)
	for i, f := range p.folders {
		b, err := os.ReadFile(filepath.Join(p.dir, f, ".env.keys"))
		if err != nil {
			tb.Fatal(err)
		}
		if want := "DOTENV_PRIVATE_KEY_PRODUCTION=" + p.keys[i%secrets] + "\n"; !strings.Contains(string(b), want) {
			tb.Fatalf("%s/.env.keys does not hold its key", f)
		}
	}
}
