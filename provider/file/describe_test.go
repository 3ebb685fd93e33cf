package file_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/file"
)

func TestDescribe_NamesTheDirectoryAndTheVaultsSubdirectory(t *testing.T) {
	base := t.TempDir()
	p, err := file.New("secrets", provider.Options{BaseDir: base})
	require.NoError(t, err)
	var d provider.Describer = p
	assert.Equal(t, filepath.Join(base, "secrets"), d.Describe(""))
	assert.Equal(t, filepath.Join(base, "secrets", "team"), d.Describe("team"), "a vault name selects a sub-directory, as Fetch reads it")
}
