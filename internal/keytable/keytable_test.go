package keytable

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestUseTable_AfterThresholdDerivationsOrOnceWarm(t *testing.T) {
	if !ready.Load() && derived.Load() == 0 {
		for range Threshold {
			assert.False(t, UseTable(), "a derivation under the threshold uses plain multiplication")
		}
		assert.True(t, UseTable(), "past the threshold the table is used")
	}
	Warm()
	assert.True(t, ready.Load())
	assert.True(t, UseTable(), "once warm, every derivation uses the table")
}
