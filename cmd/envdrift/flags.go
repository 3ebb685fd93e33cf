package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	kongcompletion "github.com/jotaen/kong-completion"
	"github.com/posener/complete"

	"github.com/envdrift/envdrift"
	"github.com/envdrift/envdrift/provider"
)

// maxConcurrency is the library's limit on requests in flight.
const maxConcurrency = 256

// VaultFlags are the flags of every command that talks to a vault: which
// configuration, which provider and vault, and how long to wait.
type VaultFlags struct {
	Config    string `short:"c" placeholder:"FILE" predictor:"config" help:"Configuration (envdrift.toml, pyproject.toml with [tool.envdrift], or a legacy pair.txt). Found by walking up from the current directory when omitted."`
	Provider  string `short:"p" enum:"${providers}" default:"" placeholder:"NAME" predictor:"provider" help:"Vault provider: ${providerList}. Overrides [vault] provider; required for pair.txt."`
	VaultURL  string `name:"vault-url" placeholder:"URL" help:"Vault of the default provider: Azure Key Vault URL, HashiCorp Vault address, or a directory for the file provider. Wins over default_vault_name for mappings that name no vault."`
	Region    string `placeholder:"REGION" help:"AWS region (default: config, AWS_REGION, else us-east-1). Wins over default_vault_name for AWS mappings that name no vault."`
	ProjectID string `name:"project-id" placeholder:"ID" help:"GCP project. Wins over default_vault_name for GCP mappings that name no vault."`
	Token     string `placeholder:"TOKEN" help:"HashiCorp Vault token. Prefer VAULT_TOKEN: a token on the command line is visible to other users of this machine."`
	Profile   string `placeholder:"NAME" predictor:"profile" help:"Also use mappings with this profile (mappings without a profile are always used)."`

	Concurrency int           `placeholder:"N" default:"0" help:"Requests in flight at once, 1-256 (default: [vault.sync] max_workers, else 16)."`
	Timeout     time.Duration `default:"30s" help:"Time limit for each vault request."`
}

// Validate checks the flags' ranges (kong calls it while parsing).
func (f *VaultFlags) Validate() error {
	if f.Concurrency < 0 || f.Concurrency > maxConcurrency {
		return fmt.Errorf("--concurrency must be between 1 and %d", maxConcurrency)
	}
	if f.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive")
	}
	return nil
}

// overrides are the provider options the flags set.
func (f *VaultFlags) overrides() provider.Options {
	return provider.Options{URL: f.VaultURL, Region: f.Region, ProjectID: f.ProjectID, Token: f.Token, Timeout: f.Timeout}
}

// errIsDir is the error for -c naming a directory.
type errIsDir struct{ path string }

func (e errIsDir) Error() string {
	return fmt.Sprintf("-c %s is a directory: give the configuration file (such as %s)", e.path, filepath.Join(e.path, "envdrift.toml"))
}

// load loads -c FILE, or the configuration found by walking up from the
// working directory, and returns it with the path it names it by.
func (f *VaultFlags) load() (*envdrift.Config, string, error) {
	if st, err := os.Stat(f.Config); f.Config != "" && err == nil && st.IsDir() {
		return nil, f.Config, errIsDir{f.Config}
	}
	cfg, err := envdrift.Load(f.Config)
	switch {
	case errors.Is(err, envdrift.ErrNoConfig):
		return nil, "", fmt.Errorf("%w; pass -c FILE", err)
	case err != nil:
		path := f.Config
		var ce *envdrift.ConfigError
		if errors.As(err, &ce) && ce.Path != "" {
			path = ce.Path // the file found by walking up
		}
		return nil, path, err
	}
	return cfg, cfg.Path, nil
}

// OutputFlags choose how much a command prints and in which format.
type OutputFlags struct {
	Output  string `short:"o" enum:"text,json" default:"text" help:"Output format: text or json (one document on stdout)."`
	Verbose bool   `short:"v" xor:"verbosity" help:"Also print one line per vault request: provider, secret, duration, outcome (never a value)."`
	Quiet   bool   `short:"q" xor:"verbosity" help:"Print only errors and the last line."`
}

// completionPredictors complete -c with configuration files, -p with the
// provider names and --profile with the profiles of the configuration in
// reach. Each TAB starts the
// binary, so they only read the one configuration file.
func completionPredictors() []kongcompletion.Option {
	return []kongcompletion.Option{
		// The enum's own prediction would offer its empty value too.
		kongcompletion.WithPredictor("provider", complete.PredictSet(provider.Default().Names()...)),
		kongcompletion.WithPredictor("config", complete.PredictFunc(func(a complete.Args) []string {
			// Each pattern's prediction lists the directories too: once is enough.
			var out []string
			for _, pattern := range []string{"*.toml", "*.txt"} {
				for _, s := range complete.PredictFiles(pattern).Predict(a) {
					if !slices.Contains(out, s) {
						out = append(out, s)
					}
				}
			}
			return out
		})),
		kongcompletion.WithPredictor("profile", complete.PredictFunc(func(complete.Args) []string {
			var f VaultFlags
			cfg, _, err := f.load()
			if err != nil {
				return nil
			}
			var profiles []string
			for _, m := range cfg.Mappings {
				if m.Profile != "" && !slices.Contains(profiles, m.Profile) {
					profiles = append(profiles, m.Profile)
				}
			}
			return profiles
		})),
	}
}
