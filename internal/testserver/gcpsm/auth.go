package gcpsm

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Identities the server knows. The service account's key is generated per
// process; the workload identity pool trusts tokens signed by the server's
// own OIDC issuer key, the way a real pool trusts GitHub's issuer.
const (
	// ServiceAccountEmail is the service account the credential files
	// authenticate as (directly with its key, or by impersonation after a
	// workload identity federation exchange).
	ServiceAccountEmail = "envdrift-sync@" + DefaultProject + ".iam.gserviceaccount.com"
	// OIDCIssuer is the issuer of the subject token the external_account
	// credentials present to the STS endpoint (GitHub Actions' issuer).
	OIDCIssuer = "https://token.actions.githubusercontent.com"
	// OIDCSubject is the subject of that token.
	OIDCSubject = "repo:envdrift/envdrift:ref:refs/heads/main"

	poolPath     = "locations/global/workloadIdentityPools/envdrift-ci/providers/github"
	cloudScope   = "https://www.googleapis.com/auth/cloud-platform"
	smAudience   = "https://secretmanager.googleapis.com/"
	tokenTTL     = time.Hour
	jwtBearer    = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	tokenExchng  = "urn:ietf:params:oauth:grant-type:token-exchange"
	jwtTokenType = "urn:ietf:params:oauth:token-type:jwt"
	idTokenType  = "urn:ietf:params:oauth:token-type:id_token"
)

// CredentialType selects the credentials file [Server.EnvWith] points
// GOOGLE_APPLICATION_CREDENTIALS at.
type CredentialType string

// The credential files the server writes.
const (
	// ExternalAccount is workload identity federation as
	// google-github-actions/auth sets it up: an external_account file whose
	// subject token (an OIDC JWT in a file) is exchanged at the server's STS
	// endpoint (/v1/token) for a federated token, which then impersonates
	// [ServiceAccountEmail] through the server's IAM Credentials endpoint
	// (generateAccessToken). The access token that reaches Secret Manager is
	// issued by the server's token endpoints.
	ExternalAccount CredentialType = "external_account"
	// ServiceAccountKey is a service_account key file. Its token_uri is the
	// server's OAuth2 endpoint (/token, the jwt-bearer grant, which verifies
	// the assertion's RS256 signature), but note that the Secret Manager Go
	// client does not use it: like every generated Google Cloud Go client it
	// enables self-signed JWTs, so it sends a JWT signed with the key
	// directly, which the server verifies as Google does.
	ServiceAccountKey CredentialType = "service_account"
)

type keys struct {
	sa     *rsa.PrivateKey
	saKID  string
	issuer *rsa.PrivateKey
}

var (
	keysOnce sync.Once
	procKeys keys
	keysErr  error
)

// serverKeys returns the process-wide RSA keys (generated once: RSA key
// generation is the slowest part of starting a server).
func serverKeys() (keys, error) {
	keysOnce.Do(func() {
		var k keys
		if k.sa, keysErr = rsa.GenerateKey(rand.Reader, 2048); keysErr != nil {
			return
		}
		if k.issuer, keysErr = rsa.GenerateKey(rand.Reader, 2048); keysErr != nil {
			return
		}
		var id [20]byte
		if _, keysErr = rand.Read(id[:]); keysErr != nil {
			return
		}
		k.saKID = hex.EncodeToString(id[:])
		procKeys = k
	})
	return procKeys, keysErr
}

// tokenInfo is what the server remembers about an access token it issued.
type tokenInfo struct {
	principal string
	expiry    time.Time
	federated bool // an STS token (may impersonate), not a service account token
}

func newToken(prefix string) string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *Server) issue(prefix, principal string, federated bool) (string, time.Time) {
	tok := newToken(prefix)
	exp := time.Now().Add(tokenTTL)
	s.mu.Lock()
	s.tokens[tok] = tokenInfo{principal: principal, expiry: exp, federated: federated}
	s.mu.Unlock()
	return tok, exp
}

func (s *Server) lookupToken(tok string) (tokenInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ti, ok := s.tokens[tok]
	if !ok || time.Now().After(ti.expiry) {
		return tokenInfo{}, false
	}
	return ti, true
}

// authenticate resolves a bearer credential to a principal: an access token
// the server issued, or a self-signed JWT from the service account key.
func (s *Server) authenticate(bearer string) (string, error) {
	if bearer == "" {
		return "", errors.New("missing")
	}
	if ti, ok := s.lookupToken(bearer); ok {
		if ti.federated {
			return ti.principal, nil
		}
		return "serviceAccount:" + ti.principal, nil
	}
	if strings.Count(bearer, ".") == 2 {
		c, err := s.verifyServiceAccountJWT(bearer)
		if err != nil {
			return "", err
		}
		if c.Aud != smAudience && !hasScope(c.Scope, cloudScope) {
			return "", errors.New("self-signed JWT has neither the service audience nor the cloud-platform scope")
		}
		return "serviceAccount:" + c.Iss, nil
	}
	return "", errors.New("unknown token")
}

