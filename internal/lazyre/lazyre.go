// Package lazyre compiles regular expressions on first use, so that a
// program linking envdrift pays nothing at start-up for patterns it never
// uses (a CLI run that prints its version uses none).
package lazyre

import (
	"regexp"
	"sync"
)

// New returns a function that compiles expr on its first call and returns
// the same *regexp.Regexp on every call. expr must be valid: an invalid
// pattern panics on first use, as regexp.MustCompile does.
func New(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
