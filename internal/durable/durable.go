// Package durable replaces files so that a crash leaves each one old or
// new, never partial, and so that a write reported done survives a power
// cut. It takes paths and bytes, and knows nothing of what the files hold.
//
//   - [WriteFile] replaces a file: a temporary file in the same directory,
//     fsync, rename over the file, fsync of the directory.
//   - [Committer] does the same for many files written at once, letting
//     writes that wait for each other share their flushes (a group commit).
//   - [Backup] copies data to a new, never overwritten, backup file.
//   - [Locks] serialises the writers of a directory, within the process and
//     across processes.
//   - [OpenNoFollow] opens a file for reading without following a symlink.
//   - [CleanTemps] removes the temporary files an interrupted process left.
//
// Temporary files are named "." + the target's base name + digits, next to
// the target.
//
// On Windows, where a directory can neither be fsynced nor locked, a rename
// is made durable by MoveFileEx's write-through flag instead, and a
// directory is locked through a file named .envdrift.lock inside it (left
// behind). Permission bits other than the owner's write bit mean nothing
// there: a file gets its directory's ACL.
package durable

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/envdrift/envdrift/internal/lazyre"
)

// ErrSymlink is wrapped by OpenNoFollow's error for a path that is a
// symbolic link (on Windows, also a junction or another name surrogate).
var ErrSymlink = errors.New("is a symlink")

// OpenNoFollow opens path for reading without following a symlink at path
// itself: for a symlink, dangling or not, the error wraps ErrSymlink. A
// missing path gives an error wrapping fs.ErrNotExist. On Unix the open
// does not block on a FIFO; the caller checks what kind of file it got.
func OpenNoFollow(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openNoFollow, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if st, lerr := os.Lstat(path); lerr == nil && st.Mode()&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("%s %w", path, ErrSymlink)
		}
		return nil, err
	}
	// On Windows the flag opens a link itself instead of failing on it.
	if st, err := f.Stat(); err == nil && st.Mode()&fs.ModeSymlink != 0 {
		_ = f.Close()
		return nil, fmt.Errorf("%s %w", path, ErrSymlink)
	}
	return f, nil
}

// WriteFile replaces path with data, with permissions perm whatever the
// umask: a temporary file in the same directory, fsync, rename over path,
// fsync of the directory. A crash leaves the old file or the new one; once
// WriteFile returns nil, the new one is on disk.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	w, err := newPendingWrite(path, data, perm)
	if err != nil {
		return err
	}
	return w.commitAlone()
}

// tempPrefix is how the temporary files for path start: "." + its base
// name. os.CreateTemp appends a random number; CleanTemps recognises them.
func tempPrefix(path string) string { return "." + filepath.Base(path) }

var digits = lazyre.New(`^[0-9]+$`)

// staleAfter is the age at which a temporary file is taken to be abandoned;
// a live writer's file is younger.
const staleAfter = time.Minute

// CleanTemps removes the temporary files that an interrupted writer of
// path left next to it: regular files named "." + its base name + digits,
// last modified more than a minute before now (so a concurrent writer's
// file is never touched). Symlinks are never followed or removed. Errors
// are ignored: a leftover file is harmless. Call it with the directory
// locked.
func CleanTemps(path string, now time.Time) {
	dir, prefix := filepath.Dir(path), tempPrefix(path)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, prefix) || !digits().MatchString(name[len(prefix):]) || !e.Type().IsRegular() {
			continue
		}
		if info, err := e.Info(); err == nil && now.Sub(info.ModTime()) > staleAfter {
			_ = os.Remove(filepath.Join(dir, name))
		}
	}
}

// BackupLayout is the time layout in backup names:
// <path>.backup.YYYYMMDD_HHMMSS.
const BackupLayout = "20060102_150405"

// maxBackupsPerSecond bounds the numbered names Backup tries (_2 … _999).
const maxBackupsPerSecond = 999

// Backup copies data to path + ".backup." + now in BackupLayout (with _2,
// _3, … if that exists), with permissions perm whatever the umask, never
// following a symlink or replacing a file, and returns the backup's path.
// The copy is written and fsynced under a temporary name first and linked
// to its name, so a crash never leaves a partial backup; a leftover
// temporary file is one CleanTemps(path, …) removes.
func Backup(path string, data []byte, perm fs.FileMode, now time.Time) (string, error) {
	base := path + ".backup." + now.Format(BackupLayout)
	tmp, err := os.CreateTemp(filepath.Dir(path), tempPrefix(path)+"*")
	if err != nil {
		return "", fmt.Errorf("backup %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(perm)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("backup %s: %w", path, err)
	}
	for i := 1; i <= maxBackupsPerSecond; i++ {
		name := backupName(base, i)
		// link(2) fails if name exists, and does not follow a symlink there.
		err := os.Link(tmp.Name(), name)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			// A file system without hard links: create the name directly.
			return backupInPlace(path, base, data, perm)
		}
		return name, syncDir(filepath.Dir(path))
	}
	return "", fmt.Errorf("backup %s: too many backups named %s*", path, base)
}

func backupName(base string, i int) string {
	if i == 1 {
		return base
	}
	return base + "_" + strconv.Itoa(i)
}

// backupInPlace is Backup for file systems without hard links: it creates
// the backup exclusively, without following a symlink, and writes it in
// place.
func backupInPlace(path, base string, data []byte, perm fs.FileMode) (string, error) {
	for i := 1; i <= maxBackupsPerSecond; i++ {
		name := backupName(base, i)
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|createNoFollow, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("backup %s: %w", path, err)
		}
		err = f.Chmod(perm)
		if err == nil {
			_, err = f.Write(data)
		}
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(name)
			return "", fmt.Errorf("backup %s: %w", path, err)
		}
		return name, nil
	}
	return "", fmt.Errorf("backup %s: too many backups named %s*", path, base)
}
