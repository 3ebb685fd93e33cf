package envdrift

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/envdrift/envdrift/provider"
)

func TestErrorKind_AProviderTimeoutIsUnavailableARunDeadlineIsCancelled(t *testing.T) {
	timeout := provider.NewError(provider.KindUnavailable, "aws", provider.Ref{Name: "k"}, "no answer within 300ms", context.DeadlineExceeded)
	assert.Equal(t, "unavailable", errorKind(timeout))
	assert.Equal(t, "unavailable", errorKind(fmt.Errorf("wrapped: %w", timeout)))
	assert.Equal(t, "cancelled", errorKind(fmt.Errorf("not written: %w", context.DeadlineExceeded)))
	assert.Equal(t, "cancelled", errorKind(fmt.Errorf("lock: %w", context.Canceled)))
	interrupted := provider.NewError(provider.KindUnavailable, "aws", provider.Ref{Name: "k"}, "cancelled", context.Canceled)
	assert.Equal(t, "cancelled", errorKind(interrupted), "Ctrl-C during a request is a cancellation")
}
