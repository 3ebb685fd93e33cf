package awssm_test

import (
	"context"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/testserver/awssm"
)

const (
	token1 = "11111111-1111-4111-8111-111111111111"
	token2 = "22222222-2222-4222-8222-222222222222"
)

func TestSDK_ClientRequestTokenMakesWritesIdempotent(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	c := sdkClient(s, awssm.DefaultRegion, awssm.SecretAccessKey)

	in := &secretsmanager.CreateSecretInput{Name: awssdk.String("app"), SecretString: awssdk.String("v1"), ClientRequestToken: awssdk.String(token1)}
	out, err := c.CreateSecret(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, token1, awssdk.ToString(out.VersionId), "the token becomes the version id")
	again, err := c.CreateSecret(ctx, in)
	require.NoError(t, err, "a retried create with the same token and value is answered as the first")
	assert.Equal(t, token1, awssdk.ToString(again.VersionId))
	_, err = c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: awssdk.String("app"), SecretString: awssdk.String("v1")})
	var exists *types.ResourceExistsException
	require.ErrorAs(t, err, &exists, "a create with a new token is refused")
	assert.Equal(t, "The operation failed because the secret app already exists.", exists.ErrorMessage())

	put := &secretsmanager.PutSecretValueInput{SecretId: awssdk.String("app"), SecretString: awssdk.String("v2"), ClientRequestToken: awssdk.String(token2)}
	pv, err := c.PutSecretValue(ctx, put)
	require.NoError(t, err)
	assert.Equal(t, []string{"AWSCURRENT"}, pv.VersionStages)
	_, err = c.PutSecretValue(ctx, put)
	require.NoError(t, err, "the same token and data: nothing happens")
	assert.Equal(t, [][]byte{[]byte("v1"), []byte("v2")}, s.Versions("", "app"), "no duplicate version")
	put.SecretString = awssdk.String("v3")
	_, err = c.PutSecretValue(ctx, put)
	require.ErrorAs(t, err, &exists, "a version cannot change")

	d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: awssdk.String("app")})
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{token1: {"AWSPREVIOUS"}, token2: {"AWSCURRENT"}}, d.VersionIdsToStages)
	old, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: awssdk.String("app"), VersionId: awssdk.String(token2)})
	require.NoError(t, err)
	assert.Equal(t, "v2", awssdk.ToString(old.SecretString))
}

func TestSDK_TagsOnCreateTagResourceAndDescribe(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	c := sdkClient(s, awssm.DefaultRegion, awssm.SecretAccessKey)
	_, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: awssdk.String("app"), SecretString: awssdk.String("v1"),
		Tags: []types.Tag{{Key: awssdk.String("managed-by"), Value: awssdk.String("envdrift")}}})
	require.NoError(t, err)
	_, err = c.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: awssdk.String("app"),
		Tags: []types.Tag{{Key: awssdk.String("team"), Value: awssdk.String("a")}, {Key: awssdk.String("managed-by"), Value: awssdk.String("envdrift")}}})
	require.NoError(t, err)
	d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: awssdk.String(s.ARN("", "app"))})
	require.NoError(t, err)
	require.Len(t, d.Tags, 2)
	assert.Equal(t, map[string]string{"managed-by": "envdrift", "team": "a"}, s.Tags("", "app"))

	_, err = c.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: awssdk.String("app"),
		Tags: []types.Tag{{Key: awssdk.String("aws:x"), Value: awssdk.String("y")}}})
	var api smithy.APIError
	require.ErrorAs(t, err, &api)
	assert.Equal(t, "InvalidParameterException", api.ErrorCode())
	_, err = c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: awssdk.String("missing")})
	var nf *types.ResourceNotFoundException
	require.ErrorAs(t, err, &nf)
}

func TestSDK_DenyWriteRefusesWritesButNotReadsAndWritesAreCounted(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	c := sdkClient(s, awssm.DefaultRegion, awssm.SecretAccessKey)
	s.Put("", "app", []byte("v1"))
	s.DenyWrite("", "app")
	before := s.Writes()
	for _, op := range []func() error{
		func() error {
			_, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: awssdk.String("app"), SecretString: awssdk.String("v2")})
			return err
		},
		func() error {
			_, err := c.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: awssdk.String("app"), Tags: []types.Tag{{Key: awssdk.String("k"), Value: awssdk.String("v")}}})
			return err
		},
	} {
		var api smithy.APIError
		require.ErrorAs(t, op(), &api)
		assert.Equal(t, "AccessDeniedException", api.ErrorCode())
	}
	got, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: awssdk.String("app")})
	require.NoError(t, err)
	assert.Equal(t, "v1", awssdk.ToString(got.SecretString))
	_, err = c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: awssdk.String("app")})
	require.NoError(t, err)
	assert.Equal(t, before+2, s.Writes(), "reads are not writes; refused writes are still write requests")
}

func TestSDK_ANameScheduledForDeletionCannotBeCreated(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	c := sdkClient(s, awssm.DefaultRegion, awssm.SecretAccessKey)
	s.Put("", "app", []byte("v1"))
	_, err := c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: awssdk.String("app")})
	require.NoError(t, err)
	_, err = c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: awssdk.String("app"), SecretString: awssdk.String("v2")})
	var inv *types.InvalidRequestException
	require.ErrorAs(t, err, &inv)
	assert.Contains(t, inv.ErrorMessage(), "scheduled for deletion")
}
