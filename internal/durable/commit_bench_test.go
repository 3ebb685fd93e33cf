package durable

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkKeysFileWrites writes 1,000 new keys files, one per folder, from
// 64 goroutines (as a sync applies rows), two ways in the same iteration:
// each write alone (temporary file, fsync, rename, fsync of the folder) and
// through the committer, which lets waiting writes share one syncfs. The
// folders live under $ENVDRIFT_BENCH_DIR when set (see bench/run.sh), else
// the test's temporary directory. Metrics: ms-alone, ms-group and x-faster
// (ms-alone over ms-group, measured in the same run).
func BenchmarkKeysFileWrites(b *testing.B) {
	const files, writers = 1000, 64
	base := b.TempDir()
	if d := os.Getenv("ENVDRIFT_BENCH_DIR"); d != "" {
		dir, err := os.MkdirTemp(d, "envdrift-bench-writes-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = os.RemoveAll(dir) })
		base = dir
	}
	// The size of a new .env.keys file: dotenvx's header and one key.
	data := []byte(strings.Repeat("#", 311) + "\n# .env.production\nDOTENV_PRIVATE_KEY_PRODUCTION=" + fmt.Sprintf("%064x", 1) + "\n")
	round := 0
	// run writes files new keys files in fresh folders and returns the
	// wall time.
	run := func(write func(path string) error) time.Duration {
		round++
		paths := make([]string, files)
		for i := range paths {
			dir := filepath.Join(base, fmt.Sprintf("r%d-svc%04d", round, i))
			if err := os.Mkdir(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			paths[i] = filepath.Join(dir, ".env.keys")
		}
		next := make(chan string)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		start := time.Now()
		for range writers {
			wg.Go(func() {
				for p := range next {
					if err := write(p); err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
					}
				}
			})
		}
		for _, p := range paths {
			next <- p
		}
		close(next)
		wg.Wait()
		elapsed := time.Since(start)
		if firstErr != nil {
			b.Fatal(firstErr)
		}
		for _, p := range paths {
			if got, err := os.ReadFile(p); err != nil || string(got) != string(data) {
				b.Fatalf("%s: not written (%v)", p, err)
			}
		}
		return elapsed
	}
	var alone, group time.Duration
	for range b.N {
		alone += run(func(p string) error { return WriteFile(p, data, 0o600) })
		c := StartCommitter()
		group += run(func(p string) error { return c.WriteFile(p, data, 0o600) })
		c.Stop()
	}
	n := time.Duration(b.N)
	b.ReportMetric(ms(alone/n), "ms-alone")
	b.ReportMetric(ms(group/n), "ms-group")
	b.ReportMetric(float64(alone)/float64(group), "x-faster")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
