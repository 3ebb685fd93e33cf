// Command envdrift keeps dotenvx private keys in local .env.keys files in
// step with the cloud vault that owns them.
//
//	envdrift sync [-c envdrift.toml] [--verify | --force] [--check-decryption] [--ci]
//
// Exit codes: 0 when every mapping synced and every requested check passed;
// 1 when any mapping failed, a check failed, or the configuration is invalid;
// 2 for command-line usage errors.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/envdrift/envdrift"
	// The CLI links every provider; library users import only the ones they use.
	_ "github.com/envdrift/envdrift/provider/all"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// exitError carries an exit code out of a command's Run method.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// cli is the command line.
type cli struct {
	Version kong.VersionFlag `help:"Print the version and exit."`
	Sync    syncCmd          `cmd:"" help:"Sync encryption keys from cloud vaults to local .env.keys files."`
	Schema  schemaCmd        `cmd:"" help:"Write JSON Schemas for --validate-schema."`
}

// stdio is what a command reads and writes; tests substitute it.
type stdio struct {
	in       io.Reader
	out, err io.Writer
	// inTTY and errTTY say whether stdin and stderr are terminals.
	inTTY, outTTY, errTTY bool
	getenv                func(string) string
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], newStdio())
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, std stdio) (code int) {
	defer func() {
		// A panic (a bug here or in a library) is reported without its
		// value, which may hold a key or a token, and exits 1.
		if v := recover(); v != nil {
			fmt.Fprintf(std.err, "envdrift: %v\n", envdrift.NewPanicError("envdrift", v))
			code = exitFail
		}
	}()
	var c cli
	parser, err := kong.New(&c,
		kong.Name("envdrift"),
		kong.Description("Keep dotenvx private keys in .env.keys files in step with your cloud vault."),
		kong.Vars{"version": "envdrift " + version()},
		kong.Writers(std.out, std.err),
		kong.UsageOnError(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
	if err != nil {
		fmt.Fprintf(std.err, "envdrift: %v\n", err)
		return exitFail
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintf(std.err, "envdrift: %v\n", err)
		return exitUsage
	}
	kctx.BindTo(ctx, (*context.Context)(nil))
	err = kctx.Run(std)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintf(std.err, "envdrift: %v\n", ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(std.err, "envdrift: %v\n", err)
	return exitFail
}
