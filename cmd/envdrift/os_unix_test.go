//go:build !windows

package main

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// mkfifo makes a FIFO at path.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	require.NoError(t, syscall.Mkfifo(path, 0o600))
}

// setUmask sets the process's umask and returns the previous one.
func setUmask(_ *testing.T, mask int) int { return syscall.Umask(mask) }
