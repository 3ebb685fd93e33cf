package envdrift

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/provider/file"
)

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

const seedConfig = `[vault]
provider = "azure"  # azure | aws | hashicorp | gcp

[vault.azure]
vault_url = "https://my-keyvault.vault.azure.net/"

[vault.gcp]
project_id = "my-gcp-project"

[vault.sync]
default_vault_name = "my-keyvault"
env_keys_filename = ".env.keys"

[[vault.sync.mappings]]
secret_name = "myapp-key"
folder_path = "services/myapp"

[[vault.sync.mappings]]
secret_name = "auth-service-key"
folder_path = "services/auth"
vault_name = "other-vault"  # Override default
environment = "staging"     # Use DOTENV_PRIVATE_KEY_STAGING
`

func TestLoad_SeedDocumentExample(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Load(writeFile(t, filepath.Join(dir, "envdrift.toml"), seedConfig))
	require.NoError(t, err)
	assert.Equal(t, "azure", cfg.Provider)
	assert.Equal(t, "my-keyvault", cfg.DefaultVaultName)
	assert.Equal(t, ".env.keys", cfg.EnvKeysFilename)
	assert.Equal(t, dir, cfg.Dir)
	require.Len(t, cfg.Mappings, 2)
	assert.Equal(t, Mapping{SecretName: "myapp-key", FolderPath: "services/myapp", Line: 14}, cfg.Mappings[0])
	assert.Equal(t, Mapping{SecretName: "auth-service-key", FolderPath: "services/auth", VaultName: "other-vault", Environment: "staging", Line: 18}, cfg.Mappings[1])
	assert.Empty(t, cfg.Warnings)
}

func TestLoad_EveryMappingKey(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Load(writeFile(t, filepath.Join(dir, "envdrift.toml"), `
[vault]
provider = "file"
[vault.file]
path = "secrets"
[vault.sync]
max_workers = 4
schema = "schema.json"
[[vault.sync.mappings]]
secret_name = "k"
folder_path = "svc"
vault_name = "team"
environment = "ci"
env_file = ".env.custom"
provider = "file"
profile = "dev"
ephemeral_keys = true
schema = "svc.schema.json"
`))
	require.NoError(t, err)
	assert.Equal(t, 4, cfg.MaxWorkers)
	assert.Equal(t, "schema.json", cfg.Schema)
	assert.Equal(t, Mapping{SecretName: "k", FolderPath: "svc", VaultName: "team", Environment: "ci", EnvFile: ".env.custom",
		Provider: "file", Profile: "dev", EphemeralKeys: true, Schema: "svc.schema.json", Line: 9}, cfg.Mappings[0])
	s, ok := cfg.Settings["file"].(*file.Settings)
	require.True(t, ok, "the [vault.file] table is decoded into the provider's settings")
	assert.Equal(t, "secrets", s.Path)
}

