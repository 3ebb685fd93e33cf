package durable

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// lockPoll is how often a waiting Lock retries the cross-process lock.
const lockPoll = 10 * time.Millisecond

// Locks serialises the writers of each directory: a mutex inside the
// process and, across processes, an advisory lock (flock(2)) on the
// directory itself, so no lock file is left behind — except on Windows,
// where the lock is held on the file .envdrift.lock inside the directory.
// The zero value is ready to use; a Locks must not be copied after first
// use.
type Locks struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// Lock waits until dir is locked, or ctx is done, and returns the function
// that unlocks it.
func (l *Locks) Lock(ctx context.Context, dir string) (unlock func(), err error) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*sync.Mutex{}
	}
	m, ok := l.locks[dir]
	if !ok {
		m = &sync.Mutex{}
		l.locks[dir] = m
	}
	l.mu.Unlock()
	m.Lock()
	fl := dirLock(dir)
	locked, err := fl.TryLockContext(ctx, lockPoll)
	if err != nil || !locked {
		m.Unlock()
		if err == nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() {
		_ = fl.Unlock()
		m.Unlock()
	}, nil
}
