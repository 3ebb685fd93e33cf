package hashicorp_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/testserver"
	"github.com/envdrift/envdrift/internal/testserver/vaultkv"
	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/hashicorp"
	"github.com/envdrift/envdrift/provider/providertest"
)

// Real-endpoint tier: a Vault reachable at ENVDRIFT_TEST_VAULT_ADDR with a
// token allowed to enable mounts, write policies and create tokens (the root
// token of `vault server -dev` will do).
const (
	envRealAddr  = "ENVDRIFT_TEST_VAULT_ADDR"
	envRealToken = "ENVDRIFT_TEST_VAULT_TOKEN"
)

// harness runs the conformance suite against a KV mount pair of one
// version, on the local server (srv != nil) or on a real Vault.
type harness struct {
	testserver.Faults // fault injection of the local server; unsupported on a real endpoint
	srv               *vaultkv.Server
	admin             *vault.Client // writes secrets, through the client's KV helpers
	mount             string
	other             string
	version           int

	// real endpoint only
	mu       sync.Mutex
	policy   string
	denied   []string
	readOnly []string
}

func (h *harness) MakeProvider(ctx context.Context) (provider.Provider, error) {
	d, lerr := provider.Default().Lookup(hashicorp.Name)
	if lerr != nil {
		return nil, fmt.Errorf("provider %q not registered", hashicorp.Name)
	}
	// No kv_version: every provider detects its mounts' version, as a user
	// without kv_version gets. Address and token come from VAULT_ADDR and
	// VAULT_TOKEN, set by the test.
	opts := provider.Options{}
	if h.srv != nil {
		opts = fastRetry(opts)
	}
	return d.Open(ctx, &hashicorp.Settings{Mount: h.mount}, opts)
}

func (h *harness) mountOf(vaultName string) string {
	if vaultName == "" {
		return h.mount
	}
	return vaultName
}

func (h *harness) CreateSecret(ctx context.Context, vaultName, name string, value []byte) error {
	data := map[string]any{"value": string(value)}
	if h.version == 2 {
		_, err := h.admin.KVv2(h.mountOf(vaultName)).Put(ctx, name, data)
		return err
	}
	return h.admin.KVv1(h.mountOf(vaultName)).Put(ctx, name, data)
}

// CreateBinarySecret: Vault KV stores JSON fields, which hold text only.
func (h *harness) CreateBinarySecret(context.Context, string, string, []byte) error {
	return providertest.ErrUnsupported
}

func (h *harness) OtherVault() string { return h.other }

// Conditional: KV v2 writes are check-and-set; KV v1 has no versions.
func (h *harness) Conditional() (create, update bool) { return h.version == 2, h.version == 2 }

func (h *harness) Metadata(ctx context.Context, vaultName, name string) (map[string]string, error) {
	if h.version != 2 {
		return nil, providertest.ErrUnsupported // KV v1 keeps no metadata
	}
	if h.srv != nil {
		m := h.srv.CustomMetadata("", h.mountOf(vaultName), name)
		if m == nil {
			m = map[string]string{}
		}
		return m, nil
	}
	md, err := h.admin.KVv2(h.mountOf(vaultName)).GetMetadata(ctx, name)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range md.CustomMetadata {
		out[k] = fmt.Sprint(v)
	}
	return out, nil
}

func (h *harness) History(ctx context.Context, vaultName, name string) ([][]byte, error) {
	if h.version != 2 {
		return nil, providertest.ErrUnsupported // KV v1 keeps one value
	}
	kv := h.admin.KVv2(h.mountOf(vaultName))
	versions, err := kv.GetVersionsAsList(ctx, name)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, v := range versions {
		sec, err := kv.GetVersion(ctx, name, v.Version)
		if err != nil {
			return nil, err
		}
		out = append(out, []byte(fmt.Sprint(sec.Data["value"])))
	}
	return out, nil
}

func (h *harness) DenyWrite(_ context.Context, vaultName, name string) error {
	mount := h.mountOf(vaultName)
	if h.srv != nil {
		h.srv.DenyWrite("", mount, name)
		return nil
	}
	h.mu.Lock()
	if h.version == 2 {
		h.readOnly = append(h.readOnly, mount+"/data/"+name)
		h.denied = append(h.denied, mount+"/metadata/"+name)
	} else {
		h.readOnly = append(h.readOnly, mount+"/"+name)
	}
	h.mu.Unlock()
	return h.writePolicy()
}

func (h *harness) Writes() int {
	if h.srv == nil {
		return -1
	}
	return h.srv.Writes()
}

func (h *harness) DenyAccess(ctx context.Context, vaultName, name string) error {
	mount := h.mountOf(vaultName)
	if h.srv != nil {
		h.srv.Deny("", mount, name)
		return nil
	}
	p := mount + "/" + name
	if h.version == 2 {
		p = mount + "/data/" + name
	}
	h.mu.Lock()
	h.denied = append(h.denied, p)
	h.mu.Unlock()
	return h.writePolicy()
}

