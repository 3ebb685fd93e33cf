//go:build unix

package main

import (
	"context"
	"fmt"
	"syscall"
)

// execCommand replaces envdrift with the command, so that signals, the
// exit code and PID 1 behaviour are the command's own.
func execCommand(_ context.Context, _ stdio, bin string, args, env []string) error {
	if err := syscall.Exec(bin, args, env); err != nil {
		return &exitError{code: exitFail, err: fmt.Errorf("cannot start %s: %w", args[0], err)}
	}
	return nil // unreachable: Exec does not return on success
}
