// Package provider defines what envdrift needs from a secret store: fetch one
// secret by reference. It also holds the error kinds every provider reports,
// and the registry through which provider packages make themselves available
// by name.
//
// A provider package (for example provider/aws) registers itself in its init
// function, so a program links a provider's SDK only when it imports that
// package:
//
//	import _ "github.com/envdrift/envdrift/provider/aws"
//
// The split follows gocloud.dev's driver/concrete pattern: this package is the
// small driver contract, provider/providertest is the conformance suite every
// provider runs, and the root envdrift package is the concrete API users call.
package provider

import (
	"context"
	"time"
)

// Ref names one secret inside a provider.
type Ref struct {
	// Vault selects which vault of the provider holds the secret: the Azure
	// Key Vault name, the HashiCorp Vault KV mount, the AWS region or the GCP
	// project. Empty means the provider's configured default.
	Vault string
	// Name is the secret's name (or, where the provider allows it, a full
	// identifier such as an AWS ARN or a GCP version resource name).
	Name string
}

// String returns "vault/name", or "name" when Vault is empty.
func (r Ref) String() string {
	if r.Vault == "" {
		return r.Name
	}
	return r.Vault + "/" + r.Name
}

// Secret is a fetched secret payload. Value holds the bytes exactly as the
// store returned them; deciding whether they form a dotenvx key is the
// caller's job.
type Secret struct {
	Value []byte
	// Version is the store's version identifier when it reports one.
	Version string
}

// Provider fetches secrets from one secret store. Implementations must be
// safe for concurrent use, must honour ctx cancellation promptly, and must
// return errors built with [NewError] (or wrapping an [*Error]) so callers can
// classify them. Neither a secret value nor a credential may appear in an
// error.
type Provider interface {
	Fetch(ctx context.Context, ref Ref) (Secret, error)
}

// BatchFetcher is implemented by providers that can fetch several secrets in
// one request (AWS BatchGetSecretValue). The returned slice has one entry per
// ref, in order.
type BatchFetcher interface {
	FetchBatch(ctx context.Context, refs []Ref) []Result
}

// Result is one entry of a batch fetch.
type Result struct {
	Secret Secret
	Err    error
}

// Options carries settings that come from the command line or the caller
// rather than from the provider's own configuration table. A provider applies
// the ones that mean something to it and ignores the rest.
type Options struct {
	// URL overrides the vault URL (--vault-url): Azure vault_url, HashiCorp url.
	URL string
	// Region overrides the AWS region (--region).
	Region string
	// ProjectID overrides the GCP project (--project-id).
	ProjectID string
	// Token is a credential given on the command line (--token, HashiCorp).
	Token string
	// Timeout bounds each request; zero means the provider's default.
	Timeout time.Duration
	// BaseDir is the directory relative paths in the settings resolve
	// against: the directory of the configuration file.
	BaseDir string
	// Retry tunes the retries of the provider's SDK; the zero value keeps
	// the provider's defaults.
	Retry RetryPolicy
}

// RetryPolicy tunes how a provider retries a request that failed in a way
// worth retrying (throttling, a 5xx answer, a dropped connection). Each
// provider maps it onto its SDK's own retryer, which keeps doing what it
// does besides (AWS's retry quota, Azure's and Vault's Retry-After
// handling); see the provider's package documentation for its defaults and
// for how it treats a Retry-After. A zero field keeps the provider's
// default for that field; negative values count as zero.
//
// Callers rarely need it. Tests set short delays so that retries cost
// milliseconds rather than seconds.
type RetryPolicy struct {
	// MaxAttempts is the most attempts a request makes, the first one
	// included: 1 turns retries off.
	MaxAttempts int
	// MinDelay is the wait before the first retry; later waits grow
	// exponentially from it, with jitter.
	MinDelay time.Duration
	// MaxDelay caps the wait between two attempts. Where the SDK honours a
	// server's Retry-After, it also bounds that wait: Azure gives up on a
	// longer Retry-After at once, HashiCorp waits MaxDelay instead.
	MaxDelay time.Duration
}

// Noticer is implemented by providers that have something to tell the user
// once per run, such as "BatchGetSecretValue is not allowed; fell back to
// single reads". The notices must not contain secrets.
type Noticer interface {
	Notices() []string
}

// Describer is implemented by providers that can say where requests for a
// vault go — a URL, a region, a project, a directory — for the line a run
// starts with. It does no I/O. vault is Ref.Vault ("" for the default).
type Describer interface {
	Describe(vault string) string
}

// VaultOverrider is implemented by providers whose Options name which of
// their vaults is the default (Azure: URL; AWS: Region; GCP: ProjectID).
// When OverridesVault reports true, the override was given, and it wins
// over a configuration's default vault name (default_vault_name) for
// mappings that name no vault of their own: a vault named on the command
// line is the one meant.
type VaultOverrider interface {
	OverridesVault() bool
}
