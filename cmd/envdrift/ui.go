package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"golang.org/x/term"

	"github.com/envdrift/envdrift"
	"github.com/envdrift/envdrift/dotenvx"
)

func newStdio() stdio {
	return stdio{
		in: os.Stdin, out: os.Stdout, err: os.Stderr,
		inTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		outTTY: term.IsTerminal(int(os.Stdout.Fd())),
		errTTY: term.IsTerminal(int(os.Stderr.Fd())),
		getenv: os.Getenv,
	}
}

// ui writes results to stdout and diagnostics and progress to stderr.
type ui struct {
	std      stdio
	json     bool
	progress bool // a progress line is shown on stderr
	mu       sync.Mutex
	shown    bool // the progress line is on screen
	in       *bufio.Reader

	r                             *lipgloss.Renderer
	green, yellow, red, dim, bold lipgloss.Style
	border                        lipgloss.Style
}

func newUI(std stdio, jsonOut, ci bool) *ui {
	u := &ui{std: std, json: jsonOut}
	u.progress = std.errTTY && !ci && !jsonOut && std.getenv("TERM") != "dumb"
	u.r = lipgloss.NewRenderer(std.out)
	if std.outTTY && !ci && std.getenv("NO_COLOR") == "" && std.getenv("TERM") != "dumb" {
		u.r.SetColorProfile(termenv.ANSI)
	} else {
		u.r.SetColorProfile(termenv.Ascii)
	}
	u.green = u.r.NewStyle().Foreground(lipgloss.Color("2"))
	u.yellow = u.r.NewStyle().Foreground(lipgloss.Color("3"))
	u.red = u.r.NewStyle().Foreground(lipgloss.Color("1"))
	u.dim = u.r.NewStyle().Faint(true)
	u.bold = u.r.NewStyle().Bold(true)
	u.border = u.r.NewStyle().Foreground(lipgloss.Color("4"))
	return u
}

// warn prints a diagnostic on stderr.
func (u *ui) warn(msg string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clearProgress()
	fmt.Fprintf(u.std.err, "warning: %s\n", msg)
}

func (u *ui) clearProgress() {
	if u.shown {
		fmt.Fprint(u.std.err, "\r\033[K")
		u.shown = false
	}
}

func (u *ui) reporter(cfg *envdrift.Config, verify bool) envdrift.Reporter {
	if u.json {
		return &jsonReporter{u: u, cfg: cfg, verify: verify}
	}
	shared := map[string]int{}
	for _, m := range cfg.Mappings {
		shared[m.FolderPath]++
	}
	return &textReporter{u: u, verify: verify, shared: shared}
}

// textReporter prints the rows, icons and summary panel of the sync
// command's documented output.
type textReporter struct {
	u      *ui
	verify bool
	shared map[string]int // mappings per folder: a folder with several names its env file
}