func TestLoad_ErrorsNameFileLineAndKey(t *testing.T) {
	cases := []struct {
		name string
		toml string
		want []string // each must appear in the error text
	}{
		{"syntax error", "[vault]\nprovider = = 1", []string{"envdrift.toml:2:", "invalid TOML"}},
		{"no vault table", "[other]\nx = 1\n", []string{"envdrift.toml: vault: missing [vault] table"}},
		{"no sync table", "[vault]\nprovider = \"file\"\n", []string{"vault.sync: missing [vault.sync]"}},
		{"no mappings", "[vault]\nprovider = \"file\"\n[vault.sync]\n", []string{"envdrift.toml:3: vault.sync.mappings: no [[vault.sync.mappings]] entries"}},
		{"wrong type for provider", "[vault]\nprovider = 3\n[vault.sync]\n[[vault.sync.mappings]]\nsecret_name=\"a\"\nfolder_path=\"b\"\n",
			[]string{"envdrift.toml:2: vault.provider: must be a string, got an integer"}},
		{"wrong type in a mapping", "[vault]\nprovider = \"file\"\n[vault.sync]\n[[vault.sync.mappings]]\nsecret_name=\"a\"\nfolder_path=\"b\"\n[[vault.sync.mappings]]\nsecret_name=5\nfolder_path=\"c\"\n",
			[]string{"envdrift.toml:8: vault.sync.mappings[1].secret_name: must be a string, got an integer"}},
		{"wrong type for ephemeral_keys", "[vault]\nprovider = \"file\"\n[vault.sync]\n[[vault.sync.mappings]]\nsecret_name=\"a\"\nfolder_path=\"b\"\nephemeral_keys=\"yes\"\n",
			[]string{"envdrift.toml:7: vault.sync.mappings[0].ephemeral_keys: must be true or false, got a string"}},
		{"missing secret_name", "[vault]\nprovider = \"file\"\n[vault.sync]\n[[vault.sync.mappings]]\nfolder_path=\"b\"\n",
			[]string{"envdrift.toml:4: vault.sync.mappings[0].secret_name: required"}},
		{"missing folder_path", "[vault]\nprovider = \"file\"\n[vault.sync]\n[[vault.sync.mappings]]\nsecret_name=\"a\"\n",
			[]string{"envdrift.toml:4: vault.sync.mappings[0].folder_path: required"}},
		{"a wrong type and a missing key in one run", "[vault]\nprovider = \"file\"\n[vault.sync]\nmax_workers = \"x\"\n[[vault.sync.mappings]]\nsecret_name=5\nfolder_path=\"b\"\n[[vault.sync.mappings]]\nsecret_name=\"c\"\n",
			[]string{"envdrift.toml:4: vault.sync.max_workers: must be an integer", "envdrift.toml:6: vault.sync.mappings[0].secret_name: must be a string", "envdrift.toml:8: vault.sync.mappings[1].folder_path: required"}},
		{"both missing are both reported", "[vault]\nprovider = \"file\"\n[vault.sync]\n[[vault.sync.mappings]]\nenvironment=\"ci\"\n",
			[]string{"secret_name: required", "folder_path: required"}},
		{"unknown provider", "[vault]\nprovider = \"awss\"\n[vault.sync]\n[[vault.sync.mappings]]\nsecret_name=\"a\"\nfolder_path=\"b\"\n",
			[]string{"envdrift.toml:2: vault.provider: unknown provider \"awss\" (did you mean \"aws\"?)"}},
		{"unknown mapping provider", "[vault]\nprovider = \"file\"\n[vault.sync]\n[[vault.sync.mappings]]\nsecret_name=\"a\"\nfolder_path=\"b\"\nprovider=\"gpc\"\n",
			[]string{"envdrift.toml:7: vault.sync.mappings[0].provider: unknown provider \"gpc\" (did you mean \"gcp\"?)"}},
		{"folder escapes", "[vault]\nprovider = \"file\"\n[vault.sync]\n[[vault.sync.mappings]]\nsecret_name=\"a\"\nfolder_path=\"../elsewhere\"\n",
			[]string{"envdrift.toml:6: vault.sync.mappings[0].folder_path: \"../elsewhere\" leaves the configuration's directory"}},
		{"absolute folder", "[vault]\nprovider = \"file\"\n[vault.sync]\n[[vault.sync.mappings]]\nsecret_name=\"a\"\nfolder_path=\"/etc\"\n",
			[]string{"folder_path: \"/etc\" is absolute"}},
		{"env_file escapes", "[vault]\nprovider = \"file\"\n[vault.sync]\n[[vault.sync.mappings]]\nsecret_name=\"a\"\nfolder_path=\"b\"\nenv_file=\"../../.env\"\n",
			[]string{"envdrift.toml:7: vault.sync.mappings[0].env_file:"}},
		{"env_keys_filename with a directory", "[vault]\nprovider = \"file\"\n[vault.sync]\nenv_keys_filename=\"../x\"\n[[vault.sync.mappings]]\nsecret_name=\"a\"\nfolder_path=\"b\"\n",
			[]string{"envdrift.toml:4: vault.sync.env_keys_filename: \"../x\" must be a plain file name"}},
		{"bad environment", "[vault]\nprovider = \"file\"\n[vault.sync]\n[[vault.sync.mappings]]\nsecret_name=\"a\"\nfolder_path=\"b\"\nenvironment=\"prod/x\"\n",
			[]string{"envdrift.toml:7: vault.sync.mappings[0].environment: \"prod/x\" is not an environment name"}},
		{"max_workers out of range", "[vault]\nprovider = \"file\"\n[vault.sync]\nmax_workers = 100000\n[[vault.sync.mappings]]\nsecret_name=\"a\"\nfolder_path=\"b\"\n",
			[]string{"envdrift.toml:4: vault.sync.max_workers: must be between 1 and 256"}},
		{"provider table of wrong type", "[vault]\nprovider = \"file\"\n[vault.file]\npath = 7\n[vault.sync]\n[[vault.sync.mappings]]\nsecret_name=\"a\"\nfolder_path=\"b\"\n",
			[]string{"envdrift.toml:4: vault.file.path: must be a string, got an integer"}},
		{"mappings not tables", "[vault]\nprovider = \"file\"\n[vault.sync]\nmappings = 3\n", []string{"vault.sync"}},
		{"binary junk", "\x00\x01\x02\xff", []string{"not a text file"}},
		{"duplicate table", "[vault]\nprovider=\"file\"\n[vault]\nprovider=\"file\"\n", []string{"envdrift.toml:3:", "invalid TOML"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Load(writeFile(t, filepath.Join(dir, "envdrift.toml"), tc.toml))
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestLoad_UnknownKeysWarnWithDidYouMean(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Load(writeFile(t, filepath.Join(dir, "envdrift.toml"), `[vault]
provider = "file"
[vault.file]
pth = "secrets"
[vault.sync]
max_worker = 2
[[vault.sync.mappings]]
secret_name = "a"
folder_path = "b"
enviroment = "ci"
[vault.hashicorp]
token = "should-not-be-here"
[vaults]
x = 1
`))
	require.NoError(t, err)
	var got []string
	for _, w := range cfg.Warnings {
		got = append(got, strings.TrimPrefix(w.String(), dir+string(filepath.Separator)))
	}
	assert.ElementsMatch(t, []string{
		`envdrift.toml:4: vault.file.pth: unknown key, ignored (did you mean "path"?)`,
		`envdrift.toml:6: vault.sync.max_worker: unknown key, ignored (did you mean "max_workers"?)`,
		`envdrift.toml:10: vault.sync.mappings[0].enviroment: unknown key, ignored (did you mean "environment"?)`,
		`envdrift.toml:13: vaults: unknown key, ignored (did you mean "vault"?)`,
	}, filterOut(got, "hashicorp"))
	for _, w := range got {
		assert.NotContains(t, w, "should-not-be-here", "warnings never echo values")
	}
}

func filterOut(ss []string, sub string) []string {
	var out []string
	for _, s := range ss {
		if !strings.Contains(s, sub) {
			out = append(out, s)
		}
	}
	return out
}

func TestLoad_PyprojectToolEnvdrift(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Load(writeFile(t, filepath.Join(dir, "pyproject.toml"), `[project]
name = "x"

[tool.ruff]
line-length = 100

[tool.envdrift.vault]
provider = "file"

[tool.envdrift.vault.sync]
default_vault_name = "v"

[[tool.envdrift.vault.sync.mappings]]
secret_name = "a"
folder_path = "svc"
bogus = 1
`))
	require.NoError(t, err)
	assert.Equal(t, "file", cfg.Provider)
	assert.Equal(t, "v", cfg.DefaultVaultName)
	require.Len(t, cfg.Mappings, 1)
	assert.Equal(t, 13, cfg.Mappings[0].Line)
	require.Len(t, cfg.Warnings, 1)
	assert.Equal(t, "pyproject.toml", filepath.Base(cfg.Warnings[0].Path))
	assert.Equal(t, "tool.envdrift.vault.sync.mappings[0].bogus", cfg.Warnings[0].Key)
	assert.Equal(t, 16, cfg.Warnings[0].Line)
}

func TestLoad_PairTxt(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Load(writeFile(t, filepath.Join(dir, "pair.txt"), `# Secret name = folder path
myapp-dotenvx-key=services/myapp
  auth-service-key = services/auth  

# With explicit vault name
myvault/api-service-key=services/api
`))
	require.NoError(t, err)
	assert.Equal(t, []Mapping{
		{SecretName: "myapp-dotenvx-key", FolderPath: "services/myapp", Line: 2},
		{SecretName: "auth-service-key", FolderPath: "services/auth", Line: 3},
		{SecretName: "api-service-key", FolderPath: "services/api", VaultName: "myvault", Line: 6},
	}, cfg.Mappings)
	assert.Equal(t, "", cfg.Provider, "pair.txt carries no provider")
	assert.Equal(t, ".env.keys", cfg.EnvKeysFilename)
}

func TestLoad_PairTxtMalformedLineNamesItsNumber(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a=b\nno-equals-sign\n", "pair.txt:2: expected secret-name=folder-path"},
		{"a=b\n\n=folder\n", "pair.txt:3: expected secret-name=folder-path"},
		{"a=\n", "pair.txt:1: expected"},
		{"/secret=folder\n", "pair.txt:1: expected vault-name/secret-name"},
		{"v/=folder\n", "pair.txt:1: expected vault-name/secret-name"},
		{"a=../up\n", "pair.txt:1: \"../up\" leaves the configuration's directory (pair.txt cannot allow it"},
		{"# only comments\n\n", "pair.txt: no secret=folder lines"},
		{"a=b\x00\n", "not a text file"},
	} {
		dir := t.TempDir()
		_, err := Load(writeFile(t, filepath.Join(dir, "pair.txt"), tc.in))
		require.Error(t, err, tc.in)
		assert.ErrorIs(t, err, ErrInvalidConfig)
		assert.Contains(t, err.Error(), tc.want)
	}
}

func TestDiscover_NearestWinsAndPyprojectNeedsToolEnvdrift(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "envdrift.toml"), seedConfig)
	deep := filepath.Join(root, "a", "b", "c")
	require.NoError(t, os.MkdirAll(deep, 0o755))

	got, err := discover(deep)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(root, "envdrift.toml"), got)

	// A pyproject.toml without [tool.envdrift] is passed over.
	writeFile(t, filepath.Join(root, "a", "pyproject.toml"), "[project]\nname='x'\n[tool.ruff]\n")
	got, err = discover(deep)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(root, "envdrift.toml"), got)

	// One with it is nearer, so it wins.
	writeFile(t, filepath.Join(root, "a", "b", "pyproject.toml"), "[tool.envdrift.vault]\nprovider='file'\n")
	got, err = discover(deep)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(root, "a", "b", "pyproject.toml"), got)

	// In one directory envdrift.toml beats pyproject.toml.
	writeFile(t, filepath.Join(root, "a", "b", "envdrift.toml"), seedConfig)
	got, err = discover(deep)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(root, "a", "b", "envdrift.toml"), got)
}

