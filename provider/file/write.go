package file

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"

	"github.com/envdrift/envdrift/internal/limits"
	"github.com/envdrift/envdrift/provider"
)

var _ provider.Writer = (*Provider)(nil)

// Current reads the secret as Fetch does. A file carries no metadata, so
// Marked is always false and PublicKey always "", and it has no version.
func (p *Provider) Current(ctx context.Context, ref provider.Ref) (provider.Current, error) {
	sec, err := p.Fetch(ctx, ref)
	if err != nil {
		return provider.Current{}, err
	}
	return provider.Current{Secret: sec}, nil
}

// Put writes req.Value to the secret's file, atomically and with mode 0600:
// the value goes to a temporary file in the same directory, which is synced
// and then moved into place, and the directory is synced. A crash leaves
// the old file or the new one, never a mix.
//
// With req.Create the temporary file is hard-linked to the secret's name,
// which fails if a file of that name exists (or appears meanwhile): Put then
// fails with ErrConflict, and PutResult.Checked is true. The directory
// must support hard links. Without Create the file is replaced by rename:
// there is no version to compare, so req.Version is ignored and Checked is
// false.
//
// Missing directories below the provider's directory (a vault
// sub-directory, or the parts of a name such as team/api-key) are created
// with mode 0700; the provider's directory itself must exist. Names that
// would leave it are refused, and so is a secret whose path is a symlink,
// which Put never replaces. A file has no metadata: req.Mark and
// req.PublicKey are not recorded.
func (p *Provider) Put(ctx context.Context, ref provider.Ref, req provider.PutRequest) (provider.PutResult, error) {
	if err := ctx.Err(); err != nil {
		return provider.PutResult{}, provider.NewError(provider.ErrUnavailable, Name, ref, "cancelled", err)
	}
	if err := p.checkRef(ref); err != nil {
		return provider.PutResult{}, err
	}
	if len(req.Value) > limits.MaxSecretSize {
		return provider.PutResult{}, provider.NewError(provider.ErrInvalid, Name, ref,
			fmt.Sprintf("the value is %d bytes, over the %d-byte secret limit", len(req.Value), limits.MaxSecretSize), nil)
	}
	rel := filepath.FromSlash(ref.Name)
	if ref.Vault != "" {
		rel = filepath.Join(filepath.FromSlash(ref.Vault), rel)
	}
	full := filepath.Join(p.dir, rel)
	root, err := os.OpenRoot(p.dir)
	if err != nil {
		return provider.PutResult{}, classifyWrite(ref, p.dir, err)
	}
	defer root.Close()

	dir := filepath.Dir(rel)
	if dir != "." {
		if err := root.MkdirAll(dir, 0o700); err != nil {
			return provider.PutResult{}, classifyWrite(ref, filepath.Join(p.dir, dir), err)
		}
	}
	switch st, err := root.Lstat(rel); {
	case err == nil && st.Mode()&fs.ModeSymlink != 0:
		return provider.PutResult{}, provider.NewError(provider.ErrInvalid, Name, ref,
			full+" is a symlink; envdrift does not replace symlinks", nil).
			WithHint("write the file the link points to yourself, or remove the link")
	case err == nil && st.IsDir():
		return provider.PutResult{}, provider.NewError(provider.ErrInvalid, Name, ref, full+" is a directory, not a secret file", nil)
	case err == nil && !st.Mode().IsRegular():
		return provider.PutResult{}, provider.NewError(provider.ErrInvalid, Name, ref, full+" is not a regular file", nil)
	case err == nil && req.Create:
		return provider.PutResult{}, exists(ref, full)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return provider.PutResult{}, classifyWrite(ref, full, err)
	}

	tmp, err := writeTemp(root, dir, filepath.Base(rel), req.Value)
	if err != nil {
		return provider.PutResult{}, classifyWrite(ref, filepath.Join(p.dir, dir), err)
	}
	committed := false
	defer func() {
		if !committed || req.Create {
			_ = root.Remove(tmp)
		}
	}()
	if err := ctx.Err(); err != nil {
		return provider.PutResult{}, provider.NewError(provider.ErrUnavailable, Name, ref, "cancelled before the file was written", err)
	}
	if req.Create {
		err = root.Link(tmp, rel)
		if errors.Is(err, fs.ErrExist) {
			return provider.PutResult{}, exists(ref, full)
		}
	} else {
		err = root.Rename(tmp, rel)
	}
	if err != nil {
		return provider.PutResult{}, classifyWrite(ref, full, err)
	}
	committed = true
	if err := syncDir(root, dir); err != nil {
		return provider.PutResult{}, classifyWrite(ref, filepath.Join(p.dir, dir), err)
	}
	return provider.PutResult{Checked: req.Create}, nil
}

func exists(ref provider.Ref, path string) error {
	return provider.NewError(provider.ErrConflict, Name, ref, path+" already exists", fs.ErrExist).
		WithHint("the secret exists; replacing it needs an update, not a create")
}

// writeTemp writes value to a new file next to name in dir, syncs it and
// returns its path relative to the root.
func writeTemp(root *os.Root, dir, name string, value []byte) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tmp := filepath.Join(dir, "."+name+".envdrift-"+hex.EncodeToString(b[:]))
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	_, werr := f.Write(value)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = root.Remove(tmp)
		return "", werr
	}
	return tmp, nil
}

// syncDir makes the rename or link in dir durable. Windows has no
// directory sync (NTFS journals the rename itself).
func syncDir(root *os.Root, dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return err // some file systems cannot sync a directory; that is not a failed write
	}
	return nil
}

// classifyWrite turns a file-system error of a write into a provider error.
func classifyWrite(ref provider.Ref, path string, err error) error {
	var msg string
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		msg = fmt.Sprintf("%s %s: %v", pe.Op, path, pe.Err)
	case errors.As(err, &le):
		msg = fmt.Sprintf("%s %s: %v", le.Op, path, le.Err)
	default:
		msg = fmt.Sprintf("%s: %v", path, err)
	}
	switch {
	case errors.Is(err, syscall.EROFS):
		return provider.NewError(provider.ErrPermissionDenied, Name, ref, msg, err).
			WithHint("the secrets directory is on a read-only file system (a Kubernetes or Docker secret mount cannot be written); push to the store that fills it")
	case errors.Is(err, fs.ErrPermission):
		return provider.NewError(provider.ErrPermissionDenied, Name, ref, msg, err).
			WithHint("the user running envdrift needs write and execute permission on the directory holding the secret file")
	case errors.Is(err, fs.ErrNotExist):
		return provider.NewError(provider.ErrNotFound, Name, ref, msg, err).
			WithHint("create the secrets directory, or check [vault.file] path")
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return provider.NewError(provider.ErrUnavailable, Name, ref, msg, err).WithHint("free some disk space")
	}
	return classify(ref, path, err)
}
