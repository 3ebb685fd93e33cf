package main

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/internal/testserver/awssm"
	"github.com/envdrift/envdrift/internal/testserver/gcpsm"
	"github.com/envdrift/envdrift/internal/testserver/vaultkv"
)

// unusedProvidersConfig uses the file provider only, and configures the
// AWS, GCP and HashiCorp providers with settings their constructors refuse:
// a sync can only succeed if it never opens them.
const unusedProvidersConfig = `[vault]
provider = "file"

[vault.file]
path = "secrets"

[vault.aws]
region = "not a region"

[vault.gcp]
project_id = "Not A Project"

[vault.hashicorp]
kv_version = 3

[vault.sync]
[[vault.sync.mappings]]
secret_name = "api-key"
folder_path = "api"
`

// TestStartup_UnusedProvidersAreNeverOpened: with every cloud SDK pointed
// at a local server by the environment, a file-only sync builds no other
// provider (their invalid settings and --region/--project-id would fail
// it) and sends nothing to any server, not even a token request. The
// control run maps one secret to each cloud provider: those rows fail on
// the settings, which shows the settings are checked when a provider opens.
func TestStartup_UnusedProvidersAreNeverOpened(t *testing.T) {
	aws, err := awssm.Start()
	require.NoError(t, err)
	defer aws.Close()
	gcp, err := gcpsm.Start()
	require.NoError(t, err)
	defer gcp.Close()
	vault, err := vaultkv.Start()
	require.NoError(t, err)
	defer vault.Close()
	env := append(append(aws.Env(), gcp.Env()...), vault.Env()...)

	dir := t.TempDir()
	k, err := dotenvx.GeneratePrivateKey(rand.Reader)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "api"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "secrets"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "api", ".env.production"),
		[]byte("DOTENV_PUBLIC_KEY_PRODUCTION=\""+k.PublicKey().Hex()+"\"\nPORT=8080\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets", "api-key"), []byte(k.Hex()+"\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "envdrift.toml"), []byte(unusedProvidersConfig), 0o644))

	r := runCLI(t, dir, env, "sync", "--ci", "--region", "bogus region", "--project-id", "Bad Project")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "+ api - created")
	assert.Zero(t, aws.Requests(), "AWS requests")
	assert.Zero(t, gcp.Requests(), "GCP requests")
	assert.Zero(t, gcp.TokenRequests(), "GCP token requests")
	assert.Zero(t, vault.Requests(), "Vault requests")

	// Control: mappings that do name the cloud providers open them, and
	// their settings are refused before any request is sent.
	var control strings.Builder
	control.WriteString(unusedProvidersConfig)
	for _, p := range []string{"aws", "gcp", "hashicorp"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, p), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, p, ".env.production"), []byte("PORT=1\n"), 0o644))
		control.WriteString("\n[[vault.sync.mappings]]\nsecret_name = \"k\"\nfolder_path = \"" + p + "\"\nprovider = \"" + p + "\"\n")
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "envdrift.toml"), []byte(control.String()), 0o644))
	r = runCLI(t, dir, env, "sync", "--ci")
	assert.Equal(t, 1, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "= api - skipped")
	for _, p := range []string{"aws", "gcp", "hashicorp"} {
		assert.Contains(t, r.stdout, "x "+p+" - error")
	}
	assert.Zero(t, aws.Requests()+gcp.Requests()+gcp.TokenRequests()+vault.Requests(), "requests after refused settings")
}
