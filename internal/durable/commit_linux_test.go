package durable

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestSyncfsCovers_LocalFileSystemsButNotOthers(t *testing.T) {
	proc, err := os.Open("/proc/self/status")
	require.NoError(t, err)
	defer proc.Close()
	assert.False(t, syncfsCovers([]*os.File{proc}), "procfs is not one syncfs is known to cover")

	var st unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &st); err != nil || uint32(st.Type) != unix.TMPFS_MAGIC {
		t.Skip("no tmpfs at /dev/shm to check the positive case on")
	}
	dir, err := os.MkdirTemp("/dev/shm", "envdrift-test-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	local, err := os.CreateTemp(dir, "f")
	require.NoError(t, err)
	defer local.Close()
	assert.True(t, syncfsCovers([]*os.File{local}), "tmpfs")
	assert.False(t, syncfsCovers([]*os.File{local, proc}), "one file elsewhere is enough to commit alone")
}
