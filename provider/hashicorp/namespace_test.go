package hashicorp_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/testserver/vaultkv"
	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/hashicorp"
)

// TestNamespace_MissingIsSaidSoNotMissingSecret: a namespace that does not
// exist is reported as such, for every fetch, whether the mount lookup or
// the read meets it first, never as a secret missing from a KV v1 mount.
func TestNamespace_MissingIsSaidSoNotMissingSecret(t *testing.T) {
	for _, flavor := range []vaultkv.Flavor{vaultkv.VaultEnterprise, vaultkv.OpenBao} {
		for _, kv := range []int{0, 2} {
			s := startServer(t)
			s.SetFlavor(flavor)
			s.Mount("team-a", "secret", 2)
			put(t, s, "team-a", "secret", "app", "v")
			p := open(t, hashicorp.Settings{Namespace: "team-x", KVVersion: kv}, provider.Options{})
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Add(1)
				go func() { defer wg.Done(); _, errs[i] = fetch(p, "", "app") }()
			}
			wg.Wait()
			for _, err := range errs {
				require.Error(t, err)
				assert.ErrorIs(t, err, provider.ErrInvalid)
				assert.Contains(t, err.Error(), `namespace "team-x" (namespace in [vault.hashicorp]) does not exist on the Vault server at `+s.URL())
				assert.NotContains(t, err.Error(), "KV v1")
				assert.NotContains(t, err.Error(), "no secret")
			}
			before := s.Requests()
			_, err := fetch(p, "", "other")
			assert.ErrorIs(t, err, provider.ErrInvalid)
			assert.Equal(t, before, s.Requests(), "later fetches fail at once")
		}
	}
}

// TestNamespace_ServerThatIgnoresNamespacesIsRefused: Vault Community
// ignores the namespace header and would serve the root namespace's
// secret; envdrift refuses instead, before reading any secret.
func TestNamespace_ServerThatIgnoresNamespacesIsRefused(t *testing.T) {
	s := startServer(t)
	s.SetFlavor(vaultkv.VaultCommunity)
	put(t, s, "", "secret", "app", "root-value")
	t.Setenv("VAULT_NAMESPACE", "team-a")
	p := open(t, hashicorp.Settings{}, provider.Options{})
	got, err := fetch(p, "", "app")
	require.Error(t, err, "never the root namespace's value")
	assert.Empty(t, got.Value)
	assert.ErrorIs(t, err, provider.ErrInvalid)
	assert.Contains(t, err.Error(), `namespace "team-a" is set (VAULT_NAMESPACE), but Vault 1.21.0 (Community Edition) at `+s.URL()+` does not support namespaces`)
	assert.Contains(t, hintOf(t, err), "remove namespace")
	assert.Zero(t, s.Count(vaultkv.OpKVv2Read, vaultkv.OpMounts), "no secret was read")

	// Without a namespace the same server is read normally.
	t.Setenv("VAULT_NAMESPACE", "")
	got, err = fetch(open(t, hashicorp.Settings{}, provider.Options{}), "", "app")
	require.NoError(t, err)
	assert.Equal(t, "root-value", string(got.Value))
	assert.Equal(t, 1, s.Count(vaultkv.OpHealth), "the health check runs only when a namespace is set")
}

// TestNamespace_ServersThatHonourNamespacesAreRead: Vault Enterprise and
// OpenBao 2.3+ read the namespace's own secret.
func TestNamespace_ServersThatHonourNamespacesAreRead(t *testing.T) {
	for _, flavor := range []vaultkv.Flavor{vaultkv.VaultEnterprise, vaultkv.OpenBao} {
		s := startServer(t)
		s.SetFlavor(flavor)
		s.Mount("team-a", "secret", 2)
		put(t, s, "", "secret", "app", "root-value")
		put(t, s, "team-a", "secret", "app", "ns-value")
		got, err := fetch(open(t, hashicorp.Settings{Namespace: "team-a"}, provider.Options{}), "", "app")
		require.NoError(t, err)
		assert.Equal(t, "ns-value", string(got.Value))
	}
}
