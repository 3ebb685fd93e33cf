// Command envdrift keeps dotenvx private keys in local .env.keys files in
// step with the cloud vault that owns them.
//
//	envdrift sync [-c envdrift.toml] [--verify | --force] [--check-decryption] [--ci]
//
// It is a thin layer over the envdrift library: it parses flags into
// envdrift.Options, prints the rows and summary, and turns the result into
// an exit code (see exitCodes).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"
	kongcompletion "github.com/jotaen/kong-completion"

	"github.com/envdrift/envdrift/internal/panics"
	"github.com/envdrift/envdrift/provider"
	// The CLI links every provider; library users import only the ones they use.
	_ "github.com/envdrift/envdrift/provider/all"
)

// Exit codes. The README's table lists the situations behind each.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
	// A run stopped by a signal exits 128 + the signal's number, as shells
	// report it: 130 for Ctrl-C (SIGINT), 143 for SIGTERM.
	exitSignal = 128
)

// exitCodes is the table `envdrift --help` prints.
const exitCodes = `Exit codes:
  0    every mapping created, updated, in sync or ephemeral, or left alone (no env
       file, or you declined the prompt), and every check passed
  1    any error row, a failed check, no configuration or an invalid one, or
       nothing selected
  2    command-line usage error (unknown flag, bad value, conflicting flags)
  130  interrupted (Ctrl-C); 143 for SIGTERM`

// examples is what `envdrift --help` (and `envdrift` alone) shows first.
const examples = `Examples:
  envdrift sync                    # keys from the vault into .env.keys (config found from here up)
  envdrift sync --verify --ci      # in CI: check only, never prompt, exit 1 on any difference
  envdrift push --dry-run          # what would be published to the vault
  envdrift completion bash         # set up tab completion (bash, zsh or fish)`

// exitError carries an exit code out of a command's Run method. kong's
// ExitCoder convention: main asks any error for an ExitCode() int.
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

// ExitCode is the process exit code the error asks for.
func (e *exitError) ExitCode() int { return e.code }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// cli is the command line.
type cli struct {
	VersionFlag kong.VersionFlag `name:"version" help:"Print the version and exit."`

	Sync       syncCmd                   `cmd:"" help:"Sync encryption keys from cloud vaults to local .env.keys files."`
	Push       pushCmd                   `cmd:"" help:"Publish local keys from .env.keys files to their vault secrets, safely."`
	Run        runCmd                    `cmd:"" help:"Run a command with its env files decrypted; the keys stay in memory."`
	Schema     schemaCmd                 `cmd:"" help:"Write JSON Schemas for --validate-schema."`
	Version    versionCmd                `cmd:"" help:"Print the version."`
	Completion kongcompletion.Completion `cmd:"" help:"Set up shell completion (bash, zsh or fish)."`
}

// versionCmd is `envdrift version`.
type versionCmd struct{}

// Run prints the version.
func (versionCmd) Run(std stdio) error {
	fmt.Fprintln(std.out, "envdrift "+version())
	return nil
}

// stdio is what a command reads and writes; tests substitute it.
type stdio struct {
	in       io.Reader
	out, err io.Writer
	// inTTY, outTTY and errTTY say whether stdin, stdout and stderr are
	// terminals.
	inTTY, outTTY, errTTY bool
	getenv                func(string) string
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// interrupted is the cause of a run's context when a signal stopped it.
type interrupted struct{ sig syscall.Signal }

func (i interrupted) Error() string { return "interrupted by " + i.sig.String() }

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		s, _ := sig.(syscall.Signal)
		cancel(interrupted{s})
		// A second signal stops at once.
		<-sigs
		os.Exit(exitSignal + int(s))
	}()
	code := run(ctx, os.Args[1:], newStdio())
	os.Exit(code)
}

func run(ctx context.Context, args []string, std stdio) (code int) {
	defer func() {
		v := recover()
		switch k, ok := v.(kongExit); {
		case v == nil:
		case ok:
			// --help, --version and the completion helper exit through kong.
			code = int(k)
		default:
			// A panic (a bug here or in a library) is reported without its
			// value, which may hold a key or a token, and exits 1.
			fmt.Fprintf(std.err, "envdrift: internal error: envdrift panicked (a %T at %s); the panic value is not shown because it may hold secrets; please report this\n",
				v, panics.Location())
			code = exitFail
		}
	}()
	var c cli
	parser, err := kong.New(&c,
		kong.Name("envdrift"),
		kong.Description("Keep dotenvx private keys in .env.keys files in step with your cloud vault.\n\n"+examples+"\n\n"+exitCodes),
		kong.Vars{
			"version": "envdrift " + version(),
			// The enum of --provider: the names and "" (no flag given).
			"providers":    strings.Join(provider.Default().Names(), ",") + ",",
			"providerList": strings.Join(provider.Default().Names(), ", "),
		},
		kong.Writers(std.out, std.err),
		kong.UsageOnError(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Exit(func(code int) { panic(kongExit(code)) }),
	)
	if err != nil {
		fmt.Fprintf(std.err, "envdrift: %v\n", err)
		return exitFail
	}
	if std.getenv("COMP_LINE") != "" {
		// The shell asks for completions (see `envdrift completion`).
		kongcompletion.Register(parser, completionPredictors()...)
	}
	if len(args) == 0 {
		// No command: show what there is, as --help does, successfully.
		args = []string{"--help"}
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintf(std.err, "envdrift: %v\n", err)
		return exitUsage
	}
	kctx.BindTo(ctx, (*context.Context)(nil))
	err = kctx.Run(std)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, new(interface{ ExitCode() int })):
		var ec interface{ ExitCode() int }
		errors.As(err, &ec)
		if msg := err.Error(); msg != "" && !strings.HasPrefix(msg, "exit status ") {
			fmt.Fprintf(std.err, "envdrift: %s\n", cliText(msg))
		}
		return ec.ExitCode()
	}
	fmt.Fprintf(std.err, "envdrift: %s\n", cliText(err.Error()))
	return exitFail
}

// kongExit carries kong's exit code out of a parse that printed help.
type kongExit int
