package vaultkv_test

import (
	"context"
	"testing"

	vault "github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/api/auth/approle"
	"github.com/hashicorp/vault/api/auth/kubernetes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/testserver/vaultkv"
)

// These tests pin the answers the server shares with real Vault, where the
// real answer is known (Vault's documentation, its source, and answers
// observed from Vault and OpenBao servers).

// rawErr performs a raw request and returns Vault's error answer.
func rawErr(t *testing.T, c *vault.Client, method, path string, body any) *vault.ResponseError {
	t.Helper()
	r := c.NewRequest(method, "/v1/"+path)
	if body != nil {
		require.NoError(t, r.SetJSONBody(body))
	}
	//lint:ignore SA1019 the raw answer, errors included, is the point
	resp, err := c.RawRequestWithContext(context.Background(), r)
	if resp != nil {
		resp.Body.Close()
	}
	return respErr(t, err)
}

func TestPolicy_PathRulesDecideAndDenialIsVaultsBody(t *testing.T) {
	s := start(t, false)
	s.Mount("", "kv", 1)
	for _, p := range []string{"app/prod", "app/dev", "other/x"} {
		_, err := s.PutValue("", "secret", p, "v")
		require.NoError(t, err)
	}
	_, err := s.PutValue("", "kv", "app/prod", "v")
	require.NoError(t, err)
	s.SetPolicy("app-read",
		vaultkv.Rule{Path: "secret/data/app/*", Capabilities: []string{"read"}},
		vaultkv.Rule{Path: "secret/data/app/dev", Capabilities: []string{"deny"}},
		vaultkv.Rule{Path: "kv/+/prod", Capabilities: []string{"read"}})
	s.AddTokenWithPolicies("hvs.app", vaultkv.PolicyDefault, "app-read")
	c := client(t, s)
	c.SetToken("hvs.app")
	ctx := context.Background()

	_, err = c.KVv2("secret").Get(ctx, "app/prod")
	require.NoError(t, err, "the glob allows it")
	_, err = c.KVv1("kv").Get(ctx, "app/prod")
	require.NoError(t, err, "+ matches one segment")

	for _, path := range []string{"secret/data/app/dev", "secret/data/other/x", "kv/a/b/prod"} {
		re := rawErr(t, c, "GET", path, nil)
		assert.Equal(t, 403, re.StatusCode, path)
		assert.Equal(t, []string{"1 error occurred:\n\t* permission denied\n\n"}, re.Errors, path)
	}
	// Read does not allow a write.
	re := rawErr(t, c, "PUT", "secret/data/app/prod", map[string]any{"data": map[string]any{"value": "x"}})
	assert.Equal(t, 403, re.StatusCode)

	// The default policy lets a token look itself up.
	sec, err := c.Auth().Token().LookupSelf()
	require.NoError(t, err)
	assert.Equal(t, []any{"default", "app-read"}, sec.Data["policies"])
}

func TestMountLookup_PreflightRefusalAsVaultWordsIt(t *testing.T) {
	s := start(t, false)
	s.SetPolicy("app-read", vaultkv.Rule{Path: "secret/data/app/*", Capabilities: []string{"read"}})
	s.AddTokenWithPolicies("hvs.app", vaultkv.PolicyDefault, "app-read")
	s.AddTokenWithPolicies("hvs.nothing", vaultkv.PolicyDefault)
	c := client(t, s)

	c.SetToken("hvs.app")
	sec, err := c.Logical().Read("sys/internal/ui/mounts/secret/app/prod")
	require.NoError(t, err, "a token with any access under the mount learns its type")
	assert.Equal(t, "secret/", sec.Data["path"])

	// Vault's `vault kv get` shows this answer for a mount the token may
	// do nothing under, and for a path under no mount.
	c.SetToken("hvs.nothing")
	re := rawErr(t, c, "GET", "sys/internal/ui/mounts/secret/app/prod", nil)
	assert.Equal(t, 403, re.StatusCode)
	assert.Equal(t, []string{`preflight capability check returned 403, please ensure client's policies grant access to path "secret/app/prod/"`}, re.Errors)
	c.SetToken(s.Token())
	re = rawErr(t, c, "GET", "sys/internal/ui/mounts/kv", nil)
	assert.Equal(t, []string{`preflight capability check returned 403, please ensure client's policies grant access to path "kv/"`}, re.Errors)
}

