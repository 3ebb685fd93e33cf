//go:build !unix

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
)

// execCommand runs the command as a child (the platform has no exec(2)),
// forwards every signal envdrift receives to it, and exits with its code.
func execCommand(ctx context.Context, std stdio, bin string, args, env []string) error {
	cmd := exec.Command(bin, args[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = std.in, std.out, std.err
	if err := cmd.Start(); err != nil {
		return &exitError{code: exitFail, err: fmt.Errorf("cannot start %s: %w", args[0], err)}
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs)
	defer signal.Stop(sigs)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			_ = cmd.Process.Signal(s)
		case err := <-done:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return &exitError{code: ee.ExitCode()}
			}
			if err != nil {
				return &exitError{code: exitFail, err: err}
			}
			return nil
		}
	}
}
