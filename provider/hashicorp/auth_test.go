package hashicorp_test

import (
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/testserver/vaultkv"
	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/hashicorp"
)

// appRoleServer is a server with AppRole at auth/approle, a role "ci" that
// may read secret/data/app/*, and its role ID and a secret ID in a file.
func appRoleServer(t *testing.T) (s *vaultkv.Server, roleID, secretID, secretFile string) {
	t.Helper()
	s = startServer(t)
	s.EnableAuth("", "approle", vaultkv.AuthAppRole)
	s.SetPolicy("app-read", vaultkv.Rule{Path: "secret/data/app/*", Capabilities: []string{"read"}})
	roleID = s.AddAppRole("", "approle", "ci", "app-read")
	secretID = s.NewSecretID("", "approle", "ci")
	secretFile = filepath.Join(t.TempDir(), "secret-id")
	require.NoError(t, os.WriteFile(secretFile, []byte(secretID+"\n"), 0o600))
	for _, n := range []string{"app/api", "app/web", "app/worker", "other/db"} {
		put(t, s, "", "secret", n, "value-of-"+n)
	}
	return s, roleID, secretID, secretFile
}

// assertNoCredential checks that no message carries a credential.
func assertNoCredential(t *testing.T, err error, creds ...string) {
	t.Helper()
	var pe *provider.Error
	require.ErrorAs(t, err, &pe)
	for _, c := range creds {
		assert.NotContains(t, err.Error(), c)
		assert.NotContains(t, pe.Hint, c)
	}
}

func TestAppRole_OneLoginSharedByConcurrentFetchesThenRevokedAtClose(t *testing.T) {
	s, roleID, _, secretFile := appRoleServer(t)
	t.Setenv("VAULT_TOKEN", "hvs.ambient-token-that-must-not-be-used")
	d, err := provider.Default().Lookup(hashicorp.Name)
	require.NoError(t, err)
	p, err := d.Open(t.Context(), &hashicorp.Settings{AuthMethod: "approle", RoleID: roleID, SecretIDFile: secretFile}, fastRetry(provider.Options{}))
	require.NoError(t, err)
	assert.Zero(t, s.Requests(), "Open does no I/O")

	names := []string{"app/api", "app/web", "app/worker"}
	got := make([]string, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sec, err := fetch(p, "", n)
			got[i], errs[i] = string(sec.Value), err
		}()
	}
	wg.Wait()
	for i, n := range names {
		require.NoError(t, errs[i], n)
		assert.Equal(t, "value-of-"+n, got[i])
	}
	assert.Equal(t, 1, s.Count(vaultkv.OpLogin), "one login for every fetch")
	issued := s.IssuedTokens()
	require.Len(t, issued, 1)

	// The login token lacks permission for other/db: that is a
	// permission error, not a failed login.
	_, err = fetch(p, "", "other/db")
	assert.ErrorIs(t, err, provider.ErrPermissionDenied)
	assert.NotContains(t, err.Error(), "login")
	assertNoCredential(t, err, issued[0])

	require.NoError(t, p.(io.Closer).Close())
	assert.Equal(t, 1, s.Count(vaultkv.OpRevokeSelf))
	assert.False(t, s.TokenValid(issued[0]), "the login token is revoked at Close")
}

func TestAppRole_LoginFailureIsUnauthenticatedWithMethodMountAndVaultsWords(t *testing.T) {
	s, roleID, _, _ := appRoleServer(t)
	wrong := filepath.Join(t.TempDir(), "wrong")
	const badSecret = "0f6e2f9d-5b1e-4c55-9d8c-2a7f43e5b001"
	require.NoError(t, os.WriteFile(wrong, []byte(badSecret), 0o600))
	p := open(t, hashicorp.Settings{AuthMethod: "approle", RoleID: roleID, SecretIDFile: wrong}, provider.Options{})
	_, err := fetch(p, "", "app/api")
	assert.ErrorIs(t, err, provider.ErrUnauthenticated)
	assert.Contains(t, err.Error(), "approle login at auth/approle failed: auth/approle/login: 400 Bad Request: invalid role or secret ID")
	assert.Contains(t, hintOf(t, err), "secret_id_file "+wrong)
	assertNoCredential(t, err, badSecret)

	_, err = fetch(p, "", "app/web")
	assert.ErrorIs(t, err, provider.ErrUnauthenticated)
	assert.Equal(t, 1, s.Count(vaultkv.OpLogin), "a refused login is not retried by every fetch")
}

