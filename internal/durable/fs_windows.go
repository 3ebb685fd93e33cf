package durable

import (
	"os"
	"path/filepath"
	"syscall"

	"github.com/gofrs/flock"
	"golang.org/x/sys/windows"
)

// openNoFollow opens a symlink (a reparse point) itself rather than its
// target; OpenNoFollow then refuses it.
const openNoFollow = syscall.FILE_FLAG_OPEN_REPARSE_POINT

// createNoFollow is 0: os.OpenFile with O_CREATE|O_EXCL (CREATE_NEW) never
// follows a reparse point on Windows.
const createNoFollow = 0

// rename replaces to with from, and returns once the rename is on disk
// (MOVEFILE_WRITE_THROUGH): a directory cannot be fsynced on Windows.
func rename(from, to string) error {
	f, err := windows.UTF16PtrFromString(from)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	t, err := windows.UTF16PtrFromString(to)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	if err := windows.MoveFileEx(f, t, windows.MOVEFILE_REPLACE_EXISTING|windows.MOVEFILE_WRITE_THROUGH); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}

// syncDir does nothing: Windows cannot flush a directory. Renames are
// written through (see rename); a new backup's name, linked after its
// contents were flushed, may be lost by a power cut, never half-written.
func syncDir(string) error { return nil }

// lockFileName is the file Locks locks on Windows, which cannot lock a
// directory. It is created in the directory and left there.
const lockFileName = ".envdrift.lock"

// dirLock is the cross-process lock of dir: LockFileEx on dir's lock file.
func dirLock(dir string) *flock.Flock { return flock.New(filepath.Join(dir, lockFileName)) }
