package azure_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/marker"
	"github.com/envdrift/envdrift/internal/testserver/azurekv"
	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/azure"
	"github.com/envdrift/envdrift/provider/providertest"
)

func writer(t *testing.T, s *azurekv.Server) provider.Writer {
	t.Helper()
	return open(t, azure.Settings{VaultURL: s.VaultURL(azurekv.DefaultVault)}, provider.Options{}).(provider.Writer)
}

func TestPut_CarriesTagsAndContentTypeOverToTheNewVersion(t *testing.T) {
	s := needServer(t)
	s.SetSecretWithTags("", "envdrift-w-carry", []byte("old"), map[string]string{"owner": "team-a"}, "text/plain")
	p := writer(t, s)
	res, err := p.Put(context.Background(), provider.Ref{Name: "envdrift-w-carry"}, provider.PutRequest{Value: []byte(providertest.Key), Mark: true})
	require.NoError(t, err)
	assert.False(t, res.Checked, "Key Vault has no conditional write")
	assert.Equal(t, map[string]string{"owner": "team-a", provider.MarkerKey: marker.Value}, s.Tags("", "envdrift-w-carry"),
		"Key Vault keeps tags per version: the new one carries the old one's")
	cur, err := p.Current(context.Background(), provider.Ref{Name: "envdrift-w-carry"})
	require.NoError(t, err)
	assert.Equal(t, res.Version, cur.Version)
	assert.True(t, cur.Marked)
}

func TestPut_StaleVersionIsRefusedBeforeWriting(t *testing.T) {
	s := needServer(t)
	s.SetSecret("", "envdrift-w-stale", []byte("old"))
	p := writer(t, s)
	before := s.Writes()
	_, err := p.Put(context.Background(), provider.Ref{Name: "envdrift-w-stale"}, provider.PutRequest{Value: []byte(providertest.Key), Version: "0123456789abcdef0123456789abcdef"})
	require.ErrorIs(t, err, provider.ErrConflict)
	assert.Equal(t, before, s.Writes(), "nothing is written")
}

func TestPut_SoftDeletedSecretMustBeRecoveredOrPurged(t *testing.T) {
	s := needServer(t)
	s.SetSecret("", "envdrift-w-deleted", []byte("old"))
	s.SoftDelete("", "envdrift-w-deleted")
	p := writer(t, s)
	_, err := p.Current(context.Background(), provider.Ref{Name: "envdrift-w-deleted"})
	require.ErrorIs(t, err, provider.ErrNotFound)
	_, err = p.Put(context.Background(), provider.Ref{Name: "envdrift-w-deleted"}, provider.PutRequest{Value: []byte(providertest.Key), Create: true})
	require.ErrorIs(t, err, provider.ErrInvalid)
	assert.Contains(t, err.Error(), "ObjectIsDeletedButRecoverable")
	hint := providerError(t, err).Hint
	assert.Contains(t, hint, "az keyvault secret recover --vault-name "+azurekv.DefaultVault+" --name envdrift-w-deleted")
	assert.Contains(t, hint, "az keyvault secret purge")
}

func TestPut_DeniedWriteNamesTheSecretsOfficerRole(t *testing.T) {
	s := needServer(t)
	s.SetSecret("", "envdrift-w-readonly", []byte("old"))
	s.DenyWrite("", "envdrift-w-readonly")
	p := writer(t, s)
	_, err := p.Put(context.Background(), provider.Ref{Name: "envdrift-w-readonly"}, provider.PutRequest{Value: []byte(providertest.Key)})
	require.ErrorIs(t, err, provider.ErrPermissionDenied)
	assert.Contains(t, providerError(t, err).Hint, `"Key Vault Secrets Officer" on the vault `+azurekv.DefaultVault)
	assert.NotContains(t, err.Error(), providertest.Key)
}

func TestPut_RefusesValuesThatAreNotText(t *testing.T) {
	s := needServer(t)
	p := writer(t, s)
	before := s.Writes()
	_, err := p.Put(context.Background(), provider.Ref{Name: "envdrift-w-binary"}, provider.PutRequest{Value: []byte{0xff, 0xfe}, Create: true})
	require.ErrorIs(t, err, provider.ErrInvalid)
	assert.Equal(t, before, s.Writes())
}