func TestAppRole_WrappedSecretIDIsUnwrappedOnce(t *testing.T) {
	s, roleID, _, _ := appRoleServer(t)
	wrapping := s.WrapSecretID("", "approle", "ci")
	t.Setenv("CI_WRAPPED_SECRET_ID", wrapping)
	settings := hashicorp.Settings{AuthMethod: "approle", RoleID: roleID, SecretIDEnv: "CI_WRAPPED_SECRET_ID", SecretIDWrapped: true}
	got, err := fetch(open(t, settings, provider.Options{}), "", "app/api")
	require.NoError(t, err)
	assert.Equal(t, "value-of-app/api", string(got.Value))

	_, err = fetch(open(t, settings, provider.Options{}), "", "app/api")
	assert.ErrorIs(t, err, provider.ErrUnauthenticated)
	assert.Contains(t, err.Error(), "approle login at auth/approle failed: sys/wrapping/unwrap: 400 Bad Request: wrapping token is not valid or does not exist")
	assert.Contains(t, hintOf(t, err), "wrapping tokens work once")
	assertNoCredential(t, err, wrapping)
}

func TestAppRole_WrongAuthMountSaysSo(t *testing.T) {
	_, roleID, _, secretFile := appRoleServer(t)
	p := open(t, hashicorp.Settings{AuthMethod: "approle", AuthMount: "approle-ci", RoleID: roleID, SecretIDFile: secretFile}, provider.Options{})
	_, err := fetch(p, "", "app/api")
	assert.ErrorIs(t, err, provider.ErrUnauthenticated)
	assert.Contains(t, err.Error(), "approle login at auth/approle-ci failed: auth/approle-ci/login: 403 Forbidden: permission denied")
	assert.Contains(t, hintOf(t, err), "enabled at auth/approle-ci")
}

func TestAppRole_MissingCredentialSourceIsNamed(t *testing.T) {
	_, roleID, _, _ := appRoleServer(t)
	t.Setenv("NO_SUCH_SECRET_ID", "")
	p := open(t, hashicorp.Settings{AuthMethod: "approle", RoleID: roleID, SecretIDEnv: "NO_SUCH_SECRET_ID"}, provider.Options{})
	_, err := fetch(p, "", "app/api")
	assert.ErrorIs(t, err, provider.ErrUnauthenticated)
	assert.Contains(t, err.Error(), "approle login at auth/approle failed: secret_id_env NO_SUCH_SECRET_ID is empty")

	missing := filepath.Join(t.TempDir(), "absent")
	p = open(t, hashicorp.Settings{AuthMethod: "approle", RoleIDFile: missing, SecretIDEnv: "NO_SUCH_SECRET_ID"}, provider.Options{})
	_, err = fetch(p, "", "app/api")
	assert.Contains(t, err.Error(), "cannot read role_id_file "+missing+": no such file or directory")
}

