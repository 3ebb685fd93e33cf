// Package gcpsm is a local GCP Secret Manager for envdrift's tests: a real
// gRPC server on 127.0.0.1, over TLS, that the generated Secret Manager
// client (cloud.google.com/go/secretmanager/apiv1) talks to unchanged, and
// the Google token endpoints its Application Default Credentials use.
//
// What is real:
//
//   - The wire protocol: gRPC over HTTP/2 over TLS, served by grpc-go's
//     server for the secretmanagerpb.SecretManagerService (AccessSecretVersion,
//     CreateSecret with labels and annotations and the service's limits on
//     them, AddSecretVersion, GetSecret, UpdateSecret with update_mask and
//     etag preconditions (FAILED_PRECONDITION), DeleteSecret, Disable/Enable/
//     DestroySecretVersion; see write.go) with resource-name parsing
//     (projects/*[/locations/*]/secrets/*/versions/{latest|N}), version
//     states, data_crc32c on payloads, and the service's status codes and
//     messages (project numbers in names, ErrorInfo details on denials).
//   - Authentication: every RPC needs "authorization: Bearer …". The server
//     accepts the access tokens its own token endpoints issued, and
//     self-signed JWTs signed with its service-account key. The client gets
//     them through the ordinary ADC chain: [Server.Env] points
//     GOOGLE_APPLICATION_CREDENTIALS at a credentials file (external_account
//     by default: workload identity federation with an STS exchange and
//     service-account impersonation, all served here; or a service_account
//     key), so nothing is injected into the client.
//   - TLS: the client's default TLS configuration verifies the server's
//     certificate against the system roots. The certificate is signed by a
//     per-process test CA, which [Server.Env] adds through SSL_CERT_DIR (the
//     standard variable Go reads on Linux and the BSDs) and
//     [testserver.TrustInProcess] adds for the calling process.
//
// The vault of the shared [testserver.Base] is the GCP project (regional
// secrets use the vault "PROJECT/locations/LOCATION"), so routing by project
// is real. Secrets can be written through the API (CreateSecret,
// AddSecretVersion) or straight into the Base (Put); a Base value the API
// has not seen yet becomes a new version when the secret is next used, so
// two Puts with no request in between make one version. Faults become what Google's front end sends: RESOURCE_EXHAUSTED
// with a quota message, INTERNAL with Base.ErrorMessage(), a stall, a TCP
// reset, a truncated gRPC frame or a proxy's HTML error page, and
// UNAUTHENTICATED.
package gcpsm

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/envdrift/envdrift/internal/testserver"
)

// DefaultProject is the project (the default vault) a Server starts with.
const DefaultProject = "envdrift-test"

// MalformedStyle selects what a FaultMalformed response looks like.
type MalformedStyle int

const (
	// TruncatedFrame answers with a gRPC response whose message frame
	// announces more bytes than it carries, then ends the stream.
	TruncatedFrame MalformedStyle = iota
	// ProxyHTML answers like an HTTP proxy or load balancer in front of the
	// service: 502 with an HTML page instead of a gRPC response.
	ProxyHTML
)

// faultHeader carries the fault the HTTP layer chose to the gRPC handlers.
// The server overwrites it on every request, so a client cannot set it.
const faultHeader = "x-gcpsm-fault"

// Server is a running local Secret Manager.
type Server struct {
	*testserver.Base

	keys  keys
	grpc  *grpc.Server
	url   string
	mdsIP string // a closed 127.0.0.1 port for GCE_METADATA_HOST

	mu         sync.Mutex
	secrets    map[string]*secretState
	tokens     map[string]tokenInfo
	corruptCRC bool
	malformed  MalformedStyle

	tokenRequests atomic.Int64

	emulator bool // plaintext, no authentication
}

// Start starts a server on a random 127.0.0.1 port.
func Start() (*Server, error) { return start(false) }

// StartEmulator starts a server that answers as the local Secret Manager
// emulators users test against: plaintext gRPC (h2c, no TLS) that asks
// for no credentials. [Server.URL] is then "http://127.0.0.1:PORT".
func StartEmulator() (*Server, error) { return start(true) }

