package suggest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDidYouMean_NamesTheClosestCandidate(t *testing.T) {
	known := []string{"aws", "azure", "file", "gcp", "hashicorp"}
	assert.Equal(t, ` (did you mean "hashicorp"?)`, DidYouMean("hashicrop", known))
	assert.Equal(t, ` (did you mean "mappings"?)`, DidYouMean("mapping", []string{"mappings", "schema"}))
	assert.Equal(t, "", DidYouMean("aws", known), "an exact match needs no hint")
	assert.Equal(t, "", DidYouMean("kubernetes", known), "nothing close")
}