func TestDiscover_NothingFound(t *testing.T) {
	// /proc has no envdrift.toml anywhere above it.
	_, err := discover("/proc/self")
	assert.ErrorIs(t, err, ErrNoConfig)
	assert.Contains(t, err.Error(), "found in /proc/self or any parent directory", "the message names where the search started")
}

func TestLoad_RelativePathsResolveAgainstTheConfigDirectory(t *testing.T) {
	root := t.TempDir()
	p := writeFile(t, filepath.Join(root, "conf", "envdrift.toml"), "[vault]\nprovider=\"file\"\n[vault.sync]\n[[vault.sync.mappings]]\nsecret_name=\"a\"\nfolder_path=\"svc\"\n")
	wd, _ := os.Getwd()
	t.Cleanup(func() { _ = os.Chdir(wd) })
	require.NoError(t, os.Chdir(t.TempDir()))
	rel, err := filepath.Rel(mustGetwd(t), p)
	require.NoError(t, err)
	cfg, err := Load(rel)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(root, "conf"), cfg.Dir)
}

func mustGetwd(t *testing.T) string {
	wd, err := os.Getwd()
	require.NoError(t, err)
	return wd
}

func TestLoad_AllowExternalPathsOptsIn(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Load(writeFile(t, filepath.Join(dir, "envdrift.toml"), "[vault]\nprovider=\"file\"\n[vault.sync]\nallow_external_paths = true\n[[vault.sync.mappings]]\nsecret_name=\"a\"\nfolder_path=\"../shared\"\n"))
	require.NoError(t, err)
	assert.Equal(t, "../shared", cfg.Mappings[0].FolderPath)
}

