// Package tlshint tells the causes of a failed TLS connection apart, so
// that each provider can name the real one with its own remedy: a
// certificate from an authority this machine does not trust, a certificate
// for another host name, an expired one, or a server that does not speak
// TLS at all. It reads the crypto/x509 and crypto/tls error types where the
// error chain carries them, and their messages where a client (gRPC)
// flattened them into text.
package tlshint

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
)

// Cause is why a TLS connection failed.
type Cause int

// The causes.
const (
	// None: the error is not a TLS failure.
	None Cause = iota
	// UnknownAuthority: the certificate chains to no trusted root.
	UnknownAuthority
	// WrongHost: the certificate is valid, but not for the host name (or
	// IP address) dialled.
	WrongHost
	// Expired: the certificate has expired or is not valid yet.
	Expired
	// OtherCertificate: the certificate was refused for another reason.
	OtherCertificate
	// Plaintext: the server answered in plaintext, not TLS (an https://
	// address for a plain HTTP listener).
	Plaintext
)

// Classify returns the cause of err.
func Classify(err error) Cause {
	if err == nil {
		return None
	}
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	var record tls.RecordHeaderError
	switch {
	case errors.As(err, &hostErr):
		return WrongHost
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return Expired
	case errors.As(err, &unknown):
		return UnknownAuthority
	case errors.As(err, &invalid):
		return OtherCertificate
	case errors.As(err, &record):
		return Plaintext
	}
	return classifyText(err.Error())
}

// ClassifyText returns the cause named in msg, for clients that pass the
// TLS error on as text only.
func ClassifyText(msg string) Cause { return classifyText(msg) }

func classifyText(msg string) Cause {
	switch {
	case strings.Contains(msg, "server gave HTTP response to HTTPS client"),
		strings.Contains(msg, "first record does not look like a TLS handshake"):
		return Plaintext
	case strings.Contains(msg, "certificate is valid for"),
		strings.Contains(msg, "certificate is not valid for any names"),
		strings.Contains(msg, "because it doesn't contain any IP SANs"):
		return WrongHost
	case strings.Contains(msg, "certificate has expired or is not yet valid"):
		return Expired
	case strings.Contains(msg, "certificate signed by unknown authority"),
		strings.Contains(msg, "certificate is not trusted"):
		return UnknownAuthority
	case strings.Contains(msg, "x509:"), strings.Contains(msg, "tls: failed to verify"):
		return OtherCertificate
	}
	return None
}

// PlainHTTPToTLS reports whether a response body is Go's (and so Vault's,
// and many servers') answer to plaintext HTTP sent to a TLS listener: an
// http:// address for an HTTPS server.
func PlainHTTPToTLS(body string) bool {
	return strings.Contains(body, "Client sent an HTTP request to an HTTPS server")
}
