package envdrift

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