func TestLoad_UnreadableOrHugeConfig(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.toml"))
	assert.ErrorIs(t, err, ErrInvalidConfig)
	assert.Contains(t, err.Error(), "no such file")

	dir := t.TempDir()
	_, err = Load(writeFile(t, filepath.Join(dir, "envdrift.toml"), strings.Repeat("#", maxConfigSize+1)))
	assert.ErrorIs(t, err, ErrInvalidConfig)
	assert.Contains(t, err.Error(), "limit")
}

func FuzzParseTOML(f *testing.F) {
	f.Add([]byte(seedConfig))
	f.Add([]byte("[vault]\nprovider=\"file\"\n[vault.sync]\n[[vault.sync.mappings]]\nsecret_name=\"a\"\nfolder_path=\"b\"\n"))
	f.Add([]byte("[tool.envdrift.vault]\nprovider='file'\n"))
	f.Add([]byte("[vault]\nprovider=1"))
	f.Add([]byte("[[vault.sync.mappings]]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parseTOML("envdrift.toml", "/base", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "envdrift.toml") {
				t.Fatalf("error does not name the file: %q", err)
			}
			checkProblemLines(t, err, data)
			return
		}
		if msg := checkPlainFileName(cfg.EnvKeysFilename); msg != "" {
			t.Fatalf("accepted env_keys_filename %q: %s", cfg.EnvKeysFilename, msg)
		}
		if cfg.MaxWorkers < 0 || cfg.MaxWorkers > maxConcurrency {
			t.Fatalf("accepted max_workers %d", cfg.MaxWorkers)
		}
		checkAcceptedMappings(t, cfg)
	})
}