func start(emulator bool) (*Server, error) {
	k, err := serverKeys()
	if err != nil {
		return nil, err
	}
	// A port nothing listens on, for GCE_METADATA_HOST: metadata-server
	// lookups fail fast instead of probing 169.254.169.254.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mds := closed.Addr().String()
	_ = closed.Close()

	s := &Server{
		Base:    testserver.NewBase(DefaultProject),
		keys:    k,
		mdsIP:   mds,
		secrets: map[string]*secretState{},

		tokens: map[string]tokenInfo{},

		emulator: emulator,
	}
	s.grpc = grpc.NewServer(grpc.ChainUnaryInterceptor(s.intercept))
	secretmanagerpb.RegisterSecretManagerServiceServer(s.grpc, service{s: s})
	if err := s.Serve(s, testserver.ServeOptions{TLS: !emulator, HTTP2: true, TempDirPrefix: "envdrift-gcpsm-"}); err != nil {
		return nil, err
	}
	s.url = "https://" + s.Addr()
	if emulator {
		s.url = "http://" + s.Addr()
	}
	if err := s.writeFiles(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) writeFiles() error {
	if err := os.Mkdir(s.CACertDir(), 0o700); err != nil {
		return err
	}
	if _, err := testserver.WriteCA(s.CACertDir()); err != nil {
		return err
	}
	return s.writeCredentialFiles(s.Dir())
}

// Close stops the server: it releases stalled requests, closes every
// connection and removes the credential and certificate files.
func (s *Server) Close() {
	s.Base.Close()
	s.grpc.Stop()
}

// URL returns the server's base URL, "https://127.0.0.1:PORT". The token
// endpoints live under it: /token (OAuth2), /v1/token (STS) and
// /v1/projects/-/serviceAccounts/EMAIL:generateAccessToken.
func (s *Server) URL() string { return s.url }

// Endpoint returns "127.0.0.1:PORT", the value of the provider's endpoint
// setting (option.WithEndpoint) that reaches this server over TLS. An
// emulator is reached with [Server.URL] instead.
func (s *Server) Endpoint() string {
	return strings.TrimPrefix(strings.TrimPrefix(s.url, "https://"), "http://")
}

// CredentialsFile returns the path of the credentials file of type t.
func (s *Server) CredentialsFile(t CredentialType) string {
	if t == ServiceAccountKey {
		return filepath.Join(s.Dir(), "service-account.json")
	}
	return filepath.Join(s.Dir(), "external-account.json")
}

// CACertDir returns the directory holding the test CA certificate.
func (s *Server) CACertDir() string { return filepath.Join(s.Dir(), "certs") }

// Env returns the environment a Secret Manager client (or the envdrift
// binary) needs to reach and authenticate against this server, with
// workload identity federation credentials: see [Server.EnvWith].
func (s *Server) Env() []string { return s.EnvWith(ExternalAccount) }

// EnvWith returns the environment for credentials of type t:
//
//   - GOOGLE_APPLICATION_CREDENTIALS: the credentials file (removed on Close);
//   - CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER: the server's URL, which
//     envdrift's gcp provider reads as its endpoint (gcloud's own variable
//     for the same thing);
//   - GOOGLE_CLOUD_PROJECT: the default project;
//   - SSL_CERT_DIR: the test CA's directory in front of any directories
//     already set (Go keeps reading the system bundle file);
//   - GCE_METADATA_HOST: a closed local port, so nothing reaches for a real
//     metadata server.
func (s *Server) EnvWith(t CredentialType) []string {
	return []string{
		"GOOGLE_APPLICATION_CREDENTIALS=" + s.CredentialsFile(t),
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER=" + s.url + "/",
		"GOOGLE_CLOUD_PROJECT=" + s.DefaultVault,
		"SSL_CERT_DIR=" + testserver.CertDirValue(s.CACertDir()),
		"GCE_METADATA_HOST=" + s.mdsIP,
	}
}

// TokenRequests returns how many requests the token endpoints (OAuth2, STS,
// IAM Credentials) have received.
func (s *Server) TokenRequests() int { return int(s.tokenRequests.Load()) }

// SetMalformedStyle selects what FaultMalformed responses look like.
func (s *Server) SetMalformedStyle(m MalformedStyle) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.malformed = m
}