func hasScope(scopes, want string) bool {
	for _, sc := range strings.Fields(scopes) {
		if sc == want {
			return true
		}
	}
	return false
}

// claims holds the JWT claims the server checks.
type claims struct {
	Iss   string   `json:"iss"`
	Sub   string   `json:"sub"`
	Aud   audience `json:"aud"`
	Scope string   `json:"scope"`
	Iat   int64    `json:"iat"`
	Exp   int64    `json:"exp"`
}

// audience accepts the JWT "aud" claim as a string or a one-element array.
type audience string

func (a *audience) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*a = audience(s)
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	if len(l) > 0 {
		*a = audience(l[0])
	}
	return nil
}

type jwtHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
	Kid string `json:"kid,omitempty"`
}

func signJWT(key *rsa.PrivateKey, kid string, c any) (string, error) {
	h, err := json.Marshal(jwtHeader{Alg: "RS256", Typ: "JWT", Kid: kid})
	if err != nil {
		return "", err
	}
	p, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// verifyJWT checks an RS256 JWT's signature with pub and its time claims,
// and returns the claims.
func verifyJWT(tok string, pub *rsa.PublicKey, wantKID string) (claims, error) {
	var c claims
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return c, errors.New("not a JWT")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return c, errors.New("bad JWT header encoding")
	}
	var h jwtHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return c, errors.New("bad JWT header")
	}
	if h.Alg != "RS256" {
		return c, fmt.Errorf("unsupported JWT algorithm %q", h.Alg)
	}
	if wantKID != "" && h.Kid != "" && h.Kid != wantKID {
		return c, errors.New("unknown key id")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return c, errors.New("bad JWT signature encoding")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return c, errors.New("Invalid JWT Signature.") //lint:ignore ST1005 Google's OAuth2 endpoint answers with this exact text
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return c, errors.New("bad JWT payload encoding")
	}
	if err := json.Unmarshal(pb, &c); err != nil {
		return c, errors.New("bad JWT payload")
	}
	now := time.Now().Unix()
	if c.Exp == 0 || now > c.Exp+60 {
		return c, errors.New("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.") //lint:ignore ST1005 Google's OAuth2 endpoint answers with this exact text
	}
	if c.Iat > now+300 {
		return c, errors.New("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.") //lint:ignore ST1005 Google's OAuth2 endpoint answers with this exact text
	}
	return c, nil
}

func (s *Server) verifyServiceAccountJWT(tok string) (claims, error) {
	c, err := verifyJWT(tok, &s.keys.sa.PublicKey, s.keys.saKID)
	if err != nil {
		return c, err
	}
	if c.Iss != ServiceAccountEmail {
		return c, fmt.Errorf("unknown service account %q", c.Iss)
	}
	return c, nil
}

// poolAudience is the workload identity provider's resource name, the
// "audience" of the external_account file and of the STS request.
func (s *Server) poolAudience() string {
	return "//iam.googleapis.com/projects/" + projectNumber(DefaultProject) + "/" + poolPath
}

// subjectTokenAudience is the "aud" claim the OIDC token must carry, as
// google-github-actions/auth requests it by default.
func (s *Server) subjectTokenAudience() string {
	return "https:" + s.poolAudience()
}

func writeJSONResponse(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func oauthError(w http.ResponseWriter, code int, errCode, desc string) {
	writeJSONResponse(w, code, map[string]string{"error": errCode, "error_description": desc})
}

func googleAPIError(w http.ResponseWriter, code int, status, msg string) {
	writeJSONResponse(w, code, map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status}})
}

// serveAuth serves the OAuth2, STS and IAM Credentials endpoints.
func (s *Server) serveAuth(w http.ResponseWriter, r *http.Request) {
	s.tokenRequests.Add(1)
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/token":
		s.serveOAuthToken(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/token":
		s.serveSTS(w, r)
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/v1/projects/") && strings.HasSuffix(r.URL.Path, ":generateAccessToken"):
		s.serveGenerateAccessToken(w, r)
	default:
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "<!DOCTYPE html>\n<html lang=en><title>Error 404 (Not Found)!!1</title><p><b>404.</b> That’s an error.\n")
	}
}

func (s *Server) readForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "could not parse the request body")
		return nil, false
	}
	return r.PostForm, true
}

// serveOAuthToken is the jwt-bearer grant of oauth2.googleapis.com/token:
// the service account's signed assertion for an access token.
func (s *Server) serveOAuthToken(w http.ResponseWriter, r *http.Request) {
	form, ok := s.readForm(w, r)
	if !ok {
		return
	}
	if gt := form.Get("grant_type"); gt != jwtBearer {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+gt)
		return
	}
	c, err := s.verifyServiceAccountJWT(form.Get("assertion"))
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", err.Error())
		return
	}
	if string(c.Aud) != s.URL()+"/token" {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: Failed audience check.")
		return
	}
	if c.Scope == "" {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
		return
	}
	tok, _ := s.issue("ya29.gcpsm-", c.Iss, false)
	writeJSONResponse(w, http.StatusOK, map[string]any{"access_token": tok, "expires_in": int(tokenTTL/time.Second) - 1, "token_type": "Bearer"})
}

