package file_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/limits"
	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/file"
	"github.com/envdrift/envdrift/provider/providertest"
)

type harness struct{ dir string }

func (h *harness) MakeProvider(context.Context) (provider.Provider, error) {
	d, lerr := provider.Default().Lookup(file.Name)
	if lerr != nil {
		return nil, os.ErrNotExist
	}
	return d.Open(context.Background(), &file.Settings{Path: "secrets"}, provider.Options{BaseDir: h.dir})
}

func (h *harness) path(vault, name string) string {
	return filepath.Join(h.dir, "secrets", vault, name)
}

func (h *harness) CreateSecret(_ context.Context, vault, name string, value []byte) error {
	p := h.path(vault, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return os.WriteFile(p, value, 0o600)
}

func (h *harness) CreateBinarySecret(ctx context.Context, vault, name string, value []byte) error {
	return h.CreateSecret(ctx, vault, name, value)
}

func (h *harness) OtherVault() string { return "team-b" }

func (h *harness) DenyAccess(_ context.Context, vault, name string) error {
	if os.Geteuid() == 0 {
		return providertest.ErrUnsupported // root reads any file; see TestFetch_UnreadableFileIsPermissionDenied
	}
	return os.Chmod(h.path(vault, name), 0)
}

func (h *harness) Throttle(int) error    { return providertest.ErrUnsupported }
func (h *harness) FailWith(string) error { return providertest.ErrUnsupported }
func (h *harness) Stall() error          { return providertest.ErrUnsupported }
func (h *harness) Reset()                { _ = os.Chmod(filepath.Join(h.dir, "secrets"), 0o700) }
func (h *harness) Requests() int         { return -1 }

// Conditional: a create links a temporary file to the name, which fails if
// it exists; an update is a rename, with no version to compare.
func (h *harness) Conditional() (create, update bool) { return true, false }

func (h *harness) Metadata(context.Context, string, string) (map[string]string, error) {
	return nil, providertest.ErrUnsupported // files carry no metadata
}

func (h *harness) History(context.Context, string, string) ([][]byte, error) {
	return nil, providertest.ErrUnsupported // a file holds one value
}

func (h *harness) DenyWrite(_ context.Context, vault, _ string) error {
	if os.Geteuid() == 0 {
		return providertest.ErrUnsupported // root writes any directory; see TestPut_ReadOnlyDirectoryIsPermissionDenied
	}
	return os.Chmod(filepath.Dir(h.path(vault, "x")), 0o500)
}

func (h *harness) Writes() int { return -1 }

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "secrets"), 0o700))
	providertest.Run(t, &harness{dir: dir}, providertest.Options{})
}

func newProvider(t *testing.T) (*file.Provider, string) {
	t.Helper()
	dir := t.TempDir()
	p, err := file.New(dir, provider.Options{})
	require.NoError(t, err)
	return p, dir
}

func TestFetch_NamesThatEscapeTheDirectoryAreRejected(t *testing.T) {
	p, dir := newProvider(t)
	outside := filepath.Join(filepath.Dir(dir), "outside-secret")
	require.NoError(t, os.WriteFile(outside, []byte("x"), 0o600))
	t.Cleanup(func() { os.Remove(outside) })
	for _, ref := range []provider.Ref{
		{Name: "../outside-secret"},
		{Name: outside},
		{Name: "a/../../outside-secret"},
		{Vault: "..", Name: "outside-secret"},
		{Vault: "/etc", Name: "passwd"},
		{Name: `..\outside-secret`},
		{Name: ""},
	} {
		_, err := p.Fetch(context.Background(), ref)
		assert.ErrorIs(t, err, provider.ErrInvalid, "%+v: %v", ref, err)
	}
}

func TestFetch_SymlinkLeavingTheDirectoryIsRejected(t *testing.T) {
	p, dir := newProvider(t)
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "key"), []byte("x"), 0o600))
	require.NoError(t, os.Symlink(filepath.Join(outside, "key"), filepath.Join(dir, "abs-link")))
	require.NoError(t, os.Symlink("../"+filepath.Base(outside)+"/key", filepath.Join(dir, "rel-link")))
	for _, name := range []string{"abs-link", "rel-link"} {
		_, err := p.Fetch(context.Background(), provider.Ref{Name: name})
		require.Error(t, err, name)
		assert.NotEqual(t, "not_found", provider.KindOf(err), "%s: %v", name, err)
	}
}

func TestFetch_KubernetesStyleSymlinksInsideAreFollowed(t *testing.T) {
	p, dir := newProvider(t)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "..2026_11_27"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "..2026_11_27", "api-key"), []byte(providertest.Key), 0o600))
	require.NoError(t, os.Symlink("..2026_11_27", filepath.Join(dir, "..data")))
	require.NoError(t, os.Symlink("..data/api-key", filepath.Join(dir, "api-key")))
	got, err := p.Fetch(context.Background(), provider.Ref{Name: "api-key"})
	require.NoError(t, err)
	assert.Equal(t, providertest.Key, string(got.Value))
}

func TestFetch_UnreadableFileIsPermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: file permissions do not deny reads")
	}
	p, dir := newProvider(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "locked"), []byte("x"), 0))
	_, err := p.Fetch(context.Background(), provider.Ref{Name: "locked"})
	assert.ErrorIs(t, err, provider.ErrPermissionDenied)
}

func TestFetch_DirectoryIsInvalid(t *testing.T) {
	p, dir := newProvider(t)
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o700))
	_, err := p.Fetch(context.Background(), provider.Ref{Name: "sub"})
	assert.ErrorIs(t, err, provider.ErrInvalid)
}

func TestFetch_OversizedSecretIsRefused(t *testing.T) {
	p, dir := newProvider(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "huge"), make([]byte, limits.MaxSecretSize+1), 0o600))
	_, err := p.Fetch(context.Background(), provider.Ref{Name: "huge"})
	assert.ErrorIs(t, err, provider.ErrInvalid)
	assert.Contains(t, err.Error(), "limit")
}

func TestFetch_MissingDirectoryIsNotFoundAndNamesIt(t *testing.T) {
	p, err := file.New("/nonexistent/envdrift-secrets", provider.Options{})
	require.NoError(t, err)
	_, err = p.Fetch(context.Background(), provider.Ref{Name: "k"})
	assert.ErrorIs(t, err, provider.ErrNotFound)
	assert.Contains(t, err.Error(), "/nonexistent/envdrift-secrets")
}

func TestFetch_CancelledContextFails(t *testing.T) {
	p, dir := newProvider(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "k"), []byte("x"), 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.Fetch(ctx, provider.Ref{Name: "k"})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestNew_VaultURLOverridesPathAndRelativeResolvesAgainstBaseDir(t *testing.T) {
	p, err := file.New("ignored", provider.Options{URL: "keys", BaseDir: "/srv/app"})
	require.NoError(t, err)
	assert.Equal(t, "/srv/app/keys", p.Dir())
	_, err = file.New("", provider.Options{})
	assert.ErrorIs(t, err, provider.ErrInvalid)
}
