package envdrift

import (
	"context"
	"errors"
	"fmt"

	"github.com/envdrift/envdrift/internal/panics"
)

// errPanic is wrapped by the error of a row whose provider, check or other
// part of the sync panicked. Use errors.Is.
var errPanic = errors.New("internal error")

// panicError is a recovered panic turned into an error. It says what
// panicked and where, never the panic value: a value a provider or check
// panics with may hold a key, a token or a decrypted value.
type panicError struct {
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
func (e *panicError) Error() string {
	return fmt.Sprintf("internal error: %s panicked (a %s at %s); the panic value is not shown because it may hold secrets; please report this",
		e.Where, e.Type, e.Location)
}

// Is makes errors.Is(err, errPanic) true for every *panicError.
func (e *panicError) Is(target error) bool { return target == errPanic }

// newPanicError describes v, a value returned by recover, without its
// content. Call it from the deferred function that recovered, while the
// panicking stack is still there: it finds the function that panicked from
// the stack.
func newPanicError(where string, v any) *panicError {
	return &panicError{Where: where, Type: fmt.Sprintf("%T", v), Location: panics.Location()}
}

// applySafely is apply that turns a panic (in a check, a prompter, or
// envdrift itself) into an error row; deferred unlocks and temporary-file
// clean-ups have run by the time it is reported.
func (s *Syncer) applySafely(ctx context.Context, st *runState, row *Row, i int, sec *parsedSecret, fetchErr error) {
	defer func() {
		if v := recover(); v != nil {
			s.fail(row, newPanicError("the sync of "+row.Folder, v))
		}
	}()
	s.apply(ctx, st, row, i, sec, fetchErr)
}
