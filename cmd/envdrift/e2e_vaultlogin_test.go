package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/testserver/vaultkv"
)

// TestE2E_HashiCorpAppRoleLogin: the binary logs in with AppRole (the role
// ID in envdrift.toml, the secret ID in a file it names), syncs, and
// revokes its token at the end; VAULT_TOKEN from the environment is not
// used, and no credential reaches the output.
func TestE2E_HashiCorpAppRoleLogin(t *testing.T) {
	s, err := vaultkv.Start()
	require.NoError(t, err)
	defer s.Close()
	s.Mount("", "legacy", 1)
	s.EnableAuth("", "approle", vaultkv.AuthAppRole)
	s.SetPolicy("envdrift-read",
		vaultkv.Rule{Path: "secret/data/myapp/*", Capabilities: []string{"read"}},
		vaultkv.Rule{Path: "legacy/myapp/*", Capabilities: []string{"read"}})
	roleID := s.AddAppRole("", "approle", "ci", "envdrift-read")
	secretID := s.NewSecretID("", "approle", "ci")

	login := fmt.Sprintf("[vault.hashicorp]\nauth_method = \"approle\"\nrole_id = %q\nsecret_id_file = \"vault-secret-id\"\n", roleID)
	p := newProject(t, "[vault]\nprovider = \"hashicorp\"\n"+login+fmt.Sprintf(twoMappings, "myapp/api", "myapp/web", "legacy"))
	require.NoError(t, os.WriteFile(filepath.Join(p.dir, "vault-secret-id"), []byte(secretID+"\n"), 0o600))
	_, err = s.PutValue("", vaultkv.DefaultMount, "myapp/api", p.api.Hex())
	require.NoError(t, err)
	_, err = s.PutValue("", "legacy", "myapp/web", p.web.Hex())
	require.NoError(t, err)

	env := append(s.Env(), "VAULT_TOKEN=hvs.envdrift-ambient-token-never-used")
	r := runCLI(t, p.dir, env, "sync", "--ci", "--check-decryption")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "+ api - created")
	assert.Contains(t, r.stdout, "+ web - created")
	assert.Equal(t, 1, s.Count(vaultkv.OpLogin), "one login for the run")
	issued := s.IssuedTokens()
	require.Len(t, issued, 1)
	assert.False(t, s.TokenValid(issued[0]), "the run revoked its token")
	for _, secret := range []string{secretID, issued[0], "envdrift-ambient-token"} {
		assert.NotContains(t, r.stdout+r.stderr, secret)
	}

	// A refused login says which method and mount failed, and no secret.
	require.NoError(t, os.WriteFile(filepath.Join(p.dir, "vault-secret-id"), []byte("b1d9bd7e-0000-4000-8000-000000000000"), 0o600))
	r = runCLI(t, p.dir, env, "sync", "--ci", "--force")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stdout+r.stderr, "approle login at auth/approle failed")
	assert.Contains(t, r.stdout+r.stderr, "invalid role or secret ID")
	assert.NotContains(t, r.stdout+r.stderr, "b1d9bd7e-0000-4000-8000-000000000000")
}
