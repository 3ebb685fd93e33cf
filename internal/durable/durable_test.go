package durable

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteFile_ReplacesTheFileAndLeavesNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ".env.keys")
	require.NoError(t, WriteFile(p, []byte("first"), 0o600), "a new file")
	require.NoError(t, WriteFile(p, []byte("second"), 0o600), "over an existing file")
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "second", string(got))
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, ents, 1, "no temporary file is left behind")
}

func TestWriteFile_FailureLeavesTheOldFileAndNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "target")
	// A non-empty directory where the file should be: the rename fails.
	require.NoError(t, os.MkdirAll(filepath.Join(p, "x"), 0o755))
	err := WriteFile(p, []byte("new"), 0o600)
	require.Error(t, err)
	assert.Contains(t, err.Error(), p, "the error names the file")
	assert.DirExists(t, filepath.Join(p, "x"))
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, ents, 1, "no temporary file is left behind")
}

func TestOpenNoFollow_RefusesASymlinkAndOpensARegularFile(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	require.NoError(t, os.WriteFile(real, []byte("A=1\n"), 0o600))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(real, link))
	dangling := filepath.Join(dir, "dangling")
	require.NoError(t, os.Symlink(filepath.Join(dir, "nothing"), dangling))

	f, err := OpenNoFollow(real)
	require.NoError(t, err)
	got := make([]byte, 4)
	_, err = f.Read(got)
	require.NoError(t, err)
	assert.Equal(t, "A=1\n", string(got))
	require.NoError(t, f.Close())

	for _, p := range []string{link, dangling} {
		_, err = OpenNoFollow(p)
		assert.ErrorIs(t, err, ErrSymlink, p)
		assert.NotErrorIs(t, err, os.ErrNotExist, p)
	}
	_, err = OpenNoFollow(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.NotErrorIs(t, err, ErrSymlink)
}

func TestBackup_NeverFollowsASymlink(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ".env.keys")
	target := filepath.Join(t.TempDir(), "elsewhere")
	now := time.Date(2024, 1, 15, 14, 30, 22, 0, time.UTC)
	require.NoError(t, os.Symlink(target, p+".backup.20240115_143022"))
	b, err := Backup(p, []byte("secret"), 0o600, now)
	require.NoError(t, err)
	assert.Equal(t, p+".backup.20240115_143022_2", b, "the symlinked name is skipped, not written through")
	_, err = os.Stat(target)
	assert.True(t, os.IsNotExist(err), "nothing was written through the symlink")
}

func TestBackupInPlace_NeverOverwritesOrFollowsASymlink(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ".env.keys")
	base := p + ".backup.20240115_143022"
	target := filepath.Join(t.TempDir(), "elsewhere")
	require.NoError(t, os.Symlink(target, base))
	require.NoError(t, os.WriteFile(base+"_2", []byte("older backup"), 0o600))
	name, err := backupInPlace(p, base, []byte("secret"), 0o600)
	require.NoError(t, err)
	assert.Equal(t, base+"_3", name)
	got, err := os.ReadFile(name)
	require.NoError(t, err)
	assert.Equal(t, "secret", string(got))
	got, err = os.ReadFile(base + "_2")
	require.NoError(t, err)
	assert.Equal(t, "older backup", string(got), "an existing backup is kept")
	assert.NoFileExists(t, target, "nothing was written through the symlink")
}

func TestCleanTemps_RemovesOnlyOldTemporaryFilesOfThatPath(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ".env.keys")
	stale := filepath.Join(dir, "..env.keys123456")
	fresh := filepath.Join(dir, "..env.keys999")
	other := filepath.Join(dir, "..env.keys.notmine")
	for _, f := range []string{stale, fresh, other} {
		require.NoError(t, os.WriteFile(f, []byte("x"), 0o600))
	}
	old := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(stale, old, old))
	require.NoError(t, os.Chtimes(other, old, old))
	CleanTemps(p, time.Now())
	assert.NoFileExists(t, stale)
	assert.FileExists(t, fresh)
	assert.FileExists(t, other)
}

func TestCleanTemps_NeverRemovesOrFollowsASymlinkAndKeepsFreshFiles(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	keys := filepath.Join(dir, ".env.keys")
	victim := filepath.Join(outside, "victim")
	require.NoError(t, os.WriteFile(victim, []byte("keep"), 0o600))
	link := filepath.Join(dir, "..env.keys123")
	require.NoError(t, os.Symlink(victim, link))
	stale := filepath.Join(dir, "..env.keys456")
	require.NoError(t, os.WriteFile(stale, []byte("old temp"), 0o600))
	fresh := filepath.Join(dir, "..env.keys789")

	// An hour from now every entry is older than the grace period.
	CleanTemps(keys, time.Now().Add(time.Hour))
	assert.NoFileExists(t, stale)
	target, err := os.Readlink(link)
	require.NoError(t, err, "the symlink is not removed")
	assert.Equal(t, victim, target)
	got, _ := os.ReadFile(victim)
	assert.Equal(t, "keep", string(got))

	// A temporary file younger than a minute may be a live writer's.
	require.NoError(t, os.WriteFile(fresh, []byte("in flight"), 0o600))
	CleanTemps(keys, time.Now().Add(30*time.Second))
	assert.FileExists(t, fresh)
}

func TestLocks_SerialiseWritersOfOneDirectory(t *testing.T) {
	dir := t.TempDir()
	var l Locks
	var mu sync.Mutex
	inside, maxInside := 0, 0
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			unlock, err := l.Lock(context.Background(), dir)
			if err != nil {
				errs[i] = err
				return
			}
			mu.Lock()
			inside++
			maxInside = max(maxInside, inside)
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
			mu.Lock()
			inside--
			mu.Unlock()
			unlock()
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 1, maxInside)
}

func TestLocks_CancelledWaitGivesUp(t *testing.T) {
	dir := t.TempDir()
	var a, b Locks // two lock tables: like two processes
	unlock, err := a.Lock(context.Background(), dir)
	require.NoError(t, err)
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = b.Lock(ctx, dir)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}
