package hashicorp_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/hashicorp"
)

func TestDescribe_NamesAddressMountAndNamespace(t *testing.T) {
	t.Setenv("VAULT_ADDR", "https://vault.example.com:8200")
	t.Setenv("VAULT_AGENT_ADDR", "")
	t.Setenv("VAULT_NAMESPACE", "")
	p, err := hashicorp.New(hashicorp.Settings{Mount: "kv"}, provider.Options{})
	require.NoError(t, err)
	var d provider.Describer = p
	assert.Equal(t, "https://vault.example.com:8200, mount kv", d.Describe(""))
	assert.Equal(t, "https://vault.example.com:8200, mount team-b", d.Describe("team-b"), "vault_name is the mount")

	p, err = hashicorp.New(hashicorp.Settings{URL: "http://127.0.0.1:8200", Namespace: "team-a/"}, provider.Options{})
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8200, mount secret, namespace team-a", p.Describe(""))

	t.Setenv("VAULT_NAMESPACE", "admin")
	p, err = hashicorp.New(hashicorp.Settings{}, provider.Options{URL: "http://vault.internal:8200"})
	require.NoError(t, err)
	assert.Equal(t, "http://vault.internal:8200, mount secret, namespace admin", p.Describe(""), "--vault-url and VAULT_NAMESPACE")
}
