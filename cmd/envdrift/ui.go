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
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"golang.org/x/term"

	"github.com/envdrift/envdrift"
	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/internal/schemahelper"
	"github.com/envdrift/envdrift/provider"
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

// ui writes results to stdout, and diagnostics, progress and prompts to
// stderr. Its methods may be called from several goroutines.
type ui struct {
	std     stdio
	mode    string // "sync", "verify", …: the JSON document's mode
	config  string // the configuration file, as given or found
	json    bool
	quiet   bool
	verbose bool
	// progress: a progress line is drawn on stderr (both stdout and stderr
	// are terminals, not --ci, not JSON, not quiet).
	progress bool

	// folders counts the run's mappings per folder: the rows of a folder
	// with several name their env file.
	folders map[string]int

	mu        sync.Mutex
	shown     bool       // the progress line is on screen
	prompting bool       // a prompt waits for an answer: draw nothing
	held      []heldText // output held back while a prompt waits
	in        *bufio.Reader

	r                             *lipgloss.Renderer
	green, yellow, red, dim, bold lipgloss.Style
	border                        lipgloss.Style
}

// heldText is output held back while a prompt waits, and where it goes.
type heldText struct {
	w    io.Writer
	text string
}

// write writes text to w with the lock held, or holds it until the prompt
// is answered: nothing lands on the prompt's line while it waits.
func (u *ui) write(w io.Writer, text string) {
	if u.prompting {
		u.held = append(u.held, heldText{w, text})
		return
	}
	u.clearProgress()
	_, _ = io.WriteString(w, text)
}