// writePolicy (real endpoint) grants what envdrift push needs on both
// mounts (read, create and update; the metadata endpoint for KV v2), makes
// the paths DenyWrite named read-only and denies the paths DenyAccess named.
func (h *harness) writePolicy() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	for _, m := range []string{h.mount, h.other} {
		if h.version == 2 {
			fmt.Fprintf(&b, "path %q { capabilities = [\"create\", \"read\", \"update\"] }\n", m+"/data/*")
			fmt.Fprintf(&b, "path %q { capabilities = [\"create\", \"update\"] }\n", m+"/metadata/*")
		} else {
			fmt.Fprintf(&b, "path %q { capabilities = [\"create\", \"read\", \"update\"] }\n", m+"/*")
		}
	}
	for _, p := range h.readOnly {
		fmt.Fprintf(&b, "path %q { capabilities = [\"read\"] }\n", p)
	}
	for _, p := range h.denied {
		fmt.Fprintf(&b, "path %q { capabilities = [\"deny\"] }\n", p)
	}
	return h.admin.Sys().PutPolicy(h.policy, b.String())
}

func localHarness(t *testing.T, version int) *harness {
	t.Helper()
	srv := startServer(t)
	h := &harness{Faults: testserver.Faults{S: srv.Base}, srv: srv, mount: "secret", other: "team-b", version: version}
	if version == 1 {
		h.mount, h.other = "kv", "kv-team-b"
		srv.Mount("", h.mount, 1)
		srv.Mount("", h.other, 1)
	} else {
		srv.Mount("", h.other, 2)
	}
	h.admin = adminClient(t, srv.URL(), srv.Token())
	return h
}

func adminClient(t *testing.T, addr, token string) *vault.Client {
	t.Helper()
	cfg := vault.DefaultConfig()
	require.NoError(t, cfg.Error)
	cfg.Address = addr
	c, err := vault.NewClient(cfg)
	require.NoError(t, err)
	c.SetToken(token)
	return c
}

func TestConformanceKVv2(t *testing.T) {
	providertest.Run(t, localHarness(t, 2), providertest.Options{})
}

func TestConformanceKVv1(t *testing.T) {
	providertest.Run(t, localHarness(t, 1), providertest.Options{})
}

// realHarness prepares mounts, a policy and a limited token on a real Vault.
func realHarness(t *testing.T, version int) *harness {
	t.Helper()
	addr, rootToken := os.Getenv(envRealAddr), os.Getenv(envRealToken)
	if addr == "" || rootToken == "" {
		t.Skipf("set %s and %s (e.g. a `vault server -dev` and its root token) to run the suite against a real Vault",
			envRealAddr, envRealToken)
	}
	ctx := context.Background()
	admin := adminClient(t, addr, rootToken)
	h := &harness{
		admin:   admin,
		mount:   fmt.Sprintf("envdrift-conformance-v%d", version),
		other:   fmt.Sprintf("envdrift-conformance-v%d-b", version),
		version: version,
		policy:  fmt.Sprintf("envdrift-conformance-v%d", version),
	}
	mounts, err := admin.Sys().ListMountsWithContext(ctx)
	require.NoError(t, err, "listing mounts on %s", addr)
	for _, m := range []string{h.mount, h.other} {
		if _, exists := mounts[m+"/"]; exists {
			continue
		}
		require.NoError(t, admin.Sys().MountWithContext(ctx, m, &vault.MountInput{
			Type: "kv", Options: map[string]string{"version": fmt.Sprint(version)},
		}))
	}
	if version == 2 {
		// A new KV v2 mount upgrades in the background; wait until both serve.
		deadline := time.Now().Add(15 * time.Second)
		for _, m := range []string{h.mount, h.other} {
			for {
				_, err := admin.KVv2(m).Put(ctx, "envdrift-ready", map[string]any{"value": "x"})
				if err == nil || time.Now().After(deadline) {
					require.NoError(t, err, "mount %s", m)
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
	require.NoError(t, h.writePolicy())
	tok, err := admin.Auth().Token().CreateWithContext(ctx, &vault.TokenCreateRequest{
		Policies: []string{h.policy}, TTL: "30m",
	})
	require.NoError(t, err)
	// The provider authenticates with the limited token, through the
	// standard variables.
	t.Setenv("VAULT_ADDR", addr)
	t.Setenv("VAULT_TOKEN", tok.Auth.ClientToken)
	t.Setenv("VAULT_NAMESPACE", "")
	t.Setenv("HOME", t.TempDir())
	t.Cleanup(func() { _ = admin.Auth().Token().RevokeTreeWithContext(ctx, tok.Auth.ClientToken) })
	return h
}

func TestConformanceRealVaultKVv2(t *testing.T) {
	providertest.Run(t, realHarness(t, 2), providertest.Options{})
}

func TestConformanceRealVaultKVv1(t *testing.T) {
	providertest.Run(t, realHarness(t, 1), providertest.Options{})
}
