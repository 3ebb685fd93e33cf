//go:build unix

package main

// Issue 12's terminal tests: the binary on a real pseudo-terminal (the
// prompt, the progress line), with stdout piped, and stopped by a signal.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/internal/testserver/vaultkv"
)

// ttyOutput collects what the binary writes to a pseudo-terminal.
type ttyOutput struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
}

// readTTY copies master into a ttyOutput until it fails (EIO once the
// child has exited and the terminal is closed).
func readTTY(master io.Reader) *ttyOutput {
	o := &ttyOutput{done: make(chan struct{})}
	go func() {
		defer close(o.done)
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			o.mu.Lock()
			o.buf.Write(b[:n])
			o.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return o
}

func (o *ttyOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// slowVault is a Vault with latency and a project whose mappings read it:
// svc0 … svc<n-1>, each with an env file encrypted for its vault key.
type slowVault struct {
	s    *vaultkv.Server
	dir  string
	keys []*dotenvx.PrivateKey
}

func newSlowVault(t *testing.T, n int, latency time.Duration, extra string) *slowVault {
	t.Helper()
	s, err := vaultkv.Start()
	require.NoError(t, err)
	t.Cleanup(s.Close)
	v := &slowVault{s: s, dir: t.TempDir()}
	var cfg strings.Builder
	cfg.WriteString("[vault]\nprovider = \"hashicorp\"\n\n[vault.file]\npath = \"secrets\"\n\n[vault.sync]\n" + extra)
	for i := range n {
		k := genKey(t)
		v.keys = append(v.keys, k)
		folder := fmt.Sprintf("svc%d", i)
		writeFiles(t, v.dir, map[string]string{filepath.Join(folder, ".env.production"): "DOTENV_PUBLIC_KEY_PRODUCTION=\"" + k.PublicKey().Hex() + "\"\n"})
		_, err := s.PutValue("", vaultkv.DefaultMount, folder, k.Hex())
		require.NoError(t, err)
		fmt.Fprintf(&cfg, "\n[[vault.sync.mappings]]\nsecret_name = %q\nfolder_path = %q\n", folder, folder)
	}
	writeFiles(t, v.dir, map[string]string{"envdrift.toml": cfg.String()})
	s.SetLatency(latency)
	return v
}

func (v *slowVault) allKeys() []string {
	var out []string
	for _, k := range v.keys {
		out = append(out, k.Hex())
	}
	return out
}

func (v *slowVault) env() []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "TERM=xterm", "NO_COLOR=1"}, v.s.Env()...)
}

// promptRig is the pty test's project: mapping "first" reads the slow Vault
// (its answer comes after the prompt appears), mapping "mismatch" reads the
// file provider at once and finds another key on disk, so it prompts
// while "first" and svc0 … svc<n-1> are still being fetched.
type promptRig struct {
	*slowVault
	first, mismatch, stale *dotenvx.PrivateKey
}

func newPromptRig(t *testing.T) *promptRig {
	r := &promptRig{first: genKey(t), mismatch: genKey(t), stale: genKey(t)}
	r.slowVault = newSlowVault(t, 4, 300*time.Millisecond, "")
	// Put "first" and "mismatch" ahead of svc0 … in configuration order.
	cfg := read(t, filepath.Join(r.dir, "envdrift.toml"))
	head, rest, ok := strings.Cut(cfg, "\n[[vault.sync.mappings]]")
	require.True(t, ok)
	cfg = head + "\n[[vault.sync.mappings]]\nsecret_name = \"first\"\nfolder_path = \"first\"\n" +
		"\n[[vault.sync.mappings]]\nsecret_name = \"mismatch\"\nfolder_path = \"mismatch\"\nprovider = \"file\"\n" +
		"\n[[vault.sync.mappings]]" + rest
	writeFiles(t, r.dir, map[string]string{
		"envdrift.toml":            cfg,
		"first/.env.production":    "DOTENV_PUBLIC_KEY_PRODUCTION=\"" + r.first.PublicKey().Hex() + "\"\n",
		"mismatch/.env.production": "DOTENV_PUBLIC_KEY_PRODUCTION=\"" + r.mismatch.PublicKey().Hex() + "\"\n",
		"secrets/mismatch":         r.mismatch.Hex() + "\n",
	})
	_, err := r.s.PutValue("", vaultkv.DefaultMount, "first", r.first.Hex())
	require.NoError(t, err)
	// The local key is another one (say, from before a rotation).
	keys := filepath.Join(r.dir, "mismatch", ".env.keys")
	require.NoError(t, os.WriteFile(keys, []byte("DOTENV_PRIVATE_KEY_PRODUCTION="+r.stale.Hex()+"\n"), 0o600))
	return r
}

