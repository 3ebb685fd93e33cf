package file_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/file"
	"github.com/envdrift/envdrift/provider/providertest"
)

func put(t *testing.T, p provider.Writer, ref provider.Ref, req provider.PutRequest) (provider.PutResult, error) {
	t.Helper()
	return p.Put(context.Background(), ref, req)
}

func TestPut_CreatesTheFileWithMode0600AndLeavesNoTemporaryFile(t *testing.T) {
	p, dir := newProvider(t)
	res, err := put(t, p, provider.Ref{Name: "api-key"}, provider.PutRequest{Value: []byte(providertest.Key), Create: true})
	require.NoError(t, err)
	assert.True(t, res.Checked, "a create is refused atomically when the file exists")
	st, err := os.Stat(filepath.Join(dir, "api-key"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	data, err := os.ReadFile(filepath.Join(dir, "api-key"))
	require.NoError(t, err)
	assert.Equal(t, providertest.Key, string(data))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "the temporary file must be gone: %v", entries)
}

func TestPut_CreateOnlyLeavesAnExistingFileAlone(t *testing.T) {
	p, dir := newProvider(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "api-key"), []byte("theirs"), 0o600))
	_, err := put(t, p, provider.Ref{Name: "api-key"}, provider.PutRequest{Value: []byte(providertest.Key), Create: true})
	assert.ErrorIs(t, err, provider.ErrConflict)
	data, _ := os.ReadFile(filepath.Join(dir, "api-key"))
	assert.Equal(t, "theirs", string(data))
	entries, _ := os.ReadDir(dir)
	assert.Len(t, entries, 1, "no temporary file may be left behind: %v", entries)
}

func TestPut_UpdateReplacesTheFileWhole(t *testing.T) {
	p, dir := newProvider(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "api-key"), []byte("a much longer old value than the new one"), 0o644))
	res, err := put(t, p, provider.Ref{Name: "api-key"}, provider.PutRequest{Value: []byte(providertest.Key)})
	require.NoError(t, err)
	assert.False(t, res.Checked, "a file has no version to compare")
	data, _ := os.ReadFile(filepath.Join(dir, "api-key"))
	assert.Equal(t, providertest.Key, string(data))
	st, _ := os.Stat(filepath.Join(dir, "api-key"))
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the new file is 0600 whatever the old one was")
}

func TestPut_VaultAndNestedNamesCreateSubdirectories(t *testing.T) {
	p, dir := newProvider(t)
	_, err := put(t, p, provider.Ref{Vault: "team-b", Name: "svc/api-key"}, provider.PutRequest{Value: []byte(providertest.Key), Create: true})
	require.NoError(t, err)
	got, err := p.Fetch(context.Background(), provider.Ref{Vault: "team-b", Name: "svc/api-key"})
	require.NoError(t, err)
	assert.Equal(t, providertest.Key, string(got.Value))
	st, err := os.Stat(filepath.Join(dir, "team-b", "svc"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
}

func TestPut_NamesThatEscapeTheDirectoryAreRejected(t *testing.T) {
	p, dir := newProvider(t)
	for _, ref := range []provider.Ref{
		{Name: "../outside"},
		{Name: filepath.Join(filepath.Dir(dir), "outside")},
		{Vault: "..", Name: "outside"},
		{Name: `..\outside`},
		{Name: ""},
	} {
		_, err := put(t, p, ref, provider.PutRequest{Value: []byte("x"), Create: true})
		assert.ErrorIs(t, err, provider.ErrInvalid, "%+v: %v", ref, err)
	}
	_, err := os.Stat(filepath.Join(filepath.Dir(dir), "outside"))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing may be written outside the directory")
}

func TestPut_SymlinkIsNeverReplaced(t *testing.T) {
	p, dir := newProvider(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "target"), []byte("theirs"), 0o600))
	require.NoError(t, os.Symlink("target", filepath.Join(dir, "api-key")))
	_, err := put(t, p, provider.Ref{Name: "api-key"}, provider.PutRequest{Value: []byte(providertest.Key)})
	assert.ErrorIs(t, err, provider.ErrInvalid)
	st, err := os.Lstat(filepath.Join(dir, "api-key"))
	require.NoError(t, err)
	assert.NotZero(t, st.Mode()&os.ModeSymlink, "the link stays a link")
	data, _ := os.ReadFile(filepath.Join(dir, "target"))
	assert.Equal(t, "theirs", string(data))
}

func TestPut_SymlinkedDirectoryLeavingTheRootIsRefused(t *testing.T) {
	p, dir := newProvider(t)
	outside := t.TempDir()
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "escape")))
	_, err := put(t, p, provider.Ref{Vault: "escape", Name: "api-key"}, provider.PutRequest{Value: []byte(providertest.Key), Create: true})
	require.Error(t, err)
	_, err = os.Stat(filepath.Join(outside, "api-key"))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing may be written through a link that leaves the directory")
}

func TestPut_MissingDirectoryIsNotFound(t *testing.T) {
	p, err := newMissingDirProvider(t)
	require.NoError(t, err)
	_, err = put(t, p, provider.Ref{Name: "api-key"}, provider.PutRequest{Value: []byte(providertest.Key), Create: true})
	assert.ErrorIs(t, err, provider.ErrNotFound)
}

func TestPut_ReadOnlyDirectoryIsPermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: directory permissions do not deny writes")
	}
	p, dir := newProvider(t)
	require.NoError(t, os.Chmod(dir, 0o500))
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	_, err := put(t, p, provider.Ref{Name: "api-key"}, provider.PutRequest{Value: []byte(providertest.Key), Create: true})
	assert.ErrorIs(t, err, provider.ErrPermissionDenied)
}

func TestPut_MarkAndPublicKeyAreNotRecorded(t *testing.T) {
	p, _ := newProvider(t)
	_, err := put(t, p, provider.Ref{Name: "api-key"}, provider.PutRequest{Value: []byte(providertest.Key), Create: true, Mark: true, PublicKey: providertest.PublicKey})
	require.NoError(t, err)
	cur, err := p.Current(context.Background(), provider.Ref{Name: "api-key"})
	require.NoError(t, err)
	assert.False(t, cur.Marked, "a file carries no marker")
	assert.Empty(t, cur.PublicKey)
	assert.Equal(t, providertest.Key, string(cur.Value))
}

func newMissingDirProvider(t *testing.T) (*file.Provider, error) {
	t.Helper()
	return file.New(filepath.Join(t.TempDir(), "does-not-exist"), provider.Options{})
}
