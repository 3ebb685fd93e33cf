// Package envdrift keeps dotenvx private keys (DOTENV_PRIVATE_KEY_*) in
// step with the cloud vault that owns them.
//
// A [Config] (loaded from envdrift.toml, pyproject.toml or a legacy pair.txt)
// maps vault secrets to service folders. A [Syncer] built from it fetches
// each secret through a [provider.Provider], checks that it is a valid
// dotenvx key that pairs with the folder's env file, and creates, updates or
// leaves alone the folder's .env.keys file:
//
//	cfg, err := envdrift.Load("envdrift.toml")
//	if err != nil { … }
//	s, err := envdrift.New(cfg, envdrift.Options{Force: true})
//	if err != nil { … }
//	res, err := s.Sync(ctx)
//
// [Syncer.Push] publishes local keys to the vault, and [LoadEnv] gives a Go
// service its decrypted environment with the key kept in memory only.
//
// The root package imports no cloud SDK. Import the provider packages you
// need, for their side effect of registering themselves in
// provider.Default() (or build a [provider.Registry] of your own and set
// Options.Providers):
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
	"time"

	"github.com/envdrift/envdrift/provider"
)

// Errors that classify a failed run or a failed row. Use errors.Is; row
// errors also wrap the provider's error kinds (provider.ErrNotFound, …).
var (
	// ErrInvalidConfig: the configuration (or the Options) cannot be used;
	// nothing was fetched or written.
	ErrInvalidConfig = errors.New("invalid configuration")
	// ErrInvalidSecret: the vault returned something that is not a dotenvx key
	// for this mapping.
	ErrInvalidSecret = errors.New("vault secret is not a usable dotenvx private key")
	// ErrMispaired: a private key does not derive the public key the env file
	// declares (DOTENV_PUBLIC_KEY*), so it cannot decrypt the file. Such a key
	// is never written, published or used.
	ErrMispaired = errors.New("key does not pair with the env file")
	// ErrMismatch: the local key differs from the vault's and was not
	// replaced (Options.Verify, or no Options.Force and no Prompter).
	ErrMismatch = errors.New("local key differs from the vault")
	// ErrFolderMissing: the mapping's folder does not exist.
	ErrFolderMissing = errors.New("folder does not exist")
	// ErrUnsafePath: a path envdrift would write through is a symlink or not
	// a regular file, or leaves the configuration's directory.
	ErrUnsafePath = errors.New("unsafe path")
	// ErrCheckFailed: a requested decryption or schema check failed.
	ErrCheckFailed = errors.New("check failed")
)

// Options tune a Syncer. The zero value syncs non-interactively: a local key
// that differs from the vault is reported as an error and left alone.
type Options struct {
	// Providers is the registry providers are looked up in; nil means
	// provider.Default(), where provider packages register themselves when
	// imported.
	Providers *provider.Registry
	// Provider overrides the configuration's default provider. Mappings that
	// name their own provider keep it.
	Provider string
	// Overrides are passed to the providers: Region, ProjectID, Token and
	// Timeout to every one, URL only to the default provider, and only for
	// mappings that do not name a vault of their own.
	Overrides provider.Options
	// Verify reports differences without writing anything.
	Verify bool
	// Force replaces mismatched local keys without asking, after a backup.
	Force bool
	// Prompter is asked whether to replace a mismatched key. Nil means nobody
	// can be asked: a mismatch without Force is an error row.
	Prompter Prompter
	// Reporter hears about each row, in configuration order, and the result.
	Reporter Reporter
	// Decrypter, when set, checks that each folder's key decrypts its env
	// file.
	Decrypter Decrypter
	// Schema, when set, validates each folder's env file. The JSON Schema
	// validator is schema.Validator, in its own package so that programs
	// that do not validate do not link it.
	Schema SchemaValidator
	// SchemaPath is the schema for mappings that do not name their own. It
	// replaces the configuration's schema; a mapping's own schema wins over
	// both. See docs/schema.md for how relative paths resolve.
	SchemaPath string
	// ServiceDir is the first directory a relative schema path is looked up
	// in; relative to the working directory.
	ServiceDir string
	// Profile selects mappings: those without a profile plus those whose
	// profile equals it. Empty selects only mappings without a profile. A
	// profile that no mapping has is an error (ErrNoMappings), even when
	// mappings without a profile would run.
	Profile string
	// Folders, when set, limits the run to the mappings of these folders:
	// each is a folder path as the configuration writes it, or a path
	// (absolute, or relative to the working directory) of the same folder.
	// A folder that matches no selected mapping is an error.
	Folders []string
	// Concurrency bounds how many fetches run at once; 0 means the
	// configuration's MaxWorkers, else 16.
	Concurrency int
	// Update lets Push replace a vault secret that holds another key, when a
	// rule makes it safe (see Syncer.Push).
	Update bool
	// DryRun makes Push report what it would do without writing anything.
	DryRun bool
	// Now returns the current time, for backup names. Nil means time.Now.
	Now func() time.Time
}

