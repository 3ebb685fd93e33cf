//go:build !linux

package envdrift

import (
	"errors"
	"os"
)

// haveSyncFS reports whether this platform has syncfs(2); without it every
// keys file write commits alone, with fsync.
const haveSyncFS = false

func syncFileSystems([]*os.File) error { return errors.ErrUnsupported }

func dirtyBytes() (int64, error) { return 0, errors.ErrUnsupported }

func syncfsCovers([]*os.File) bool { return false }