func TestKubernetes_ServiceAccountTokenFileAndRole(t *testing.T) {
	s := startServer(t)
	s.EnableAuth("", "k8s-prod", vaultkv.AuthKubernetes)
	const saToken = "eyJhbGciOiJSUzI1NiJ9.service-account.signature"
	s.AddLoginRole("", "k8s-prod", "api", saToken, vaultkv.PolicyAllKV)
	put(t, s, "", "secret", "app", "v")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "token"), []byte(saToken), 0o600))

	// jwt_file is relative to the configuration's directory.
	p := open(t, hashicorp.Settings{AuthMethod: "kubernetes", AuthMount: "k8s-prod", Role: "api", JWTFile: "token"}, provider.Options{BaseDir: dir})
	got, err := fetch(p, "", "app")
	require.NoError(t, err)
	assert.Equal(t, "v", string(got.Value))

	p = open(t, hashicorp.Settings{AuthMethod: "kubernetes", AuthMount: "k8s-prod", Role: "nope", JWTFile: "token"}, provider.Options{BaseDir: dir})
	_, err = fetch(p, "", "app")
	assert.ErrorIs(t, err, provider.ErrUnauthenticated)
	assert.Contains(t, err.Error(), `kubernetes login at auth/k8s-prod failed: auth/k8s-prod/login: 400 Bad Request: invalid role name "nope"`)
	assert.Contains(t, hintOf(t, err), `role "nope"`)
	assertNoCredential(t, err, saToken)
}

func TestKubernetes_OutsideAPodTheDefaultTokenFileIsExplained(t *testing.T) {
	if _, err := os.Stat(hashicorp.DefaultServiceAccountTokenFile); err == nil {
		t.Skip("running inside a pod: the default service account token exists")
	}
	startServer(t)
	p := open(t, hashicorp.Settings{AuthMethod: "kubernetes", Role: "api"}, provider.Options{})
	_, err := fetch(p, "", "app")
	assert.ErrorIs(t, err, provider.ErrUnauthenticated)
	assert.Contains(t, err.Error(), "cannot read jwt_file "+hashicorp.DefaultServiceAccountTokenFile)
	assert.Contains(t, hintOf(t, err), "outside a Kubernetes pod")
}

func TestJWT_CIIDTokenFromTheEnvironment(t *testing.T) {
	s := startServer(t)
	s.EnableAuth("", "jwt-github", vaultkv.AuthJWT)
	const idToken = "eyJhbGciOiJSUzI1NiJ9.github-actions-claims.signature"
	s.AddLoginRole("", "jwt-github", "deploy", idToken, vaultkv.PolicyAllKV)
	put(t, s, "", "secret", "app", "v")
	t.Setenv("VAULT_ID_TOKEN", idToken)

	p := open(t, hashicorp.Settings{AuthMethod: "jwt", AuthMount: "jwt-github", Role: "deploy", JWTEnv: "VAULT_ID_TOKEN"}, provider.Options{})
	got, err := fetch(p, "", "app")
	require.NoError(t, err)
	assert.Equal(t, "v", string(got.Value))

	for role, want := range map[string]string{
		"ops": `jwt login at auth/jwt-github failed: auth/jwt-github/login: 400 Bad Request: role "ops" could not be found`,
	} {
		p := open(t, hashicorp.Settings{AuthMethod: "jwt", AuthMount: "jwt-github", Role: role, JWTEnv: "VAULT_ID_TOKEN"}, provider.Options{})
		_, err := fetch(p, "", "app")
		assert.ErrorIs(t, err, provider.ErrUnauthenticated)
		assert.Contains(t, err.Error(), want)
		assertNoCredential(t, err, idToken)
	}
	t.Setenv("VAULT_ID_TOKEN", "eyJhbGciOiJSUzI1NiJ9.forged.signature")
	p = open(t, hashicorp.Settings{AuthMethod: "jwt", AuthMount: "jwt-github", Role: "deploy", JWTEnv: "VAULT_ID_TOKEN"}, provider.Options{})
	_, err = fetch(p, "", "app")
	assert.ErrorIs(t, err, provider.ErrUnauthenticated)
	assert.Contains(t, err.Error(), "error validating token")
	assert.Contains(t, hintOf(t, err), "bound_audiences")
	assertNoCredential(t, err, "forged")
}

