package provider

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Kind classifies why a fetch failed, independently of the provider.
type Kind int

// The error kinds. KindUnknown is the zero value and means "not classified".
const (
	KindUnknown          Kind = iota
	KindNotFound              // the secret (or vault) does not exist
	KindPermissionDenied      // the caller is known but not allowed to read it
	KindUnauthenticated       // no usable credentials, or they were rejected
	KindThrottled             // the service asked the caller to slow down
	KindUnavailable           // network failure, timeout or server error
	KindInvalid               // a bad request or an unusable payload or setting
	KindConflict              // a conditional write lost: the secret changed (or appeared) since it was read
)

// Kinds are only ever appended: their names are a stable contract (the
// error_kind field of envdrift's JSON output).

var kindNames = [...]string{
	KindUnknown:          "error",
	KindNotFound:         "not found",
	KindPermissionDenied: "permission denied",
	KindUnauthenticated:  "unauthenticated",
	KindThrottled:        "throttled",
	KindUnavailable:      "unavailable",
	KindInvalid:          "invalid",
	KindConflict:         "conflict",
}

// String returns the kind as a short phrase ("not found").
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return kindNames[KindUnknown]
	}
	return kindNames[k]
}

// Sentinel errors, one per kind, for use with errors.Is:
//
//	if errors.Is(err, provider.ErrNotFound) { … }
var (
	ErrNotFound         = &kindError{KindNotFound}
	ErrPermissionDenied = &kindError{KindPermissionDenied}
	ErrUnauthenticated  = &kindError{KindUnauthenticated}
	ErrThrottled        = &kindError{KindThrottled}
	ErrUnavailable      = &kindError{KindUnavailable}
	ErrInvalid          = &kindError{KindInvalid}
	ErrConflict         = &kindError{KindConflict}
)

type kindError struct{ kind Kind }

func (e *kindError) Error() string { return e.kind.String() }

// Error is the error every provider returns. Message is the store's own
// explanation; Hint tells the user what to do about it. Neither may contain a
// secret value or a credential.
type Error struct {
	Kind     Kind
	Provider string // registry name: "aws", "azure", …
	Ref      Ref    // the secret asked for; zero for errors not tied to one
	Message  string // the provider's message, e.g. "ResourceNotFoundException: …"
	Hint     string // an action the user can take, e.g. "run `az login`"
	Err      error  // the underlying error, if any
	// RetryAfter is, for KindThrottled, how long the service asked the
	// caller to wait before trying again (a Retry-After header, a gRPC
	// RetryInfo); zero when it did not say.
	RetryAfter time.Duration
}

// NewError returns an *Error. It is a convenience for provider packages.
func NewError(kind Kind, provider string, ref Ref, message string, err error) *Error {
	return &Error{Kind: kind, Provider: provider, Ref: ref, Message: message, Err: err}
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
	b.WriteString(e.Kind.String())
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

// Is reports whether target is the sentinel of e's kind.
func (e *Error) Is(target error) bool {
	k, ok := target.(*kindError)
	return ok && k.kind == e.Kind
}

// KindOf classifies err. Errors that are not (and do not wrap) an *Error are
// classified from context errors where possible, else KindUnknown.
func KindOf(err error) Kind {
	if err == nil {
		return KindUnknown
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Kind
	}
	var ke *kindError
	if errors.As(err, &ke) {
		return ke.kind
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return KindUnavailable
	}
	return KindUnknown
}
