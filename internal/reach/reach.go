// Package reach tells a failure that will not change within a run (the
// endpoint cannot be reached) from one that may pass. Providers use it to
// skip retries that cannot help, and the root package to stop sending
// requests to a dead endpoint.
package reach

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"syscall"

	"github.com/envdrift/envdrift/provider"
)

// Unreachable reports whether err, the failure of a request, shows that
// the endpoint cannot be reached in a way that will not change within a
// run: the connection was refused, the host name does not exist, the
// server's TLS certificate cannot be verified, or the two ends disagree on
// TLS (a plaintext server behind an https URL, or the other way round).
// Retrying such a request soon gives the same answer.
//
// It reads err's chain for the errors of Go's net, crypto/tls and
// crypto/x509 packages and, for clients that keep only the text of a
// transport failure (gRPC), the innermost error's text.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var (
		dns       *net.DNSError
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		record    tls.RecordHeaderError
	)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return true
	case errors.As(err, &dns):
		return dns.IsNotFound
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid),
		errors.As(err, &verify), errors.As(err, &record):
		return true
	}
	inner := Innermost(err)
	if _, ok := inner.(*provider.Error); ok {
		// No cause was kept: the message may quote a server's words.
		return false
	}
	msg := strings.ToLower(inner.Error())
	for _, s := range unreachableTexts {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// unreachableTexts are how the failures Unreachable looks for read once a
// client has turned them into text: Go's own messages, and Windows' for a
// refused connection.
var unreachableTexts = []string{
	"connection refused",
	"actively refused",
	"no such host",
	"x509: ",
	"tls: failed to verify",
	"first record does not look like a tls handshake",
	"server gave http response to https client",
	"malformed http response",
}

// Innermost is the last error of err's chain (err itself when it joins
// several): the cause the network layers wrapped.
func Innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}
