package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/internal/testserver/vaultkv"
)

// streamLog records what is written to stdout and stderr, in order.
type streamLog struct {
	mu     sync.Mutex
	events []streamEvent
}

type streamEvent struct {
	stderr bool
	text   string
}

type streamWriter struct {
	log    *streamLog
	stderr bool
}

func (w streamWriter) Write(p []byte) (int, error) {
	w.log.mu.Lock()
	defer w.log.mu.Unlock()
	w.log.events = append(w.log.events, streamEvent{w.stderr, string(p)})
	return len(p), nil
}

var progressLine = regexp.MustCompile(`\r\x1b\[KSyncing (\d+)/(\d+) …`)

// TestProgress_ShownOnATerminalWhileTheSyncRuns runs the sync command
// in-process with stderr taken for a terminal, against a Vault with 30 ms
// per request: a "Syncing n/N" line is drawn on stderr between rows while
// the sync runs, its count only grows, and it is erased before the summary.
func TestProgress_ShownOnATerminalWhileTheSyncRuns(t *testing.T) {
	s, err := vaultkv.Start()
	require.NoError(t, err)
	defer s.Close()
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	const n = 12
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("[vault]\nprovider = \"hashicorp\"\n\n[vault.sync]\n")
	for i := range n {
		k, err := dotenvx.GeneratePrivateKey(rand.Reader)
		require.NoError(t, err)
		folder := fmt.Sprintf("svc%02d", i)
		require.NoError(t, os.MkdirAll(filepath.Join(dir, folder), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, folder, ".env.production"),
			[]byte("DOTENV_PUBLIC_KEY_PRODUCTION=\""+k.PublicKey().Hex()+"\"\n"), 0o644))
		_, err = s.PutValue("", vaultkv.DefaultMount, folder, k.Hex())
		require.NoError(t, err)
		fmt.Fprintf(&cfg, "\n[[vault.sync.mappings]]\nsecret_name = %q\nfolder_path = %q\n", folder, folder)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "envdrift.toml"), []byte(cfg.String()), 0o644))
	s.SetLatency(30 * time.Millisecond)

	log := &streamLog{}
	std := stdio{
		in: strings.NewReader(""), out: streamWriter{log, false}, err: streamWriter{log, true},
		errTTY: true, outTTY: true,
		getenv: func(k string) string { return map[string]string{"TERM": "xterm", "NO_COLOR": "1"}[k] },
	}
	code := run(context.Background(), []string{"sync", "--force", "--concurrency", "3", "-c", filepath.Join(dir, "envdrift.toml")}, std)
	require.Equal(t, exitOK, code, "%v", log.events)

	var counts []int
	rowsBefore, rowsAfter := 0, 0 // rows printed before the first and after the last progress line
	summary := -1
	for i, e := range log.events {
		switch {
		case e.stderr:
			if m := progressLine.FindStringSubmatch(e.text); m != nil {
				c, _ := strconv.Atoi(m[1])
				counts = append(counts, c)
				assert.Equal(t, strconv.Itoa(n), m[2])
				rowsAfter = 0
			}
		case strings.Contains(e.text, " - created"):
			if len(counts) == 0 {
				rowsBefore++
			}
			rowsAfter++
		case strings.Contains(e.text, "Sync Summary"):
			summary = i
		}
	}
	require.NotEmpty(t, counts, "no progress line on stderr")
	assert.Less(t, rowsBefore, n, "progress is drawn while the sync runs, not after every row")
	assert.Positive(t, rowsAfter, "rows are still printed after the last progress line")
	assert.IsNonDecreasing(t, counts)
	assert.Less(t, counts[len(counts)-1], n, "the finished count is not drawn: the summary follows")
	require.Positive(t, summary)
	var erased bool
	for _, e := range log.events[:summary] {
		if e.stderr && e.text == "\r\x1b[K" {
			erased = true
		}
	}
	assert.True(t, erased, "the progress line is erased before the summary")
}
