package aws

import (
	"fmt"
	"strings"
	"sync"

	"github.com/aws/smithy-go/logging"
)

// maxSDKNotices bounds how many distinct SDK warnings a run reports, and
// maxSDKNoticeLen the length of each.
const (
	maxSDKNotices   = 5
	maxSDKNoticeLen = 200
)

// sdkLogger receives the AWS SDK's log lines in place of its default
// logger, which writes "SDK <time> WARN …" lines straight to stderr. Warnings
// are kept, once each, for [Provider.Notices]; debug lines are dropped (the
// client's log mode is off, so there are none about requests).
type sdkLogger struct {
	mu    sync.Mutex
	seen  map[string]bool
	warns []string
	more  int
}

var _ logging.Logger = (*sdkLogger)(nil)

// Logf implements logging.Logger.
func (l *sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	if c != logging.Warn {
		return
	}
	// One line, of bounded length: some warnings carry a list of parse
	// errors.
	msg := strings.Join(strings.Fields(fmt.Sprintf(format, v...)), " ")
	if r := []rune(msg); len(r) > maxSDKNoticeLen {
		msg = string(r[:maxSDKNoticeLen]) + "…"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[msg] {
		return
	}
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	l.seen[msg] = true
	if len(l.warns) == maxSDKNotices {
		l.more++
		return
	}
	l.warns = append(l.warns, msg)
}

func (l *sdkLogger) notices() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.warns)+1)
	for _, w := range l.warns {
		out = append(out, "the AWS SDK warned: "+w)
	}
	if l.more > 0 {
		out = append(out, fmt.Sprintf("… and %d more AWS SDK warnings", l.more))
	}
	return out
}
