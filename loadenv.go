package envdrift

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/provider"
)

// LoadOption tunes LoadEnv. Pass at most one; the zero value (or none)
// loads the folder's one env file with keys from the registry's default
// providers, the process environment winning over the file.
type LoadOption struct {
	// Environment picks the folder's mapping for .env.<Environment> (or the
	// mapping whose env_file has that environment's name). It is required
	// when the folder has mappings for more than one env file: LoadEnv never
	// merges two env files of one folder.
	Environment string
	// Files, when set, replaces folder and Environment: the env files to
	// load, in order, each a path (absolute, or relative to the working
	// directory) of an env file that a mapping of the configuration names —
	// that is where its key comes from. As with `dotenvx run -f a -f b`, the
	// first file to set a variable wins, the last with Overload.
	Files []string
	// Overload lets the files' values win over the environment's, as
	// `dotenvx run --overload` does.
	Overload bool
	// LookupEnv is the environment the values are loaded into: it wins over
	// the files unless Overload, and $VAR references see it. Nil means
	// os.LookupEnv.
	LookupEnv func(name string) (string, bool)
	// Warn, when set, is told about values that differ from what dotenvx
	// would give on purpose ($(command) substitutions are never run). The
	// message names the variable and line, never a value.
	Warn func(msg string)
	// Providers, Provider, Overrides and Profile are as in Options.
	Providers *provider.Registry
	Provider  string
	Overrides provider.Options
	Profile   string
}

// LoadEnv returns the decrypted variables of folder's env file, for a
// service that starts with its secrets and no key on disk. It loads the
// configuration at configPath, finds the mapping(s) of folder (as the
// configuration writes it, or any path to the same folder), fetches the key
// from the vault straight into memory (it is never written or logged),
// checks that it pairs with the env file's DOTENV_PUBLIC_KEY*, decrypts the
// file natively and expands its values as `dotenvx run` does (see the
// dotenvx package, "Expansion").
//
// Errors are classifiable: the provider's kinds (errors.Is with
// provider.ErrNotFound, …), ErrMispaired for a key that does not pair,
// dotenvx.ErrDecrypt for a value that does not decrypt, ErrNoMappings for a
// folder with no mapping or several env files and no Environment.
//
// LoadEnv writes nothing. The result holds, for a variable the environment
// already has, the environment's value unless Overload: ApplyEnv sets the
// result in the process environment with that precedence.
func LoadEnv(ctx context.Context, configPath, folder string, opts ...LoadOption) (map[string]string, error) {
	var o LoadOption
	switch len(opts) {
	case 0:
	case 1:
		o = opts[0]
	default:
		return nil, fmt.Errorf("%w: LoadEnv takes at most one LoadOption, got %d", ErrInvalidConfig, len(opts))
	}
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	cfg, err := Load(configPath)
	if err != nil {
		return nil, err
	}
	s, err := New(cfg, Options{Providers: o.Providers, Provider: o.Provider, Overrides: o.Overrides, Profile: o.Profile})
	if err != nil {
		return nil, err
	}
	picked, err := s.pickEnvFiles(folder, o)
	if err != nil {
		return nil, err
	}
	return s.loadEnv(ctx, picked, o)
}

