//go:build !windows

package main

import (
	"os"
	"runtime"
	"syscall"
)

// maxRSSKiB is the peak resident set size of a finished process, in KiB
// (0 when unknown).
func maxRSSKiB(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss) / 1024 // bytes there
	}
	return int64(ru.Maxrss) // KiB on Linux and the BSDs
}

// flushDisks writes every file system's dirty data to disk (sync(2)), so
// that no run pays for the write-back of the files prepared for it.
func flushDisks() { syscall.Sync() }