func (t *textReporter) Progress(done, total int) {
	u := t.u
	if !u.progress || done == total {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	fmt.Fprintf(u.std.err, "\r\033[KSyncing %d/%d …", done, total)
	u.shown = true
}

func (t *textReporter) icon(a envdrift.Action) string {
	u := t.u
	switch a {
	case envdrift.ActionCreated:
		return u.green.Render("+")
	case envdrift.ActionUpdated:
		return u.yellow.Render("~")
	case envdrift.ActionSkipped:
		return u.dim.Render("=")
	case envdrift.ActionEphemeral:
		return u.green.Render("*")
	}
	return u.red.Render("x")
}

func (t *textReporter) Row(r *envdrift.Row) {
	u := t.u
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clearProgress()
	var b strings.Builder
	label := r.Folder
	if t.shared[r.Folder] > 1 {
		label += " (" + filepath.Base(r.EnvFile) + ")"
	}
	fmt.Fprintf(&b, "  %s %s - %s\n", t.icon(r.Action), label, r.Action)
	sub := func(label, value string) { fmt.Fprintf(&b, "    %s %s\n", label, value) }
	if r.Action == envdrift.ActionError {
		sub("Error:", r.Message)
	} else if r.Action == envdrift.ActionSkipped && r.Message != "values match" {
		sub("Note:", r.Message)
	}
	if r.Action == envdrift.ActionError && (r.LocalPublicKey != "" || r.LocalNote != "") && r.VaultPublicKey != "" {
		sub("Local: ", preview(r.LocalPublicKey, r.LocalNote))
		sub("Vault: ", preview(r.VaultPublicKey, ""))
	}
	if r.BackupPath != "" {
		sub("Backup:", filepath.Join(r.Folder, filepath.Base(r.BackupPath)))
	}
	for _, w := range r.Warnings {
		sub("Warning:", w)
	}
	if c := r.Decryption; c != nil {
		sub("Decryption:", t.check(c, "PASSED", "FAILED"))
		for _, p := range c.Problems {
			fmt.Fprintf(&b, "      - %s\n", p)
		}
	}
	if c := r.Schema; c != nil {
		sub("Schema:", t.check(c, "valid", "invalid"))
		for _, p := range c.Problems {
			fmt.Fprintf(&b, "      - %s\n", p)
		}
	}
	_, _ = io.WriteString(u.std.out, b.String())
}

func (t *textReporter) check(c *envdrift.Check, passed, failed string) string {
	u := t.u
	switch c.Status {
	case envdrift.CheckPassed:
		return u.green.Render(passed)
	case envdrift.CheckFailed:
		s := u.red.Render(failed)
		if c.Detail != "" {
			s += " (" + c.Detail + ")"
		}
		return s
	case envdrift.CheckSkipped:
		return "skipped (" + c.Detail + ")"
	}
	return c.Status.String()
}

// preview shows a key by its public key, shortened, never the key itself.
func preview(publicHex, note string) string {
	if note != "" {
		return note
	}
	return "public " + dotenvx.ShortPublicKey(publicHex)
}

func (t *textReporter) Done(res *envdrift.Result) {
	u := t.u
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clearProgress()
	for _, w := range res.Warnings {
		if !isConfigWarning(w) {
			fmt.Fprintf(u.std.err, "warning: %s\n", w)
		}
	}
	s := res.Summary
	lines := []string{
		fmt.Sprintf("Services processed: %d", s.Processed),
		fmt.Sprintf("Created: %d", s.Created),
		fmt.Sprintf("Updated: %d", s.Updated),
		fmt.Sprintf("Skipped: %d", s.Skipped),
	}
	if s.Ephemeral > 0 {
		lines = append(lines, fmt.Sprintf("Ephemeral: %d", s.Ephemeral))
	}
	lines = append(lines, fmt.Sprintf("Errors: %d", s.Errors))
	if s.DecryptionPassed+s.DecryptionFailed > 0 || anyCheck(res, true) {
		lines = append(lines, "", "Decryption Tests:",
			fmt.Sprintf("  Passed: %d", s.DecryptionPassed),
			fmt.Sprintf("  Failed: %d", s.DecryptionFailed))
	}
	if s.SchemaValid+s.SchemaInvalid > 0 || anyCheck(res, false) {
		lines = append(lines, "", "Schema Validation:",
			fmt.Sprintf("  Valid: %d", s.SchemaValid),
			fmt.Sprintf("  Invalid: %d", s.SchemaInvalid))
	}
	fmt.Fprintln(u.std.out)
	_, _ = io.WriteString(u.std.out, t.panel("Sync Summary", lines))
	failed := s.Errors + s.DecryptionFailed + s.SchemaInvalid
	switch {
	case failed == 0 && t.verify:
		fmt.Fprintln(u.std.out, u.green.Render("All keys match the vault"))
	case failed == 0:
		fmt.Fprintln(u.std.out, u.green.Render("All services synced successfully"))
	case t.verify:
		fmt.Fprintln(u.std.out, u.red.Render(fmt.Sprintf("Verification failed: %d service(s) differ from the vault or failed", countFailed(res))))
	default:
		fmt.Fprintln(u.std.out, u.red.Render(fmt.Sprintf("Sync finished with errors: %d service(s) failed", countFailed(res))))
	}
}

func countFailed(res *envdrift.Result) int {
	n := 0
	for _, r := range res.Rows {
		if r.Failed() {
			n++
		}
	}
	return n
}

func anyCheck(res *envdrift.Result, decryption bool) bool {
	for _, r := range res.Rows {
		if decryption && r.Decryption != nil || !decryption && r.Schema != nil {
			return true
		}
	}
	return false
}

// isConfigWarning tells configuration warnings (already printed before the
// run) from run-level notices.
func isConfigWarning(w string) bool {
	return strings.Contains(w, ".toml") || strings.Contains(w, ".txt")
}

// panel draws a rounded box with title centred in the top border.
func (t *textReporter) panel(title string, lines []string) string {
	width := len(title) + 24
	for _, l := range lines {
		width = max(width, lipgloss.Width(l)+4)
	}
	inner := width - 2
	left := (inner - len(title) - 2) / 2
	right := inner - len(title) - 2 - left
	bc := t.u.border
	var b strings.Builder
	b.WriteString(bc.Render("╭"+strings.Repeat("─", left)) + " " + t.u.bold.Render(title) + " " + bc.Render(strings.Repeat("─", right)+"╮") + "\n")
	for _, l := range lines {
		pad := inner - 2 - lipgloss.Width(l)
		b.WriteString(bc.Render("│") + " " + l + strings.Repeat(" ", pad) + " " + bc.Render("│") + "\n")
	}
	b.WriteString(bc.Render("╰"+strings.Repeat("─", inner)+"╯") + "\n")
	return b.String()
}

// jsonReporter prints one JSON document when the sync is done.
type jsonReporter struct {
	u      *ui
	cfg    *envdrift.Config
	verify bool
}

func (j *jsonReporter) Row(*envdrift.Row) {}

// jsonOutput is the document `envdrift sync --output json` prints. Its field
// names are stable; see the README's "JSON output" section.
type jsonOutput struct {
	Version  int              `json:"version"`
	Config   string           `json:"config"`
	Mode     string           `json:"mode"`
	OK       bool             `json:"ok"`
	Rows     []*envdrift.Row  `json:"rows"`
	Summary  envdrift.Summary `json:"summary"`
	Warnings []string         `json:"warnings"`
}

func (j *jsonReporter) Done(res *envdrift.Result) {
	mode := "sync"
	if j.verify {
		mode = "verify"
	}
	out := jsonOutput{Version: 1, Config: j.cfg.Path, Mode: mode, OK: res.OK(), Rows: res.Rows, Summary: res.Summary, Warnings: res.Warnings}
	if out.Rows == nil {
		out.Rows = []*envdrift.Row{}
	}
	if out.Warnings == nil {
		out.Warnings = []string{}
	}
	enc := json.NewEncoder(j.u.std.out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintf(j.u.std.err, "envdrift: writing JSON: %v\n", err)
	}
}

// prompter asks on the terminal whether to replace a mismatched key.
type prompter struct{ u *ui }

func (u *ui) prompter() envdrift.Prompter {
	u.in = bufio.NewReader(u.std.in)
	return &prompter{u: u}
}

// errNoAnswer is returned when stdin ends before an answer.
var errNoAnswer = errors.New("stdin closed")

func (p *prompter) ConfirmReplace(ctx context.Context, m envdrift.Mismatch) (bool, error) {
	u := p.u
	u.mu.Lock()
	u.clearProgress()
	fmt.Fprintf(u.std.err, "Value mismatch for %s (%s in %s):\n  Local:  %s\n  Vault:  %s\nUpdate local file with vault value? (y/N): ",
		m.Secret, m.KeyName, m.Folder, m.Local, m.Vault)
	u.mu.Unlock()
	type answer struct {
		line string
		err  error
	}
	ch := make(chan answer, 1)
	go func() {
		line, err := u.in.ReadString('\n')
		ch <- answer{line, err}
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(u.std.err)
		return false, ctx.Err()
	case a := <-ch:
		if a.err != nil && strings.TrimSpace(a.line) == "" {
			fmt.Fprintln(u.std.err)
			return false, errNoAnswer
		}
		switch strings.ToLower(strings.TrimSpace(a.line)) {
		case "y", "yes":
			return true, nil
		}
		return false, nil
	}
}
