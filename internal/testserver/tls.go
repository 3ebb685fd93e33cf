package testserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

// CAFileName is the name under which [WriteCA] stores the test CA's PEM
// certificate in a directory.
const CAFileName = "envdrift-test-ca.pem"

// authority is the process-wide test certificate authority. Every TLS
// server of the process presents a certificate it signed, so a process
// whose roots were loaded once (Go caches the system roots on first use)
// trusts every server it starts, and a client needs one CA file for all of
// them.
type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
	pool *x509.CertPool
}

// processCA holds the authority; it is created on first use and never
// changes afterwards.
var processCA = sync.OnceValues(func() (*authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "envdrift test CA", Organization: []string{"envdrift tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &authority{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pool: pool}, nil
})

// CACertPEM returns the PEM certificate of the process-wide test CA that
// signs every test server's TLS certificate.
func CACertPEM() ([]byte, error) {
	ca, err := processCA()
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), ca.pem...), nil
}

// CAPool returns a certificate pool holding only the test CA, for clients
// that take their roots explicitly.
func CAPool() (*x509.CertPool, error) {
	ca, err := processCA()
	if err != nil {
		return nil, err
	}
	return ca.pool.Clone(), nil
}

// WriteCA writes the test CA's PEM certificate to dir/[CAFileName] and
// returns the file's path.
func WriteCA(dir string) (string, error) {
	pemBytes, err := CACertPEM()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, CAFileName)
	return path, os.WriteFile(path, pemBytes, 0o600)
}

// issue returns a server certificate signed by the test CA for 127.0.0.1,
// ::1, localhost and hosts (which may hold wildcards such as
// "*.vault.azure.net"), valid for a day.
func issue(hosts []string) (tls.Certificate, error) {
	ca, err := processCA()
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "127.0.0.1", Organization: []string{"envdrift tests"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     append([]string{"localhost"}, hosts...),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key}, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

// ErrTrustUnsupported is returned by [TrustInProcess] on platforms where Go
// does not read SSL_CERT_DIR (macOS, Windows, iOS): there the system
// verifier decides and a test CA cannot be added through the environment.
var ErrTrustUnsupported = errors.New("testserver: this platform's TLS verifier ignores SSL_CERT_DIR; the test CA cannot be trusted through the environment")

// sslCertDirSupported reports whether crypto/x509 reads SSL_CERT_DIR here.
func sslCertDirSupported() bool {
	switch runtime.GOOS {
	case "darwin", "ios", "windows", "plan9", "js", "wasip1":
		return false
	}
	return true
}

// TrustInProcess makes this process trust the test CA by adding a directory
// holding it to SSL_CERT_DIR, the standard variable Go's crypto/x509 (like
// OpenSSL) reads on Linux and the BSDs. The system bundle file keeps being
// read, so real endpoints stay trusted too. Go loads the system roots once,
// on the first certificate verification, so call this before anything in
// the process verifies a certificate (from TestMain). The returned function
// removes the directory; call it when the process is done.
//
// Child processes (the envdrift binary in end-to-end tests) do not need it:
// the servers' Env methods carry SSL_CERT_DIR for them.
func TrustInProcess() (cleanup func(), err error) {
	if !sslCertDirSupported() {
		return func() {}, ErrTrustUnsupported
	}
	dir, err := os.MkdirTemp("", "envdrift-test-ca-")
	if err != nil {
		return func() {}, err
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	if _, err := WriteCA(dir); err != nil {
		cleanup()
		return func() {}, err
	}
	if err := os.Setenv("SSL_CERT_DIR", CertDirValue(dir)); err != nil {
		cleanup()
		return func() {}, err
	}
	return cleanup, nil
}

// CertDirValue returns an SSL_CERT_DIR value that puts dir in front of the
// directories Go would otherwise read: SSL_CERT_DIR if set, else (on Linux)
// its default directories. Setting SSL_CERT_DIR replaces those defaults, and
// the bundle file Go reads next to them stays in use, so the system roots
// are all kept.
func CertDirValue(dir string) string {
	sep := string(os.PathListSeparator)
	if prev := os.Getenv("SSL_CERT_DIR"); prev != "" {
		return dir + sep + prev
	}
	if runtime.GOOS == "linux" {
		return dir + sep + "/etc/ssl/certs" + sep + "/etc/pki/tls/certs"
	}
	return dir
}
