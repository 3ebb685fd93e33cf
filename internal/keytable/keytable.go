// Package keytable decides how secp256k1 public keys (d·G) are derived in
// this process: by plain scalar multiplication, or with the secp256k1
// package's table of multiples of G, which costs about 6 ms of CPU and
// 1 MB to build (once per process, on first use) and makes each
// derivation about four times faster (31 µs against 114 µs).
//
// A run that derives a handful of keys should not build the table; one
// that derives hundreds should, and best before its keys arrive: a sync
// calls Warm in a goroutine while its requests are in flight. Without that
// hint the table is built once Threshold keys have been derived the plain
// way, when they have cost about what the table does.
package keytable

import (
	"sync"
	"sync/atomic"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// Threshold is how many keys a process derives by plain multiplication
// before it builds the table, unless Warm has built it first. Switching
// once the plain multiplications have cost about what the table would
// (64 × 83 µs ≈ 5.3 ms) never costs more than twice the better choice made
// in hindsight, whatever the number of keys (the ski-rental rule).
const Threshold = 64

var (
	derived  atomic.Int64
	ready    atomic.Bool
	warmOnce sync.Once
)

// Warm builds the table now, once per process, and returns when it is
// ready. Call it in a goroutine when about Threshold keys or more are
// about to be derived.
func Warm() {
	warmOnce.Do(func() {
		var one secp256k1.ModNScalar
		one.SetInt(1)
		var p secp256k1.JacobianPoint
		secp256k1.ScalarBaseMultNonConst(&one, &p) // loads the table
		ready.Store(true)
	})
}

// UseTable reports whether the next derivation should use the table: it
// has been built, or Threshold keys have been derived without it (the
// caller then builds it, through the secp256k1 package).
func UseTable() bool {
	return ready.Load() || derived.Add(1) > Threshold
}
