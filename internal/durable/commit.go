package durable

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"
)

// maxCommitGroup bounds how many files one group commit makes durable.
const maxCommitGroup = 256

// maxDirtyForGroup is how much data, system-wide, may be waiting to be
// written back (Dirty + Writeback in /proc/meminfo) for a group commit to
// go ahead: syncfs must flush all of it on the files' file system. On
// the machine the benchmarks ran on, flushing 12 MB took 11 ms and 200 MB
// 91 ms; a slower disk pays several times that.
const maxDirtyForGroup = 32 << 20

// A group commit may take groupBudgetPerFile per write it carries, and at
// least groupBudgetMin: about what its writes would cost alone (two flushes
// each) on an ordinary SSD. On the machine the benchmarks ran on, a group's
// two syncfs calls took 0.1–3 ms. After slowGroupsToStop group commits in a
// row over budget, syncfs is taken to be flushing other programs' writes (or
// the disk to be slow) and the committer stops grouping for the rest of the
// run. One slow group is not enough: right after a mass delete, one syncfs
// flushing the freed inodes took 29 ms, and the next ones were fast again.
const (
	groupBudgetPerFile = time.Millisecond
	groupBudgetMin     = 25 * time.Millisecond
	slowGroupsToStop   = 3
)

// errCommitAlone tells a waiting write to commit on its own (see commit).
var errCommitAlone = errors.New("durable: commit alone")

// Committer writes files atomically and durably, and lets writes that
// happen at the same time share the cost of making them durable (a group
// commit, as databases do with their logs).
//
// A lone write is exactly WriteFile's: temporary file, fsync, rename, fsync
// of the directory. When several writes are waiting, their temporary files
// (written, not yet synced) are made durable together with one syncfs(2)
// per file system, then renamed over their files, then the renames made
// durable with a second syncfs. Either way no rename happens before the new
// contents are on disk, and no write is reported done before its rename
// is: a crash leaves each file old or new, never partial.
//
// Groups are formed only on file systems whose syncfs is known to flush
// every file's data and metadata and the disk's cache, as fsync of each
// would (ext2/3/4, XFS, Btrfs, F2FS, overlayfs over them, tmpfs): on NFS,
// FUSE and others syncfs may do less, and every write commits alone.
//
// syncfs also flushes whatever else is waiting to be written on that file
// system, which on a busy machine can cost more than it saves. So a group
// is only ever formed from writes that were already waiting for each other
// (a run that writes one file at a time never calls syncfs); when more than
// maxDirtyForGroup is waiting to be written back system-wide, the writes of
// a group each commit alone, in parallel; and once slowGroupsToStop group
// commits in a row have taken longer than their budget (groupBudgetPerFile),
// the committer stops grouping. On systems without syncfs (all but
// Linux), every write takes the lone-write path.
//
// Start one with StartCommitter for a batch of writes (one sync run) and
// end it with Stop. Its WriteFile is safe for concurrent use.
type Committer struct {
	// syncFS makes every write on the file systems of files durable; nil
	// means the platform has no syncfs and every write commits alone.
	syncFS func(files []*os.File) error
	// covers reports whether syncfs on the file systems of files makes
	// them durable as fsync of each would; nil means it does.
	covers func(files []*os.File) bool
	// dirty reports how many bytes are waiting to be written back,
	// system-wide; nil or an error skips the check.
	dirty func() (int64, error)
	// grouping is cleared when group commits prove slower than their
	// writes would have been alone; slowGroups counts the group commits
	// over budget in a row.
	grouping   atomic.Bool
	slowGroups int
	reqs       chan *pendingWrite
	done       chan struct{}
	// groups and grouped count the group commits and the writes they
	// carried, for tests and benchmarks.
	groups, grouped int
}

// pendingWrite is a temporary file written with a file's new contents,
// waiting to be made durable and renamed over it.
type pendingWrite struct {
	f    *os.File
	path string
	done chan error
}

// StartCommitter starts a Committer's goroutine; Stop ends it.
func StartCommitter() *Committer {
	c := &Committer{reqs: make(chan *pendingWrite), done: make(chan struct{})}
	if haveSyncFS {
		c.syncFS, c.covers, c.dirty = syncFileSystems, syncfsCovers, dirtyBytes
		c.grouping.Store(true)
	}
	go c.loop()
	return c
}

// Stop ends the committer once no write is waiting; call it after the last
// WriteFile has returned.
func (c *Committer) Stop() {
	close(c.reqs)
	<-c.done
}

// WriteFile replaces path with data, with permissions perm whatever the
// umask, and returns once the new file is durable (see Committer).
func (c *Committer) WriteFile(path string, data []byte, perm fs.FileMode) error {
	if c == nil || c.syncFS == nil || !c.grouping.Load() {
		return WriteFile(path, data, perm)
	}
	w, err := newPendingWrite(path, data, perm)
	if err != nil {
		return err
	}
	c.reqs <- w
	return w.await()
}

