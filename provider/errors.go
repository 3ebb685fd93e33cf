package provider

import (
	"context"
	"errors"
	"strings"
	"time"
)

// kind classifies why a request failed, independently of the provider.
type kind int

// The kinds; kindUnknown is the zero value and means "not classified".
const (
	kindUnknown          kind = iota
	kindNotFound              // the secret (or vault) does not exist
	kindPermissionDenied      // the caller is known but not allowed to read it
	kindUnauthenticated       // no usable credentials, or they were rejected
	kindThrottled             // the service asked the caller to slow down
	kindUnavailable           // network failure, timeout or server error
	kindInvalid               // a bad request or an unusable payload or setting
	kindConflict              // a conditional write lost: the secret changed (or appeared) since it was read
)

// kindNames are the kinds' stable names (KindOf; the error_kind field of
// envdrift's JSON output). Kinds are only ever appended.
var kindNames = [...]string{"", "not_found", "permission_denied", "unauthenticated", "throttled", "unavailable", "invalid", "conflict"}

// phrase is the kind as Error prints it ("not found").
func (k kind) phrase() string {
	if k <= kindUnknown || int(k) >= len(kindNames) {
		return "error"
	}
	return strings.ReplaceAll(kindNames[k], "_", " ")
}

// The classes of provider errors, for errors.Is — and, as NewError's first
// argument, for providers to say which class an error is in:
//
//	if errors.Is(err, provider.ErrNotFound) { … }
var (
	ErrNotFound         error = &kindError{kindNotFound}         // the secret (or vault) does not exist
	ErrPermissionDenied error = &kindError{kindPermissionDenied} // the caller is known but not allowed
	ErrUnauthenticated  error = &kindError{kindUnauthenticated}  // no usable credentials, or they were rejected
	ErrThrottled        error = &kindError{kindThrottled}        // the service asked the caller to slow down
	ErrUnavailable      error = &kindError{kindUnavailable}      // network failure, timeout or server error
	ErrInvalid          error = &kindError{kindInvalid}          // a bad request, or an unusable payload or setting
	ErrConflict         error = &kindError{kindConflict}         // a conditional write lost: the secret changed since it was read
)

type kindError struct{ kind kind }

func (e *kindError) Error() string { return e.kind.phrase() }

// Error is the error every provider returns. Message is the store's own
// explanation; Hint tells the user what to do about it. Neither may contain a
// secret value or a credential.
type Error struct {
	kind     kind
	Provider string // registry name: "aws", "azure", …
	Ref      Ref    // the secret asked for; zero for errors not tied to one
	Message  string // the provider's message, e.g. "ResourceNotFoundException: …"
	Hint     string // an action the user can take, e.g. "run `az login`"
	Err      error  // the underlying error, if any
	// RetryAfter is, for ErrThrottled, how long the service asked the
	// caller to wait before trying again (a Retry-After header, a gRPC
	// RetryInfo); zero when it did not say.
	RetryAfter time.Duration
}

// NewError returns an *Error of class class: one of ErrNotFound,
// ErrPermissionDenied, ErrUnauthenticated, ErrThrottled, ErrUnavailable,
// ErrInvalid or ErrConflict (anything else leaves it unclassified).
func NewError(class error, provider string, ref Ref, message string, err error) *Error {
	e := &Error{Provider: provider, Ref: ref, Message: message, Err: err}
	if k, ok := class.(*kindError); ok {
		e.kind = k.kind
	}
	return e
}

// WithHint sets e.Hint and returns e.
func (e *Error) WithHint(hint string) *Error {
	e.Hint = hint
	return e
}

// Error formats as "provider: secret ref: kind: message (hint)".
func (e *Error) Error() string {
	var b strings.Builder
	if e.Provider != "" {
		b.WriteString(e.Provider)
		b.WriteString(": ")
	}
	if e.Ref.Name != "" {
		b.WriteString("secret ")
		b.WriteString(e.Ref.String())
		b.WriteString(": ")
	}
	b.WriteString(e.kind.phrase())
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if msg != "" {
		b.WriteString(": ")
		b.WriteString(msg)
	}
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's class (ErrNotFound, …).
func (e *Error) Is(target error) bool {
	k, ok := target.(*kindError)
	return ok && k.kind == e.kind && e.kind != kindUnknown
}

// KindOf names the class of err: "not_found", "permission_denied",
// "unauthenticated", "throttled", "unavailable", "invalid" or "conflict", or
// "" when err is not classified. A context's cancellation or deadline is
// "unavailable". The names are stable.
func KindOf(err error) string {
	if err == nil {
		return ""
	}
	var pe *Error
	if errors.As(err, &pe) && pe.kind != kindUnknown {
		return kindNames[pe.kind]
	}
	var ke *kindError
	if errors.As(err, &ke) {
		return kindNames[ke.kind]
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return kindNames[kindUnavailable]
	}
	return ""
}
