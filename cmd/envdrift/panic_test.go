package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/provider"
)

// panicky is a provider that exists only in this test binary: it panics
// with a value that holds a secret, in Open, in Fetch, or while its
// settings are decoded.
type panicky struct{ mode, value string }

type panickySettings struct {
	Mode  string `toml:"mode"`
	Value string `toml:"value"`
}

// UnmarshalTOML decodes the [vault.panicky] table; in mode "load" it
// panics, which happens while the configuration loads, outside any worker.
func (s *panickySettings) UnmarshalTOML(v any) error {
	m, _ := v.(map[string]any)
	s.Mode, _ = m["mode"].(string)
	s.Value, _ = m["value"].(string)
	if s.Mode == "load" {
		panic("setting value " + s.Value + " is not allowed")
	}
	return nil
}

func init() {
	provider.Default().Register(provider.NewDriver("panicky", func(_ context.Context, s *panickySettings, _ provider.Options) (provider.Provider, error) {
		if s.Mode == "open" {
			panic(fmt.Errorf("open with %s", s.Value))
		}
		return &panicky{mode: s.Mode, value: s.Value}, nil
	}))
}

func (p *panicky) Fetch(_ context.Context, ref provider.Ref) (provider.Secret, error) {
	switch p.mode {
	case "nil":
		var secrets map[string]*provider.Secret
		return *secrets[ref.Name], nil
	case "error":
		panic(fmt.Errorf("token %s expired", p.value))
	}
	panic("unexpected payload " + p.value)
}

// runInProcess runs the CLI in this process, with stdin not a terminal.
func runInProcess(t *testing.T, args ...string) cliResult {
	t.Helper()
	var out, errb bytes.Buffer
	std := stdio{in: strings.NewReader(""), out: &out, err: &errb, getenv: func(k string) string {
		if k == "NO_COLOR" {
			return "1"
		}
		return ""
	}}
	code := run(context.Background(), args, std)
	return cliResult{out.String(), errb.String(), code}
}

// TestPanic_RecoveredWithoutItsValue makes a provider linked into this test
// binary panic with a secret in its panic value: in Fetch (a string, an
// error, a nil dereference), in Open, and while the configuration loads.
// Each run exits 1 and says what panicked and where, never the value; a
// mapping on another provider still syncs, except when the configuration
// itself could not be loaded.
func TestPanic_RecoveredWithoutItsValue(t *testing.T) {
	for _, mode := range []string{"fetch", "error", "nil", "open", "load"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			secret := genKey(t).Hex()
			okKey := genKey(t)
			writeFiles(t, dir, map[string]string{
				"secrets/ok-key":        okKey.Hex(),
				"ok/.env.production":    "A=1\n",
				"boom/.env.production":  "A=1\n",
				"boom2/.env.production": "A=1\n",
				"envdrift.toml": "[vault]\nprovider = \"file\"\n[vault.file]\npath = \"secrets\"\n" +
					"[vault.panicky]\nmode = \"" + mode + "\"\nvalue = \"" + secret + "\"\n[vault.sync]\n" +
					"[[vault.sync.mappings]]\nsecret_name = \"ok-key\"\nfolder_path = \"ok\"\n" +
					"[[vault.sync.mappings]]\nsecret_name = \"boom\"\nfolder_path = \"boom\"\nprovider = \"panicky\"\n" +
					"[[vault.sync.mappings]]\nsecret_name = \"boom2\"\nfolder_path = \"boom2\"\nprovider = \"panicky\"\n",
			})
			before := snapshotTree(t, dir)
			r := runInProcess(t, "sync", "--ci", "-c", filepath.Join(dir, "envdrift.toml"))
			assert.Equal(t, 1, r.code, r.stdout+r.stderr)
			assertNoPieceOf(t, []string{secret}, "output", r.stdout+r.stderr)
			assert.Contains(t, r.stdout+r.stderr, "panicked")
			assert.Contains(t, r.stdout+r.stderr, "the panic value is not shown")
			assert.Contains(t, r.stdout+r.stderr, "panic_test.go:", "the message says where")
			if mode == "load" {
				assert.Contains(t, r.stderr, "envdrift: internal error: envdrift panicked (a string at github.com/envdrift/envdrift/cmd/envdrift.(*panickySettings).UnmarshalTOML")
				assert.Empty(t, diffSnapshots(before, snapshotTree(t, dir)), "nothing is written")
				return
			}
			assert.Contains(t, r.stdout, "  + ok - created\n")
			assert.Contains(t, r.stdout, "  x boom - error\n    Error: panicky: ")
			assert.Contains(t, r.stdout, "  x boom2 - error\n")
			assert.FileExists(t, filepath.Join(dir, "ok", ".env.keys"))
			assert.NoFileExists(t, filepath.Join(dir, "boom", ".env.keys"))
			_, err := os.Stat(filepath.Join(dir, "boom2", ".env.keys"))
			require.True(t, os.IsNotExist(err))
		})
	}
}
