package aws_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/provider"
	awsp "github.com/envdrift/envdrift/provider/aws"
)

func TestDescribe_NamesRegionAndEndpoint(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	p, err := awsp.New(awsp.Settings{Region: "eu-west-1", EndpointURL: "http://localhost:4566"}, provider.Options{})
	require.NoError(t, err)
	var d provider.Describer = p
	assert.Equal(t, "region eu-west-1 at http://localhost:4566", d.Describe(""))
	assert.Equal(t, "region us-east-2 at http://localhost:4566", d.Describe("us-east-2"), "vault_name is the region")

	p, err = awsp.New(awsp.Settings{}, provider.Options{})
	require.NoError(t, err)
	assert.Equal(t, "the profile's region", p.Describe(""))
	t.Setenv("AWS_REGION", "ap-south-1")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
	assert.Equal(t, "region ap-south-1 at http://127.0.0.1:9", p.Describe(""))
}
