// Package startgc keeps the garbage collector out of the CLI's package
// initialisation.
//
// Before main runs, the packages the envdrift binary links (the four cloud
// SDKs, the JSON Schema compiler, which compiles the metaschemas of five
// drafts in its init) allocate about 3.8 MB, just under the heap size at
// which the runtime starts its first collection. That collection, half-way
// through start-up, cost `envdrift --version` about 3 ms of its 15–19 ms on
// a 2-core machine (median of 80 runs: 18.9 ms with GOGC=100, 16.1 ms with
// GOGC=400). Importing this package raises GOGC while the other packages
// initialise; once the command line is parsed (so `--version` and `--help`
// have already exited), the CLI calls Restore, which puts back the setting
// of the GOGC environment variable before any real work starts.
package startgc

import (
	"os"
	"runtime/debug"
	"strconv"
)

// initGCPercent is the GOGC in force while packages initialise: the first
// collection then waits for a 16 MB heap instead of 4 MB.
const initGCPercent = 400

func init() { debug.SetGCPercent(initGCPercent) }

// Restore sets GOGC as the runtime read it from the environment at start:
// "off", a percentage, or unset (100).
func Restore() {
	debug.SetGCPercent(Percent(os.Getenv("GOGC")))
}

// Percent is the GOGC percentage the runtime takes from the value of the
// GOGC environment variable: -1 for "off", 100 when it is unset or not a
// number.
func Percent(v string) int {
	if v == "off" {
		return -1
	}
	if n, err := strconv.Atoi(v); err == nil {
		return n
	}
	return 100
}
