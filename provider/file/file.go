// Package file is the envdrift provider for secrets kept as files in a
// directory: Kubernetes and Docker secret mounts, a directory synced by some
// other tool, or a plain folder for offline use and the quickstart.
//
// Configuration:
//
//	[vault.file]
//	path = "secrets"   # relative to the config file's directory
//
// The secret NAME is the file <path>/NAME. A vault name (vault_name in a
// mapping, or the default_vault_name) selects the sub-directory
// <path>/<vault>/NAME. Names that would leave the directory ("..", absolute
// paths, symlinks pointing outside) are refused; symlinks inside it are
// followed, as Kubernetes mounts rely on them.
//
// The provider is a [provider.Writer]: envdrift push writes a secret as a
// file of mode 0600, atomically (see [Provider.Put]). Files carry no
// metadata, so a pushed file has no ownership marker and no recorded public
// key.
package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/envdrift/envdrift/internal/limits"
	"github.com/envdrift/envdrift/provider"
)

// Name is the provider's registry name.
const Name = "file"

// Settings is the [vault.file] configuration table.
type Settings struct {
	// Path is the directory holding the secret files.
	Path string `toml:"path"`
}

// Driver returns the provider's driver, for a caller's own
// [provider.Registry]. Importing the package registers it in
// [provider.Default].
func Driver() provider.Driver {
	return provider.NewDriver(Name, func(_ context.Context, s *Settings, opts provider.Options) (provider.Provider, error) {
		return New(s.Path, opts)
	})
}

func init() { provider.Default().Register(Driver()) }

// Provider reads secrets from files under a directory.
type Provider struct {
	dir string
}

// New returns a provider reading from dir. A relative dir resolves against
// opts.BaseDir. A --vault-url override (opts.URL) replaces dir, so
// `envdrift sync -p file --vault-url ./secrets` works without a [vault.file]
// table.
func New(dir string, opts provider.Options) (*Provider, error) {
	if opts.URL != "" {
		dir = opts.URL
	}
	if dir == "" {
		return nil, provider.NewError(provider.ErrInvalid, Name, provider.Ref{},
			"no directory configured", nil).WithHint("set path in [vault.file] or pass --vault-url DIR")
	}
	if !filepath.IsAbs(dir) && opts.BaseDir != "" {
		dir = filepath.Join(opts.BaseDir, dir)
	}
	return &Provider{dir: filepath.Clean(dir)}, nil
}

// Dir returns the directory the provider reads from.
func (p *Provider) Dir() string { return p.dir }

// Fetch reads the file for ref.
func (p *Provider) Fetch(ctx context.Context, ref provider.Ref) (provider.Secret, error) {
	if err := ctx.Err(); err != nil {
		return provider.Secret{}, provider.NewError(provider.ErrUnavailable, Name, ref, "cancelled", err)
	}
	if err := p.checkRef(ref); err != nil {
		return provider.Secret{}, err
	}
	dir := p.dir
	if ref.Vault != "" {
		dir = filepath.Join(dir, ref.Vault)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return provider.Secret{}, classify(ref, dir, err)
	}
	defer root.Close()
	// O_NONBLOCK: a FIFO must not block the open; it is refused below.
	f, err := root.OpenFile(filepath.FromSlash(ref.Name), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return provider.Secret{}, classify(ref, filepath.Join(dir, ref.Name), err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return provider.Secret{}, classify(ref, f.Name(), err)
	}
	if st.IsDir() {
		return provider.Secret{}, provider.NewError(provider.ErrInvalid, Name, ref,
			filepath.Join(dir, ref.Name)+" is a directory, not a secret file", nil)
	}
	if !st.Mode().IsRegular() {
		return provider.Secret{}, provider.NewError(provider.ErrInvalid, Name, ref,
			filepath.Join(dir, ref.Name)+" is not a regular file", nil)
	}
	data, err := io.ReadAll(io.LimitReader(f, limits.MaxSecretSize+1))
	if err != nil {
		return provider.Secret{}, classify(ref, filepath.Join(dir, ref.Name), err)
	}
	if len(data) > limits.MaxSecretSize {
		return provider.Secret{}, provider.NewError(provider.ErrInvalid, Name, ref,
			fmt.Sprintf("%s is larger than the %d-byte secret limit", filepath.Join(dir, ref.Name), limits.MaxSecretSize), nil)
	}
	return provider.Secret{Value: data}, nil
}

// checkRef refuses vault and secret names that would leave the directory.
func (p *Provider) checkRef(ref provider.Ref) error {
	for _, part := range []struct{ what, v string }{{"vault name", ref.Vault}, {"secret name", ref.Name}} {
		if part.v == "" && part.what == "vault name" {
			continue
		}
		if !filepath.IsLocal(part.v) || strings.ContainsRune(part.v, '\\') {
			return provider.NewError(provider.ErrInvalid, Name, ref,
				fmt.Sprintf("%s %q would leave the secrets directory", part.what, part.v), nil).
				WithHint("use a plain file name below " + p.dir)
		}
	}
	return nil
}

// classify turns a file-system error into a provider error. The path is
// safe to show: it names the file, not its contents.
func classify(ref provider.Ref, path string, err error) error {
	var msg string
	var pe *fs.PathError
	if errors.As(err, &pe) {
		msg = fmt.Sprintf("%s %s: %v", pe.Op, path, pe.Err)
	} else {
		msg = fmt.Sprintf("%s: %v", path, err)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return provider.NewError(provider.ErrNotFound, Name, ref, msg, err).
			WithHint("create the file, or check [vault.file] path and the secret name")
	case errors.Is(err, fs.ErrPermission):
		return provider.NewError(provider.ErrPermissionDenied, Name, ref, msg, err).
			WithHint("make the file readable by the user running envdrift")
	case strings.Contains(err.Error(), "path escapes"):
		return provider.NewError(provider.ErrInvalid, Name, ref, msg, err).
			WithHint("a symlink in the secrets directory points outside it")
	default:
		return provider.NewError(provider.ErrUnavailable, Name, ref, msg, err)
	}
}

var _ provider.Describer = (*Provider)(nil)

// Describe returns the directory the provider reads the vault's secrets
// from: the sub-directory a vault name selects, as Fetch reads it.
func (p *Provider) Describe(vault string) string {
	if vault == "" {
		return p.dir
	}
	return filepath.Join(p.dir, vault)
}
