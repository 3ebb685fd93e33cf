package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/envdrift/envdrift"
)

// runCmd is `envdrift run`: start a command with its env files decrypted,
// the keys fetched from the vault into memory and never written.
type runCmd struct {
	VaultFlags

	Files    []string `short:"f" name:"env-file" placeholder:"ENV_FILE" help:"Env file to load, as dotenvx run -f (repeatable; the first to set a variable wins, the last with --overload). Each must be named by a mapping of the configuration: its key comes from that mapping's secret. Default: the one env file of the current directory's mapping."`
	Overload bool     `help:"Let the env files' values win over variables already set in the environment."`
	Strict   bool     `help:"Accepted for dotenvx compatibility: envdrift run is always strict — a missing env file, key or value stops it before the command starts."`
	Command  []string `arg:"" passthrough:"" placeholder:"-- COMMAND [ARGS...]" help:"The command to run, after --."`
}

// Help is the text `envdrift run --help` shows below the flags.
func (c *runCmd) Help() string {
	return `Fetches each env file's key from the vault into memory, checks that it pairs
with the file's DOTENV_PUBLIC_KEY*, decrypts and expands the values as
dotenvx run does, and replaces itself with the command (on Unix; elsewhere it
runs the command, forwards signals and exits with its code). No key is read
from or written to disk, and DOTENV_PRIVATE_KEY* never reaches the command.
$(command) substitutions are never run: such a value is passed as written,
with a warning. Nothing starts with a partial environment.

Examples:
  envdrift run -- ./server                    # the current directory's mapping
  envdrift run -f services/web/.env.staging -- npm start
  envdrift run --overload -f .env.production -- env

Exit codes: the command's own; 1 when envdrift could not start it (vault,
key, pairing or decryption error); 2 for a usage error; 127 when the command
is not found.`
}

// Validate checks that there is a command.
func (c *runCmd) Validate() error {
	if len(c.Command) == 0 || (len(c.Command) == 1 && c.Command[0] == "--") {
		return errors.New("no command given: envdrift run [flags] -- COMMAND [ARGS...]")
	}
	return nil
}

// Run loads the environment and starts the command; on Unix it does not
// return when the command starts.
func (c *runCmd) Run(ctx context.Context, std stdio) error {
	args := c.Command
	if args[0] == "--" {
		args = args[1:]
	}
	if st, err := os.Stat(c.Config); c.Config != "" && err == nil && st.IsDir() {
		return &exitError{code: exitFail, err: errIsDir{c.Config}}
	}
	wd, err := os.Getwd()
	if err != nil {
		return &exitError{code: exitFail, err: err}
	}
	vars, err := envdrift.LoadEnv(ctx, c.Config, wd, envdrift.LoadOption{
		Files:     c.Files,
		Overload:  c.Overload,
		Provider:  c.Provider,
		Overrides: c.overrides(),
		Profile:   c.Profile,
		Warn:      func(msg string) { fmt.Fprintf(std.err, "warning: %s\n", msg) },
	})
	if err != nil {
		code := exitFail
		switch {
		case errors.Is(err, envdrift.ErrNoMappings) && strings.Contains(err.Error(), "several env files"):
			code = exitUsage
		case errors.Is(err, envdrift.ErrNoConfig):
			err = fmt.Errorf("%w; pass -c FILE", err)
		}
		return &exitError{code: code, err: fmt.Errorf("%s; %s was not started", cliText(err.Error()), args[0])}
	}
	bin, err := exec.LookPath(args[0])
	if err != nil {
		return &exitError{code: exitNotFound, err: fmt.Errorf("%s: command not found", args[0])}
	}
	return execCommand(ctx, std, bin, args, childEnv(os.Environ(), vars))
}

// exitNotFound is the exit code for a command that cannot be found, as
// shells use it.
const exitNotFound = 127

// childEnv is the command's environment: env with vars applied (vars already
// holds the environment's value where the environment wins), and no
// DOTENV_PRIVATE_KEY* variable.
func childEnv(env []string, vars map[string]string) []string {
	out := make([]string, 0, len(env)+len(vars))
	seen := map[string]bool{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "DOTENV_PRIVATE_KEY") {
			continue
		}
		if v, ok := vars[k]; ok {
			kv = k + "=" + v
		}
		seen[k] = true
		out = append(out, kv)
	}
	for k, v := range vars {
		if !seen[k] && !strings.HasPrefix(k, "DOTENV_PRIVATE_KEY") {
			out = append(out, k+"="+v)
		}
	}
	return out
}
