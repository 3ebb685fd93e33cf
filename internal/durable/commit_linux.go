package durable

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// haveSyncFS reports whether this platform has syncfs(2).
const haveSyncFS = true

// syncFileSystems calls syncfs(2) once for each file system that holds one
// of files.
func syncFileSystems(files []*os.File) error {
	seen := map[uint64]bool{}
	for _, f := range files {
		var st syscall.Stat_t
		if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
			return err
		}
		if seen[st.Dev] {
			continue
		}
		seen[st.Dev] = true
		if err := unix.Syncfs(int(f.Fd())); err != nil {
			return os.NewSyscallError("syncfs", err)
		}
	}
	return nil
}

// dirtyBytes returns how much data, system-wide, is waiting to be written
// back: Dirty plus Writeback in /proc/meminfo.
func dirtyBytes() (int64, error) {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	return parseDirty(data)
}

// syncfsCovers reports whether every one of files is on a file system whose
// syncfs(2) writes back all of its files' data and metadata and flushes the
// disk's cache, as fsync of each file would: ext2/3/4, XFS, Btrfs and F2FS
// (their sync_fs), overlayfs (which syncs its upper file system) and tmpfs
// (nothing to write back). NFS, FUSE, CIFS and the rest are left to fsync.
func syncfsCovers(files []*os.File) bool {
	for _, f := range files {
		var st unix.Statfs_t
		if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
			return false
		}
		switch uint32(st.Type) {
		case unix.EXT4_SUPER_MAGIC, unix.XFS_SUPER_MAGIC, unix.BTRFS_SUPER_MAGIC,
			unix.F2FS_SUPER_MAGIC, unix.OVERLAYFS_SUPER_MAGIC, unix.TMPFS_MAGIC:
		default:
			return false
		}
	}
	return true
}
