package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/envdrift/envdrift"
	"github.com/envdrift/envdrift/dotenvxcli"
	"github.com/envdrift/envdrift/internal/schemahelper"
)

// syncCmd is `envdrift sync`. Its flags are the contract in the sync
// command's documentation; see the README.
type syncCmd struct {
	VaultFlags
	OutputFlags

	Verify          bool   `xor:"mode" help:"Check only: report differences without modifying files. Exit 1 on any difference."`
	Force           bool   `short:"f" xor:"mode" help:"Replace mismatched local keys without prompting (a backup is kept)."`
	CheckDecryption bool   `name:"check-decryption" help:"After syncing, check that each folder's key decrypts its env file."`
	Decrypter       string `enum:"native,dotenvx" default:"native" help:"How --check-decryption decrypts: native (built in, no Node.js) or dotenvx (runs the dotenvx CLI on a temporary copy)."`
	ValidateSchema  bool   `name:"validate-schema" help:"After syncing, validate each env file against its JSON Schema (the check runs in envdrift-schema, installed beside envdrift)."`
	Schema          string `short:"s" placeholder:"PATH" help:"JSON Schema for --validate-schema, for mappings without a schema of their own (replaces [vault.sync] schema)."`
	ServiceDir      string `name:"service-dir" short:"d" placeholder:"DIR" help:"Directory searched first for relative schema paths (then the mapping's folder, then the config's directory)."`
	CI              bool   `name:"ci" help:"CI mode: never prompt, no progress display, plain output; exit 1 on any error."`
}

// Help is the text `envdrift sync --help` shows below the flags.
func (c *syncCmd) Help() string {
	return `Examples:
  envdrift sync                              # config found by walking up from here
  envdrift sync -c envdrift.toml --verify --ci
  envdrift sync --force --check-decryption
  envdrift sync -c pair.txt -p azure --vault-url https://myvault.vault.azure.net/

` + exitCodes
}

// Validate checks what kong's tags cannot express.
func (c *syncCmd) Validate() error {
	if (c.Schema != "" || c.ServiceDir != "") && !c.ValidateSchema {
		return errors.New("--schema and --service-dir need --validate-schema")
	}
	if c.ServiceDir != "" {
		if st, err := os.Stat(c.ServiceDir); err != nil || !st.IsDir() {
			return fmt.Errorf("--service-dir %s is not a directory", c.ServiceDir)
		}
	}
	return nil
}

// Run runs the sync and maps its result to an exit code.
func (c *syncCmd) Run(ctx context.Context, std stdio) error {
	mode := "sync"
	if c.Verify {
		mode = "verify"
	}
	ui := newUI(std, c.OutputFlags, c.CI, mode)
	cfg, path, err := c.load()
	if err != nil {
		return ui.failed(path, err)
	}
	ui.configWarnings(cfg.Warnings)
	opts, err := c.options(ui, std)
	if err != nil {
		return err
	}
	mine := selected(cfg.Mappings, c.Profile)
	if c.ValidateSchema {
		if c.Schema == "" && cfg.Schema == "" && !anySchema(mine) {
			return usageErr("--validate-schema needs a schema: pass --schema PATH, or set schema in [vault.sync] or in a mapping")
		}
		// The check runs in envdrift-schema (internal/schemahelper says
		// why); a missing helper stops the run before anything is synced.
		helper, err := schemahelper.Find()
		if err != nil {
			return ui.failed(path, err)
		}
		client := &schemahelper.Client{Path: helper}
		defer client.Close()
		opts.Schema = client
	}
	s, err := envdrift.New(cfg, opts)
	if err != nil {
		return ui.failed(path, err)
	}
	if c.Schema != "" {
		for _, m := range mine {
			if m.Schema != "" {
				ui.warn(fmt.Sprintf("--schema does not apply to %s, whose mapping names its own schema (%s)", m.FolderPath, m.Schema))
			}
		}
	}
	ui.config = path
	ui.setMappings(cfg.Mappings, c.Profile)
	res, err := s.Sync(ctx)
	return ui.finish(ctx, res, err)
}

// options translates the flags into envdrift.Options.
func (c *syncCmd) options(ui *ui, std stdio) (envdrift.Options, error) {
	opts := envdrift.Options{
		Provider:    c.Provider,
		Overrides:   c.overrides(),
		Verify:      c.Verify,
		Force:       c.Force,
		Profile:     c.Profile,
		Concurrency: c.Concurrency,
		Reporter:    ui.reporter(),
	}
	if c.ValidateSchema {
		opts.SchemaPath = c.Schema
		if c.ServiceDir != "" {
			dir, err := filepath.Abs(c.ServiceDir)
			if err != nil {
				return opts, usageErr("--service-dir: %v", err)
			}
			opts.ServiceDir = dir
		}
	}
	if c.CheckDecryption {
		opts.Decrypter = envdrift.NativeDecrypter{}
		if c.Decrypter == "dotenvx" {
			opts.Decrypter = dotenvxcli.Decrypter{Timeout: max(c.Timeout, time.Minute)}
		}
	}
	if std.inTTY && !c.CI && !c.Verify && !c.Force && c.Output != "json" {
		opts.Prompter = ui.prompter()
	}
	return opts, nil
}

// selected are the mappings a run with profile covers: those without a
// profile and those with this one (envdrift.Options.Profile's rule).
func selected(ms []envdrift.Mapping, profile string) []envdrift.Mapping {
	var out []envdrift.Mapping
	for _, m := range ms {
		if m.Profile == "" || m.Profile == profile {
			out = append(out, m)
		}
	}
	return out
}

// anySchema reports whether any of the mappings names its own schema.
func anySchema(ms []envdrift.Mapping) bool {
	for _, m := range ms {
		if m.Schema != "" {
			return true
		}
	}
	return false
}