func (r *promptRig) allKeys() []string {
	return append(r.slowVault.allKeys(), r.first.Hex(), r.mismatch.Hex(), r.stale.Hex())
}

const promptText = "Update local file with vault value? (y/N): "

// ctrlC typed on the terminal sends SIGINT to the run, as a user's Ctrl-C.
const ctrlC = "\x03"

// runPrompted starts `envdrift sync` on a pty, waits for the prompt and for
// every other mapping to be written while it waits, checks that nothing
// was drawn after the prompt meanwhile, answers, and returns the whole
// screen output and the exit code.
func (r *promptRig) runPrompted(t *testing.T, answer string) (before, after string, code int) {
	t.Helper()
	cmd := exec.Command(binary, "sync", "--concurrency", "8")
	cmd.Dir = r.dir
	cmd.Env = r.env()
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 200})
	require.NoError(t, err)
	defer tty.Close()
	out := readTTY(tty)

	require.Eventually(t, func() bool { return strings.Contains(out.String(), promptText) }, 30*time.Second, 10*time.Millisecond,
		"no prompt; the terminal shows:\n%s", out.String())
	// Every other mapping finishes while the prompt waits: its keys file
	// is written, its row and a progress update are reported.
	require.Eventually(t, func() bool {
		for _, f := range []string{"first", "svc0", "svc1", "svc2", "svc3"} {
			if _, err := os.Stat(filepath.Join(r.dir, f, ".env.keys")); err != nil {
				return false
			}
		}
		return true
	}, 30*time.Second, 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond) // let the reports of those rows reach the terminal, if any were drawn
	screen := out.String()
	_, afterPrompt, _ := strings.Cut(screen, promptText)
	assert.Empty(t, afterPrompt, "nothing is drawn on or after the prompt's line while it waits")

	if answer != ctrlC {
		answer += "\r"
	}
	_, err = tty.Write([]byte(answer))
	require.NoError(t, err)
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	select {
	case <-out.done:
	case <-time.After(10 * time.Second):
	}
	before, after, _ = strings.Cut(out.String(), promptText)
	assertNoKeyMaterial(t, r.allKeys(), out.String())
	return before, after, code
}

// TestTruth_PromptStaysVisibleWhileOtherRowsComplete is the pty test: on a
// terminal, with a slow Vault and one mismatch that prompts, the run shows
// its first line and "Fetching …" at once, then the prompt; while the
// prompt waits the other mappings complete and nothing — no progress line,
// no row — is drawn over or after it. Answering y replaces the key (with a
// backup) and the held rows follow in order.
func TestTruth_PromptStaysVisibleWhileOtherRowsComplete(t *testing.T) {
	r := newPromptRig(t)
	before, after, code := r.runPrompted(t, "y")
	require.Equal(t, 0, code, "before:\n%s\nafter:\n%s", before, after)

	assert.True(t, strings.HasPrefix(before, "envdrift sync: envdrift.toml, 6 mapping(s); secrets: "), before)
	assert.Contains(t, before, "Fetching 6 secret(s) …", "something is visible before the first answer")
	assert.Contains(t, before, "Value mismatch for mismatch (DOTENV_PRIVATE_KEY_PRODUCTION in mismatch):\r\n  Local:  public "+
		shortPub(r.stale)+"\r\n  Vault:  public "+shortPub(r.mismatch)+"\r\n")
	assert.NotContains(t, before, "svc0 - created", "rows after the prompting one wait for it")

	assert.True(t, strings.HasPrefix(after, "y\r\n"), "the answer is echoed on the prompt's line: %q", after)
	order := []string{"+ first - created", "~ mismatch - updated", "+ svc0 - created", "+ svc3 - created", "Sync Summary", "All services synced successfully"}
	last := 0
	for _, s := range order {
		i := strings.Index(after, s)
		require.GreaterOrEqual(t, i, last, "%q in order in:\n%s", s, after)
		last = i
	}
	assert.Contains(t, read(t, filepath.Join(r.dir, "mismatch", ".env.keys")), "DOTENV_PRIVATE_KEY_PRODUCTION="+r.mismatch.Hex()+"\n")
	backups, _ := filepath.Glob(filepath.Join(r.dir, "mismatch", ".env.keys.backup.*"))
	require.Len(t, backups, 1)
	assert.Contains(t, read(t, backups[0]), r.stale.Hex(), "the replaced key is kept in the backup")
}

