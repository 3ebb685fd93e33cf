package envdrift_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sdkPrefixes are the module paths of each cloud provider's SDK.
var sdkPrefixes = map[string][]string{
	"aws":       {"github.com/aws/"},
	"azure":     {"github.com/Azure/", "github.com/AzureAD/"},
	"gcp":       {"cloud.google.com/", "google.golang.org/grpc", "google.golang.org/api"},
	"hashicorp": {"github.com/hashicorp/vault/"},
}

func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
	require.NoError(t, err, string(out))
	return strings.Fields(string(out))
}

func linked(deps []string, prefixes []string) []string {
	var hits []string
	for _, d := range deps {
		for _, p := range prefixes {
			if strings.HasPrefix(d, p) {
				hits = append(hits, d)
				break
			}
		}
	}
	return hits
}

// TestDeps_RootAndFileProviderLinkNoCloudSDK builds the dependency list of
// examples/embed, a program importing only the root package and
// provider/file.
func TestDeps_RootAndFileProviderLinkNoCloudSDK(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	d := deps(t, "github.com/envdrift/envdrift/examples/embed")
	require.Contains(t, d, "github.com/envdrift/envdrift")
	require.Contains(t, d, "github.com/envdrift/envdrift/provider/file")
	for name, prefixes := range sdkPrefixes {
		require.Empty(t, linked(d, prefixes), "the root package and provider/file must not link the %s SDK", name)
	}
}

// TestDeps_JSONSchemaIsLinkedOnlyWhereTheCheckRuns checks that JSON Schema
// validation is opt-in: the JSON Schema compiler, whose package
// initialisation compiles five drafts' metaschemas, is linked by the schema
// package and envdrift-schema, and not by examples/embed (the root package
// and provider/file) or the envdrift binary, which leaves the check to
// envdrift-schema (internal/schemahelper).
func TestDeps_JSONSchemaIsLinkedOnlyWhereTheCheckRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	jsonschema := []string{"github.com/santhosh-tekuri/jsonschema"}
	for pkg, links := range map[string]bool{
		"examples/embed":      false,
		"cmd/envdrift":        false,
		"schema":              true,
		"cmd/envdrift-schema": true,
	} {
		got := linked(deps(t, "github.com/envdrift/envdrift/"+pkg), jsonschema)
		assert.Equal(t, links, len(got) > 0, "%s links the JSON Schema compiler: %v", pkg, got)
	}
}

// TestDeps_EachProviderLinksOnlyItsOwnSDK checks that importing one
// provider package pulls in no other provider's SDK.
func TestDeps_EachProviderLinksOnlyItsOwnSDK(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for name := range sdkPrefixes {
		t.Run(name, func(t *testing.T) {
			d := deps(t, "github.com/envdrift/envdrift/provider/"+name)
			require.NotEmpty(t, linked(d, sdkPrefixes[name]), "provider/%s should use its SDK", name)
			for other, prefixes := range sdkPrefixes {
				if other == name {
					continue
				}
				require.Empty(t, linked(d, prefixes), "provider/%s links the %s SDK", name, other)
			}
		})
	}
}
