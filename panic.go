package envdrift

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/envdrift/envdrift/provider"
)

// ErrPanic is wrapped by the error of a row whose provider, check or other
// part of the sync panicked. Use errors.Is.
var ErrPanic = errors.New("internal error")

// PanicError is a recovered panic turned into an error. It says what
// panicked and where, never the panic value: a value a provider or check
// panics with may hold a key, a token or a decrypted value.
type PanicError struct {
	// Where says what was running: "provider aws", "the sync of services/api".
	Where string
	// Type is the Go type of the panic value ("string", "*errors.errorString",
	// "runtime.boundsError").
	Type string
	// Location is the function that panicked and its file and line,
	// "(unknown)" when the stack does not show it.
	Location string
}

// Error says what panicked and where, never the panic's value.
func (e *PanicError) Error() string {
	return fmt.Sprintf("internal error: %s panicked (a %s at %s); the panic value is not shown because it may hold secrets; please report this",
		e.Where, e.Type, e.Location)
}

// Is makes errors.Is(err, ErrPanic) true for every *PanicError.
func (e *PanicError) Is(target error) bool { return target == ErrPanic }

// NewPanicError describes v, a value returned by recover, without its
// content. Call it from the deferred function that recovered, while the
// panicking stack is still there: it finds the function that panicked from
// the stack.
func NewPanicError(where string, v any) *PanicError {
	return &PanicError{Where: where, Type: fmt.Sprintf("%T", v), Location: panicLocation()}
}

// panicLocation returns "function (file:line)" of the first frame below
// runtime.gopanic that is not in the runtime itself: the code that panicked
// (for a nil dereference or a bad index, the code that made the mistake).
func panicLocation() string {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	panicking := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			panicking = true
		case panicking && !strings.HasPrefix(f.Function, "runtime."):
			return fmt.Sprintf("%s (%s:%d)", f.Function, filepath.Base(f.File), f.Line)
		}
		if !more {
			return "(unknown)"
		}
	}
}

// openProvider is Driver.Open that turns a panic into an error.
func openProvider(ctx context.Context, d provider.Driver, name string, settings any, opts provider.Options) (p provider.Provider, err error) {
	defer func() {
		if v := recover(); v != nil {
			p, err = nil, NewPanicError("provider "+name, v)
		}
	}()
	return d.Open(ctx, settings, opts)
}

// fetchSafely is Provider.Fetch that turns a panic into an error.
func fetchSafely(ctx context.Context, p provider.Provider, k fetchKey) (sec provider.Secret, err error) {
	defer func() {
		if v := recover(); v != nil {
			sec, err = provider.Secret{}, providerPanic(k.provider, k.ref, NewPanicError("provider "+k.provider, v))
		}
	}()
	return p.Fetch(ctx, k.ref)
}

// fetchBatchSafely is BatchFetcher.FetchBatch that turns a panic into an
// error for every secret of the batch.
func fetchBatchSafely(ctx context.Context, p provider.BatchFetcher, name string, refs []provider.Ref) (results []provider.Result) {
	defer func() {
		if v := recover(); v != nil {
			pe := NewPanicError("provider "+name, v)
			results = make([]provider.Result, len(refs))
			for i, ref := range refs {
				results[i].Err = providerPanic(name, ref, pe)
			}
		}
	}()
	return p.FetchBatch(ctx, refs)
}

func providerPanic(name string, ref provider.Ref, pe *PanicError) error {
	return fmt.Errorf("%s: secret %s: %w", name, ref, pe)
}

// applySafely is apply that turns a panic (in a check, a prompter, or
// envdrift itself) into an error row; deferred unlocks and temporary-file
// clean-ups have run by the time it is reported.
func (s *Syncer) applySafely(ctx context.Context, st *runState, row *Row, m Mapping, sec provider.Secret, fetchErr error) {
	defer func() {
		if v := recover(); v != nil {
			s.fail(row, NewPanicError("the sync of "+row.Folder, v))
		}
	}()
	s.apply(ctx, st, row, m, sec, fetchErr)
}