// TestTruth_DeclinedPromptExits0AndIsNotCountedAsSynced: answering n keeps
// the local key; the run exits 0, the row says it was kept, and neither
// the panel nor the last line calls it synced.
func TestTruth_DeclinedPromptExits0AndIsNotCountedAsSynced(t *testing.T) {
	r := newPromptRig(t)
	before, after, code := r.runPrompted(t, "n")
	require.Equal(t, 0, code, "before:\n%s\nafter:\n%s", before, after)
	assert.Contains(t, after, "! mismatch - declined\r\n    Note: DOTENV_PRIVATE_KEY_PRODUCTION in .env.keys differs from the vault; kept after you declined\r\n")
	assert.Contains(t, after, "│ Declined: 1")
	assert.Contains(t, after, "│ Created: 5")
	assert.Contains(t, after, "5 synced, 1 kept after you declined\r\n")
	assert.NotContains(t, after, "All services synced successfully")
	assert.Equal(t, "DOTENV_PRIVATE_KEY_PRODUCTION="+r.stale.Hex()+"\n", read(t, filepath.Join(r.dir, "mismatch", ".env.keys")))
}

// TestTruth_CtrlCAtThePromptKeepsTheLocalKeyAndExits130: Ctrl-C typed at
// the prompt leaves that row unfinished with its local key kept, reports
// the rows that finished while it waited, and exits 130.
func TestTruth_CtrlCAtThePromptKeepsTheLocalKeyAndExits130(t *testing.T) {
	r := newPromptRig(t)
	before, after, code := r.runPrompted(t, ctrlC)
	require.Equal(t, 130, code, "before:\n%s\nafter:\n%s", before, after)
	assert.Contains(t, after, "x mismatch - not finished (interrupted)\r\n")
	assert.Contains(t, after, "+ first - created\r\n")
	assert.Contains(t, after, "Interrupted: 5 synced, 1 not finished\r\n")
	assert.Contains(t, after, "envdrift: interrupted: 5 of 6 mappings finished; no file was left half-written\r\n")
	assert.Equal(t, "DOTENV_PRIVATE_KEY_PRODUCTION="+r.stale.Hex()+"\n", read(t, filepath.Join(r.dir, "mismatch", ".env.keys")))
	assert.Empty(t, tempFiles(t, r.dir))
}

// progressText is anything the progress line draws.
var progressText = regexp.MustCompile(`Syncing|Fetching|\x1b\[K|\r[^\n]`)