// checkAcceptedMappings asserts what every accepted mapping satisfies.
func checkAcceptedMappings(t *testing.T, cfg *Config) {
	t.Helper()
	escapes := func(p string) bool {
		return !cfg.AllowExternalPaths && !filepath.IsLocal(filepath.Clean(p)) && filepath.Clean(p) != "."
	}
	for _, m := range cfg.Mappings {
		if m.SecretName == "" || m.FolderPath == "" {
			t.Fatalf("accepted an incomplete mapping: %+v", m)
		}
		if strings.ContainsAny(m.SecretName, "\x00\r\n") || strings.ContainsRune(m.FolderPath, 0) || strings.ContainsRune(m.EnvFile, 0) {
			t.Fatalf("accepted a control character: %+v", m)
		}
		if m.Environment != "" && !envNamePattern().MatchString(m.Environment) {
			t.Fatalf("accepted environment %q", m.Environment)
		}
		if escapes(m.FolderPath) || m.EnvFile != "" && escapes(m.EnvFile) {
			t.Fatalf("accepted an escaping path: %+v", m)
		}
	}
}

// checkProblemLines asserts that every line a configuration error names
// exists in data.
func checkProblemLines(t *testing.T, err error, data []byte) {
	t.Helper()
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("not a *ConfigError: %v", err)
	}
	lines := bytes.Count(data, []byte("\n")) + 1
	for _, p := range ce.Problems {
		if p.Line < 0 || p.Line > lines {
			t.Fatalf("problem on line %d of a %d-line file: %v", p.Line, lines, err)
		}
	}
}

func FuzzParsePairs(f *testing.F) {
	f.Add([]byte("a=b\nv/s=c\n# c\n\n"))
	f.Add([]byte("=\n/=\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parsePairs("pair.txt", "/base", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "pair.txt") {
				t.Fatalf("error does not name the file: %q", err)
			}
			checkProblemLines(t, err, data)
			return
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, m := range cfg.Mappings {
			if m.SecretName == "" || m.FolderPath == "" || m.Line <= 0 || m.Line > lines {
				t.Fatalf("accepted an incomplete mapping: %+v", m)
			}
			if strings.ContainsRune(m.VaultName+m.SecretName, '/') && m.VaultName == "" {
				t.Fatalf("a vault-name/secret-name line lost its vault: %+v", m)
			}
		}
		checkAcceptedMappings(t, cfg)
	})
}

func TestLoad_AWrongTypeIsNotReportedAgainAsMissing(t *testing.T) {
	_, err := Load(writeFile(t, filepath.Join(t.TempDir(), "envdrift.toml"),
		"[vault]\nprovider = \"file\"\n[vault.sync]\n[[vault.sync.mappings]]\nsecret_name=5\nfolder_path=\"b\"\n"))
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	require.Len(t, ce.Problems, 1, err.Error())
	assert.Equal(t, "must be a string, got an integer", ce.Problems[0].Message)
}
