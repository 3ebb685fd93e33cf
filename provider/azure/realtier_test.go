package azure_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/azure"
	"github.com/envdrift/envdrift/provider/providertest"
)

// The real-endpoint tier. It runs the conformance suite against a real Key
// Vault when ENVDRIFT_TEST_AZURE_VAULT_URL names one. Credentials come from
// DefaultAzureCredential as for users (az login, AZURE_CLIENT_ID /
// AZURE_TENANT_ID / AZURE_CLIENT_SECRET, workload or managed identity); the
// identity must be allowed to set and get secrets ("Key Vault Secrets
// Officer") because the harness creates the suite's secrets with SetSecret.
const (
	realVaultEnv = "ENVDRIFT_TEST_AZURE_VAULT_URL"
	realOtherEnv = "ENVDRIFT_TEST_AZURE_OTHER_VAULT"
	// realChildEnv marks the child process the tier runs in: TestMain
	// points the parent at the local server (proxy, CA, credentials), which
	// must not leak into requests to the real Azure.
	realChildEnv = "ENVDRIFT_TEST_AZURE_REAL_CHILD"
)

func TestRealEndpoint(t *testing.T) {
	vaultURL := os.Getenv(realVaultEnv)
	if vaultURL == "" {
		t.Skip("set " + realVaultEnv + "=https://<vault>.vault.azure.net/ (and optionally " + realOtherEnv +
			"=<second vault name> for the routing check) to run the conformance suite against a real Key Vault; " +
			"credentials come from DefaultAzureCredential (az login, AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, managed identity)")
	}
	if srv != nil && os.Getenv(realChildEnv) != "1" {
		runRealTierInChild(t)
		return
	}
	h, err := newRealHarness(vaultURL, os.Getenv(realOtherEnv))
	if err != nil {
		t.Fatal(err)
	}
	// Key Vault's documented limit is "25 KB"; stay safely under it.
	providertest.Run(t, h, providertest.Options{LargePayload: 24 << 10})
}

func runRealTierInChild(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestRealEndpoint$", "-test.v", "-test.count=1")
	cmd.Env = append(slices.Clone(parentEnv), realChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("real-endpoint tier (child process):\n%s", out)
	if err != nil {
		t.Fatalf("real-endpoint tier failed: %v", err)
	}
}

type realHarness struct {
	vaultURL, other string
	resolve         *azure.Provider // maps vault names to URLs as the provider does
	cred            *azidentity.DefaultAzureCredential

	mu      sync.Mutex
	clients map[string]*azsecrets.Client
}

func newRealHarness(vaultURL, other string) (*realHarness, error) {
	resolve, err := azure.New(&azure.Settings{VaultURL: vaultURL}, provider.Options{})
	if err != nil {
		return nil, err
	}
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, err
	}
	return &realHarness{vaultURL: vaultURL, other: other, resolve: resolve, cred: cred, clients: map[string]*azsecrets.Client{}}, nil
}

func (h *realHarness) MakeProvider(ctx context.Context) (provider.Provider, error) {
	d, lerr := provider.Default().Lookup(azure.Name)
	if lerr != nil {
		return nil, errors.New("azure provider not registered")
	}
	return d.Open(ctx, &azure.Settings{VaultURL: h.vaultURL}, provider.Options{})
}

func (h *realHarness) client(vault string) (*azsecrets.Client, error) {
	u, err := h.resolve.VaultURL(vault)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.clients[u]; ok {
		return c, nil
	}
	c, err := azsecrets.NewClient(u, h.cred, nil)
	if err != nil {
		return nil, err
	}
	h.clients[u] = c
	return c, nil
}

func (h *realHarness) CreateSecret(ctx context.Context, vault, name string, value []byte) error {
	c, err := h.client(vault)
	if err != nil {
		return err
	}
	v := string(value)
	_, err = c.SetSecret(ctx, name, azsecrets.SetSecretParameters{Value: &v}, nil)
	return err
}

func (h *realHarness) CreateBinarySecret(context.Context, string, string, []byte) error {
	return providertest.ErrUnsupported // Key Vault secrets are text
}

func (h *realHarness) OtherVault() string { return h.other }

func (h *realHarness) DenyAccess(context.Context, string, string) error {
	return providertest.ErrUnsupported // would need role-assignment rights
}

// Conditional: Key Vault has no conditional write.
func (h *realHarness) Conditional() (create, update bool) { return false, false }

func (h *realHarness) Metadata(ctx context.Context, vault, name string) (map[string]string, error) {
	c, err := h.client(vault)
	if err != nil {
		return nil, err
	}
	resp, err := c.GetSecret(ctx, name, "", nil)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range resp.Tags {
		if v != nil {
			out[k] = *v
		}
	}
	return out, nil
}

func (h *realHarness) History(ctx context.Context, vault, name string) ([][]byte, error) {
	c, err := h.client(vault)
	if err != nil {
		return nil, err
	}
	type entry struct {
		created time.Time
		value   []byte
	}
	var entries []entry
	pager := c.NewListSecretPropertiesVersionsPager(name, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range page.Value {
			if p.ID == nil || p.Attributes == nil || p.Attributes.Created == nil {
				continue
			}
			got, err := c.GetSecret(ctx, name, p.ID.Version(), nil)
			if err != nil {
				return nil, err
			}
			entries = append(entries, entry{*p.Attributes.Created, []byte(*got.Value)})
		}
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].created.Before(entries[j].created) })
	out := make([][]byte, len(entries))
	for i, e := range entries {
		out[i] = e.value
	}
	return out, nil
}

func (h *realHarness) DenyWrite(context.Context, string, string) error {
	return providertest.ErrUnsupported // role assignments are out of the test's reach
}

func (h *realHarness) Writes() int { return -1 }

func (h *realHarness) Throttle(int) error    { return providertest.ErrUnsupported }
func (h *realHarness) FailWith(string) error { return providertest.ErrUnsupported }
func (h *realHarness) Stall() error          { return providertest.ErrUnsupported }
func (h *realHarness) Reset()                {}
func (h *realHarness) Requests() int         { return -1 }
