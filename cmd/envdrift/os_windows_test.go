package main

import "testing"

// mkfifo skips the test: Windows has no FIFOs in the file system.
func mkfifo(t *testing.T, _ string) {
	t.Helper()
	t.Skip("no FIFOs on Windows")
}

// setUmask skips the test: Windows has no umask (access is by ACL).
func setUmask(t *testing.T, _ int) int {
	t.Helper()
	t.Skip("no umask on Windows")
	return 0
}
