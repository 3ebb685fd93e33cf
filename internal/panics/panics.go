// Package panics describes a recovered panic without its value: the value a
// provider, a check or a library panics with may hold a key, a token or a
// decrypted value, so envdrift reports only where the panic happened.
package panics

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
)

// Location must be called from the deferred function that recovered, while
// the panicking stack is still there.
//
// Location returns "function (file:line)" of the first frame below
// runtime.gopanic that is not in the runtime itself: the code that panicked
// (for a nil dereference or a bad index, the code that made the mistake).
func Location() string {
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
