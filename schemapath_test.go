package envdrift

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSchemaFor_PrecedenceAndResolution(t *testing.T) {
	root := t.TempDir()
	cfgDir := filepath.Join(root, "project")
	svc := filepath.Join(cfgDir, "services", "api")
	shared := filepath.Join(root, "schemas")
	wd := filepath.Join(root, "cwd")
	for _, d := range []string{svc, shared, wd} {
		require.NoError(t, os.MkdirAll(d, 0o755))
	}
	touch := func(p string) { require.NoError(t, os.WriteFile(p, []byte("{}"), 0o644)) }
	touch(filepath.Join(cfgDir, "env.schema.json"))
	touch(filepath.Join(svc, "env.schema.json"))
	touch(filepath.Join(shared, "env.schema.json"))
	touch(filepath.Join(cfgDir, "only-root.json"))
	touch(filepath.Join(wd, "cli.json"))
	touch(filepath.Join(svc, "cli.json"))
	touch(filepath.Join(wd, "only-cwd.json"))
	t.Chdir(wd)

	cases := []struct {
		name       string
		mapping    string
		config     string
		flag       string
		serviceDir string
		want       string
	}{
		{"nothing configured", "", "", "", "", ""},
		{"[vault.sync] schema: the mapping's folder first", "", "env.schema.json", "", "", filepath.Join(svc, "env.schema.json")},
		{"[vault.sync] schema: else the config's directory", "", "only-root.json", "", "", filepath.Join(cfgDir, "only-root.json")},
		{"--schema replaces [vault.sync] schema", "", "only-root.json", "env.schema.json", "", filepath.Join(svc, "env.schema.json")},
		{"a mapping's own schema beats --schema", "only-root.json", "", "env.schema.json", "", filepath.Join(cfgDir, "only-root.json")},
		{"--service-dir is searched first", "", "env.schema.json", "", shared, filepath.Join(shared, "env.schema.json")},
		{"--service-dir applies to a mapping's schema", "env.schema.json", "", "", shared, filepath.Join(shared, "env.schema.json")},
		{"--service-dir without the file falls through", "only-root.json", "", "", shared, filepath.Join(cfgDir, "only-root.json")},
		{"--schema: the working directory last", "", "", "only-cwd.json", "", filepath.Join(wd, "only-cwd.json")},
		{"--schema: the mapping's folder before the working directory", "", "", "cli.json", "", filepath.Join(svc, "cli.json")},
		{"config paths never look in the working directory", "", "only-cwd.json", "", "", filepath.Join(cfgDir, "only-cwd.json")},
		{"absolute paths are used as they are", "", filepath.Join(shared, "env.schema.json"), "", "", filepath.Join(shared, "env.schema.json")},
		{"missing: named under --service-dir", "", "nope.json", "", shared, filepath.Join(shared, "nope.json")},
		{"missing --schema: named under the working directory", "", "", "nope.json", "", filepath.Join(wd, "nope.json")},
		{"missing config schema: named under the config's directory", "nope.json", "", "", "", filepath.Join(cfgDir, "nope.json")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &Syncer{cfg: &Config{Dir: cfgDir, Schema: tc.config}, opts: Options{SchemaPath: tc.flag, ServiceDir: tc.serviceDir}}
			assert.Equal(t, tc.want, s.schemaFor(Mapping{FolderPath: "services/api", Schema: tc.mapping}))
		})
	}
}
