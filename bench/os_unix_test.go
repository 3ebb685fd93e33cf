//go:build !windows

package bench

import (
	"os"
	"syscall"
)

// maxRSSKiB is the peak resident set size of a finished process, in KiB
// (what Linux reports; 0 when unknown).
func maxRSSKiB(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return int64(ru.Maxrss) // KiB on Linux
	}
	return 0
}

// flushDisks writes every file system's dirty data to disk (sync(2)).
func flushDisks() { syscall.Sync() }
