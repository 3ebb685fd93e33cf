package main

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// crashProject is a file-provider project whose vault flips between two
// complete key sets, for the SIGKILL test.
type crashProject struct {
	dir      string
	folders  []string
	mappings [][3]string          // secret, folder, environment
	sets     [2]map[string]string // secret name → key, one map per key set
	// shape is, per folder, the keys file with every key replaced by the
	// placeholder "\x00<secret>\x00": the layout every later run keeps.
	shape map[string]string
}

func newCrashProject(t *testing.T, folders int) *crashProject {
	p := &crashProject{dir: t.TempDir(), shape: map[string]string{}}
	p.sets[0], p.sets[1] = map[string]string{}, map[string]string{}
	files := map[string]string{}
	for i := range folders {
		folder := fmt.Sprintf("svc%d", i)
		p.folders = append(p.folders, folder)
		for _, env := range []string{"production", "staging"} {
			files[folder+"/.env."+env] = "HELLO=world\n"
			name := folder + "-" + env
			p.sets[0][name], p.sets[1][name] = genKey(t).Hex(), genKey(t).Hex()
			p.mappings = append(p.mappings, [3]string{name, folder, env})
		}
	}
	// One folder starts with a keys file of its own, with CRLF line endings:
	// every byte of it must survive.
	files["svc0/.env.keys"] = "# team notes\r\nOTHER_SECRET=keep-me\r\n"
	files["envdrift.toml"] = fileConfig(p.mappings...)
	writeFiles(t, p.dir, files)
	require.NoError(t, os.Chmod(filepath.Join(p.dir, "svc0", ".env.keys"), 0o600))
	return p
}

// useSet writes key set i into the file provider's directory.
func (p *crashProject) useSet(t *testing.T, i int) {
	require.NoError(t, os.MkdirAll(filepath.Join(p.dir, "secrets"), 0o700))
	for name, key := range p.sets[i] {
		require.NoError(t, os.WriteFile(filepath.Join(p.dir, "secrets", name), []byte(key+"\n"), 0o600))
	}
}

// learnShape records each folder's keys file layout after a complete run
// with key set i.
func (p *crashProject) learnShape(t *testing.T, i int) {
	for _, folder := range p.folders {
		s := read(t, filepath.Join(p.dir, folder, ".env.keys"))
		for _, m := range p.mappings {
			if m[1] == folder {
				require.Equal(t, 1, strings.Count(s, p.sets[i][m[0]]), "%s holds %s once", folder, m[0])
				s = strings.Replace(s, p.sets[i][m[0]], "\x00"+m[0]+"\x00", 1)
			}
		}
		p.shape[folder] = s
	}
}

// pattern matches the files a folder may hold: the layout with each key
// from either set.
func (p *crashProject) pattern(folder string) *regexp.Regexp {
	re := regexp.QuoteMeta(p.shape[folder])
	for _, m := range p.mappings {
		if m[1] == folder {
			re = strings.Replace(re, "\x00"+m[0]+"\x00", "("+p.sets[0][m[0]]+"|"+p.sets[1][m[0]]+")", 1)
		}
	}
	return regexp.MustCompile(`\A` + re + `\z`)
}

// want is the exact keys file of folder after a complete run with set i.
func (p *crashProject) want(folder string, i int) string {
	s := p.shape[folder]
	for _, m := range p.mappings {
		if m[1] == folder {
			s = strings.Replace(s, "\x00"+m[0]+"\x00", p.sets[i][m[0]], 1)
		}
	}
	return s
}

// checkWhole asserts that every keys file, and every backup, is a complete
// file of the known layout with mode 0600, removes the backups, and returns
// how many keys come from set i.
func (p *crashProject) checkWhole(t *testing.T, i int) (fromSet, backups int) {
	t.Helper()
	for _, folder := range p.folders {
		re := p.pattern(folder)
		keysFile := filepath.Join(p.dir, folder, ".env.keys")
		data := read(t, keysFile)
		m := re.FindStringSubmatch(data)
		require.NotNil(t, m, "%s is torn:\n%q", keysFile, data)
		assert.Equal(t, fs.FileMode(0o600), mode(t, keysFile))
		for _, v := range m[1:] {
			for name, k := range p.sets[i] {
				if k == v && strings.HasPrefix(name, folder+"-") {
					fromSet++
				}
			}
		}
		olds, err := filepath.Glob(keysFile + ".backup.*")
		require.NoError(t, err)
		for _, b := range olds {
			data := read(t, b)
			require.Regexp(t, re, data, "backup %s is torn", b)
			assert.Equal(t, fs.FileMode(0o600), mode(t, b), b)
			require.NoError(t, os.Remove(b))
			backups++
		}
	}
	return fromSet, backups
}

