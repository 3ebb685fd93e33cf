//go:build !windows

package durable

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteFile_PermWhateverTheUmask(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := t.TempDir()
	p := filepath.Join(dir, ".env.keys")
	require.NoError(t, os.WriteFile(p, []byte("old"), 0o666))
	require.NoError(t, WriteFile(p, []byte("new"), 0o600))
	st, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	got, _ := os.ReadFile(p)
	assert.Equal(t, "new", string(got))
	ents, _ := os.ReadDir(dir)
	assert.Len(t, ents, 1, "no temporary file is left behind")
}

func TestBackup_NameModeCollisionAndContent(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := t.TempDir()
	p := filepath.Join(dir, ".env.keys")
	now := time.Date(2024, 1, 15, 14, 30, 22, 0, time.UTC)
	b1, err := Backup(p, []byte("one"), 0o600, now)
	require.NoError(t, err)
	assert.Equal(t, p+".backup.20240115_143022", b1)
	b2, err := Backup(p, []byte("two"), 0o600, now)
	require.NoError(t, err)
	assert.Equal(t, p+".backup.20240115_143022_2", b2)
	for name, want := range map[string]string{b1: "one", b2: "two"} {
		st, err := os.Stat(name)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
		got, _ := os.ReadFile(name)
		assert.Equal(t, want, string(got))
	}
}

func TestBackup_LeavesNoTemporaryFileAndIsWholeAndPrivate(t *testing.T) {
	old := syscall.Umask(0o277)
	defer syscall.Umask(old)
	dir := t.TempDir()
	p := filepath.Join(dir, ".env.keys")
	now := time.Date(2024, 1, 15, 14, 30, 22, 0, time.UTC)
	name, err := Backup(p, []byte("A=1\n"), 0o600, now)
	require.NoError(t, err)
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, ents, 1, "only the backup is left")
	assert.Equal(t, filepath.Base(name), ents[0].Name())
	st, err := os.Stat(name)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	got, _ := os.ReadFile(name)
	assert.Equal(t, "A=1\n", string(got))
}

func TestLocks_LockTheDirectoryItselfAndLeaveNoFile(t *testing.T) {
	dir := t.TempDir()
	var l Locks
	unlock, err := l.Lock(context.Background(), dir)
	require.NoError(t, err)
	unlock()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, ents, "locking leaves no file behind")
}