// await returns how w's commit ended, committing it alone first if the
// committer said so.
func (w *pendingWrite) await() error {
	err := <-w.done
	if err == errCommitAlone {
		return w.commitAlone()
	}
	return err
}

// newPendingWrite writes data to a new temporary file next to path, with
// permissions perm, not yet synced. Its name is one CleanTemps recognises,
// should a crash leave it behind.
func newPendingWrite(path string, data []byte, perm fs.FileMode) (*pendingWrite, error) {
	f, err := os.CreateTemp(filepath.Dir(path), tempPrefix(path)+"*")
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	w := &pendingWrite{f: f, path: path, done: make(chan error, 1)}
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err != nil {
		w.discard()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return w, nil
}

// loop commits writes as they come: each time it takes every write already
// waiting (at most maxCommitGroup), so writes that arrive during a commit
// form the next group.
func (c *Committer) loop() {
	defer close(c.done)
	for w := range c.reqs {
		group := []*pendingWrite{w}
	gather:
		for len(group) < maxCommitGroup {
			select {
			case w, ok := <-c.reqs:
				if !ok {
					break gather
				}
				group = append(group, w)
			default:
				break gather
			}
		}
		c.commit(group)
	}
}

// commit makes group durable and tells each write how it ended.
func (c *Committer) commit(group []*pendingWrite) {
	if len(group) == 1 {
		w := group[0]
		w.done <- w.commitAlone()
		return
	}
	files := make([]*os.File, len(group))
	for i, w := range group {
		files[i] = w.f
	}
	if !c.groupable(files) {
		for _, w := range group {
			w.done <- errCommitAlone
		}
		return
	}
	start := time.Now()
	defer func() {
		if time.Since(start) <= max(groupBudgetMin, time.Duration(len(group))*groupBudgetPerFile) {
			c.slowGroups = 0
			return
		}
		if c.slowGroups++; c.slowGroups >= slowGroupsToStop {
			c.grouping.Store(false)
		}
	}()
	c.groups++
	c.grouped += len(group)
	if err := c.syncFS(files); err != nil {
		for _, w := range group {
			w.discard()
			w.done <- fmt.Errorf("write %s: %w", w.path, err)
		}
		return
	}
	renamed := group[:0:0]
	for _, w := range group {
		if err := rename(w.f.Name(), w.path); err != nil {
			w.discard()
			w.done <- fmt.Errorf("write %s: %w", w.path, err)
			continue
		}
		renamed = append(renamed, w)
	}
	var err error
	if len(renamed) > 0 {
		files = files[:0]
		for _, w := range renamed {
			files = append(files, w.f) // still open, now under its file's name
		}
		err = c.syncFS(files)
	}
	for _, w := range renamed {
		_ = w.f.Close()
		if err != nil {
			w.done <- fmt.Errorf("sync %s: %w", filepath.Dir(w.path), err)
			continue
		}
		w.done <- nil
	}
}

// groupable reports whether files may commit as a group: every one of them
// is on a file system whose syncfs is known to do what fsync of each would
// (covers), and not too much else is waiting to be written back (dirty).
func (c *Committer) groupable(files []*os.File) bool {
	if c.covers != nil && !c.covers(files) {
		return false
	}
	if c.dirty != nil {
		if d, err := c.dirty(); err == nil && d > maxDirtyForGroup {
			return false
		}
	}
	return true
}

// commitAlone is WriteFile's sequence for a write that waits for no other:
// fsync, rename, fsync of the directory.
func (w *pendingWrite) commitAlone() error {
	if err := w.f.Sync(); err != nil {
		w.discard()
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	if err := w.f.Close(); err != nil {
		_ = os.Remove(w.f.Name())
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	if err := rename(w.f.Name(), w.path); err != nil {
		_ = os.Remove(w.f.Name())
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	return syncDir(filepath.Dir(w.path))
}

// discard closes and removes the temporary file.
func (w *pendingWrite) discard() {
	_ = w.f.Close()
	_ = os.Remove(w.f.Name())
}

// parseDirty sums the Dirty and Writeback lines of /proc/meminfo ("Dirty:
// 9740 kB"), in bytes.
func parseDirty(meminfo []byte) (int64, error) {
	var total int64
	found := 0
	for line := range bytes.Lines(meminfo) {
		name, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok || (string(name) != "Dirty" && string(name) != "Writeback") {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) != 2 || string(fields[1]) != "kB" {
			return 0, fmt.Errorf("meminfo: unexpected %s line", name)
		}
		kb, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("meminfo: %s: %w", name, err)
		}
		total += kb << 10
		found++
	}
	if found != 2 {
		return 0, errors.New("meminfo: no Dirty and Writeback lines")
	}
	return total, nil
}
