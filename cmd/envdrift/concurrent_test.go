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
	rounds := 3
	if longRun() {
		rounds = 20
	}
	rig := newConcurrentRig(t, 8)
	created, updated := 0, 0
	for round := range rounds {
		rig.clean()
		rig.setVault()
		actions := countActions(rig.runAll())
		rig.check()
		for secret, a := range actions {
			assert.Equal(t, 1, a["created"], "round %d: %s created once: %v", round, secret, a)
			assert.Zero(t, a["error"], "round %d: %s", round, secret)
			created += a["created"]
		}

		// Every key changes; the 8 replace them at once.
		rig.setVault()
		actions = countActions(rig.runAll("--force"))
		rig.check()
		for secret, a := range actions {
			assert.Equal(t, 1, a["updated"], "round %d: %s replaced once: %v", round, secret, a)
			assert.Zero(t, a["error"], "round %d: %s", round, secret)
			updated += a["updated"]
		}
		for _, folder := range []string{"shared", "svc0"} {
			backups, _ := filepath.Glob(filepath.Join(rig.dir, folder, ".env.keys.backup.*"))
			assert.Len(t, backups, rig.keysIn(folder), "one backup per replaced key in %s", folder)
		}
	}
	t.Logf("concurrent runs: %d processes (%d rounds of 2×%d), every one exited 0; keys created %d, replaced %d, none lost or duplicated",
		rounds*2*rig.procs, rounds, rig.procs, created, updated)
}

// concMapping is one mapping of the concurrency rig: secret → folder, env.
type concMapping struct{ secret, folder, env string }

// concurrentRig is a project whose processes' configurations overlap:
// each process writes its own key name into one shared .env.keys, all of
// them write the same key into it, and each service folder is written by
// two processes.
type concurrentRig struct {
	t     *testing.T
	procs int
	dir   string
	all   map[string]concMapping
	vault map[string]string
}

func newConcurrentRig(t *testing.T, procs int) *concurrentRig {
	r := &concurrentRig{t: t, procs: procs, dir: t.TempDir(), vault: map[string]string{},
		all: map[string]concMapping{"shared-production": {"shared-production", "shared", "production"}}}
	files := map[string]string{"shared/.env.production": "A=1\n"}
	for i := range procs {
		env := fmt.Sprintf("e%d", i)
		files["shared/.env."+env] = "A=1\n"
		files[fmt.Sprintf("svc%d/.env.production", i)] = "A=1\n"
		own := concMapping{"shared-" + env, "shared", env}
		r.all[own.secret] = own
		svc := concMapping{fmt.Sprintf("svc%d", i), fmt.Sprintf("svc%d", i), "production"}
		r.all[svc.secret] = svc
		next := fmt.Sprintf("svc%d", (i+1)%procs)
		var triples [][3]string
		for _, m := range []concMapping{own, r.all["shared-production"], svc, {next, next, "production"}} {
			triples = append(triples, [3]string{m.secret, m.folder, m.env})
		}
		files[fmt.Sprintf("c%d.toml", i)] = fileConfig(triples...)
	}
	writeFiles(t, r.dir, files)
	require.NoError(t, os.MkdirAll(filepath.Join(r.dir, "secrets"), 0o700))
	return r
}

// keysIn counts the keys a folder's keys file holds.
func (r *concurrentRig) keysIn(folder string) int {
	n := 0
	for _, m := range r.all {
		if m.folder == folder {
			n++
		}
	}
	return n
}

// clean removes every keys file and backup.
func (r *concurrentRig) clean() {
	for i := -1; i < r.procs; i++ {
		folder := "shared"
		if i >= 0 {
			folder = fmt.Sprintf("svc%d", i)
		}
		require.NoError(r.t, os.RemoveAll(filepath.Join(r.dir, folder, ".env.keys")))
		backups, _ := filepath.Glob(filepath.Join(r.dir, folder, ".env.keys.backup.*"))
		for _, b := range backups {
			require.NoError(r.t, os.Remove(b))
		}
	}
}

// setVault gives every secret a new key.
func (r *concurrentRig) setVault() {
	for name := range r.all {
		r.vault[name] = genKey(r.t).Hex()
		require.NoError(r.t, os.WriteFile(filepath.Join(r.dir, "secrets", name), []byte(r.vault[name]), 0o600))
	}
}

// runAll starts the processes together and returns each one's rows.
func (r *concurrentRig) runAll(args ...string) [][]map[string]any {
	r.t.Helper()
	var wg sync.WaitGroup
	out := make([][]map[string]any, r.procs)
	for i := range r.procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = r.runOne(i, args)
		}()
	}
	wg.Wait()
	return out
}

// runOne runs process i and returns its rows (nil after a failed
// assertion). It runs on its own goroutine: it asserts, never requires.
func (r *concurrentRig) runOne(i int, args []string) []map[string]any {
	t := r.t
	cmd := exec.Command(binary, append([]string{"sync", "--ci", "-o", "json", "-c", fmt.Sprintf("c%d.toml", i)}, args...)...)
	cmd.Dir = r.dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + r.dir, "NO_COLOR=1"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); !assert.NoError(t, err, "process %d: %s%s", i, stdout.String(), stderr.String()) {
		return nil
	}
	var doc struct {
		Rows []map[string]any `json:"rows"`
	}
	if !assert.NoError(t, json.Unmarshal(stdout.Bytes(), &doc)) {
		return nil
	}
	return doc.Rows
}

// check asserts every keys file holds each of its keys once, with the
// vault's value, and that it parses as a whole dotenvx keys file.
func (r *concurrentRig) check() {
	t := r.t
	t.Helper()
	byFolder := map[string][]concMapping{}
	for _, m := range r.all {
		byFolder[m.folder] = append(byFolder[m.folder], m)
	}
	for folder, ms := range byFolder {
		path := filepath.Join(r.dir, folder, ".env.keys")
		data := read(t, path)
		require.True(t, strings.HasPrefix(data, "#/------------------!DOTENV_PRIVATE_KEYS!"), "%s starts with the header", path)
		assert.Equal(t, 1, strings.Count(data, "!DOTENV_PRIVATE_KEYS!"), "%s has one header", path)
		entries, err := dotenvx.Parse([]byte(data))
		require.NoError(t, err)
		assert.Len(t, entries, len(ms), "%s:\n%s", path, data)
		for _, m := range ms {
			name, _ := dotenvx.KeyNames(".env." + m.env)
			var values []string
			for _, e := range entries {
				if e.Key == name {
					values = append(values, e.Value)
				}
			}
			assert.Equal(t, []string{r.vault[m.secret]}, values, "%s assigns %s once, the vault's value:\n%s", path, name, data)
		}
		assert.Equal(t, os.FileMode(0o600), mode(t, path))
	}
	assert.Empty(t, tempFiles(t, r.dir))
}

// countActions counts, per secret, how many rows took each action.
func countActions(rows [][]map[string]any) map[string]map[string]int {
	actions := map[string]map[string]int{}
	for _, rs := range rows {
		for _, r := range rs {
			s, a := r["secret"].(string), r["action"].(string)
			if actions[s] == nil {
				actions[s] = map[string]int{}
			}
			actions[s][a]++
		}
	}
	return actions
}
