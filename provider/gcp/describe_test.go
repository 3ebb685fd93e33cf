package gcp_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/gcp"
)

func TestDescribe_NamesProjectAndEndpoint(t *testing.T) {
	t.Setenv(gcp.ProjectEnv, "")
	t.Setenv(gcp.GcloudProjectEnv, "")
	t.Setenv(gcp.EndpointEnv, "")
	p, err := gcp.New(gcp.Settings{ProjectID: "my-proj"}, provider.Options{})
	require.NoError(t, err)
	var d provider.Describer = p
	assert.Equal(t, "project my-proj", d.Describe(""))
	assert.Equal(t, "project other-proj", d.Describe("other-proj"), "vault_name is the project")

	p, err = gcp.New(gcp.Settings{ProjectID: "my-proj", Endpoint: "secretmanager.me-central2.rep.googleapis.com"}, provider.Options{})
	require.NoError(t, err)
	assert.Equal(t, "project my-proj at secretmanager.me-central2.rep.googleapis.com:443", p.Describe(""))
}