func newUI(std stdio, out OutputFlags, ci bool, mode string) *ui {
	u := &ui{std: std, mode: mode, json: out.Output == "json", quiet: out.Quiet, verbose: out.Verbose}
	u.progress = std.errTTY && std.outTTY && !ci && !u.json && !u.quiet && std.getenv("TERM") != "dumb"
	u.r = lipgloss.NewRenderer(std.out)
	if colorOn(std, ci) {
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

// colorOn decides colour: never with NO_COLOR, or FORCE_COLOR=0 (or
// false), as Node's tools read it; always with FORCE_COLOR or
// CLICOLOR_FORCE set to anything else; otherwise on a terminal, outside CI.
func colorOn(std stdio, ci bool) bool {
	if std.getenv("NO_COLOR") != "" {
		return false
	}
	if f := std.getenv("FORCE_COLOR"); f == "0" || f == "false" {
		return false
	}
	for _, v := range []string{"FORCE_COLOR", "CLICOLOR_FORCE"} {
		if f := std.getenv(v); f != "" && f != "0" {
			return true
		}
	}
	return std.outTTY && !ci && std.getenv("TERM") != "dumb"
}

// warn prints a diagnostic on stderr (held back while a prompt waits).
func (u *ui) warn(msg string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.stderrLine("warning: " + cliText(msg))
}

// stderrLine writes one line to stderr with the lock held, after erasing
// the progress line, or holds it until the prompt is answered.
func (u *ui) stderrLine(line string) { u.write(u.std.err, line+"\n") }

func (u *ui) clearProgress() {
	if u.shown {
		fmt.Fprint(u.std.err, "\r\033[K")
		u.shown = false
	}
}

// drawProgress draws the progress line with the lock held.
func (u *ui) drawProgress(text string) {
	if !u.progress || u.prompting {
		return
	}
	fmt.Fprintf(u.std.err, "\r\033[K%s", text)
	u.shown = true
}

// configWarnings prints the configuration's warnings before a run (text
// mode; JSON output carries them in its document).
func (u *ui) configWarnings(ws []envdrift.Warning) {
	if u.json || u.quiet {
		return
	}
	for _, w := range ws {
		u.warn(w.String())
	}
}

// failed reports an error that stopped the command before any row: in
// JSON mode as a document, in text mode on stderr with the configuration's
// warnings (an unknown key often explains a missing one) and advice. The
// error it returns carries exit code 1 and no further message.
func (u *ui) failed(config string, err error) error {
	var ce *envdrift.ConfigError
	errors.As(err, &ce)
	if u.json {
		doc := jsonOutput{Version: 1, Config: config, Mode: u.mode, Error: cliText(err.Error()), ErrorKind: failureKind(err),
			Rows: []*jsonRow{}, Warnings: []string{}}
		if ce != nil {
			for _, w := range ce.Warnings {
				doc.Warnings = append(doc.Warnings, w.String())
			}
		}
		u.writeJSON(doc)
		return &exitError{code: exitFail}
	}
	fmt.Fprintf(u.std.err, "envdrift: %s\n", cliText(err.Error()))
	if ce != nil {
		for _, w := range ce.Warnings {
			fmt.Fprintf(u.std.err, "warning: %s\n", w)
		}
	}
	if a := advice(err); a != "" {
		fmt.Fprintf(u.std.err, "hint: %s\n", a)
	}
	return &exitError{code: exitFail}
}

// failureKind classifies an error that stopped a command, for JSON output.
func failureKind(err error) string {
	switch {
	case errors.Is(err, envdrift.ErrNoMappings):
		return "no_mappings"
	case errors.Is(err, envdrift.ErrNoConfig):
		return "no_config"
	case errors.As(err, new(errIsDir)), errors.Is(err, envdrift.ErrInvalidConfig):
		return "invalid_config"
	case errors.Is(err, schemahelper.ErrNotInstalled):
		return "not_installed"
	}
	return "error"
}

// finish turns a finished run into the command's error: nil for exit 0.
func (u *ui) finish(ctx context.Context, res *envdrift.Result, err error) error {
	if err != nil && ctx.Err() != nil {
		done := 0
		if res != nil {
			for _, r := range res.Rows {
				if r.ErrorKind != "cancelled" {
					done++
				}
			}
		}
		total := 0
		if res != nil {
			total = len(res.Rows)
		}
		u.mu.Lock()
		u.clearProgress()
		u.mu.Unlock()
		fmt.Fprintf(u.std.err, "envdrift: interrupted: %d of %d mappings finished; no file was left half-written\n", done, total)
		code := exitFail
		var sig interrupted
		if errors.As(context.Cause(ctx), &sig) {
			code = exitSignal + int(sig.sig)
		}
		return &exitError{code: code}
	}
	if err != nil {
		return &exitError{code: exitFail, err: err}
	}
	if res.Err() != nil {
		return &exitError{code: exitFail}
	}
	return nil
}

// setMappings tells the UI which mappings a run with profile covers.
func (u *ui) setMappings(ms []envdrift.Mapping, profile string) {
	u.folders = map[string]int{}
	for _, m := range selected(ms, profile) {
		u.folders[m.FolderPath]++
	}
}

// reporter returns the Reporter for the output format.
func (u *ui) reporter() envdrift.Reporter {
	if u.json {
		return &jsonReporter{u: u}
	}
	return &textReporter{u: u, causes: map[string]string{}}
}

// textReporter prints the rows, icons and summary panel of the sync
// command's documented output.
type textReporter struct {
	u      *ui
	causes map[string]string // a failure many rows share → the first row's label
}

// Start prints the line a run begins with: which configuration, and which
// providers and vaults it asks. On a terminal a progress line follows at
// once, so that a slow vault never leaves a blank screen.
func (t *textReporter) Start(p envdrift.Plan) {
	u := t.u
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.quiet {
		return
	}
	var where []string
	for _, v := range p.Vaults {
		s := fmt.Sprintf("%d from %s", v.Secrets, v.Provider)
		switch {
		case v.Endpoint != "":
			s += " at " + v.Endpoint
		case v.Vault != "":
			s += " vault " + v.Vault
		}
		where = append(where, s)
	}
	line := fmt.Sprintf("envdrift %s: %s, %d mapping(s)", p.Verb, u.config, p.Rows)
	if len(where) > 0 {
		line += "; secrets: " + strings.Join(where, ", ")
	}
	u.stderrLine(line)
	if p.Requests > 0 {
		u.drawProgress(fmt.Sprintf("Fetching %d secret(s) …", p.Requests))
	}
}

// Request prints one line per vault request under --verbose.
func (t *textReporter) Request(r envdrift.Request) {
	u := t.u
	if !u.verbose {
		return
	}
	outcome := "ok"
	if r.Err != nil {
		outcome = strings.ReplaceAll(provider.KindOf(r.Err), "_", " ")
		if outcome == "" {
			outcome = "failed"
		}
		if errors.Is(r.Err, context.Canceled) {
			outcome = "cancelled"
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.stderrLine(fmt.Sprintf("  %s %s %s: %s in %s", r.Provider, r.Op, strings.Join(r.Secrets, ", "), outcome, roundDuration(r.Duration)))
}

// roundDuration keeps a request's duration readable and never "0s": a
// local read takes microseconds, a vault request milliseconds or seconds.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d < time.Millisecond:
		return max(d.Round(time.Microsecond), time.Microsecond)
	case d < time.Second:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(10 * time.Millisecond)
}

// Progress redraws the progress line.
func (t *textReporter) Progress(done, total int) {
	u := t.u
	if done == total {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	verb := "Syncing"
	if u.mode == "push" || u.mode == "dry-run" {
		verb = "Pushing"
	}
	u.drawProgress(fmt.Sprintf("%s %d/%d …", verb, done, total))
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
	case envdrift.ActionDeclined:
		return u.yellow.Render("!")
	}
	return u.red.Render("x")
}

// label names a row's folder, with its env file when the folder has
// several mappings in the run.
func (t *textReporter) label(r *envdrift.Row) string {
	if t.u.folders[r.Folder] > 1 {
		return r.Folder + " (" + filepath.Base(r.EnvFile) + ")"
	}
	return r.Folder
}

// message is a row's message as the CLI shows it: options named as flags,
// and a failure that several rows share explained only on the first.
func (t *textReporter) message(r *envdrift.Row) string {
	msg := cliText(r.Message)
	var what string
	switch r.ErrorKind {
	case "unauthenticated":
		what = "authentication failed"
	case "unavailable":
		what = "unreachable"
	default:
		return msg
	}
	key := r.Provider + "\x00" + r.ErrorKind
	var pe *provider.Error
	if errors.As(r.Err, &pe) && r.ErrorKind == "unavailable" {
		key += "\x00" + pe.Message // the same failure, not just the same kind
	}
	first, seen := t.causes[key]
	if !seen {
		t.causes[key] = t.label(r)
		return msg
	}
	return fmt.Sprintf("%s: %s (same as %s above)", r.Provider, what, first)
}

// Row prints one row: in quiet mode, only failed ones.
func (t *textReporter) Row(r *envdrift.Row) {
	u := t.u
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.quiet && !rowFailed(r) {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  %s %s - %s\n", t.icon(r.Action), t.label(r), t.actionName(r))
	sub := func(label, value string) { fmt.Fprintf(&b, "    %s %s\n", label, value) }
	t.notes(r, sub)
	t.checks(r, sub, &b)
	// A row that completes while a prompt waits (an earlier mapping, still
	// fetching when the prompt appeared) is held until the answer.
	u.write(u.std.out, b.String())
}

// actionName is the row's action as the row line says it: a dry run's
// rows would create or update.
func (t *textReporter) actionName(r *envdrift.Row) string {
	action := string(r.Action)
	if r.ErrorKind == "cancelled" {
		return "not finished (interrupted)"
	}
	if t.u.mode == "dry-run" && (r.Action == envdrift.ActionCreated || r.Action == envdrift.ActionUpdated) {
		action = "would " + strings.TrimSuffix(action, "d")
	}
	return action
}

// notes prints a row's error or note, the keys it compared, its backup
// and its warnings.
func (t *textReporter) notes(r *envdrift.Row, sub func(label, value string)) {
	switch {
	case r.ErrorKind == "cancelled":
		// The row line says it; the last line says what stopped the run.
	case r.Action == envdrift.ActionError:
		sub("Error:", t.message(r))
	case r.Action == envdrift.ActionDeclined,
		r.Action == envdrift.ActionSkipped && r.Reason != reasonInSync,
		r.Action == envdrift.ActionUpdated && t.u.mode != "sync":
		// A push's update says which rule allowed it.
		sub("Note:", t.message(r))
	}
	if (r.Action == envdrift.ActionError || r.Action == envdrift.ActionDeclined) &&
		(r.LocalPublicKey != "" || r.LocalNote != "") && r.VaultPublicKey != "" {
		sub("Local: ", preview(r.LocalPublicKey, r.LocalNote))
		sub("Vault: ", preview(r.VaultPublicKey, ""))
	}
	if r.BackupPath != "" {
		sub("Backup:", filepath.Join(r.Folder, filepath.Base(r.BackupPath)))
	}
	if n := len(r.Removed); n > 0 {
		// Old backups hold old private keys: say which went.
		names := make([]string, n)
		for i, p := range r.Removed {
			names[i] = filepath.Base(p)
		}
		slices.Sort(names) // oldest first: the names carry the time
		sub("Removed:", fmt.Sprintf("%d older %s beyond keep_backups (%s)", n, plural(n, "backup", "backups"), listFolders(names)))
	}
	for _, w := range r.Warnings {
		sub("Warning:", w)
	}
}

// checks prints a row's decryption and schema checks with their findings.
func (t *textReporter) checks(r *envdrift.Row, sub func(label, value string), b *strings.Builder) {
	for _, c := range []struct {
		label          string
		check          *envdrift.Check
		passed, failed string
	}{{"Decryption:", r.Decryption, "PASSED", "FAILED"}, {"Schema:", r.Schema, "valid", "invalid"}} {
		if c.check == nil {
			continue
		}
		sub(c.label, t.check(c.check, c.passed, c.failed))
		for _, p := range c.check.Problems {
			fmt.Fprintf(b, "      - %s\n", p)
		}
	}
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
	return string(c.Status)
}

// The reasons a row was skipped (envdrift.Row.Reason).
const (
	reasonInSync    = "in_sync"
	reasonNoEnvFile = "no_env_file"
)

// rowFailed reports whether a row counts as a failure: an error row, or a
// requested check that failed.
func rowFailed(r *envdrift.Row) bool {
	return r.Action == envdrift.ActionError ||
		r.Decryption != nil && r.Decryption.Status == envdrift.CheckFailed ||
		r.Schema != nil && r.Schema.Status == envdrift.CheckFailed
}

// preview shows a key by its public key, shortened, never the key itself.
func preview(publicHex, note string) string {
	if note != "" {
		return note
	}
	return "public " + dotenvx.ShortPublicKey(publicHex)
}

// Done prints the run-level notices, the summary panel and the last line.
func (t *textReporter) Done(res *envdrift.Result) {
	u := t.u
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clearProgress()
	for _, w := range res.Warnings {
		if w.Provider != "" && !u.quiet {
			// Configuration warnings were printed before the run.
			fmt.Fprintf(u.std.err, "warning: %s\n", w)
		}
	}
	if !u.quiet {
		fmt.Fprintln(u.std.out)
		_, _ = io.WriteString(u.std.out, t.panel(panelTitle(u.mode), summaryLines(res)))
	}
	line, ok := lastLine(res, u.mode)
	switch {
	case ok && line == successLine(res.Summary, u.mode):
		fmt.Fprintln(u.std.out, u.green.Render(line))
	case ok:
		// Exit 0, but not everything was synced: skipped or declined.
		fmt.Fprintln(u.std.out, u.yellow.Render(line))
	default:
		fmt.Fprintln(u.std.out, u.red.Render(line))
	}
}

func panelTitle(mode string) string {
	switch mode {
	case "push", "dry-run":
		return "Push Summary"
	}
	return "Sync Summary"
}

// summaryLines are the summary panel's lines: the seed's counts, then the
// counts of rows that were neither synced nor failed, then the checks.
func summaryLines(res *envdrift.Result) []string {
	s := res.Summary
	lines := []string{
		fmt.Sprintf("Services processed: %d", s.Processed),
		fmt.Sprintf("Created: %d", s.Created),
		fmt.Sprintf("Updated: %d", s.Updated),
		fmt.Sprintf("Skipped: %d", s.Skipped),
	}
	if s.NoEnvFile > 0 {
		lines = append(lines, fmt.Sprintf("Skipped (no env file): %d", s.NoEnvFile))
	}
	if s.Declined > 0 {
		lines = append(lines, fmt.Sprintf("Declined: %d", s.Declined))
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
	return lines
}

// lastLine says what a run did, truthfully: the success line only when
// every mapping was created, updated, already in step or ephemeral and
// every check passed. ok reports whether the run succeeded (exit 0).
func lastLine(res *envdrift.Result, mode string) (line string, ok bool) {
	o := tally(res)
	if o.failed == 0 && o.interrupted == 0 && len(o.noEnv) == 0 && len(o.declined) == 0 {
		return successLine(res.Summary, mode), true
	}
	verb := map[string]string{"verify": "match", "push": "published", "dry-run": "planned"}[mode]
	if verb == "" {
		verb = "synced"
	}
	parts := []string{fmt.Sprintf("%d %s", o.done, verb)}
	if len(o.noEnv) > 0 {
		parts = append(parts, fmt.Sprintf("%d skipped (no env file: %s)", len(o.noEnv), listFolders(o.noEnv)))
	}
	if len(o.declined) > 0 {
		parts = append(parts, fmt.Sprintf("%d kept after you declined", len(o.declined)))
	}
	if o.failed == 0 && o.interrupted == 0 {
		return strings.Join(parts, ", "), true
	}
	if o.failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", o.failed))
	}
	if o.interrupted > 0 {
		parts = append(parts, fmt.Sprintf("%d not finished", o.interrupted))
		return "Interrupted: " + strings.Join(parts, ", "), false
	}
	prefix := map[string]string{"verify": "Verification failed: ", "push": "Push finished with errors: ", "dry-run": "Push finished with errors: "}[mode]
	if prefix == "" {
		prefix = "Sync finished with errors: "
	}
	return prefix + strings.Join(parts, ", "), false
}

// successLine is the last line of a run where everything succeeded.
func successLine(s envdrift.Summary, mode string) string {
	switch mode {
	case "verify":
		return "All keys match the vault"
	case "push":
		return "All keys are published"
	case "dry-run":
		return fmt.Sprintf("Dry run: %d to create, %d to update, %d already published; nothing was written", s.Created, s.Updated, s.Skipped)
	}
	return "All services synced successfully"
}

// outcome counts a run's rows for its last line.
type outcome struct {
	done, failed    int
	interrupted     int // rows an interrupt (Ctrl-C) stopped
	noEnv, declined []string
}

func tally(res *envdrift.Result) outcome {
	var o outcome
	for _, r := range res.Rows {
		switch {
		case r.ErrorKind == "cancelled":
			o.interrupted++
		case rowFailed(r):
			o.failed++
		case r.Action == envdrift.ActionSkipped && r.Reason == reasonNoEnvFile:
			o.noEnv = append(o.noEnv, r.Folder)
		case r.Action == envdrift.ActionDeclined:
			o.declined = append(o.declined, r.Folder)
		default:
			o.done++
		}
	}
	return o
}

// plural is one or many by n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// listFolders lists at most five folders (or names).
func listFolders(fs []string) string {
	if len(fs) <= 5 {
		return strings.Join(fs, ", ")
	}
	return strings.Join(fs[:5], ", ") + fmt.Sprintf(" … and %d more", len(fs)-5)
}

func anyCheck(res *envdrift.Result, decryption bool) bool {
	for _, r := range res.Rows {
		if decryption && r.Decryption != nil || !decryption && r.Schema != nil {
			return true
		}
	}
	return false
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

// jsonReporter prints one JSON document when the run is done.
type jsonReporter struct{ u *ui }

func (j *jsonReporter) Row(*envdrift.Row) {}

// jsonOutput is the document `--output json` prints. Its field names are
// stable; see the README's "JSON output" section.
type jsonOutput struct {
	Version   int              `json:"version"`
	Config    string           `json:"config"`
	Mode      string           `json:"mode"`
	OK        bool             `json:"ok"`
	Error     string           `json:"error,omitempty"`
	ErrorKind string           `json:"error_kind,omitempty"`
	Rows      []*jsonRow       `json:"rows"`
	Summary   envdrift.Summary `json:"summary"`
	Warnings  []string         `json:"warnings"`
}

// jsonRow is a row with its message as the CLI words it.
type jsonRow struct {
	*envdrift.Row
	Message string `json:"message,omitempty"`
}

func (j *jsonReporter) Done(res *envdrift.Result) {
	u := j.u
	out := jsonOutput{Version: 1, Config: u.config, Mode: u.mode, OK: res.Err() == nil,
		Rows: []*jsonRow{}, Summary: res.Summary, Warnings: []string{}}
	for _, r := range res.Rows {
		out.Rows = append(out.Rows, &jsonRow{Row: r, Message: cliText(r.Message)})
	}
	for _, w := range res.Warnings {
		out.Warnings = append(out.Warnings, cliText(w.String()))
	}
	u.writeJSON(out)
}

func (u *ui) writeJSON(doc jsonOutput) {
	enc := json.NewEncoder(u.std.out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		fmt.Fprintf(u.std.err, "envdrift: writing JSON: %v\n", err)
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

// ConfirmReplace shows the mismatch and waits for y/N. While it waits,
// nothing else is drawn on the terminal: the progress line stays away, and
// rows, warnings and verbose lines are held until the answer.
func (p *prompter) ConfirmReplace(ctx context.Context, r *envdrift.Row) (bool, error) {
	u := p.u
	u.mu.Lock()
	u.clearProgress()
	u.prompting = true
	fmt.Fprintf(u.std.err, "Value mismatch for %s (%s in %s):\n  Local:  %s\n  Vault:  %s\nUpdate local file with vault value? (y/N): ",
		r.Secret, r.KeyName, r.Folder, preview(r.LocalPublicKey, r.LocalNote), preview(r.VaultPublicKey, ""))
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		u.prompting = false
		held := u.held
		u.held = nil
		for _, h := range held {
			_, _ = io.WriteString(h.w, h.text)
		}
		u.mu.Unlock()
	}()
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