// CorruptChecksums makes AccessSecretVersion responses carry a data_crc32c
// that does not match the payload, until Reset.
func (s *Server) CorruptChecksums() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.corruptCRC = true
}

// Reset clears injected faults (the Base's and the server's own); stored
// secrets stay.
func (s *Server) Reset() {
	s.Base.Reset()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.corruptCRC = false
	s.malformed = TruncatedFrame
}

// PutRegional stores value as a regional secret
// projects/PROJECT/locations/LOCATION/secrets/NAME.
func (s *Server) PutRegional(project, location, name string, value []byte) {
	s.Base.Put(project+"/locations/"+location, name, value)
}

// ServeHTTP routes gRPC requests to the Secret Manager service and anything
// else to the token endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor != 2 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
		s.serveAuth(w, r)
		return
	}
	r.Header.Del(faultHeader)
	switch s.Begin(r, path.Base(r.URL.Path)).Fault {
	case testserver.FaultMalformed:
		s.writeMalformed(w)
		return
	case testserver.FaultThrottle:
		r.Header.Set(faultHeader, "throttle")
	case testserver.FaultError:
		r.Header.Set(faultHeader, "error")
	case testserver.FaultAuth:
		r.Header.Set(faultHeader, "auth")
	}
	s.grpc.ServeHTTP(w, r)
}

func (s *Server) writeMalformed(w http.ResponseWriter) {
	s.mu.Lock()
	style := s.malformed
	s.mu.Unlock()
	if style == ProxyHTML {
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"+
			"<body><h1>Bad Gateway</h1><p>The proxy server received an invalid response from an upstream server.</p></body></html>\n")
		return
	}
	w.Header().Set("Content-Type", "application/grpc")
	w.WriteHeader(http.StatusOK)
	// A length-prefixed message announcing 4096 bytes, cut after 6.
	_, _ = w.Write([]byte{0, 0, 0, 0x10, 0x00, 0x0a, 0x2a, 'p', 'r', 'o', 'j'})
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// intercept authenticates every RPC and applies the fault the HTTP layer
// chose.
func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	fault := first(md.Get(faultHeader))
	if fault == "auth" {
		return nil, unauthenticated(info.FullMethod, "ACCESS_TOKEN_EXPIRED")
	}
	if s.emulator {
		return handler(ctx, req) // an emulator checks no credentials
	}
	authz := first(md.Get("authorization"))
	if authz == "" {
		return nil, unauthenticated(info.FullMethod, "CREDENTIALS_MISSING")
	}
	bearer, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok {
		return nil, unauthenticated(info.FullMethod, "ACCESS_TOKEN_TYPE_UNSUPPORTED")
	}
	if _, err := s.authenticate(bearer); err != nil {
		return nil, unauthenticated(info.FullMethod, "ACCESS_TOKEN_TYPE_UNSUPPORTED")
	}
	switch fault {
	case "throttle":
		st := status.New(codes.ResourceExhausted, fmt.Sprintf("Quota exceeded for quota metric 'Access requests' and limit "+
			"'Access requests per minute per project' of service 'secretmanager.googleapis.com' for consumer 'project_number:%s'.",
			projectNumber(s.DefaultVault)))
		if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: "RATE_LIMIT_EXCEEDED", Domain: "googleapis.com",
			Metadata: map[string]string{"service": "secretmanager.googleapis.com", "quota_metric": "secretmanager.googleapis.com/access_requests"}}); err == nil {
			st = d
		}
		return nil, st.Err()
	case "error":
		return nil, status.Error(codes.Internal, s.Base.ErrorMessage())
	}
	return handler(ctx, req)
}

func unauthenticated(method, reason string) error {
	st := status.New(codes.Unauthenticated, "Request had invalid authentication credentials. Expected OAuth 2 access token, "+
		"login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.")
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: "googleapis.com",
		Metadata: map[string]string{"service": "secretmanager.googleapis.com", "method": strings.ReplaceAll(strings.TrimPrefix(method, "/"), "/", ".")}}); err == nil {
		st = d
	}
	return st.Err()
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
