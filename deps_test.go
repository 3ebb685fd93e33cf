package envdrift_test

import (
	"os/exec"
	"strings"
	"testing"

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

// TestDeps_RootAndFileProviderLinkNoJSONSchema checks that JSON Schema
// validation is opt-in: examples/embed (the root package and provider/file)
// does not link the JSON Schema compiler, whose package initialisation
// compiles five drafts' metaschemas, while the schema package does.
func TestDeps_RootAndFileProviderLinkNoJSONSchema(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	jsonschema := []string{"github.com/santhosh-tekuri/jsonschema"}
	require.Empty(t, linked(deps(t, "github.com/envdrift/envdrift/examples/embed"), jsonschema),
		"the root package and provider/file must not link the JSON Schema compiler")
	require.NotEmpty(t, linked(deps(t, "github.com/envdrift/envdrift/schema"), jsonschema),
		"the schema package should use the JSON Schema compiler")
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
