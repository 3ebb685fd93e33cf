package gcpsm

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

// The test certificate authority is generated once per process and shared by
// every Server, so a process whose TLS roots were loaded once (Go caches the
// system roots on first use) trusts every server it starts.
var (
	caOnce sync.Once
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPEM  []byte
	caErr  error
)

func testCA() (*x509.Certificate, *ecdsa.PrivateKey, error) {
	caOnce.Do(func() {
		caKey, caErr = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if caErr != nil {
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "envdrift gcpsm test CA", Organization: []string{"envdrift tests"}},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(7 * 24 * time.Hour),
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		}
		var der []byte
		der, caErr = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
		if caErr != nil {
			return
		}
		caCert, caErr = x509.ParseCertificate(der)
		caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	})
	return caCert, caKey, caErr
}

// CACertPEM returns the PEM certificate of the process-wide test CA that
// signs every Server's TLS certificate.
func CACertPEM() ([]byte, error) {
	if _, _, err := testCA(); err != nil {
		return nil, err
	}
	return append([]byte(nil), caPEM...), nil
}

// leafCertificate issues a server certificate for 127.0.0.1, ::1 and
// localhost, signed by the test CA.
func leafCertificate() (tls.Certificate, error) {
	ca, cakey, err := testCA()
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, cakey)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Raw}, PrivateKey: key}, nil
}

// ErrTrustUnsupported is returned by [TrustInProcess] on platforms where Go
// does not read SSL_CERT_DIR (macOS, Windows, iOS): there the system verifier
// decides and a test CA cannot be added through the environment.
var ErrTrustUnsupported = errors.New("gcpsm: this platform's TLS verifier ignores SSL_CERT_DIR; the test CA cannot be trusted through the environment")

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
// on the first certificate verification, so call this before anything in the
// process verifies a certificate (from TestMain). The returned function
// removes the directory; call it when the process is done.
//
// Child processes (the envdrift binary in end-to-end tests) do not need it:
// [Server.Env] carries SSL_CERT_DIR for them.
func TrustInProcess() (cleanup func(), err error) {
	if !sslCertDirSupported() {
		return func() {}, ErrTrustUnsupported
	}
	dir, err := os.MkdirTemp("", "envdrift-gcpsm-ca-")
	if err != nil {
		return func() {}, err
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	if err := writeCA(dir); err != nil {
		cleanup()
		return func() {}, err
	}
	if err := os.Setenv("SSL_CERT_DIR", certDirValue(dir)); err != nil {
		cleanup()
		return func() {}, err
	}
	return cleanup, nil
}

func writeCA(dir string) error {
	pemBytes, err := CACertPEM()
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "envdrift-gcpsm-ca.pem"), pemBytes, 0o644)
}

// certDirValue puts dir in front of the directories Go would otherwise read:
// SSL_CERT_DIR if set, else (on Linux) its default directories. Setting
// SSL_CERT_DIR replaces those defaults, and the bundle file Go reads next to
// them stays in use, so the system roots are all kept.
func certDirValue(dir string) string {
	sep := string(os.PathListSeparator)
	if prev := os.Getenv("SSL_CERT_DIR"); prev != "" {
		return dir + sep + prev
	}
	if runtime.GOOS == "linux" {
		return dir + sep + "/etc/ssl/certs" + sep + "/etc/pki/tls/certs"
	}
	return dir
}
