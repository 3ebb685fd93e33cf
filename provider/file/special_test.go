//go:build unix

package file_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/provider"
	"github.com/envdrift/envdrift/provider/file"
)

func TestFetch_AFIFOOrDeviceIsRefusedWithoutBlocking(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	require.NoError(t, os.Symlink("/dev/zero", filepath.Join(dir, "zero")))
	p, err := file.New(dir, provider.Options{})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := p.Fetch(context.Background(), provider.Ref{Name: "fifo"})
		done <- err
	}()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, provider.ErrInvalid)
		assert.Contains(t, err.Error(), "is not a regular file")
	case <-time.After(10 * time.Second):
		t.Fatal("Fetch of a FIFO blocked")
	}
	// A symlink to a device outside the directory is refused before it is opened.
	_, err = p.Fetch(context.Background(), provider.Ref{Name: "zero"})
	assert.Error(t, err)
}
