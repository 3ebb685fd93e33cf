package hashicorp_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift"
)

// TestConfig_CredentialKeysAreIgnoredAndSaidSo: a token, secret ID or JWT
// written into [vault.hashicorp] is never used, and the warning says where
// the credential belongs without repeating it; the login keys themselves
// are known keys.
func TestConfig_CredentialKeysAreIgnoredAndSaidSo(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "envdrift.toml")
	require.NoError(t, os.WriteFile(path, []byte(`[vault]
provider = "hashicorp"
[vault.hashicorp]
auth_method = "approle"
role_id = "role-1"
secret_id_file = "sid"
secret_id = "literal-secret-id-value"
jwt = "literal-jwt-value"
token = "literal-token-value"
[[vault.sync.mappings]]
secret_name = "a"
folder_path = "b"
`), 0o600))
	cfg, err := envdrift.Load(path)
	require.NoError(t, err)
	got := map[string]string{}
	for _, w := range cfg.Warnings {
		got[w.Key] = w.Message
		for _, v := range []string{"literal-secret-id-value", "literal-jwt-value", "literal-token-value"} {
			assert.NotContains(t, w.String(), v)
		}
	}
	assert.Len(t, got, 3, "%v", got)
	assert.Contains(t, got["vault.hashicorp.secret_id"], "name a file (secret_id_file) or an environment variable (secret_id_env)")
	assert.Contains(t, got["vault.hashicorp.jwt"], "(jwt_file)")
	assert.True(t, strings.HasPrefix(got["vault.hashicorp.token"], "ignored: tokens are never read"))
}
