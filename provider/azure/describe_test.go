package azure_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/azure"
)

func TestDescribe_NamesVaultURL(t *testing.T) {
	p, err := azure.New(&azure.Settings{VaultURL: "https://main-kv.vault.azure.net/"}, provider.Options{})
	require.NoError(t, err)
	var d provider.Describer = p
	assert.Equal(t, "https://main-kv.vault.azure.net/", d.Describe(""))
	assert.Equal(t, "https://other-kv.vault.azure.net/", d.Describe("other-kv"), "vault_name is the Key Vault name")
	assert.Empty(t, d.Describe("not a vault name!"), "a name that is no Key Vault name cannot be described")
}
