// Package tlsfault starts HTTPS servers on 127.0.0.1 whose certificate is
// wrong in one way, so that tests can provoke each TLS failure a client
// meets in the field through the real SDK: a certificate from an authority
// the client does not trust, one for another host name, and an expired
// one. Each server has its own CA; a test that wants only the one fault
// trusts that CA ([Server.CAFile]). The handshake is where every test
// stops, so the handler only answers 404.
package tlsfault

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Fault is what is wrong with the server's certificate.
type Fault int

// The faults.
const (
	// UnknownAuthority: a certificate for 127.0.0.1 signed by a CA the
	// client has not been told to trust.
	UnknownAuthority Fault = iota
	// WrongHost: a certificate from the server's CA for
	// "vault.other.invalid" only, so 127.0.0.1 does not match.
	WrongHost
	// Expired: a certificate from the server's CA for 127.0.0.1 that
	// expired an hour ago.
	Expired
)

// Server is a running HTTPS server with a faulty certificate.
type Server struct {
	srv    *http.Server
	ln     net.Listener
	dir    string
	caFile string
}

// Start starts a server with fault on a random port of 127.0.0.1.
func Start(fault Fault) (*Server, error) {
	dir, err := os.MkdirTemp("", "envdrift-tlsfault-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir}
	cert, caPEM, err := certificate(fault)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.caFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(s.caFile, caPEM, 0o600); err != nil {
		s.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.Close()
		return nil, err
	}
	s.ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	s.srv = &http.Server{
		Handler:           http.NotFoundHandler(),
		ErrorLog:          log.New(io.Discard, "", 0), // the failed handshakes are the point
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = s.srv.Serve(s.ln) }()
	return s, nil
}

// URL returns "https://127.0.0.1:PORT".
func (s *Server) URL() string { return "https://" + s.ln.Addr().String() }

// CAFile returns the PEM file of the CA that signed the certificate.
func (s *Server) CAFile() string { return s.caFile }

// Close stops the server and removes its files.
func (s *Server) Close() {
	if s.srv != nil {
		_ = s.srv.Close()
	}
	_ = os.RemoveAll(s.dir)
}

func certificate(fault Fault) (tls.Certificate, []byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "envdrift tlsfault CA"},
		NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(48 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:    []string{"localhost"},
	}
	switch fault {
	case WrongHost:
		tmpl.Subject.CommonName, tmpl.IPAddresses, tmpl.DNSNames = "vault.other.invalid", nil, []string{"vault.other.invalid"}
	case Expired:
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-24*time.Hour), now.Add(-time.Hour)
	case UnknownAuthority:
	default:
		return tls.Certificate{}, nil, errors.New("tlsfault: unknown fault")
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, caPEM, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 100))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

// ClientConfig returns a client TLS configuration for s that trusts s's CA
// when trust is set, and only the system roots otherwise.
func ClientConfig(t testing.TB, s *Server, trust bool) *tls.Config {
	t.Helper()
	if !trust {
		return &tls.Config{MinVersion: tls.VersionTLS12}
	}
	pemBytes, err := os.ReadFile(s.caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// Listen opens a plain listener on a random port of 127.0.0.1, closed when
// the test ends.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}
