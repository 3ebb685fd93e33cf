package lazyre

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNew_CompilesOnceOnFirstUse(t *testing.T) {
	re := New(`^a+$`)
	first := re()
	assert.Same(t, first, re())
	assert.True(t, first.MatchString("aaa"))
	assert.False(t, first.MatchString("ab"))
}
