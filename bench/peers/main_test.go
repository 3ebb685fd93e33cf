package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBench_EnvdriftAloneOnOneWorkloadOfEachKind runs the driver as
// bench/peers.sh does, with envdrift and no peer installed, on start-up,
// one AWS secret and 20 keys in one Vault secret: every run is checked
// (keys files hold their keys), the requests are counted, and the table
// has a row for each workload.
func TestBench_EnvdriftAloneOnOneWorkloadOfEachKind(t *testing.T) {
	if testing.Short() {
		t.Skip("builds envdrift and runs it 18 times")
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(filepath.Dir(file)))
	bin := filepath.Join(t.TempDir(), "envdrift")
	build := exec.Command("go", "build", "-o", bin, "./cmd/envdrift")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))

	srv, err := startServers(time.Millisecond)
	require.NoError(t, err)
	defer srv.close()
	o := options{envdrift: bin, bin: t.TempDir(), samples: 5, dir: t.TempDir(),
		only: regexp.MustCompile(`^(startup|aws-1|vault-shared-20)$`)}
	b, err := newBench(o, srv)
	require.NoError(t, err)
	defer b.cleanup()
	var table bytes.Buffer
	b.out = &table
	require.NoError(t, b.runAll())

	got := table.String()
	for _, row := range []string{"| start-up (`--version`) |", "| one secret (AWS) |", "| 20 keys in one secret (Vault) |"} {
		assert.Contains(t, got, row)
	}
	assert.Regexp(t, `\| one secret \(AWS\) \| [0-9.]+ s \| [0-9.]+ s, [0-9]+ MiB, 1 req \|`, got, "one GetSecretValue per run")
	assert.Regexp(t, `\| 20 keys in one secret \(Vault\) \| [0-9.]+ s \| [0-9.]+ s, [0-9]+ MiB, 2 req \|`, got,
		"the KV version lookup and one read per run")
	assert.NotContains(t, got, "chamber", "no peer was installed")
	entries, err := os.ReadDir(o.dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "one directory of generated projects")
	assert.True(t, strings.HasPrefix(entries[0].Name(), "envdrift-peers-"))
}
