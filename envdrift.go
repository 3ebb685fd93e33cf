// Package envdrift keeps dotenvx private keys (DOTENV_PRIVATE_KEY_*) in
// local .env.keys files in step with the cloud vault that owns them.
//
// A [Config] (loaded from envdrift.toml, pyproject.toml or a legacy pair.txt)
// maps vault secrets to service folders. A [Syncer] fetches each secret
// through a [provider.Provider], checks that it is a valid dotenvx key, and
// creates, updates or leaves alone the folder's .env.keys file:
//
//	cfg, err := envdrift.Load("envdrift.toml")
//	if err != nil { … }
//	s, err := envdrift.New(cfg, envdrift.Options{Force: true})
//	if err != nil { … }
//	res, err := s.Sync(ctx)
//
// The root package imports no cloud SDK. Import the provider packages you
// need, for their side effect of registering themselves:
//
//	import _ "github.com/envdrift/envdrift/provider/aws"
//
// The CLI in cmd/envdrift is a thin layer over this package: everything it
// does, a Go program can do with [Syncer], [Options] and the seams
// [Prompter], [Reporter], [Decrypter] and [SchemaValidator].
package envdrift

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/envdrift/envdrift/provider"
)

// Errors that classify a failed run or a failed row. Use errors.Is.
var (
	// ErrInvalidConfig: the configuration cannot be used; nothing was fetched.
	ErrInvalidConfig = errors.New("invalid configuration")
	// ErrInvalidSecret: the vault returned something that is not a dotenvx key
	// for this mapping.
	ErrInvalidSecret = errors.New("vault secret is not a usable dotenvx private key")
	// ErrMismatch: the local key differs from the vault's and was not replaced.
	ErrMismatch = errors.New("local key differs from the vault")
	// ErrFolderMissing: the mapping's folder does not exist.
	ErrFolderMissing = errors.New("folder does not exist")
	// ErrUnsafePath: a path envdrift would write through is a symlink or not
	// a regular file.
	ErrUnsafePath = errors.New("unsafe path")
	// ErrCheckFailed: a requested decryption or schema check failed.
	ErrCheckFailed = errors.New("check failed")
	// ErrSyncFailed is returned by Result.Err when any row failed.
	ErrSyncFailed = errors.New("sync failed")
)

// Concurrency limits.
const (
	// MaxConcurrency is the largest accepted --concurrency / max_workers.
	MaxConcurrency = 256
)

// DefaultConcurrency is the number of fetches in flight when neither
// Options.Concurrency nor max_workers says otherwise: a 200-mapping sync
// costs about 13 round trips. Sixteen requests at a 30–100 ms round trip
// are at most about 530 requests per second, well under AWS Secrets
// Manager's GetSecretValue quota (10,000 per second per region) and GCP
// Secret Manager's (90,000 access requests per minute per project); Vault
// sets no default limit. Azure Key Vault allows 4,000 secret reads per 10
// seconds per vault, and AWS 100 BatchGetSecretValue calls (2,000 secrets)
// per second per region, so only a run of thousands of secrets from one
// vault or region can be throttled, which the providers retry with
// backoff. docs/performance.md cites the sources.
const DefaultConcurrency = 16

// minApplyConcurrency is the least number of fetched rows applied at once
// (compared, written, checked; see Syncer.Sync). Applying is local work: a
// row waiting for its keys file to reach the disk holds no fetch slot and
// no check slot, so letting more rows wait lets more writes share one
// commit (see durable.Committer). Measured on a 2-core VM with ext4 (10,000 new keys
// files): 16 at once 2.6 s, 64 at once 1.8 s, 256 at once 1.7 s. Checks
// (--check-decryption, --validate-schema) stay bounded by the fetch
// concurrency.
const minApplyConcurrency = 64

