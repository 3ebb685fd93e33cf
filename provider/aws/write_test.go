package aws_test

import (
	"context"
	"regexp"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/marker"
	"github.com/envdrift/envdrift/internal/testserver/awssm"
	"github.com/envdrift/envdrift/provider"
	awsp "github.com/envdrift/envdrift/provider/aws"
	"github.com/envdrift/envdrift/provider/providertest"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestPut_CreateTagsTheSecretAndNamesItsVersionByTheRequestToken(t *testing.T) {
	srv := startServer(t)
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	res, err := p.Put(ctx(t), provider.Ref{Name: "app/prod"}, provider.PutRequest{Value: []byte(providertest.Key), Create: true, Mark: true, PublicKey: providertest.PublicKey})
	require.NoError(t, err)
	assert.True(t, res.Checked)
	assert.Regexp(t, uuidRE, res.Version, "the version is the ClientRequestToken envdrift sent")
	assert.Equal(t, map[string]string{provider.MarkerKey: marker.Value, provider.PublicKeyTag: providertest.PublicKey}, srv.Tags("", "app/prod"))
	assert.Equal(t, 1, srv.Ops()["CreateSecret"])
	assert.Zero(t, srv.Ops()["TagResource"], "tags go with CreateSecret")
}

func TestPut_UpdateTagsOnlyWhenThereAreTagsToSet(t *testing.T) {
	srv := startServer(t)
	srv.Put("", "app", []byte("old"))
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	res, err := p.Put(ctx(t), provider.Ref{Name: "app"}, provider.PutRequest{Value: []byte(providertest.Key)})
	require.NoError(t, err)
	assert.False(t, res.Checked, "PutSecretValue has no condition")
	assert.Zero(t, srv.Ops()["TagResource"])
	_, err = p.Put(ctx(t), provider.Ref{Name: "app"}, provider.PutRequest{Value: []byte(providertest.Key), Mark: true})
	require.NoError(t, err)
	assert.Equal(t, 1, srv.Ops()["TagResource"])
	assert.Equal(t, map[string]string{provider.MarkerKey: marker.Value}, srv.Tags("", "app"))
	assert.Equal(t, [][]byte{[]byte("old"), []byte(providertest.Key), []byte(providertest.Key)}, srv.Versions("", "app"), "every write is a new version; none is lost")
}

func TestPut_ASecretNamedByARNCannotBeCreated(t *testing.T) {
	srv := startServer(t)
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	before := srv.Writes()
	_, err := p.Put(ctx(t), provider.Ref{Name: srv.ARN("", "app")}, provider.PutRequest{Value: []byte(providertest.Key), Create: true})
	assert.ErrorIs(t, err, provider.ErrInvalid)
	assert.Equal(t, before, srv.Writes())
}

func TestPut_ByARNUpdatesInTheARNsRegion(t *testing.T) {
	srv := startServer(t)
	srv.Put(otherRegion, "app", []byte("old"))
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	_, err := p.Put(ctx(t), provider.Ref{Name: srv.ARN(otherRegion, "app")}, provider.PutRequest{Value: []byte(providertest.Key)})
	require.NoError(t, err)
	sec, ok := srv.Get(otherRegion, "app")
	require.True(t, ok)
	assert.Equal(t, providertest.Key, string(sec.Value))
}

func TestPut_RefusesValuesThatAreNotText(t *testing.T) {
	srv := startServer(t)
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	_, err := p.Put(ctx(t), provider.Ref{Name: "app"}, provider.PutRequest{Value: []byte{0xff, 0x00, 'k'}, Create: true})
	assert.ErrorIs(t, err, provider.ErrInvalid)
	assert.Zero(t, srv.Writes())
}

func TestPut_DeniedCreateNamesThePermissionsAPushNeeds(t *testing.T) {
	srv := startServer(t)
	srv.DenyWrite("", "app")
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	_, err := p.Put(ctx(t), provider.Ref{Name: "app"}, provider.PutRequest{Value: []byte(providertest.Key), Create: true, Mark: true})
	require.ErrorIs(t, err, provider.ErrPermissionDenied)
	hint := providerError(t, err).Hint
	assert.Contains(t, hint, "secretsmanager:CreateSecret")
	assert.Contains(t, hint, "secretsmanager:TagResource")
	assert.Contains(t, hint, "arn:aws:secretsmanager:"+awssm.DefaultRegion+":"+awssm.AccountID+":secret:app-*")

	srv.Put("", "app", []byte("old"))
	srv.DenyWrite("", "app")
	_, err = p.Put(ctx(t), provider.Ref{Name: "app"}, provider.PutRequest{Value: []byte(providertest.Key)})
	require.ErrorIs(t, err, provider.ErrPermissionDenied)
	assert.Contains(t, providerError(t, err).Hint, "secretsmanager:PutSecretValue")
}

func TestCurrent_ReadsTagsSetOutsideEnvdrift(t *testing.T) {
	srv := startServer(t)
	srv.Put("", "app", []byte(providertest.Key))
	admin := secretsmanager.New(secretsmanager.Options{Region: awssm.DefaultRegion, BaseEndpoint: awssdk.String(srv.URL()),
		Credentials: awssdk.CredentialsProviderFunc(func(context.Context) (awssdk.Credentials, error) {
			return awssdk.Credentials{AccessKeyID: awssm.AccessKeyID, SecretAccessKey: awssm.SecretAccessKey}, nil
		})})
	_, err := admin.TagResource(ctx(t), &secretsmanager.TagResourceInput{SecretId: awssdk.String("app"), Tags: []types.Tag{
		{Key: awssdk.String(provider.MarkerKey), Value: awssdk.String("someone-else")},
		{Key: awssdk.String(provider.PublicKeyTag), Value: awssdk.String(providertest.PublicKey)},
	}})
	require.NoError(t, err)
	p := newProvider(t, awsp.Settings{}, provider.Options{})
	before := srv.Writes()
	cur, err := p.Current(ctx(t), provider.Ref{Name: "app"})
	require.NoError(t, err)
	assert.False(t, cur.Marked, "only managed-by=envdrift is envdrift's marker")
	assert.Equal(t, providertest.PublicKey, cur.PublicKey)
	assert.Equal(t, providertest.Key, string(cur.Value))
	assert.Equal(t, before, srv.Writes(), "Current writes nothing")
}
