//go:build !linux

package durable

import (
	"errors"
	"os"
)

// haveSyncFS reports whether this platform has syncfs(2); without it every
// write commits alone, with fsync.
const haveSyncFS = false

func syncFileSystems([]*os.File) error { return errors.ErrUnsupported }

func dirtyBytes() (int64, error) { return 0, errors.ErrUnsupported }

func syncfsCovers([]*os.File) bool { return false }