// pickEnvFiles returns the indexes, in s.mappings, of the mappings whose env
// files LoadEnv loads, in the order they load.
func (s *Syncer) pickEnvFiles(folder string, o LoadOption) ([]int, error) {
	envFile := func(i int) string {
		row, _ := s.prepare(i, s.mappings[i])
		return row.EnvFile
	}
	if len(o.Files) > 0 {
		var picked []int
		for _, f := range o.Files {
			abs, err := filepath.Abs(f)
			if err != nil {
				return nil, err
			}
			found := -1
			for i := range s.mappings {
				if sameFile(abs, envFile(i)) {
					found = i
					break
				}
			}
			if found < 0 {
				return nil, fmt.Errorf("%w: %w: no mapping names the env file %s, so its key is not known", ErrInvalidConfig, ErrNoMappings, f)
			}
			picked = append(picked, found)
		}
		return picked, nil
	}
	var mine []int
	var envs []string
	for i, m := range s.mappings {
		if !s.sameFolder(folder, m.FolderPath) {
			continue
		}
		name := filepath.Base(envFile(i))
		if o.Environment != "" && name != ".env."+o.Environment && m.Environment != o.Environment {
			envs = append(envs, name)
			continue
		}
		mine = append(mine, i)
		envs = append(envs, name)
	}
	slices.Sort(envs)
	envs = slices.Compact(envs)
	switch {
	case len(mine) == 0 && len(envs) == 0:
		return nil, fmt.Errorf("%w: %w: no mapping for folder %s", ErrInvalidConfig, ErrNoMappings, folder)
	case len(mine) == 0:
		return nil, fmt.Errorf("%w: %w: folder %s has no mapping for environment %q; its env files: %s",
			ErrInvalidConfig, ErrNoMappings, folder, o.Environment, strings.Join(envs, ", "))
	case len(mine) > 1:
		return nil, fmt.Errorf("%w: %w: folder %s has mappings for several env files (%s); pick one with LoadOption.Environment: two env files are never merged",
			ErrInvalidConfig, ErrNoMappings, folder, strings.Join(envs, ", "))
	}
	return mine, nil
}

// sameFile reports whether a and b are the same file (paths, or through
// symlinks).
func sameFile(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// loadEnv fetches the keys of the picked mappings into memory and resolves
// their env files in order.
func (s *Syncer) loadEnv(ctx context.Context, picked []int, o LoadOption) (map[string]string, error) {
	// A run of only the picked mappings, every one ephemeral: the keys are
	// fetched, checked and paired exactly as Sync does, and never written.
	sub := &Syncer{cfg: s.cfg, reg: s.reg, opts: Options{Providers: s.opts.Providers, Provider: s.opts.Provider,
		Overrides: s.opts.Overrides, Concurrency: s.opts.Concurrency}}
	for _, i := range picked {
		m := s.mappings[i]
		m.EphemeralKeys = true
		sub.mappings = append(sub.mappings, m)
		sub.providerOf = append(sub.providerOf, s.providerOf[i])
	}
	res, err := sub.Sync(ctx)
	if err != nil {
		return nil, err
	}
	if err := res.Err(); err != nil {
		return nil, err
	}
	values := map[string]string{}
	lookup := func(name string) (string, bool) {
		if v, ok := values[name]; ok {
			return v, true
		}
		return o.LookupEnv(name)
	}
	for _, row := range res.Rows {
		if row.Key == nil || row.Reason == reasonNoEnvFile {
			return nil, fmt.Errorf("%w: %s: no %s to load", ErrInvalidConfig, row.Folder, filepath.Base(row.EnvFile))
		}
		f, err := dotenvx.ReadFile(row.EnvFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", row.Folder, err)
		}
		r, err := f.Resolve(row.Key.PrivateKeys(), dotenvx.ResolveOptions{Expand: true, LookupEnv: lookup, Overload: o.Overload})
		if err != nil {
			return nil, &RowError{Folder: row.Folder, EnvFile: filepath.Base(row.EnvFile), Secret: row.Secret, Err: err}
		}
		for _, w := range r.Warnings {
			if o.Warn != nil {
				o.Warn(w.String())
			}
		}
		for k, v := range r.Values {
			if _, set := values[k]; set && !o.Overload {
				continue // the first file to set a variable wins
			}
			values[k] = v
		}
	}
	return values, nil
}

// ApplyEnv sets vars in the process environment with dotenvx's precedence:
// a variable the environment already has keeps its value unless overload.
// It never sets DOTENV_PRIVATE_KEY* variables.
func ApplyEnv(vars map[string]string, overload bool) error {
	var errs []error
	for k, v := range vars {
		if strings.HasPrefix(k, "DOTENV_PRIVATE_KEY") {
			continue
		}
		if _, set := os.LookupEnv(k); set && !overload {
			continue
		}
		if err := os.Setenv(k, v); err != nil {
			errs = append(errs, fmt.Errorf("set %s: %w", k, err))
		}
	}
	return errors.Join(errs...)
}
