package envdrift

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLoad_TenThousandMappingsKeepTheirLinesInLinearTime: each mapping
// records its line, and finding them costs one pass over the file, not one
// per mapping (which took about 100 s for 10,000 mappings).
func TestLoad_TenThousandMappingsKeepTheirLinesInLinearTime(t *testing.T) {
	const n = 10000
	var b strings.Builder
	b.WriteString("[vault]\nprovider = \"file\"\n\n[vault.file]\npath = \"secrets\"\n\n[vault.sync]\n") // 7 lines
	for i := range n {
		fmt.Fprintf(&b, "\n[[vault.sync.mappings]]\nsecret_name = \"key-%d\"\nfolder_path = \"svc%d\"\n", i, i)
	}
	path := filepath.Join(t.TempDir(), "envdrift.toml")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	start := time.Now()
	cfg, err := Load(path)
	elapsed := time.Since(start)
	require.NoError(t, err)
	require.Len(t, cfg.Mappings, n)
	for _, i := range []int{0, 1, n / 2, n - 1} {
		assert.Equal(t, 9+4*i, cfg.Mappings[i].Line, "mapping %d", i)
		assert.Equal(t, fmt.Sprintf("svc%d", i), cfg.Mappings[i].FolderPath)
	}
	// Linear is well under a second even on a slow machine; one scan per
	// mapping takes minutes.
	assert.Less(t, elapsed, 10*time.Second)
}