func TestLogin_InANamespace(t *testing.T) {
	s := startServer(t)
	s.Mount("team-a", "secret", 2)
	s.EnableAuth("team-a", "approle", vaultkv.AuthAppRole)
	roleID := s.AddAppRole("team-a", "approle", "ci", vaultkv.PolicyAllKV)
	t.Setenv("SECRET_ID", s.NewSecretID("team-a", "approle", "ci"))
	put(t, s, "team-a", "secret", "app", "ns-value")
	p := open(t, hashicorp.Settings{Namespace: "team-a", AuthMethod: "approle", RoleID: roleID, SecretIDEnv: "SECRET_ID"}, provider.Options{})
	got, err := fetch(p, "", "app")
	require.NoError(t, err)
	assert.Equal(t, "ns-value", string(got.Value))
}

func TestLogin_TokenFlagBeatsTheLoginMethod(t *testing.T) {
	s, roleID, _, secretFile := appRoleServer(t)
	p := open(t, hashicorp.Settings{AuthMethod: "approle", RoleID: roleID, SecretIDFile: secretFile}, provider.Options{Token: s.Token()})
	_, err := fetch(p, "", "other/db")
	require.NoError(t, err)
	assert.Zero(t, s.Count(vaultkv.OpLogin))
	require.NoError(t, p.(io.Closer).Close())
	assert.Zero(t, s.Count(vaultkv.OpRevokeSelf), "a token the user gave is never revoked")
	assert.True(t, s.TokenValid(s.Token()))
}

func TestLogin_TokenIsRenewedWhenTheRunOutlastsHalfItsLease(t *testing.T) {
	s, roleID, _, secretFile := appRoleServer(t)
	s.SetLoginTTL(2 * time.Second)
	p := open(t, hashicorp.Settings{AuthMethod: "approle", RoleID: roleID, SecretIDFile: secretFile}, provider.Options{})
	_, err := fetch(p, "", "app/api")
	require.NoError(t, err)
	assert.Zero(t, s.Count(vaultkv.OpRenewSelf), "a short run does not renew")
	assert.Eventually(t, func() bool { return s.Count(vaultkv.OpRenewSelf) >= 1 }, 10*time.Second, 20*time.Millisecond,
		"the client's lifetime watcher renews the token")
}

func TestAuthSettings_AreValidatedWithoutIO(t *testing.T) {
	d, err := provider.Default().Lookup(hashicorp.Name)
	require.NoError(t, err)
	cases := map[string]hashicorp.Settings{
		`auth_method = "ldap" is not supported`:                    {AuthMethod: "ldap"},
		`auth_method = "jwt" (the interactive`:                     {AuthMethod: "oidc"},
		`needs the secret ID: set secret_id_file or secret_id_env`: {AuthMethod: "approle", RoleID: "r"},
		`needs the role ID`:                                        {AuthMethod: "approle", SecretIDEnv: "X"},
		`secret_id_file and secret_id_env are both set`:            {AuthMethod: "approle", RoleID: "r", SecretIDFile: "f", SecretIDEnv: "X"},
		`needs role`: {AuthMethod: "kubernetes"},
		`needs the ID token: set jwt_file or jwt_env`:            {AuthMethod: "jwt", Role: "ci"},
		`role is set, but auth_method = "token" does not use it`: {Role: "ci"},
		`secret_id_file is set, but auth_method = "jwt"`:         {AuthMethod: "jwt", Role: "ci", JWTEnv: "T", SecretIDFile: "f"},
		`auth_mount "a/../b"`:                                    {AuthMethod: "jwt", AuthMount: "a/../b", JWTEnv: "T"},
	}
	for want, s := range cases {
		_, err := d.Open(t.Context(), &s, provider.Options{})
		assert.ErrorIs(t, err, provider.ErrInvalid, want)
		if err != nil {
			msg := err.Error()
			var pe *provider.Error
			if assert.ErrorAs(t, err, &pe) {
				msg += " " + pe.Hint
			}
			assert.Contains(t, msg, want)
		}
	}
}