// Prompter decides whether a local key that differs from the vault's is
// replaced. It is called at most once at a time, and while it runs no row
// is reported. The row says which mapping, keys file and key name, and
// identifies the two keys by their public keys (LocalPublicKey, or
// LocalNote for a local value that is not a key, and VaultPublicKey);
// nothing in it is secret. The Prompter must not modify it.
type Prompter interface {
	ConfirmReplace(ctx context.Context, row *Row) (bool, error)
}

// Reporter is told about each row as it completes, in configuration order,
// and about the final result. Calls are never concurrent.
type Reporter interface {
	Row(r *Row)
	Done(res *Result)
}

// ProgressReporter is an optional extension of Reporter that hears about
// a run while it happens: what it is about to do, each request to a vault,
// and how many rows are done. Its calls, like Reporter's, are never
// concurrent.
type ProgressReporter interface {
	// Start is called once, after the rows are prepared and before the
	// first request.
	Start(p Plan)
	// Request is called after each request to a vault.
	Request(r Request)
	// Progress is called after each row completes. Rows complete in any
	// order, so a slow first mapping does not hold the count back while the
	// others finish; Reporter.Row still comes in configuration order.
	Progress(done, total int)
}

// Plan says what a run is about to do.
type Plan struct {
	Verb     string // "sync" or "push"
	Rows     int    // mappings selected
	Requests int    // distinct secrets to ask the vaults for
	// Vaults lists where the requests go, in configuration order.
	Vaults []Target
}

// Target is one vault of a provider that a run asks for secrets.
type Target struct {
	Provider string
	Vault    string // the vault name, "" for the provider's default
	// Endpoint is where the requests go as the provider describes it (a
	// URL, a region, a project, a directory), "" when it cannot say.
	Endpoint string
	Secrets  int
}

