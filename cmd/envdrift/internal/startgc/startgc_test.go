package startgc

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPercent_ReadsGOGCLikeTheRuntime(t *testing.T) {
	for v, want := range map[string]int{"": 100, "off": -1, "50": 50, "400": 400, "junk": 100} {
		assert.Equal(t, want, Percent(v), "GOGC=%q", v)
	}
}

func TestInit_RaisesGOGCUntilRestore(t *testing.T) {
	t.Setenv("GOGC", "75")
	// The package's init ran before this test; nothing has restored it.
	prev := debug.SetGCPercent(initGCPercent)
	assert.Equal(t, initGCPercent, prev, "GOGC while packages initialise")
	Restore()
	assert.Equal(t, 75, debug.SetGCPercent(100), "Restore puts back the environment's GOGC")
}