// Options tune a Syncer. The zero value syncs non-interactively: a local key
// that differs from the vault is reported as an error and left alone.
type Options struct {
	// Provider overrides the configuration's default provider (--provider).
	// Mappings that name their own provider keep it.
	Provider string
	// Providers is the registry providers are looked up in; nil means
	// provider.Default(), where provider packages register themselves when
	// imported.
	Providers *provider.Registry
	// Overrides are passed to the providers: --region, --project-id,
	// --token and --timeout to every one, --vault-url only to the default
	// provider (mappings naming another provider use its own settings).
	Overrides provider.Options
	// Verify reports differences without writing anything (--verify).
	Verify bool
	// Force replaces mismatched local keys without asking, after a backup (--force).
	Force bool
	// Prompter is asked whether to replace a mismatched key. Nil means nobody
	// can be asked: a mismatch without Force is an error row that says to
	// rerun with --force. The CLI sets it only when stdin is a terminal and
	// --ci is off.
	Prompter Prompter
	// Reporter hears about each row, in configuration order, and the result.
	Reporter Reporter
	// Decrypter, when set, checks that each folder's key decrypts its env
	// file (--check-decryption).
	Decrypter Decrypter
	// Schema, when set, validates each folder's env file (--validate-schema).
	// The JSON Schema validator is schema.Validator, in its own package so
	// that programs that do not validate do not link it.
	Schema SchemaValidator
	// SchemaPath is the schema for mappings that do not name their own
	// (--schema). It replaces [vault.sync] schema; a mapping's own schema
	// wins over both. See docs/schema.md for how relative paths resolve.
	SchemaPath string
	// ServiceDir is the first directory a relative schema path is looked up
	// in (--service-dir); relative to the working directory.
	ServiceDir string
	// Profile selects mappings: those without a profile plus those whose
	// profile equals it. Empty selects only mappings without a profile.
	Profile string
	// Concurrency bounds how many fetches run at once; 0 means the
	// configuration's max_workers, else DefaultConcurrency.
	Concurrency int
	// Now returns the current time, for backup names. Nil means time.Now.
	Now func() time.Time
}

// Prompter decides whether a local key that differs from the vault's is
// replaced. It is called at most once at a time.
type Prompter interface {
	ConfirmReplace(ctx context.Context, m Mismatch) (bool, error)
}

// Mismatch describes a local key that differs from the vault's, using public
// keys only: nothing in it is secret.
type Mismatch struct {
	Folder   string // the folder as configured
	Secret   string // the vault secret
	KeyName  string // DOTENV_PRIVATE_KEY_…
	KeysFile string // path of the .env.keys file
	Local    string // preview of the local key's public key, or a note why it is not valid
	Vault    string // preview of the vault key's public key
}

// Reporter is told about each row as it completes, in configuration order,
// and about the final result. Calls are never concurrent.
type Reporter interface {
	Row(r *Row)
	Done(res *Result)
}

// Decrypter checks that key can decrypt envFile: that it pairs with the public
// key the file declares and that every encrypted value decrypts.
type Decrypter interface {
	CheckDecryption(ctx context.Context, envFile string, key Key) Check
}

// SchemaValidator checks an env file's variables, decrypted with key, against
// a schema. schema is the path of the schema file (may be empty when the
// validator brings its own). The schema package's Validator implements it
// for JSON Schema.
type SchemaValidator interface {
	ValidateSchema(ctx context.Context, envFile, schema string, key Key) Check
}

// Action is what a sync did for one mapping.
type Action int

// The actions, with the icons the CLI shows for them.
const (
	ActionPending   Action = iota // the row has not finished
	ActionCreated                 // + a key was written to a new or existing file
	ActionUpdated                 // ~ a mismatched key was replaced (after a backup)
	ActionSkipped                 // = nothing to do: keys match, or no env file
	ActionEphemeral               // * key fetched and validated, kept in memory only
	ActionError                   // x the mapping failed
)

var actionNames = [...]string{"pending", "created", "updated", "skipped", "ephemeral", "error"}

// String returns the action's name as the CLI and JSON output show it.
func (a Action) String() string {
	if a < 0 || int(a) >= len(actionNames) {
		return "unknown"
	}
	return actionNames[a]
}

// MarshalText encodes the action as its name.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// CheckStatus is the outcome of a decryption or schema check.
type CheckStatus int

// The check outcomes.
const (
	CheckNotRun CheckStatus = iota
	CheckPassed
	CheckFailed
	CheckSkipped
)

var checkNames = [...]string{"not_run", "passed", "failed", "skipped"}

// String returns the status name.
func (s CheckStatus) String() string {
	if s < 0 || int(s) >= len(checkNames) {
		return "unknown"
	}
	return checkNames[s]
}

