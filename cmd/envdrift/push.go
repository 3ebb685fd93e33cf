package main

import (
	"context"

	"github.com/envdrift/envdrift"
)

// pushCmd is `envdrift push`: publish local keys to the vault.
type pushCmd struct {
	VaultFlags
	OutputFlags

	Update  bool     `help:"Replace a secret that holds another key when it is safe: the vault's key no longer pairs with the env file (a rotation), or the secret carries envdrift's marker."`
	DryRun  bool     `name:"dry-run" help:"Show what would be created or updated, and why, without writing anything."`
	Folders []string `arg:"" optional:"" name:"folder" placeholder:"FOLDER" help:"Push only these folders' mappings (as the configuration writes them, or a path to the same folder)."`
}

// Help is the text `envdrift push --help` shows below the flags.
func (c *pushCmd) Help() string {
	return `Publishes each mapping's key from the folder's .env.keys to its vault
secret: create-only by default, never a key that does not pair with the env
file, never a silent overwrite, never a delete.

The workflow: dotenvx encrypt -f .env.production, then envdrift push, then
every teammate runs envdrift sync.

Examples:
  envdrift push --dry-run                    # what would be published
  envdrift push services/api                 # only this folder's mappings
  envdrift push --update                     # after dotenvx rotate

` + exitCodes
}

// Run pushes and maps the result to an exit code.
func (c *pushCmd) Run(ctx context.Context, std stdio) error {
	mode := "push"
	if c.DryRun {
		mode = "dry-run"
	}
	ui := newUI(std, c.OutputFlags, false, mode)
	cfg, path, err := c.load()
	if err != nil {
		return ui.failed(path, err)
	}
	ui.configWarnings(cfg.Warnings)
	s, err := envdrift.New(cfg, envdrift.Options{
		Provider:    c.Provider,
		Overrides:   c.overrides(),
		Profile:     c.Profile,
		Folders:     c.Folders,
		Concurrency: c.Concurrency,
		Update:      c.Update,
		DryRun:      c.DryRun,
		Reporter:    ui.reporter(),
	})
	if err != nil {
		return ui.failed(path, err)
	}
	ui.config = path
	ui.setMappings(cfg.Mappings, c.Profile)
	res, err := s.Push(ctx)
	return ui.finish(ctx, res, err)
}
