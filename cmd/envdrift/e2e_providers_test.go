package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/internal/testserver/awssm"
	"github.com/envdrift/envdrift/internal/testserver/azurekv"
	"github.com/envdrift/envdrift/internal/testserver/gcpsm"
	"github.com/envdrift/envdrift/internal/testserver/vaultkv"
)

// project is a temporary repository with two services, api and web, whose
// .env.production files are encrypted to two different keys.
type project struct {
	dir      string
	api, web *dotenvx.PrivateKey
}

func newProject(t *testing.T, config string) *project {
	t.Helper()
	p := &project{dir: t.TempDir()}
	for _, svc := range []struct {
		name string
		key  **dotenvx.PrivateKey
	}{{"api", &p.api}, {"web", &p.web}} {
		k, err := dotenvx.GeneratePrivateKey(rand.Reader)
		require.NoError(t, err)
		*svc.key = k
		enc, err := dotenvx.Encrypt(k.PublicKey(), "postgres://"+svc.name)
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Join(p.dir, svc.name), 0o755))
		env := fmt.Sprintf("DOTENV_PUBLIC_KEY_PRODUCTION=%q\nDATABASE_URL=%q\n", k.PublicKey().Hex(), enc)
		require.NoError(t, os.WriteFile(filepath.Join(p.dir, svc.name, ".env.production"), []byte(env), 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(p.dir, "envdrift.toml"), []byte(config), 0o644))
	return p
}

// check runs envdrift sync --check-decryption and asserts both services got
// their own key, which decrypts their env file. It returns the first line of
// that run's stderr, which says where the requests went.
func (p *project) check(t *testing.T, env []string) string {
	t.Helper()
	r := runCLI(t, p.dir, env, "sync", "--ci", "--check-decryption")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "+ api - created")
	assert.Contains(t, r.stdout, "+ web - created")
	assert.Contains(t, r.stdout, "Passed: 2")
	for name, k := range map[string]*dotenvx.PrivateKey{"api": p.api, "web": p.web} {
		keys := read(t, filepath.Join(p.dir, name, ".env.keys"))
		assert.Contains(t, keys, "DOTENV_PRIVATE_KEY_PRODUCTION="+k.Hex()+"\n", name)
		assert.Equal(t, os.FileMode(0o600), mode(t, filepath.Join(p.dir, name, ".env.keys")))
	}
	assertNoKeyMaterial(t, []string{p.api.Hex(), p.web.Hex()}, r.stdout, r.stderr)

	first, _, _ := strings.Cut(r.stderr, "\n")

	r = runCLI(t, p.dir, env, "sync", "--ci", "--verify")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "All keys match the vault")
	return first
}

const twoMappings = `
[vault.sync]
[[vault.sync.mappings]]
secret_name = "%s"
folder_path = "api"

[[vault.sync.mappings]]
secret_name = "%s"
folder_path = "web"
vault_name = "%s"
`

// TestE2E_AWS: the binary, configured by envdrift.toml and the standard AWS
// variables only, reads two regions through the real SDK (vault_name is
// the region).
func TestE2E_AWS(t *testing.T) {
	s, err := awssm.Start()
	require.NoError(t, err)
	defer s.Close()
	p := newProject(t, "[vault]\nprovider = \"aws\"\n"+fmt.Sprintf(twoMappings, "myapp/api", "myapp/api", "us-west-2"))
	s.Put(awssm.DefaultRegion, "myapp/api", []byte(p.api.Hex()))
	s.Put("us-west-2", "myapp/api", []byte(`{"DOTENV_PRIVATE_KEY_PRODUCTION":"`+p.web.Hex()+`"}`))
	first := p.check(t, s.Env())
	assert.Contains(t, first, "us-west-2 at "+s.URL(), "the first line says where requests go")
}