// TestCrash_SIGKILLDuringForceSyncLeavesWholeFiles kills `envdrift sync
// --force` at random moments while the vault flips between two key sets.
// After every kill each keys file (and each backup) is a whole file, old or
// new, mode 0600; leftover temporary files, back-dated past the one-minute
// grace period, are removed by the next normal run, which succeeds and
// leaves the new keys and no temporary file. ENVDRIFT_LONG=1 raises the
// number of kills from 20 to 200.
func TestCrash_SIGKILLDuringForceSyncLeavesWholeFiles(t *testing.T) {
	kills := 20
	if longRun() {
		kills = 200
	}
	if testing.Short() {
		kills = 5
	}
	p := newCrashProject(t, 6)
	p.useSet(t, 0)
	start := time.Now()
	r := runCLI(t, p.dir, nil, "sync", "--ci", "--force")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	runTime := time.Since(start)
	p.learnShape(t, 0)

	var stats struct {
		killed, finished, mixed, withTemps, temps, planted, backups int
	}
	cur := 0
	for iter := 0; stats.killed < kills; iter++ {
		require.Less(t, iter, kills*10, "the runs keep finishing before the kill")
		next := 1 - cur
		p.useSet(t, next)

		cmd := exec.Command(binary, "sync", "--ci", "--force")
		cmd.Dir = p.dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + p.dir, "NO_COLOR=1"}
		require.NoError(t, cmd.Start())
		time.Sleep(time.Duration(rand.Int64N(int64(runTime) * 3 / 2)))
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			stats.killed++
		} else {
			require.Equal(t, 0, ws.ExitStatus(), "a run that was not killed failed")
			stats.finished++
		}

		fromNew, backups := p.checkWhole(t, next)
		stats.backups += backups
		if fromNew > 0 && fromNew < len(p.mappings) {
			stats.mixed++
		}
		temps := tempFiles(t, p.dir)
		if len(temps) > 0 {
			stats.withTemps++
			stats.temps += len(temps)
		}
		// Back-date the leftovers past the grace period, and plant one more
		// as an earlier crashed run would have left it.
		planted := filepath.Join(p.dir, p.folders[rand.IntN(len(p.folders))], fmt.Sprintf("..env.keys%d", rand.Int64()))
		require.NoError(t, os.WriteFile(planted, []byte(p.want(p.folders[0], cur)), 0o600))
		old := time.Now().Add(-2 * time.Minute)
		for _, tmp := range append(temps, planted) {
			assert.Equal(t, fs.FileMode(0o600), mode(t, tmp), "a leftover temporary file holds key material")
			require.NoError(t, os.Chtimes(tmp, old, old))
		}
		stats.planted++

		// The next normal run succeeds, finishes the change and cleans up.
		r := runCLI(t, p.dir, nil, "sync", "--ci", "--force")
		require.Equal(t, 0, r.code, r.stdout+r.stderr)
		assert.Empty(t, tempFiles(t, p.dir), "temporary files left after a normal run")
		for _, folder := range p.folders {
			require.Equal(t, p.want(folder, next), read(t, filepath.Join(p.dir, folder, ".env.keys")))
		}
		_, backups = p.checkWhole(t, next)
		stats.backups += backups
		cur = next
	}
	t.Logf("kills survived: %d (runs that finished before the kill: %d); kills that left some keys new and some old: %d; "+
		"kills that left temporary files: %d (%d files); back-dated leftovers removed by the next run: %d (plus %d planted); backups checked whole: %d",
		stats.killed, stats.finished, stats.mixed, stats.withTemps, stats.temps, stats.temps, stats.planted, stats.backups)
}
