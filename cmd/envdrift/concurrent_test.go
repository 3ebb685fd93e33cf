package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/dotenvx"
)

// TestConcurrent_EightProcessesOnOverlappingFolders runs 8 envdrift
// processes at once over overlapping folders: each writes its own key name
// into one shared .env.keys, all of them write the same key into it, and
// each service folder is written by two processes. Every run exits 0, no
// update is lost, no key is written twice, and no file is torn. A second
// round changes every key in the vault and runs the 8 again with --force:
// each key is replaced exactly once, with exactly one backup.
// ENVDRIFT_LONG=1 runs 20 rounds instead of 3.
func TestConcurrent_EightProcessesOnOverlappingFolders(t *testing.T) {
	const procs = 8
	rounds := 3
	if longRun() {
		rounds = 20
	}
	dir := t.TempDir()
	files := map[string]string{"shared/.env.production": "A=1\n"}
	// secret name → folder, env; each process's mappings
	type mapping struct{ secret, folder, env string }
	all := map[string]mapping{"shared-production": {"shared-production", "shared", "production"}}
	perProc := make([][]mapping, procs)
	for i := range procs {
		env := fmt.Sprintf("e%d", i)
		files["shared/.env."+env] = "A=1\n"
		files[fmt.Sprintf("svc%d/.env.production", i)] = "A=1\n"
		own := mapping{"shared-" + env, "shared", env}
		all[own.secret] = own
		svc := mapping{fmt.Sprintf("svc%d", i), fmt.Sprintf("svc%d", i), "production"}
		all[svc.secret] = svc
		next := fmt.Sprintf("svc%d", (i+1)%procs)
		perProc[i] = []mapping{own, all["shared-production"], svc, {next, next, "production"}}
	}
	for i, ms := range perProc {
		var triples [][3]string
		for _, m := range ms {
			triples = append(triples, [3]string{m.secret, m.folder, m.env})
		}
		files[fmt.Sprintf("c%d.toml", i)] = fileConfig(triples...)
	}
	writeFiles(t, dir, files)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "secrets"), 0o700))

	vault := map[string]string{}
	setVault := func() {
		for name := range all {
			vault[name] = genKey(t).Hex()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets", name), []byte(vault[name]), 0o600))
		}
	}
	// runAll starts the 8 processes together and returns each one's rows.
	runAll := func(args ...string) [][]map[string]any {
		t.Helper()
		var wg sync.WaitGroup
		out := make([][]map[string]any, procs)
		for i := range procs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.Command(binary, append([]string{"sync", "--ci", "-o", "json", "-c", fmt.Sprintf("c%d.toml", i)}, args...)...)
				cmd.Dir = dir
				cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "NO_COLOR=1"}
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				if !assert.NoError(t, err, "process %d: %s%s", i, stdout.String(), stderr.String()) {
					return
				}
				var doc struct {
					Rows []map[string]any `json:"rows"`
				}
				if assert.NoError(t, json.Unmarshal(stdout.Bytes(), &doc)) {
					out[i] = doc.Rows
				}
			}()
		}
		wg.Wait()
		return out
	}
	// check asserts every keys file holds each of its keys once, with the
	// vault's value, and that it parses as a whole dotenvx keys file.
	check := func() {
		t.Helper()
		byFolder := map[string][]mapping{}
		for _, m := range all {
			byFolder[m.folder] = append(byFolder[m.folder], m)
		}
		for folder, ms := range byFolder {
			path := filepath.Join(dir, folder, ".env.keys")
			data := read(t, path)
			require.True(t, strings.HasPrefix(data, "#/------------------!DOTENV_PRIVATE_KEYS!"), "%s starts with the header", path)
			assert.Equal(t, 1, strings.Count(data, "!DOTENV_PRIVATE_KEYS!"), "%s has one header", path)
			entries, err := dotenvx.Parse([]byte(data))
			require.NoError(t, err)
			assert.Len(t, entries, len(ms), "%s:\n%s", path, data)
			for _, m := range ms {
				name, _ := dotenvx.KeyNames(".env." + m.env)
				n := 0
				for _, e := range entries {
					if e.Key == name {
						n++
						assert.Equal(t, vault[m.secret], e.Value, "%s %s", path, name)
					}
				}
				assert.Equal(t, 1, n, "%s assigns %s once:\n%s", path, name, data)
			}
			assert.Equal(t, os.FileMode(0o600), mode(t, path))
		}
		assert.Empty(t, tempFiles(t, dir))
	}

	created, updated := 0, 0
	for round := range rounds {
		for _, folder := range []string{"shared", "svc0", "svc1", "svc2", "svc3", "svc4", "svc5", "svc6", "svc7"} {
			require.NoError(t, os.RemoveAll(filepath.Join(dir, folder, ".env.keys")))
			backups, _ := filepath.Glob(filepath.Join(dir, folder, ".env.keys.backup.*"))
			for _, b := range backups {
				require.NoError(t, os.Remove(b))
			}
		}
		setVault()
		actions := map[string]map[string]int{} // secret → action → count
		count := func(rows [][]map[string]any) {
			for _, rs := range rows {
				for _, r := range rs {
					s, a := r["secret"].(string), r["action"].(string)
					if actions[s] == nil {
						actions[s] = map[string]int{}
					}
					actions[s][a]++
				}
			}
		}
		count(runAll())
		check()
		for secret, a := range actions {
			assert.Equal(t, 1, a["created"], "round %d: %s created once: %v", round, secret, a)
			assert.Zero(t, a["error"], "round %d: %s", round, secret)
			created += a["created"]
		}

		// Every key changes; the 8 replace them at once.
		setVault()
		actions = map[string]map[string]int{}
		count(runAll("--force"))
		check()
		for secret, a := range actions {
			assert.Equal(t, 1, a["updated"], "round %d: %s replaced once: %v", round, secret, a)
			assert.Zero(t, a["error"], "round %d: %s", round, secret)
			updated += a["updated"]
		}
		for _, folder := range []string{"shared", "svc0"} {
			backups, _ := filepath.Glob(filepath.Join(dir, folder, ".env.keys.backup.*"))
			n := 0
			for _, m := range all {
				if m.folder == folder {
					n++
				}
			}
			assert.Len(t, backups, n, "one backup per replaced key in %s", folder)
		}
	}
	t.Logf("concurrent runs: %d processes (%d rounds of 2×%d), every one exited 0; keys created %d, replaced %d, none lost or duplicated",
		rounds*2*procs, rounds, procs, created, updated)
}