// serveSTS is sts.googleapis.com/v1/token: it exchanges the OIDC subject
// token for a federated access token.
func (s *Server) serveSTS(w http.ResponseWriter, r *http.Request) {
	form, ok := s.readForm(w, r)
	if !ok {
		return
	}
	if gt := form.Get("grant_type"); gt != tokenExchng {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "The grant_type value is not supported: "+gt)
		return
	}
	if tt := form.Get("subject_token_type"); tt != jwtTokenType && tt != idTokenType {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Invalid value for \"subject_token_type\": "+tt)
		return
	}
	if aud := form.Get("audience"); aud != s.poolAudience() {
		oauthError(w, http.StatusBadRequest, "invalid_target", "The target service indicated by the \"audience\" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn't exist.")
		return
	}
	c, err := verifyJWT(form.Get("subject_token"), &s.keys.issuer.PublicKey, "")
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", err.Error())
		return
	}
	if c.Iss != OIDCIssuer {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "The issuer in ID Token "+c.Iss+" does not match the expected ones: "+OIDCIssuer+".")
		return
	}
	if string(c.Aud) != s.subjectTokenAudience() {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "The audience in ID Token ["+string(c.Aud)+"] does not match the expected audience.")
		return
	}
	principal := "principal://iam.googleapis.com/projects/" + projectNumber(DefaultProject) +
		"/locations/global/workloadIdentityPools/envdrift-ci/subject/" + c.Sub
	tok, _ := s.issue("ya29.d.gcpsm-", principal, true)
	writeJSONResponse(w, http.StatusOK, map[string]any{
		"access_token":      tok,
		"issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
		"token_type":        "Bearer",
		"expires_in":        int(tokenTTL / time.Second),
	})
}

// serveGenerateAccessToken is iamcredentials.googleapis.com's
// generateAccessToken: the federated principal impersonates the service
// account.
func (s *Server) serveGenerateAccessToken(w http.ResponseWriter, r *http.Request) {
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	ti, ok := s.lookupToken(bearer)
	if !ok {
		googleAPIError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.")
		return
	}
	name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/"), ":generateAccessToken")
	email := name[strings.LastIndex(name, "/")+1:]
	if email != ServiceAccountEmail || !ti.federated {
		googleAPIError(w, http.StatusForbidden, "PERMISSION_DENIED", "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).")
		return
	}
	var body struct {
		Scope []string `json:"scope"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&body); err != nil || len(body.Scope) == 0 {
		googleAPIError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Request contains an invalid argument.")
		return
	}
	tok, exp := s.issue("ya29.c.gcpsm-", email, false)
	writeJSONResponse(w, http.StatusOK, map[string]string{"accessToken": tok, "expireTime": exp.UTC().Format(time.RFC3339)})
}

// writeCredentialFiles writes both credential files (and the OIDC subject
// token the external_account file reads) into dir.
func (s *Server) writeCredentialFiles(dir string) error {
	der, err := x509.MarshalPKCS8PrivateKey(s.keys.sa)
	if err != nil {
		return err
	}
	sa := map[string]string{
		"type":                        "service_account",
		"project_id":                  DefaultProject,
		"private_key_id":              s.keys.saKID,
		"private_key":                 string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":                ServiceAccountEmail,
		"client_id":                   "108234567890123456789",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   s.URL() + "/token",
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/" + url.PathEscape(ServiceAccountEmail),
		"universe_domain":             "googleapis.com",
	}
	if err := writeJSONFile(filepath.Join(dir, "service-account.json"), sa); err != nil {
		return err
	}

	now := time.Now()
	subject, err := signJWT(s.keys.issuer, "gcpsm-issuer", map[string]any{
		"iss": OIDCIssuer,
		"sub": OIDCSubject,
		"aud": s.subjectTokenAudience(),
		"iat": now.Unix(),
		"exp": now.Add(24 * time.Hour).Unix(),
	})
	if err != nil {
		return err
	}
	tokenFile := filepath.Join(dir, "oidc-token.jwt")
	if err := os.WriteFile(tokenFile, []byte(subject), 0o600); err != nil {
		return err
	}
	ea := map[string]any{
		"type":                              "external_account",
		"audience":                          s.poolAudience(),
		"subject_token_type":                jwtTokenType,
		"token_url":                         s.URL() + "/v1/token",
		"service_account_impersonation_url": s.URL() + "/v1/projects/-/serviceAccounts/" + ServiceAccountEmail + ":generateAccessToken",
		"credential_source":                 map[string]any{"file": tokenFile, "format": map[string]string{"type": "text"}},
		"universe_domain":                   "googleapis.com",
	}
	return writeJSONFile(filepath.Join(dir, "external-account.json"), ea)
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}
