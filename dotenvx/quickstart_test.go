package dotenvx

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQuickstartFiles checks that each demo key in the quickstart's file vault
// decrypts its service's env file (both were made by dotenvx 2.38.2, see
// examples/quickstart/services/regen.sh).
func TestQuickstartFiles(t *testing.T) {
	root := filepath.Join("..", "examples", "quickstart")
	if _, err := os.Stat(root); err != nil {
		t.Skip("no examples/quickstart in this tree")
	}
	hexKey := regexp.MustCompile(`\b[0-9a-f]{64}\b`)
	for _, tc := range []struct{ envFile, secret string }{
		{"services/api/.env.production", "api-production-key"},
		{"services/web/.env.production", "web-production-key"},
		{"services/web/.env.staging", "web-staging-key"},
	} {
		t.Run(tc.envFile, func(t *testing.T) {
			payload, err := os.ReadFile(filepath.Join(root, "secrets", tc.secret))
			require.NoError(t, err)
			keys := hexKey.FindAllString(string(payload), -1)
			require.Len(t, keys, 1, "one key in %s", tc.secret)
			f, err := ReadFile(filepath.Join(root, tc.envFile))
			require.NoError(t, err)
			assert.GreaterOrEqual(t, len(f.Encrypted()), 2)
			r := Check(f, []*PrivateKey{mustKey(t, keys[0])})
			assert.True(t, r.ok(), "%+v", r)
			_, pubName := KeyNames(tc.envFile)
			assert.Equal(t, pubName, r.DeclaredName)
			vars, err := load(filepath.Join(root, tc.envFile), keys[0])
			require.NoError(t, err)
			assert.NotEmpty(t, vars["SESSION_SECRET"])
		})
	}
}