func TestBuiltinMounts_CubbyholeAndSysAnswerAsVault(t *testing.T) {
	s := start(t, false)
	c := client(t, s)

	sec, err := c.Logical().Read("sys/internal/ui/mounts/cubbyhole/x")
	require.NoError(t, err)
	assert.Equal(t, "cubbyhole", sec.Data["type"])
	assert.Equal(t, "cubbyhole/", sec.Data["path"])

	re := rawErr(t, c, "GET", "cubbyhole/x", nil)
	assert.Equal(t, 404, re.StatusCode)
	assert.Empty(t, re.Errors, "a missing cubbyhole entry is a bare 404")

	re = rawErr(t, c, "GET", "sys/namespaces/team-a", nil)
	assert.Equal(t, 404, re.StatusCode)
	assert.Equal(t, []string{"1 error occurred:\n\t* unsupported path\n\n"}, re.Errors)

	re = rawErr(t, c, "GET", "nowhere/x", nil)
	assert.Equal(t, 404, re.StatusCode)
	assert.Equal(t, []string{`no handler for route "nowhere/x". route entry not found.`}, re.Errors, "root token, no mount")

	s.AddTokenWithPolicies("hvs.plain", vaultkv.PolicyDefault)
	c.SetToken("hvs.plain")
	re = rawErr(t, c, "GET", "nowhere/x", nil)
	assert.Equal(t, 403, re.StatusCode, "a token without a policy for the path is refused before routing")
	re = rawErr(t, c, "GET", "sys/namespaces/team-a", nil)
	assert.Equal(t, 403, re.StatusCode)
}

func TestAppRoleLogin_ThroughTheOfficialModule(t *testing.T) {
	s := start(t, false)
	s.EnableAuth("", "approle", vaultkv.AuthAppRole)
	s.SetPolicy("reader", vaultkv.Rule{Path: "secret/data/*", Capabilities: []string{"read"}})
	roleID := s.AddAppRole("", "approle", "ci", "reader")
	secretID := s.NewSecretID("", "approle", "ci")
	_, err := s.PutValue("", "secret", "app", "v")
	require.NoError(t, err)
	c := client(t, s)
	c.ClearToken()
	ctx := context.Background()

	m, err := approle.NewAppRoleAuth(roleID, &approle.SecretID{FromString: secretID})
	require.NoError(t, err)
	auth, err := c.Auth().Login(ctx, m)
	require.NoError(t, err)
	assert.Equal(t, []string{"default", "reader"}, auth.Auth.Policies)
	assert.True(t, auth.Auth.Renewable)
	assert.Equal(t, s.IssuedTokens(), []string{auth.Auth.ClientToken})
	_, err = c.KVv2("secret").Get(ctx, "app")
	require.NoError(t, err, "the login token reads what its policy allows")

	bad, err := approle.NewAppRoleAuth(roleID, &approle.SecretID{FromString: "wrong"})
	require.NoError(t, err)
	_, err = c.Auth().Login(ctx, bad)
	re := respErr(t, err)
	assert.Equal(t, 400, re.StatusCode)
	assert.Equal(t, []string{"invalid role or secret ID"}, re.Errors)

	// A wrapped secret ID is unwrapped once; a second use is refused.
	wrapping := s.WrapSecretID("", "approle", "ci")
	w, err := approle.NewAppRoleAuth(roleID, &approle.SecretID{FromString: wrapping}, approle.WithWrappingToken())
	require.NoError(t, err)
	c.ClearToken()
	_, err = c.Auth().Login(ctx, w)
	require.NoError(t, err)
	c.ClearToken()
	_, err = c.Auth().Login(ctx, w)
	re = respErr(t, err)
	assert.Equal(t, 400, re.StatusCode)
	assert.Equal(t, []string{"wrapping token is not valid or does not exist"}, re.Errors)

	// The token renews and revokes itself.
	c.SetToken(auth.Auth.ClientToken)
	_, err = c.Auth().Token().RenewSelfWithContext(ctx, 0)
	require.NoError(t, err)
	require.NoError(t, c.Auth().Token().RevokeSelfWithContext(ctx, ""))
	assert.False(t, s.TokenValid(auth.Auth.ClientToken))
}

