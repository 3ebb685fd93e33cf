package gcpsm_test

import (
	"context"
	"strings"
	"testing"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/envdrift/envdrift/internal/testserver/gcpsm"
)

var automatic = &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}}

func TestMetadata_AnnotationsEtagsAndUpdateSecret(t *testing.T) {
	srv := start(t, gcpsm.ExternalAccount)
	c := client(t, srv)
	ctx := context.Background()
	parent := "projects/" + gcpsm.DefaultProject
	created, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: parent, SecretId: "app",
		Secret: &secretmanagerpb.Secret{Replication: automatic, Annotations: map[string]string{"dotenv-public-key": "02" + strings.Repeat("ab", 32)}}})
	require.NoError(t, err, "a 66-character annotation value is fine")
	assert.True(t, strings.HasPrefix(created.GetEtag(), `"`), "etags carry their quotes")

	got, err := c.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: parent + "/secrets/app"})
	require.NoError(t, err)
	assert.Equal(t, created.GetEtag(), got.GetEtag())
	assert.Equal(t, created.GetAnnotations(), got.GetAnnotations())

	_, err = c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: parent + "/secrets/app", Payload: &secretmanagerpb.SecretPayload{Data: []byte("v1")}})
	require.NoError(t, err)
	again, err := c.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: parent + "/secrets/app"})
	require.NoError(t, err)
	assert.Equal(t, got.GetEtag(), again.GetEtag(), "adding a version leaves the secret's etag alone")

	update := func(etag string) error {
		_, err := c.UpdateSecret(ctx, &secretmanagerpb.UpdateSecretRequest{
			Secret:     &secretmanagerpb.Secret{Name: parent + "/secrets/app", Annotations: map[string]string{"managed-by": "envdrift"}, Etag: etag},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"annotations"}},
		})
		return err
	}
	require.NoError(t, update(got.GetEtag()))
	assert.Equal(t, codes.FailedPrecondition, status.Code(update(got.GetEtag())), "a stale etag is refused")
	assert.Equal(t, map[string]string{"managed-by": "envdrift"}, srv.Annotations("", "app"))
	require.NoError(t, update(""), "no etag: no condition")
}

func TestMetadata_LabelValuesAreLimitedTo63Characters(t *testing.T) {
	srv := start(t, gcpsm.ExternalAccount)
	c := client(t, srv)
	_, err := c.CreateSecret(context.Background(), &secretmanagerpb.CreateSecretRequest{Parent: "projects/" + gcpsm.DefaultProject, SecretId: "app",
		Secret: &secretmanagerpb.Secret{Replication: automatic, Labels: map[string]string{"dotenv-public-key": "02" + strings.Repeat("ab", 32)}}})
	assert.Equal(t, codes.InvalidArgument, status.Code(err), "a public key does not fit a label value")
}

func TestDenyWrite_RefusesWritesButNotReads(t *testing.T) {
	srv := start(t, gcpsm.ExternalAccount)
	c := client(t, srv)
	ctx := context.Background()
	srv.Put("", "app", []byte("v1"))
	srv.DenyWrite("", "app")
	before := srv.Writes()
	_, err := c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: "projects/" + gcpsm.DefaultProject + "/secrets/app", Payload: &secretmanagerpb.SecretPayload{Data: []byte("v2")}})
	assert.Equal(t, codes.PermissionDenied, status.Code(err))
	assert.Contains(t, err.Error(), "secretmanager.versions.add")
	got, err := c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/" + gcpsm.DefaultProject + "/secrets/app/versions/latest"})
	require.NoError(t, err)
	assert.Equal(t, "v1", string(got.GetPayload().GetData()))
	assert.Equal(t, before+1, srv.Writes())
}
