package all_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/provider"
	_ "github.com/envdrift/envdrift/provider/all"
)

// Every provider directory under provider/ that holds a driver is registered
// by importing provider/all, and nothing else is.
func TestAll_RegistersEveryProviderDirectory(t *testing.T) {
	ents, err := os.ReadDir("..")
	require.NoError(t, err)
	var dirs []string
	for _, e := range ents {
		switch name := e.Name(); {
		case !e.IsDir(), name == "all", name == "providertest":
		default:
			dirs = append(dirs, name)
		}
	}
	assert.Equal(t, dirs, provider.Default().Names())
}