func TestKubernetesAndJWTLogin_AnswerAsTheirPlugins(t *testing.T) {
	s := start(t, false)
	s.EnableAuth("", "kubernetes", vaultkv.AuthKubernetes)
	s.EnableAuth("", "jwt-gh", vaultkv.AuthJWT)
	s.AddLoginRole("", "kubernetes", "app", "sa.jwt.token")
	s.AddLoginRole("", "jwt-gh", "ci", "gh.id.token")
	c := client(t, s)
	c.ClearToken()
	ctx := context.Background()

	k, err := kubernetes.NewKubernetesAuth("app", kubernetes.WithServiceAccountToken("sa.jwt.token"))
	require.NoError(t, err)
	_, err = c.Auth().Login(ctx, k)
	require.NoError(t, err)

	for _, tc := range []struct {
		mount string
		body  map[string]any
		code  int
		msg   string
	}{
		{"kubernetes", map[string]any{"role": "nope", "jwt": "sa.jwt.token"}, 400, `invalid role name "nope"`},
		{"kubernetes", map[string]any{"role": "app", "jwt": "forged"}, 403, "permission denied"},
		{"jwt-gh", map[string]any{"role": "nope", "jwt": "gh.id.token"}, 400, `role "nope" could not be found`},
		{"jwt-gh", map[string]any{"role": "ci", "jwt": ""}, 400, "missing token"},
	} {
		c.ClearToken()
		re := rawErr(t, c, "PUT", "auth/"+tc.mount+"/login", tc.body)
		assert.Equal(t, tc.code, re.StatusCode, tc.msg)
		assert.Equal(t, []string{tc.msg}, re.Errors)
	}
	c.ClearToken()
	sec, err := c.Logical().WriteWithContext(ctx, "auth/jwt-gh/login", map[string]any{"role": "ci", "jwt": "gh.id.token"})
	require.NoError(t, err)
	assert.NotEmpty(t, sec.Auth.ClientToken)

	// A login to an auth mount that does not exist is an authenticated
	// path like any other: without a token, a bare permission denied.
	re := rawErr(t, c, "PUT", "auth/approle/login", map[string]any{"role_id": "x", "secret_id": "y"})
	assert.Equal(t, 403, re.StatusCode)
	assert.Equal(t, []string{"permission denied"}, re.Errors)
}

func TestFlavors_HealthAndNamespaces(t *testing.T) {
	s := start(t, false)
	s.Mount("team-a", "secret", 2)
	_, err := s.PutValue("", "secret", "app", "root-value")
	require.NoError(t, err)
	_, err = s.PutValue("team-a", "secret", "app", "ns-value")
	require.NoError(t, err)
	c := client(t, s)
	ctx := context.Background()

	h, err := c.Sys().HealthWithContext(ctx)
	require.NoError(t, err)
	assert.True(t, h.Enterprise)
	assert.Equal(t, "1.21.0+ent", h.Version)

	s.SetFlavor(vaultkv.VaultCommunity)
	h, err = c.Sys().HealthWithContext(ctx)
	require.NoError(t, err)
	assert.False(t, h.Enterprise)
	assert.Equal(t, "1.21.0", h.Version)
	got, err := c.WithNamespace("team-a").KVv2("secret").Get(ctx, "app")
	require.NoError(t, err)
	assert.Equal(t, "root-value", got.Data["value"], "Vault Community ignores the namespace")
	got, err = c.WithNamespace("no-such").KVv2("secret").Get(ctx, "app")
	require.NoError(t, err)
	assert.Equal(t, "root-value", got.Data["value"], "even one that exists nowhere")

	s.SetFlavor(vaultkv.OpenBao)
	raw, err := c.Logical().ReadRawWithContext(ctx, "sys/health")
	require.NoError(t, err)
	defer raw.Body.Close()
	var body map[string]any
	require.NoError(t, raw.DecodeJSON(&body))
	assert.Equal(t, "2.4.1", body["version"])
	assert.NotContains(t, body, "enterprise", "OpenBao's health has no enterprise field")
	got, err = c.WithNamespace("team-a").KVv2("secret").Get(ctx, "app")
	require.NoError(t, err)
	assert.Equal(t, "ns-value", got.Data["value"])
	re := rawErr(t, c.WithNamespace("no-such"), "GET", "secret/data/app", nil)
	assert.Equal(t, 404, re.StatusCode)
	assert.Equal(t, []string{"namespace not found"}, re.Errors)
}
