package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/envdrift/envdrift"
	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/schema"
)

// syncCmd is `envdrift sync`. Its flags are the contract in the sync
// command's documentation; see the README.
type syncCmd struct {
	Config    string `short:"c" placeholder:"FILE" help:"Sync configuration (envdrift.toml, pyproject.toml with [tool.envdrift], or a legacy pair.txt). Found by walking up from the current directory when omitted."`
	Provider  string `short:"p" enum:"azure,aws,hashicorp,gcp,file," default:"" placeholder:"NAME" help:"Vault provider: azure, aws, hashicorp, gcp or file. Overrides [vault] provider; required for pair.txt."`
	VaultURL  string `name:"vault-url" placeholder:"URL" help:"Vault URL of the default provider (Azure Key Vault URL, HashiCorp Vault address, or a directory for the file provider)."`
	Region    string `placeholder:"REGION" help:"AWS region for Secrets Manager (default: config, AWS_REGION, else us-east-1)."`
	ProjectID string `name:"project-id" placeholder:"ID" help:"GCP project ID for Secret Manager."`
	Token     string `placeholder:"TOKEN" help:"HashiCorp Vault token. Prefer VAULT_TOKEN: a token on the command line is visible to other users of this machine."`

	Verify          bool   `help:"Check only: report differences without modifying files. Exit 1 on any difference."`
	Force           bool   `short:"f" help:"Replace mismatched local keys without prompting (a backup is kept)."`
	CheckDecryption bool   `name:"check-decryption" help:"After syncing, check that each folder's key decrypts its env file."`
	Decrypter       string `enum:"native,dotenvx" default:"native" help:"How --check-decryption decrypts: native (built in, no Node.js) or dotenvx (runs the dotenvx CLI on a temporary copy)."`
	ValidateSchema  bool   `name:"validate-schema" help:"After syncing, validate each env file against its JSON Schema."`
	Schema          string `short:"s" placeholder:"PATH" help:"JSON Schema for --validate-schema, for mappings without a schema of their own (replaces [vault.sync] schema)."`
	ServiceDir      string `name:"service-dir" short:"d" placeholder:"DIR" help:"Directory searched first for relative schema paths (then the mapping's folder, then the config's directory)."`
	CI              bool   `name:"ci" help:"CI mode: never prompt, no progress display, plain output; exit 1 on any error."`

	Profile     string        `placeholder:"NAME" help:"Also sync mappings with this profile (mappings without a profile always sync)."`
	Output      string        `short:"o" enum:"text,json" default:"text" help:"Output format: text or json."`
	Concurrency int           `placeholder:"N" default:"0" help:"Fetches in flight at once (default: [vault.sync] max_workers, else 16)."`
	Timeout     time.Duration `default:"30s" help:"Time limit for each vault request."`
}

// Run runs the sync and maps its result to an exit code.
func (c *syncCmd) Run(ctx context.Context, std stdio) error {
	if c.Verify && c.Force {
		return usageErr("--verify and --force cannot be used together")
	}
	if c.Concurrency < 0 || c.Concurrency > envdrift.MaxConcurrency {
		return usageErr("--concurrency must be between 1 and %d", envdrift.MaxConcurrency)
	}
	if c.Timeout <= 0 {
		return usageErr("--timeout must be positive")
	}
	if (c.Schema != "" || c.ServiceDir != "") && !c.ValidateSchema {
		return usageErr("--schema and --service-dir need --validate-schema")
	}

	cfg, err := c.loadConfig()
	if err != nil {
		return &exitError{code: exitFail, err: err}
	}

	ui := newUI(std, c.Output == "json", c.CI)
	for _, w := range cfg.Warnings {
		ui.warn(w.String())
	}
	opts := envdrift.Options{
		Provider: c.Provider,
		Overrides: provider.Options{
			URL: c.VaultURL, Region: c.Region, ProjectID: c.ProjectID, Token: c.Token, Timeout: c.Timeout,
		},
		Verify:      c.Verify,
		Force:       c.Force,
		Profile:     c.Profile,
		Concurrency: c.Concurrency,
		Reporter:    ui.reporter(cfg, c.Verify),
	}
	if c.ValidateSchema {
		opts.Schema = &schema.Validator{}
		opts.SchemaPath = c.Schema
		if c.ServiceDir != "" {
			if opts.ServiceDir, err = filepath.Abs(c.ServiceDir); err != nil {
				return usageErr("--service-dir: %v", err)
			}
			if st, err := os.Stat(opts.ServiceDir); err != nil || !st.IsDir() {
				return usageErr("--service-dir %s is not a directory", c.ServiceDir)
			}
		}
	}
	if c.CheckDecryption {
		opts.Decrypter = envdrift.NativeDecrypter{}
		if c.Decrypter == "dotenvx" {
			opts.Decrypter = envdrift.DotenvxCLI{Timeout: max(c.Timeout, time.Minute)}
		}
	}
	if std.inTTY && !c.CI && !c.Verify && !c.Force && c.Output != "json" {
		opts.Prompter = ui.prompter()
	}
	s, err := envdrift.New(cfg, opts)
	if err != nil {
		return &exitError{code: exitFail, err: err}
	}
	if c.ValidateSchema && c.Schema == "" && cfg.Schema == "" && !anySchema(s.Mappings()) {
		return usageErr("--validate-schema needs a schema: pass --schema PATH, or set schema in [vault.sync] or in a mapping")
	}
	if c.Schema != "" {
		for _, m := range s.Mappings() {
			if m.Schema != "" {
				ui.warn(fmt.Sprintf("--schema does not apply to %s, whose mapping names its own schema (%s)", m.FolderPath, m.Schema))
			}
		}
	}
	res, err := s.Sync(ctx)
	if err != nil {
		return &exitError{code: exitFail, err: err}
	}
	if !res.OK() {
		return &exitError{code: exitFail}
	}
	return nil
}

// loadConfig loads -c FILE, or discovers a configuration from the working
// directory.
func (c *syncCmd) loadConfig() (*envdrift.Config, error) {
	path := c.Config
	if path == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		path, err = envdrift.Discover(wd)
		if err != nil {
			return nil, fmt.Errorf("%w; pass -c FILE", err)
		}
		if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
			path = rel
		}
	}
	return envdrift.Load(path)
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