// MarshalText encodes the status as its name.
func (s CheckStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Check is the outcome of a decryption or schema check on one folder. No
// field holds key material or a decrypted value.
type Check struct {
	Status CheckStatus `json:"status"`
	// Detail says why a check failed or was skipped.
	Detail string `json:"detail,omitempty"`
	// Problems lists individual findings (variables that failed to decrypt,
	// schema violations).
	Problems []string `json:"problems,omitempty"`
}

// Row is the result of one mapping.
type Row struct {
	Index       int    `json:"index"`
	Folder      string `json:"folder"`
	Dir         string `json:"dir"`
	Secret      string `json:"secret"`
	Provider    string `json:"provider"`
	Vault       string `json:"vault,omitempty"`
	Environment string `json:"environment"`
	EnvFile     string `json:"env_file"`
	KeyName     string `json:"key_name"`
	KeysFile    string `json:"keys_file"`
	Action      Action `json:"action"`
	// Message explains the action in a few words ("values match").
	Message string `json:"message,omitempty"`
	// Err is the row's error when Action is ActionError.
	Err error `json:"-"`
	// ErrorKind classifies Err: a provider.Kind name or "invalid_secret",
	// "mismatch", "folder_missing", "unsafe_path", "check_failed".
	ErrorKind  string `json:"error_kind,omitempty"`
	BackupPath string `json:"backup,omitempty"`
	// LocalPublicKey and VaultPublicKey are the public keys derived from the
	// local and vault private keys: safe to show, and they match the
	// DOTENV_PUBLIC_KEY in the env file.
	LocalPublicKey string `json:"local_public_key,omitempty"`
	VaultPublicKey string `json:"vault_public_key,omitempty"`
	// LocalNote explains a local value that is not a valid key.
	LocalNote  string   `json:"local_note,omitempty"`
	Decryption *Check   `json:"decryption,omitempty"`
	Schema     *Check   `json:"schema,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
	// Key is the vault key, kept for library callers (ephemeral mappings
	// read it from here). It never prints and is never serialised.
	Key      *Key          `json:"-"`
	Duration time.Duration `json:"duration_ns"`
}

// Failed reports whether the row counts as a failure for the exit code: an
// error row, an unfinished row, or a requested check that failed.
func (r *Row) Failed() bool {
	return r.Action == ActionError || r.Action == ActionPending ||
		(r.Decryption != nil && r.Decryption.Status == CheckFailed) ||
		(r.Schema != nil && r.Schema.Status == CheckFailed)
}

// Result is the outcome of a sync.
type Result struct {
	Rows    []*Row  `json:"rows"`
	Summary Summary `json:"summary"`
	// Warnings are run-level notes: configuration warnings, provider notices.
	Warnings []string `json:"warnings,omitempty"`
}

// Summary counts rows by action and check outcome.
type Summary struct {
	Processed        int `json:"processed"`
	Created          int `json:"created"`
	Updated          int `json:"updated"`
	Skipped          int `json:"skipped"`
	Ephemeral        int `json:"ephemeral"`
	Errors           int `json:"errors"`
	DecryptionPassed int `json:"decryption_passed"`
	DecryptionFailed int `json:"decryption_failed"`
	SchemaValid      int `json:"schema_valid"`
	SchemaInvalid    int `json:"schema_invalid"`
}

// OK reports whether every row succeeded and every requested check passed.
func (r *Result) OK() bool { return r.Err() == nil }

// Err returns nil when the sync succeeded, else an error wrapping
// ErrSyncFailed that counts the failures.
func (r *Result) Err() error {
	var failed []string
	for _, row := range r.Rows {
		if row.Failed() {
			failed = append(failed, row.Folder)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %d of %d mappings failed (%s)", ErrSyncFailed, len(failed), len(r.Rows), strings.Join(failed, ", "))
}

func (r *Result) summarize() {
	s := Summary{Processed: len(r.Rows)}
	for _, row := range r.Rows {
		switch row.Action {
		case ActionCreated:
			s.Created++
		case ActionUpdated:
			s.Updated++
		case ActionSkipped:
			s.Skipped++
		case ActionEphemeral:
			s.Ephemeral++
		case ActionError:
			s.Errors++
		}
		if c := row.Decryption; c != nil {
			switch c.Status {
			case CheckPassed:
				s.DecryptionPassed++
			case CheckFailed:
				s.DecryptionFailed++
			}
		}
		if c := row.Schema; c != nil {
			switch c.Status {
			case CheckPassed:
				s.SchemaValid++
			case CheckFailed:
				s.SchemaInvalid++
			}
		}
	}
	r.Summary = s
}

func defaultConcurrency(opts Options, cfg *Config) int {
	switch {
	case opts.Concurrency > 0:
		return min(opts.Concurrency, MaxConcurrency)
	case cfg.MaxWorkers > 0:
		return cfg.MaxWorkers
	}
	return DefaultConcurrency
}
