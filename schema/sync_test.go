package schema_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift"
	"github.com/envdrift/envdrift/dotenvx"
	_ "github.com/envdrift/envdrift/provider/file"
	"github.com/envdrift/envdrift/schema"
)

// write creates path (and its directory) holding data.
func write(t *testing.T, path, data string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(data), 0o600))
}

// service lays out dir/folder/.env.production with one encrypted variable,
// API_TOKEN="s3cret", and puts its private key in the file vault under
// secret.
func service(t *testing.T, dir, folder, secret string) {
	t.Helper()
	k, err := dotenvx.GeneratePrivateKey(rand.Reader)
	require.NoError(t, err)
	enc, err := dotenvx.Encrypt(k.PublicKey(), "s3cret")
	require.NoError(t, err)
	write(t, filepath.Join(dir, folder, ".env.production"),
		fmt.Sprintf("DOTENV_PUBLIC_KEY_PRODUCTION=\"%s\"\nAPI_TOKEN=%s\n", k.PublicKey().Hex(), enc))
	write(t, filepath.Join(dir, "secrets", secret), k.Hex()+"\n")
}

func TestValidator_InASyncCountsValidAndInvalidFolders(t *testing.T) {
	dir := t.TempDir()
	service(t, dir, "ok", "k1")
	service(t, dir, "bad", "k2")
	write(t, filepath.Join(dir, "env.schema.json"), `{"type":"object","properties":{"API_TOKEN":{"type":"string","minLength":6}},"required":["API_TOKEN"]}`)
	write(t, filepath.Join(dir, "strict.schema.json"), `{"type":"object","properties":{"API_TOKEN":{"type":"string","minLength":20}}}`)
	write(t, filepath.Join(dir, "envdrift.toml"), `
[vault]
provider = "file"

[vault.file]
path = "secrets"

[vault.sync]
schema = "env.schema.json"

[[vault.sync.mappings]]
secret_name = "k1"
folder_path = "ok"

[[vault.sync.mappings]]
secret_name = "k2"
folder_path = "bad"
schema = "strict.schema.json"
`)
	cfg, err := envdrift.Load(filepath.Join(dir, "envdrift.toml"))
	require.NoError(t, err)
	s, err := envdrift.New(cfg, envdrift.Options{Schema: &schema.Validator{}})
	require.NoError(t, err)
	res, err := s.Sync(context.Background())
	require.NoError(t, err)

	require.Len(t, res.Rows, 2)
	require.NotNil(t, res.Rows[0].Schema)
	require.NotNil(t, res.Rows[1].Schema)
	assert.Equal(t, envdrift.CheckPassed, res.Rows[0].Schema.Status, res.Rows[0].Schema.Detail)
	assert.Equal(t, envdrift.CheckFailed, res.Rows[1].Schema.Status)
	assert.Equal(t, []string{"API_TOKEN: minLength: must be at least 20 characters"}, res.Rows[1].Schema.Problems)
	assert.Equal(t, 1, res.Summary.SchemaValid)
	assert.Equal(t, 1, res.Summary.SchemaInvalid)
	assert.Equal(t, envdrift.CheckFailed, res.Rows[1].Schema.Status)
	assert.ErrorIs(t, res.Err(), envdrift.ErrCheckFailed)
	b, err := json.Marshal(res)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "s3cret")
}
