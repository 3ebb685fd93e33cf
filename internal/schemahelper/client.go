package schemahelper

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/envdrift/envdrift"
)

var lookPath = exec.LookPath

// Client is the [envdrift.SchemaValidator] the CLI uses: it sends every
// check to one envdrift-schema process, started at the first check, so a run
// that checks no schema starts no process. Checks may run concurrently. Call
// Close when the run is over. The zero value is not usable; set Path.
type Client struct {
	// Path is the envdrift-schema program ([Find]).
	Path string

	mu      sync.Mutex
	started bool
	stdin   io.WriteCloser
	enc     *json.Encoder
	next    uint64
	pending map[uint64]chan envdrift.Check
	failed  error         // set when the helper can no longer answer
	exitErr error         // how the helper ended, if not cleanly
	done    chan struct{} // closed once the helper has exited and failed is set
	stderr  *tailBuffer
}

var _ envdrift.SchemaValidator = (*Client)(nil)

// ValidateSchema implements [envdrift.SchemaValidator] by asking the helper.
// A helper that cannot be started, or stops, fails the check and says why.
func (c *Client) ValidateSchema(ctx context.Context, envFile, schema string, key envdrift.Key) envdrift.Check {
	if err := ctx.Err(); err != nil {
		return envdrift.Check{Status: envdrift.CheckFailed, Detail: "cancelled"}
	}
	if schema == "" {
		// The library's rule, answered here so no process starts for it.
		return envdrift.Check{Status: envdrift.CheckSkipped, Detail: "no schema for this folder"}
	}
	ch, err := c.send(request{EnvFile: envFile, Schema: schema, Key: key.Reveal()})
	if err != nil {
		return envdrift.Check{Status: envdrift.CheckFailed, Detail: "cannot validate: " + err.Error()}
	}
	select {
	case chk, ok := <-ch:
		if !ok {
			return envdrift.Check{Status: envdrift.CheckFailed, Detail: "cannot validate: " + c.failure().Error()}
		}
		return chk
	case <-ctx.Done():
		return envdrift.Check{Status: envdrift.CheckFailed, Detail: "cancelled"}
	}
}

// send starts the helper if need be and writes req; the answer arrives on
// the returned channel, which is closed without one if the helper stops.
func (c *Client) send(req request) (<-chan envdrift.Check, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started {
		c.started = true
		if err := c.start(); err != nil {
			c.failed = err
		}
	}
	if c.failed != nil {
		return nil, c.failed
	}
	c.next++
	req.ID = c.next
	ch := make(chan envdrift.Check, 1)
	c.pending[req.ID] = ch
	if err := c.enc.Encode(req); err != nil {
		delete(c.pending, req.ID)
		// The read loop reports why the helper went away; wait for it.
		c.mu.Unlock()
		<-c.done
		c.mu.Lock()
		return nil, c.failed
	}
	return ch, nil
}

// start runs the helper, with c.mu held. Its environment is this process's
// without DOTENV_PRIVATE_KEY* (the keys it needs come on the pipe).
func (c *Client) start() error {
	cmd := exec.Command(c.Path, "serve", "--protocol", Protocol)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DOTENV_PRIVATE_KEY") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	c.stderr = &tailBuffer{max: 2048}
	cmd.Stderr = c.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("starting %s: %w", Name, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("starting %s: %w", Name, err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", Name, err)
	}
	c.stdin, c.enc = stdin, json.NewEncoder(stdin)
	c.pending = map[uint64]chan envdrift.Check{}
	c.done = make(chan struct{})
	go c.read(cmd, stdout)
	return nil
}

// read delivers answers until the helper's stdout ends, then records why it
// ended and fails every check still waiting.
func (c *Client) read(cmd *exec.Cmd, stdout io.Reader) {
	dec := json.NewDecoder(stdout)
	var rerr error
	for {
		var a answer
		if rerr = dec.Decode(&a); rerr != nil {
			break
		}
		c.mu.Lock()
		ch, ok := c.pending[a.ID]
		delete(c.pending, a.ID)
		c.mu.Unlock()
		if ok {
			ch <- a.Check
		}
	}
	werr := cmd.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case werr != nil:
		c.exitErr = fmt.Errorf("%s stopped (%v)%s", Name, werr, c.stderr.said())
	case !errors.Is(rerr, io.EOF):
		c.exitErr = fmt.Errorf("%s answered something that is not an answer: %v", Name, rerr)
	}
	c.failed = c.exitErr
	if c.failed == nil {
		c.failed = errors.New(Name + " stopped")
	}
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
	close(c.done)
}

func (c *Client) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed == nil {
		return errors.New(Name + " stopped")
	}
	return c.failed
}

// Close ends the helper's input and waits for it to exit. It returns nil if
// no helper was started or it exited cleanly.
func (c *Client) Close() error {
	c.mu.Lock()
	if !c.started || c.stdin == nil {
		c.mu.Unlock()
		return nil
	}
	stdin, done := c.stdin, c.done
	c.stdin = nil
	c.mu.Unlock()
	_ = stdin.Close()
	<-done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.exitErr
}

// tailBuffer keeps the last max bytes written to it: the helper's stderr,
// shown when it fails. The helper writes only its own messages there, never
// a key or a value.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

// said is ": " and the last line the helper wrote, or "".
func (t *tailBuffer) said() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := bytes.Split(bytes.TrimSpace(t.b), []byte("\n"))
	last := strings.TrimSpace(string(lines[len(lines)-1]))
	if last == "" {
		return ""
	}
	return ": " + last
}