// Request is one request to a vault. It names secrets, never their values.
type Request struct {
	Provider string
	Op       string   // "read", "batch read", "read current", "write"
	Secrets  []string // the secrets asked for ("vault/name" when a vault is named)
	Duration time.Duration
	Err      error // nil when the request succeeded
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

// Action is what a run did for one mapping. The values are a stable
// contract (JSON output); new ones are only ever added.
type Action string

// The actions, with the icons the CLI shows for them.
const (
	actionPending   Action = ""          // the row has not finished
	ActionCreated   Action = "created"   // + a key was written (sync: to the keys file; push: a new secret)
	ActionUpdated   Action = "updated"   // ~ a different key was replaced (after a backup, or as a new secret version)
	ActionSkipped   Action = "skipped"   // = nothing to do: keys match, or (sync) the folder has no env file
	ActionEphemeral Action = "ephemeral" // * key fetched and validated, kept in memory only
	ActionError     Action = "error"     // x the mapping failed
	ActionDeclined  Action = "declined"  // ! a mismatch was kept because the Prompter declined
)

// Why a row was skipped (Row.Reason).
const (
	reasonInSync    = "in_sync"     // the keys (or the vault secret) already match
	reasonNoEnvFile = "no_env_file" // the folder has no env file for the mapping
)

// CheckStatus is the outcome of a decryption or schema check.
type CheckStatus string

// The check outcomes.
const (
	CheckPassed  CheckStatus = "passed"
	CheckFailed  CheckStatus = "failed"
	CheckSkipped CheckStatus = "skipped"
)

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
	// Reason says why a row was skipped: "in_sync" (the keys, or the
	// vault's secret, already match) or "no_env_file" (the folder has no
	// env file for the mapping).
	Reason string `json:"reason,omitempty"`
	// Message explains the action in a few words ("values match").
	Message string `json:"message,omitempty"`
	// Err is the row's error when Action is ActionError.
	Err error `json:"-"`
	// ErrorKind classifies Err: a provider.Kind name ("not_found", …) or
	// "invalid_secret", "mispaired", "mismatch", "folder_missing",
	// "unsafe_path", "cancelled", "panic", "error". The names are stable.
	ErrorKind  string `json:"error_kind,omitempty"`
	BackupPath string `json:"backup,omitempty"`
	// Removed lists old backups removed after this row's write, beyond
	// the configuration's KeepBackups.
	Removed []string `json:"removed_backups,omitempty"`
	// LocalPublicKey and VaultPublicKey are the public keys derived from the
	// local and vault private keys: safe to show, and they match the
	// DOTENV_PUBLIC_KEY in the env file.
	LocalPublicKey string `json:"local_public_key,omitempty"`
	VaultPublicKey string `json:"vault_public_key,omitempty"`
	// EnvPublicKey is the public key the env file declares, if any.
	EnvPublicKey string `json:"env_public_key,omitempty"`
	// LocalNote explains a local value that is not a valid key.
	LocalNote  string   `json:"local_note,omitempty"`
	Decryption *Check   `json:"decryption,omitempty"`
	Schema     *Check   `json:"schema,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
	// Key is the vault key (for Push, the local key), kept for library
	// callers: ephemeral mappings read it from here. It never prints and is
	// never serialised.
	Key      *Key          `json:"-"`
	Duration time.Duration `json:"duration_ns"`
}

// failed reports whether the row counts as a failure: an error row, an
// unfinished row, or a requested check that failed.
func (r *Row) failed() bool {
	return r.Action == ActionError || r.Action == actionPending ||
		(r.Decryption != nil && r.Decryption.Status == CheckFailed) ||
		(r.Schema != nil && r.Schema.Status == CheckFailed)
}

// RowError is a failed row's error as Result.Err returns it: it names the
// mapping and wraps the cause, so errors.Is finds the cause's class
// (provider.ErrNotFound, ErrMispaired, …) and errors.As finds the row.
type RowError struct {
	Folder  string // the folder as configured
	EnvFile string // the env file's base name
	Secret  string // the vault secret, "vault/name" when a vault is named
	Err     error
}

// Error names the folder, then the cause.
func (e *RowError) Error() string { return e.Folder + " (" + e.EnvFile + "): " + e.Err.Error() }

// Unwrap returns the cause.
func (e *RowError) Unwrap() error { return e.Err }

// Result is the outcome of a run.
type Result struct {
	Rows    []*Row  `json:"rows"`
	Summary Summary `json:"summary"`
	// Warnings are run-level notes: configuration warnings and provider
	// notices.
	Warnings []Warning `json:"warnings,omitempty"`
}

// Summary counts rows by action and check outcome.
type Summary struct {
	Processed        int `json:"processed"`
	Created          int `json:"created"`
	Updated          int `json:"updated"`
	Skipped          int `json:"skipped"`
	NoEnvFile        int `json:"no_env_file"`
	Declined         int `json:"declined"`
	Ephemeral        int `json:"ephemeral"`
	Errors           int `json:"errors"`
	DecryptionPassed int `json:"decryption_passed"`
	DecryptionFailed int `json:"decryption_failed"`
	SchemaValid      int `json:"schema_valid"`
	SchemaInvalid    int `json:"schema_invalid"`
}

// Err returns nil when every row succeeded and every requested check
// passed. Otherwise it joins one *RowError per failed row, so that
// errors.Is(res.Err(), provider.ErrUnauthenticated) asks "did any row fail
// for want of credentials?" and errors.As finds the first failed row.
func (r *Result) Err() error {
	var errs []error
	for _, row := range r.Rows {
		if !row.failed() {
			continue
		}
		cause := row.Err
		switch {
		case cause != nil:
		case row.Decryption != nil && row.Decryption.Status == CheckFailed:
			cause = fmt.Errorf("%w: decryption: %s", ErrCheckFailed, row.Decryption.Detail)
		case row.Schema != nil && row.Schema.Status == CheckFailed:
			cause = fmt.Errorf("%w: schema: %s", ErrCheckFailed, row.Schema.Detail)
		default:
			cause = errors.New("did not finish")
		}
		errs = append(errs, &RowError{Folder: row.Folder, EnvFile: baseName(row.EnvFile), Secret: row.Secret, Err: cause})
	}
	return errors.Join(errs...)
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
			if row.Reason == reasonNoEnvFile {
				s.NoEnvFile++
			} else {
				s.Skipped++
			}
		case ActionDeclined:
			s.Declined++
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
