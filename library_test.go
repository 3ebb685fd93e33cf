package envdrift

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/file"
)

// fileOnly is a registry holding only the file provider: a library caller's
// own provider set, with no global state.
func fileOnly() *provider.Registry {
	reg := new(provider.Registry)
	reg.Register(file.Driver())
	return reg
}

func TestNew_RefusesACodeBuiltConfigWhosePathsEscape(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	for name, m := range map[string]Mapping{
		"folder_path ..":   {SecretName: "k", FolderPath: "../" + filepath.Base(outside)},
		"absolute folder":  {SecretName: "k", FolderPath: outside},
		"env_file ..":      {SecretName: "k", FolderPath: "svc", EnvFile: "../../.env"},
		"empty secret":     {FolderPath: "svc"},
		"bad environment":  {SecretName: "k", FolderPath: "svc", Environment: "prod/x"},
		"secret with CRLF": {SecretName: "k\r\nX-Injected: 1", FolderPath: "svc"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := &Config{Dir: dir, Provider: "file", Settings: map[string]any{"file": &file.Settings{Path: "vault"}}, Mappings: []Mapping{m}}
			_, err := New(cfg, Options{Providers: fileOnly()})
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Contains(t, ce.Problems[0].Key, "Mappings[0].", "the problem names the field in Go terms")
		})
	}
	// The same escaping folder is allowed when the Config opts in, as
	// allow_external_paths does in TOML.
	cfg := &Config{Dir: dir, Provider: "file", AllowExternalPaths: true, Mappings: []Mapping{{SecretName: "k", FolderPath: outside}}}
	_, err := New(cfg, Options{Providers: fileOnly()})
	assert.NoError(t, err)
	_, err = os.Stat(filepath.Join(outside, ".env.keys"))
	assert.ErrorIs(t, err, os.ErrNotExist, "New writes nothing")
}

func TestNew_RefusesABadKeysFileNameAndDuplicateTargetsInCode(t *testing.T) {
	cfg := &Config{Provider: "file", EnvKeysFilename: "../keys", Mappings: []Mapping{
		{SecretName: "a", FolderPath: "svc"},
		{SecretName: "b", FolderPath: "./svc", Environment: "production"},
	}}
	_, err := New(cfg, Options{Providers: fileOnly()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `EnvKeysFilename`)
	assert.Contains(t, err.Error(), "mapping 1 (secret a) and mapping 2 (secret b) both write DOTENV_PRIVATE_KEY_PRODUCTION")
}

func TestNew_NeverModifiesTheCallersConfig(t *testing.T) {
	cfg := &Config{Dir: t.TempDir(), Provider: "file", Settings: map[string]any{"file": &file.Settings{Path: "v"}},
		Mappings: []Mapping{{SecretName: "a", FolderPath: "svc"}, {SecretName: "b", FolderPath: "web", Profile: "dev"}}}
	before := *cfg
	before.Mappings = append([]Mapping(nil), cfg.Mappings...)
	s, err := New(cfg, Options{Providers: fileOnly(), Profile: "dev"})
	require.NoError(t, err)
	assert.True(t, reflect.DeepEqual(before.Mappings, cfg.Mappings), "mappings unchanged: %+v", cfg.Mappings)
	assert.Equal(t, "", cfg.EnvKeysFilename, "no default written into the caller's Config")
	assert.Equal(t, "", cfg.Mappings[0].Environment)
	// Later changes to the caller's Config do not reach the Syncer.
	cfg.Mappings[0].SecretName = "changed"
	assert.Equal(t, "a", s.mappings[0].SecretName)
}

func TestSync_ACodeBuiltMappingWithoutEnvironmentResolvesLikeTOML(t *testing.T) {
	w := newWorld(t)
	k := w.service("svc", ".env.production")
	w.vault.set("k", k.Hex())
	w.cfg.Mappings = []Mapping{{SecretName: "k", FolderPath: "svc"}} // no Environment
	res := w.sync(Options{})
	require.NoError(t, res.Err())
	assert.Equal(t, "production", res.Rows[0].Environment)
	assert.Equal(t, "DOTENV_PRIVATE_KEY_PRODUCTION", res.Rows[0].KeyName)
	assert.Equal(t, filepath.Join(w.dir, "svc", ".env.production"), res.Rows[0].EnvFile)
}
