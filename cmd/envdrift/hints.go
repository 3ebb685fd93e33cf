package main

import (
	"errors"
	"strings"

	"github.com/envdrift/envdrift"
)

// optionFlags translates the library's option names, which its messages use
// ("use Options.Force to replace it"), into the flags that set them. It is
// the one place the CLI rewrites the library's words.
var optionFlags = strings.NewReplacer(
	"provider.Options.Token", "--token (or VAULT_TOKEN)",
	"provider.Options.URL", "--vault-url",
	"Options.Force", "--force",
	"Options.Verify", "--verify",
	"Options.Provider", "--provider",
	"Options.Profile", "--profile",
	"Options.Concurrency", "--concurrency",
	"Options.Decrypter", "--decrypter",
	"Options.SchemaPath", "--schema",
	"Options.Schema", "--validate-schema",
	"Options.Update", "--update",
	"Options.DryRun", "--dry-run",
	"LoadOption.Environment", "-f ENV_FILE",
)

// cliText is a library message as the CLI shows it: options named as flags.
func cliText(msg string) string { return optionFlags.Replace(msg) }

// advice is what a CLI user can do about an error that stopped a run, by
// its class, or "".
func advice(err error) string {
	if errors.Is(err, envdrift.ErrNoMappings) && strings.Contains(err.Error(), "none was selected") {
		return "choose the mappings to use with --profile NAME"
	}
	return ""
}