// TestTruth_NoProgressTextReachesAPipe: `envdrift sync | cat` gets rows,
// panel and last line, and nothing of the progress display; with stdout
// piped and stderr a terminal, no progress line is drawn at all (it would
// interleave with the piped rows on the screen).
func TestTruth_NoProgressTextReachesAPipe(t *testing.T) {
	v := newSlowVault(t, 6, 100*time.Millisecond, "")

	// Both piped.
	cmd := exec.Command(binary, "sync", "--concurrency", "2")
	cmd.Dir, cmd.Env = v.dir, v.env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	assert.Contains(t, stdout.String(), "  + svc5 - created\n")
	assert.Contains(t, stdout.String(), "All services synced successfully\n")
	assert.NotRegexp(t, progressText, stdout.String())
	assert.NotRegexp(t, progressText, stderr.String())
	for i := range 6 {
		require.NoError(t, os.Remove(filepath.Join(v.dir, fmt.Sprintf("svc%d", i), ".env.keys")))
	}

	// stdout piped, stderr a terminal.
	ptmx, tty, err := pty.Open()
	require.NoError(t, err)
	defer ptmx.Close()
	cmd = exec.Command(binary, "sync", "--concurrency", "2")
	cmd.Dir, cmd.Env = v.dir, v.env()
	stdout.Reset()
	cmd.Stdout, cmd.Stderr = &stdout, tty
	out := readTTY(ptmx)
	require.NoError(t, cmd.Run())
	tty.Close()
	<-out.done
	screen := out.String()
	assert.Contains(t, screen, "envdrift sync: envdrift.toml, 6 mapping(s)", "the first line still goes to the terminal")
	assert.NotRegexp(t, progressText, screen)
	assert.NotRegexp(t, progressText, stdout.String())
	assert.Equal(t, 6, strings.Count(stdout.String(), " - created\n"))
	assertNoKeyMaterial(t, v.allKeys(), stdout.String(), stderr.String(), screen)
}

var interruptedLine = regexp.MustCompile(`(?m)^envdrift: interrupted: (\d+) of 8 mappings finished; no file was left half-written\n\z`)

// TestTruth_CtrlCExits130SayingWhatFinished: SIGINT during a slow run
// exits 130 (SIGTERM 143) with one last line on stderr saying how many
// mappings finished and that no file was left half-written; the rows the
// signal stopped say so; no temporary file is left; a second run
// completes the rest.
func TestTruth_CtrlCExits130SayingWhatFinished(t *testing.T) {
	for _, c := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(c.sig.String(), func(t *testing.T) {
			v := newSlowVault(t, 8, 200*time.Millisecond, "")
			cmd := exec.Command(binary, "sync", "--concurrency", "1")
			cmd.Dir, cmd.Env = v.dir, v.env()
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Start())
			// Interrupt once the first mapping is written.
			require.Eventually(t, func() bool {
				_, err := os.Stat(filepath.Join(v.dir, "svc0", ".env.keys"))
				return err == nil
			}, 30*time.Second, 5*time.Millisecond)
			require.NoError(t, cmd.Process.Signal(c.sig))
			err := cmd.Wait()
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, "stdout:\n%s", stdout.String())
			assert.Equal(t, c.code, ee.ExitCode())

			m := interruptedLine.FindStringSubmatch(stderr.String())
			require.NotNil(t, m, "stderr:\n%s", stderr.String())
			finished, _ := strconv.Atoi(m[1])
			written := 0
			for i := range 8 {
				if _, err := os.Stat(filepath.Join(v.dir, fmt.Sprintf("svc%d", i), ".env.keys")); err == nil {
					written++
				}
			}
			assert.Equal(t, written, finished, "the count is the mappings whose keys file was written")
			assert.Less(t, finished, 8)
			assert.Equal(t, 8-finished, strings.Count(stdout.String(), " - not finished (interrupted)\n"), stdout.String())
			assert.Contains(t, stdout.String(), fmt.Sprintf("Interrupted: %d synced, %d not finished\n", finished, 8-finished))
			assert.NotContains(t, stdout.String(), "unavailable", "an interrupt is not blamed on the vault")
			assert.Empty(t, tempFiles(t, v.dir), "no file was left half-written")
			assertNoKeyMaterial(t, v.allKeys(), stdout.String(), stderr.String())

			v.s.SetLatency(0)
			r := runCLI(t, v.dir, v.s.Env(), "sync")
			require.Equal(t, 0, r.code, r.stdout+r.stderr)
			assert.Equal(t, 8-finished, strings.Count(r.stdout, " - created\n"))
		})
	}
}