// TestE2E_HashiCorp: Vault KV v2 and KV v1 mounts (vault_name is the mount),
// token from VAULT_TOKEN.
func TestE2E_HashiCorp(t *testing.T) {
	s, err := vaultkv.Start()
	require.NoError(t, err)
	defer s.Close()
	s.Mount("", "legacy", 1)
	p := newProject(t, "[vault]\nprovider = \"hashicorp\"\n"+fmt.Sprintf(twoMappings, "myapp/api", "myapp/web", "legacy"))
	_, err = s.PutValue("", vaultkv.DefaultMount, "myapp/api", p.api.Hex())
	require.NoError(t, err)
	_, err = s.PutValue("", "legacy", "myapp/web", p.web.Hex())
	require.NoError(t, err)
	first := p.check(t, s.Env())
	assert.Contains(t, first, s.URL()+", mount legacy", "the first line says where requests go")

	// The token never reaches the output, even when it is wrong.
	env := append(s.Env(), "VAULT_TOKEN=hvs.envdriftwrongtoken0123456789")
	r := runCLI(t, p.dir, env, "sync", "--ci", "--force")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stdout, "unauthenticated")
	assert.NotContains(t, r.stdout+r.stderr, "envdriftwrongtoken")
	assert.NotContains(t, r.stdout+r.stderr, s.Token())
}

// TestE2E_GCP: Secret Manager over gRPC with Application Default
// Credentials (workload identity federation file); vault_name is the project.
func TestE2E_GCP(t *testing.T) {
	s, err := gcpsm.Start()
	require.NoError(t, err)
	defer s.Close()
	p := newProject(t, "[vault]\nprovider = \"gcp\"\n"+fmt.Sprintf(twoMappings, "api-key", "web-key", "other-project"))
	s.Put(gcpsm.DefaultProject, "api-key", []byte(p.api.Hex()))
	s.Put("other-project", "web-key", []byte("DOTENV_PRIVATE_KEY_PRODUCTION="+p.web.Hex()))
	first := p.check(t, s.Env())
	assert.Contains(t, first, "project other-project at ", "the first line says where requests go")
}

// TestE2E_Azure: Key Vault through azsecrets and DefaultAzureCredential
// (client secret from the environment, the 401 bearer challenge with
// resource verification on); vault_name is the Key Vault name.
func TestE2E_Azure(t *testing.T) {
	s, err := azurekv.Start()
	require.NoError(t, err)
	defer s.Close()
	p := newProject(t, "[vault]\nprovider = \"azure\"\n[vault.azure]\nvault_url = \""+s.VaultURL(azurekv.DefaultVault)+"\"\n"+
		fmt.Sprintf(twoMappings, "api-key", "web-key", "team-b"))
	s.SetSecret(azurekv.DefaultVault, "api-key", []byte(p.api.Hex()))
	s.SetSecret("team-b", "web-key", []byte(`"`+p.web.Hex()+`"`))
	first := p.check(t, s.Env())
	assert.Contains(t, first, s.VaultURL(azurekv.DefaultVault), "the first line says where requests go")
	assert.GreaterOrEqual(t, s.Challenges(), 1, "the client went through the bearer challenge")
}

// TestE2E_AzureVaultURLOnTheCommandLineWinsOverDefaultVaultName: the seed
// document's "override provider/url on the CLI" example. With
// default_vault_name in the configuration, --vault-url still picks the
// vault for mappings that name none of their own.
func TestE2E_AzureVaultURLOnTheCommandLineWinsOverDefaultVaultName(t *testing.T) {
	s, err := azurekv.Start()
	require.NoError(t, err)
	defer s.Close()
	p := newProject(t, "[vault]\nprovider = \"azure\"\n[vault.azure]\nvault_url = \""+s.VaultURL(azurekv.DefaultVault)+"\"\n"+
		"[vault.sync]\ndefault_vault_name = \"team-a\"\n[[vault.sync.mappings]]\nsecret_name = \"api-key\"\nfolder_path = \"api\"\n")
	s.SetSecret("team-a", "api-key", []byte(p.web.Hex())) // the wrong vault's key: it does not pair
	s.SetSecret("override", "api-key", []byte(p.api.Hex()))

	r := runCLI(t, p.dir, s.Env(), "sync", "--ci")
	assert.Equal(t, 1, r.code, "default_vault_name's vault holds a key for another file: %s", r.stdout)
	assert.Contains(t, r.stdout, "key does not pair")

	r = runCLI(t, p.dir, s.Env(), "sync", "--ci", "--vault-url", s.VaultURL("override"))
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "+ api - created")
	assert.Contains(t, r.stderr, s.VaultURL("override"), "the first line names the vault used")
	assert.Contains(t, read(t, filepath.Join(p.dir, "api", ".env.keys")), p.api.Hex())
}
