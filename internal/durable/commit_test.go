package durable

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// commitTarget makes dir/svcN and returns the path of its keys file,
// holding old when old is not empty.
func commitTarget(t *testing.T, dir string, n int, old string) string {
	t.Helper()
	folder := filepath.Join(dir, fmt.Sprintf("svc%03d", n))
	require.NoError(t, os.MkdirAll(folder, 0o755))
	path := filepath.Join(folder, ".env.keys")
	if old != "" {
		require.NoError(t, os.WriteFile(path, []byte(old), 0o600))
	}
	return path
}

// assertNoTemps fails if a temporary file is left next to path.
func assertNoTemps(t *testing.T, path string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	for _, e := range ents {
		assert.False(t, strings.HasPrefix(e.Name(), tempPrefix(path)), "temporary file left: %s", e.Name())
	}
}

// pendingGroup writes one pending write per path, new contents "new N".
func pendingGroup(t *testing.T, paths []string) []*pendingWrite {
	t.Helper()
	group := make([]*pendingWrite, len(paths))
	for i, p := range paths {
		w, err := newPendingWrite(p, []byte(fmt.Sprintf("new %d", i)), 0o600)
		require.NoError(t, err)
		group[i] = w
	}
	return group
}

func TestCommitter_ConcurrentWritesAllLandDurablyAndPrivate(t *testing.T) {
	dir := t.TempDir()
	c := StartCommitter()
	const n = 64
	paths := make([]string, n)
	for i := range paths {
		old := ""
		if i%2 == 0 {
			old = "old contents"
		}
		paths[i] = commitTarget(t, dir, i, old)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, p := range paths {
		wg.Go(func() { errs[i] = c.WriteFile(p, []byte(fmt.Sprintf("new %d", i)), 0o600) })
	}
	wg.Wait()
	c.Stop()
	for i, p := range paths {
		require.NoError(t, errs[i])
		got, err := os.ReadFile(p)
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("new %d", i), string(got))
		st, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), p)
		assertNoTemps(t, p)
	}
	t.Logf("%d writes: %d group commits carried %d of them", n, c.groups, c.grouped)
}

func TestCommitter_WaitingWritesShareOneCommit(t *testing.T) {
	if !haveSyncFS {
		t.Skip("no syncfs on this platform: every write commits alone")
	}
	dir := t.TempDir()
	var paths []string
	for i := range 5 {
		paths = append(paths, commitTarget(t, dir, i, "old"))
	}
	var calls int
	c := &Committer{
		syncFS: func(files []*os.File) error { calls++; return syncFileSystems(files) },
		reqs:   make(chan *pendingWrite, len(paths)),
		done:   make(chan struct{}),
	}
	group := pendingGroup(t, paths)
	for _, w := range group {
		c.reqs <- w // all waiting before the committer starts
	}
	go c.loop()
	for i, w := range group {
		require.NoError(t, <-w.done)
		got, err := os.ReadFile(paths[i])
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("new %d", i), string(got))
		assertNoTemps(t, paths[i])
	}
	c.Stop()
	assert.Equal(t, 1, c.groups, "one group commit")
	assert.Equal(t, 5, c.grouped)
	assert.Equal(t, 2, calls, "one syncfs before the renames, one after")
}

func TestCommitter_LoneWriteUsesFsyncNotSyncfs(t *testing.T) {
	path := commitTarget(t, t.TempDir(), 0, "old")
	c := &Committer{syncFS: func([]*os.File) error {
		t.Error("syncfs called for a lone write")
		return nil
	}}
	c.commit(pendingGroup(t, []string{path}))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "new 0", string(got))
	assertNoTemps(t, path)
	assert.Zero(t, c.groups)
}

func TestCommitter_FailedSyncRenamesNothingAndLeavesOldFiles(t *testing.T) {
	dir := t.TempDir()
	paths := []string{commitTarget(t, dir, 0, "old 0"), commitTarget(t, dir, 1, "old 1"), commitTarget(t, dir, 2, "")}
	c := &Committer{syncFS: func([]*os.File) error { return os.NewSyscallError("syncfs", syscall.EIO) }}
	group := pendingGroup(t, paths)
	c.commit(group)
	for i, w := range group {
		err := <-w.done
		require.Error(t, err)
		assert.ErrorIs(t, err, syscall.EIO)
		assert.Contains(t, err.Error(), paths[i], "the error names the file")
		assertNoTemps(t, paths[i])
	}
	for i, p := range paths[:2] {
		got, err := os.ReadFile(p)
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("old %d", i), string(got), "an old file is untouched")
	}
	assert.NoFileExists(t, paths[2], "no new file appears")
}

func TestCommitter_FailedSecondSyncIsReportedForEveryRenamedFile(t *testing.T) {
	dir := t.TempDir()
	paths := []string{commitTarget(t, dir, 0, "old"), commitTarget(t, dir, 1, "old")}
	calls := 0
	c := &Committer{syncFS: func([]*os.File) error {
		calls++
		if calls == 2 {
			return syscall.EIO
		}
		return nil
	}}
	group := pendingGroup(t, paths)
	c.commit(group)
	for i, w := range group {
		err := <-w.done
		assert.ErrorIs(t, err, syscall.EIO)
		assert.Contains(t, err.Error(), "sync "+filepath.Dir(paths[i]))
		assertNoTemps(t, paths[i])
	}
}

