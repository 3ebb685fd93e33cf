//go:build !windows

package durable

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/gofrs/flock"
)

// openNoFollow makes an open fail on a symlink (ELOOP) and not block on a
// FIFO.
const openNoFollow = syscall.O_NOFOLLOW | syscall.O_NONBLOCK

// createNoFollow makes an exclusive create fail on a symlink. (O_EXCL alone
// already does; this says so.)
const createNoFollow = syscall.O_NOFOLLOW

// rename replaces to with from; syncDir makes it durable.
func rename(from, to string) error { return os.Rename(from, to) }

// syncDir makes the directory entries of dir durable: renames, links and
// new files in it.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// dirLock is the cross-process lock of dir: flock(2) on the directory.
func dirLock(dir string) *flock.Flock { return flock.New(dir, flock.SetFlag(os.O_RDONLY)) }
