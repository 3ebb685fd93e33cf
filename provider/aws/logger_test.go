package aws_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/internal/testserver/awssm"
	"github.com/envdrift/envdrift/provider"
	awsp "github.com/envdrift/envdrift/provider/aws"
)

// TestSDKWarnings_BecomeNoticesNotStderrLines provokes a real AWS SDK
// warning (a proxy between envdrift and Secrets Manager mangles the Date
// header, which the SDK reads for clock skew) and checks that it reaches
// the user once, as a notice, and not as an "SDK … WARN" line on stderr.
func TestSDKWarnings_BecomeNoticesNotStderrLines(t *testing.T) {
	srv := startServer(t)
	srv.Put(awssm.DefaultRegion, "a", []byte("v"))
	srv.Put(awssm.DefaultRegion, "b", []byte("v"))
	target, err := url.Parse(srv.URL())
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(r *http.Response) error {
		r.Header.Set("Date", "not a date")
		return nil
	}
	ln := listen(t)
	hs := &http.Server{Handler: proxy}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })

	// The SDK's default logger would write to os.Stderr: catch it.
	r, w, err := os.Pipe()
	require.NoError(t, err)
	stderr := os.Stderr
	os.Stderr = w
	restored := false
	restore := func() {
		if !restored {
			os.Stderr, restored = stderr, true
			_ = w.Close()
		}
	}
	t.Cleanup(restore)

	p := newProvider(t, awsp.Settings{EndpointURL: "http://" + ln.Addr().String()}, provider.Options{})
	for _, name := range []string{"a", "b"} {
		got, err := p.Fetch(context.Background(), provider.Ref{Name: name})
		require.NoError(t, err)
		assert.Equal(t, "v", string(got.Value))
	}
	restore()
	printed, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.NotContains(t, string(printed), "WARN", "nothing from the SDK reaches stderr")

	notices := p.Notices()
	require.Len(t, notices, 1, "the same warning is told once: %q", notices)
	// The caller names the provider (envdrift's warnings read "aws: …").
	assert.True(t, strings.HasPrefix(notices[0], "the AWS SDK warned: failed to parse response Date header value"), notices[0])
}

// listen opens a listener on a random port of 127.0.0.1.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return ln
}
