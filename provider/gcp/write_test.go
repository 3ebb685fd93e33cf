package gcp_test

import (
	"context"
	"testing"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/marker"
	"github.com/envdrift/envdrift/internal/testserver/gcpsm"
	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/gcp"
	"github.com/envdrift/envdrift/provider/providertest"
)

// createEmpty makes a secret without a version, as Terraform's
// google_secret_manager_secret does.
func createEmpty(t *testing.T, srv *gcpsm.Server, name string, annotations map[string]string) {
	t.Helper()
	_, err := adminClient(t, srv).CreateSecret(context.Background(), &secretmanagerpb.CreateSecretRequest{
		Parent: "projects/" + gcpsm.DefaultProject, SecretId: name,
		Secret: &secretmanagerpb.Secret{
			Replication: &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}},
			Annotations: annotations,
		},
	})
	require.NoError(t, err)
}

func TestPut_CreateRecordsTheMarkerAndPublicKeyAsAnnotations(t *testing.T) {
	srv := startServer(t, gcpsm.ExternalAccount)
	p := newProvider(t, gcp.Settings{}, provider.Options{})
	res, err := p.Put(context.Background(), provider.Ref{Name: "app"}, provider.PutRequest{Value: []byte(providertest.Key), Create: true, Mark: true, PublicKey: providertest.PublicKey})
	require.NoError(t, err)
	assert.True(t, res.Checked)
	assert.Equal(t, "1", res.Version)
	assert.Len(t, providertest.PublicKey, 66, "longer than a label value may be")
	assert.Equal(t, map[string]string{provider.MarkerKey: marker.Value, provider.PublicKeyTag: providertest.PublicKey}, srv.Annotations("", "app"))
	assert.Equal(t, 1, srv.Ops()["CreateSecret"])
	assert.Equal(t, 1, srv.Ops()["AddSecretVersion"])
	assert.Zero(t, srv.Ops()["UpdateSecret"], "a new secret gets its annotations from CreateSecret")
}

func TestPut_FillsAnEmptySecretMadeElsewhere(t *testing.T) {
	srv := startServer(t, gcpsm.ExternalAccount)
	createEmpty(t, srv, "app", map[string]string{"owner": "terraform"})
	p := newProvider(t, gcp.Settings{}, provider.Options{})
	_, err := p.Current(context.Background(), provider.Ref{Name: "app"})
	require.ErrorIs(t, err, provider.ErrNotFound, "a secret without a version holds no value")
	res, err := p.Put(context.Background(), provider.Ref{Name: "app"}, provider.PutRequest{Value: []byte(providertest.Key), Create: true, Mark: true})
	require.NoError(t, err)
	assert.False(t, res.Checked, "filling an existing secret is not atomic")
	assert.Equal(t, map[string]string{"owner": "terraform", provider.MarkerKey: marker.Value}, srv.Annotations("", "app"))
	cur, err := p.Current(context.Background(), provider.Ref{Name: "app"})
	require.NoError(t, err)
	assert.Equal(t, providertest.Key, string(cur.Value))
	assert.True(t, cur.Marked)
}

func TestPut_AnEmptySecretAnotherPushIsCreatingIsAConflict(t *testing.T) {
	srv := startServer(t, gcpsm.ExternalAccount)
	createEmpty(t, srv, "app", map[string]string{provider.MarkerKey: marker.Value})
	p := newProvider(t, gcp.Settings{}, provider.Options{})
	before := srv.Writes()
	_, err := p.Put(context.Background(), provider.Ref{Name: "app"}, provider.PutRequest{Value: []byte(providertest.Key), Create: true, Mark: true})
	require.ErrorIs(t, err, provider.ErrConflict)
	assert.Contains(t, providerError(t, err).Hint, "gcloud secrets versions add app")
	assert.Equal(t, before+1, srv.Writes(), "only the refused CreateSecret")
	assert.Empty(t, srv.Versions("", "app"))
}

func TestPut_UpdateMergesAnnotationsUnderTheEtag(t *testing.T) {
	srv := startServer(t, gcpsm.ExternalAccount)
	createEmpty(t, srv, "app", map[string]string{"owner": "team-a"})
	srv.Put("", "app", []byte("old"))
	p := newProvider(t, gcp.Settings{}, provider.Options{})
	res, err := p.Put(context.Background(), provider.Ref{Name: "app"}, provider.PutRequest{Value: []byte(providertest.Key), PublicKey: providertest.PublicKey})
	require.NoError(t, err)
	assert.False(t, res.Checked)
	assert.Equal(t, "2", res.Version)
	assert.Equal(t, map[string]string{"owner": "team-a", provider.PublicKeyTag: providertest.PublicKey}, srv.Annotations("", "app"))
	assert.Equal(t, [][]byte{[]byte("old"), []byte(providertest.Key)}, srv.Versions("", "app"))

	// Nothing new to record: no UpdateSecret.
	updates := srv.Ops()["UpdateSecret"]
	_, err = p.Put(context.Background(), provider.Ref{Name: "app"}, provider.PutRequest{Value: []byte(providertest.Key), PublicKey: providertest.PublicKey})
	require.NoError(t, err)
	assert.Equal(t, updates, srv.Ops()["UpdateSecret"])
}

func TestPut_ASpecificVersionCannotBeWritten(t *testing.T) {
	srv := startServer(t, gcpsm.ExternalAccount)
	p := newProvider(t, gcp.Settings{}, provider.Options{})
	_, err := p.Put(context.Background(), provider.Ref{Name: "projects/" + gcpsm.DefaultProject + "/secrets/app/versions/3"}, provider.PutRequest{Value: []byte(providertest.Key)})
	require.ErrorIs(t, err, provider.ErrInvalid)
	assert.Zero(t, srv.Writes())
}

func TestPut_DeniedWritesNameTheirPermission(t *testing.T) {
	srv := startServer(t, gcpsm.ExternalAccount)
	srv.Put("", "app", []byte("old"))
	srv.DenyWrite("", "app")
	srv.DenyWrite("", "new")
	p := newProvider(t, gcp.Settings{}, provider.Options{})
	_, err := p.Put(context.Background(), provider.Ref{Name: "app"}, provider.PutRequest{Value: []byte(providertest.Key)})
	require.ErrorIs(t, err, provider.ErrPermissionDenied)
	assert.Contains(t, providerError(t, err).Hint, "roles/secretmanager.secretVersionAdder")
	_, err = p.Put(context.Background(), provider.Ref{Name: "new"}, provider.PutRequest{Value: []byte(providertest.Key), Create: true})
	require.ErrorIs(t, err, provider.ErrPermissionDenied)
	assert.Contains(t, providerError(t, err).Hint, "secretmanager.secrets.create on project "+gcpsm.DefaultProject)
}