func TestCommitter_RenameFailureFailsOnlyThatWrite(t *testing.T) {
	dir := t.TempDir()
	good := commitTarget(t, dir, 0, "old")
	bad := commitTarget(t, dir, 1, "")
	// A non-empty directory where the keys file should be: rename fails.
	require.NoError(t, os.MkdirAll(filepath.Join(bad, "x"), 0o755))
	c := &Committer{syncFS: func([]*os.File) error { return nil }}
	group := pendingGroup(t, []string{good, bad})
	c.commit(group)
	assert.NoError(t, <-group[0].done)
	err := <-group[1].done
	require.Error(t, err)
	assert.Contains(t, err.Error(), bad)
	got, rerr := os.ReadFile(good)
	require.NoError(t, rerr)
	assert.Equal(t, "new 0", string(got))
	assertNoTemps(t, bad)
}

func TestCommitter_WithoutSyncfsWritesLikeWriteFile(t *testing.T) {
	path := commitTarget(t, t.TempDir(), 0, "old")
	c := &Committer{} // no syncFS: the platform has none
	require.NoError(t, c.WriteFile(path, []byte("new"), 0o600))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "new", string(got))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	assertNoTemps(t, path)
}

func TestCommitter_TempFilesAreOnesCleanTempsRemoves(t *testing.T) {
	path := commitTarget(t, t.TempDir(), 0, "")
	w, err := newPendingWrite(path, []byte("x"), 0o600)
	require.NoError(t, err)
	defer w.discard()
	name := filepath.Base(w.f.Name())
	prefix := tempPrefix(path)
	require.True(t, strings.HasPrefix(name, prefix), name)
	assert.True(t, digits().MatchString(name[len(prefix):]), "a crash would leave %s, which CleanTemps must recognise", name)
}

func TestParseDirty_SumsDirtyAndWritebackInBytes(t *testing.T) {
	meminfo := "MemTotal:       24576000 kB\nDirty:              9740 kB\nWriteback:            12 kB\nWritebackTmp:          0 kB\n"
	got, err := parseDirty([]byte(meminfo))
	require.NoError(t, err)
	assert.Equal(t, int64(9752)<<10, got)
	for _, bad := range []string{"MemTotal: 1 kB\n", "Dirty: x kB\nWriteback: 0 kB\n", "Dirty: 1 MB\nWriteback: 0 kB\n"} {
		_, err := parseDirty([]byte(bad))
		assert.Error(t, err, "%q", bad)
	}
}

func TestCommitter_WritesCommitAloneOnABusySystemOrAFileSystemSyncfsMayNotCover(t *testing.T) {
	cases := map[string]struct {
		covers func([]*os.File) bool
		dirty  func() (int64, error)
	}{
		"a gigabyte waits to be written back": {dirty: func() (int64, error) { return 1 << 30, nil }},
		"NFS, FUSE or the like":               {covers: func([]*os.File) bool { return false }},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			paths := []string{commitTarget(t, dir, 0, "old"), commitTarget(t, dir, 1, ""), commitTarget(t, dir, 2, "old")}
			c := &Committer{
				syncFS: func([]*os.File) error {
					t.Error("syncfs called")
					return nil
				},
				covers: tc.covers,
				dirty:  tc.dirty,
				reqs:   make(chan *pendingWrite, len(paths)),
				done:   make(chan struct{}),
			}
			group := pendingGroup(t, paths)
			for _, w := range group {
				c.reqs <- w
			}
			go c.loop()
			for i, w := range group {
				require.NoError(t, w.await())
				got, err := os.ReadFile(paths[i])
				require.NoError(t, err)
				assert.Equal(t, fmt.Sprintf("new %d", i), string(got))
				assertNoTemps(t, paths[i])
			}
			c.Stop()
			assert.Zero(t, c.groups)
		})
	}
}

func TestCommitter_SlowGroupCommitsInARowStopGrouping(t *testing.T) {
	dir := t.TempDir()
	slow := true
	calls := 0
	c := &Committer{
		syncFS: func([]*os.File) error {
			calls++
			if slow {
				time.Sleep(groupBudgetMin) // as if flushing another program's gigabytes
			}
			return nil
		},
		reqs: make(chan *pendingWrite, 2),
		done: make(chan struct{}),
	}
	c.grouping.Store(true)
	n := 0
	// group commits two writes through the committer's loop.
	group := func() {
		t.Helper()
		paths := []string{commitTarget(t, dir, n, ""), commitTarget(t, dir, n+1, "")}
		n += 2
		ws := pendingGroup(t, paths)
		for _, w := range ws {
			c.reqs <- w
		}
		c.commit([]*pendingWrite{<-c.reqs, <-c.reqs})
		for _, w := range ws {
			require.NoError(t, w.await())
		}
	}
	group()
	group()
	slow = false
	group()
	assert.True(t, c.grouping.Load(), "a fast group commit resets the count")
	slow = true
	for range slowGroupsToStop {
		group()
	}
	assert.False(t, c.grouping.Load(), "%d slow group commits in a row stop grouping", slowGroupsToStop)
	before := calls
	go c.loop()
	later := commitTarget(t, dir, 99, "")
	require.NoError(t, c.WriteFile(later, []byte("later"), 0o600))
	c.Stop()
	assert.Equal(t, before, calls, "the later write committed alone, without syncfs")
	got, err := os.ReadFile(later)
	require.NoError(t, err)
	assert.Equal(t, "later", string(got))
}
