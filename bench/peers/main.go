// Command peers times envdrift against the tools teams use instead of it
// (chamber, vals, berglas) on the same secrets, served by envdrift's own
// AWS Secrets Manager and HashiCorp Vault test servers
// (internal/testserver) with a fixed latency per request, and prints a
// Markdown table with each peer's time as a ratio to envdrift's.
//
//	go run ./bench/peers -envdrift BIN [-bin DIR] [-samples 7] [-latency 20ms] [-baseline OLD_BIN] [-only REGEXP]
//	go run ./bench/peers -serve        # start the servers, print their environment, wait
//
// -baseline times a second envdrift binary (an earlier commit) in the same
// paired runs, as the column "envdrift before".
//
// bench/peers.sh installs the pinned peers and builds envdrift, then runs
// this. Runs are paired: each sample runs every tool once on the workload,
// in an order that rotates from sample to sample, so that a burst of other
// work on the machine hits every tool alike; the ratios are medians of the
// per-sample ratios. Every run is checked (exit status, every key in the
// output or the keys files), and the requests each tool sent are counted
// on the server.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/internal/testserver/awssm"
	"github.com/envdrift/envdrift/internal/testserver/vaultkv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

type options struct {
	envdrift string
	baseline string
	sdkFloor string // bench/sdkfloor, timed at start-up only
	bin      string
	samples  int
	latency  time.Duration
	dir      string
	only     *regexp.Regexp
	serve    bool
}

func run() error {
	var o options
	var only string
	flag.StringVar(&o.envdrift, "envdrift", "", "the envdrift binary to time (required unless -serve)")
	flag.StringVar(&o.sdkFloor, "sdkfloor", "", "a program that links the four SDKs and does nothing (bench/sdkfloor), timed at start-up as the column \"four SDKs, empty main\"")
	flag.StringVar(&o.baseline, "baseline", "", "another envdrift binary (an earlier commit) to time beside it, as the column \"envdrift before\"")
	flag.StringVar(&o.bin, "bin", "", "directory holding the peers' binaries (chamber, vals, berglas); a missing one is left out")
	flag.IntVar(&o.samples, "samples", 7, "paired samples per workload (at least 5)")
	flag.DurationVar(&o.latency, "latency", 20*time.Millisecond, "time every server request waits before its answer")
	flag.StringVar(&o.dir, "dir", defaultDir(), "where generated projects go ($ENVDRIFT_BENCH_DIR)")
	flag.StringVar(&only, "only", "", "run only the workloads whose name matches this regular expression")
	flag.BoolVar(&o.serve, "serve", false, "start the servers with one secret each, print their environment and wait for Ctrl-C")
	flag.Parse()
	if only != "" {
		re, err := regexp.Compile(only)
		if err != nil {
			return fmt.Errorf("-only: %w", err)
		}
		o.only = re
	}
	srv, err := startServers(o.latency)
	if err != nil {
		return err
	}
	defer srv.close()
	if o.serve {
		return serve(srv)
	}
	if o.envdrift == "" {
		return errors.New("-envdrift is required")
	}
	if o.samples < 5 {
		return errors.New("-samples must be at least 5")
	}
	b, err := newBench(o, srv)
	if err != nil {
		return err
	}
	defer b.cleanup()
	return b.runAll()
}

func defaultDir() string {
	if d := os.Getenv("ENVDRIFT_BENCH_DIR"); d != "" {
		return d
	}
	return os.TempDir()
}

// servers are the two test servers every workload reads from.
type servers struct {
	aws   *awssm.Server
	vault *vaultkv.Server
}

func startServers(latency time.Duration) (*servers, error) {
	a, err := awssm.Start()
	if err != nil {
		return nil, err
	}
	v, err := vaultkv.Start()
	if err != nil {
		a.Close()
		return nil, err
	}
	a.SetLatency(latency)
	v.SetLatency(latency)
	return &servers{aws: a, vault: v}, nil
}

func (s *servers) close() {
	s.aws.Close()
	s.vault.Close()
}

// env is the environment of every process the benchmark starts: both
// servers' (credentials, endpoints, a HOME of the Vault server's that holds
// no token file) and chamber's backend selection, which names the endpoint
// for every AWS service it calls.
func (s *servers) env() []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "NO_COLOR=1"}
	env = append(env, s.aws.Env()...)
	env = append(env, s.vault.Env()...)
	return append(env,
		"CHAMBER_SECRET_BACKEND=secretsmanager",
		"CHAMBER_AWS_SSM_ENDPOINT="+s.aws.URL(),
	)
}

// serve puts one secret in each server, prints the environment that
// reaches them and waits for an interrupt: for tracing a run by hand.
func serve(s *servers) error {
	k, err := dotenvx.GeneratePrivateKey(rand.Reader)
	if err != nil {
		return err
	}
	payload := fmt.Sprintf(`{"DOTENV_PRIVATE_KEY_PRODUCTION":%q}`, k.Hex())
	s.aws.Put(awssm.DefaultRegion, "app", []byte(payload))
	if _, err := s.vault.PutData("", vaultkv.DefaultMount, "app", map[string]any{"DOTENV_PRIVATE_KEY_PRODUCTION": k.Hex()}); err != nil {
		return err
	}
	for _, kv := range s.env() {
		name, value, _ := strings.Cut(kv, "=")
		fmt.Printf("export %s=%q\n", name, value)
	}
	fmt.Printf("# secret \"app\" in both servers holds DOTENV_PRIVATE_KEY_PRODUCTION; its public key is %s\n", k.PublicKey().Hex())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	<-ctx.Done()
	return nil
}

// bench is one benchmark run.
type bench struct {
	out   io.Writer // where the table goes
	o     options
	srv   *servers
	tools []*tool
	root  string // generated projects
	home  string // HOME of every process
}

func newBench(o options, srv *servers) (*bench, error) {
	root, err := os.MkdirTemp(o.dir, "envdrift-peers-")
	if err != nil {
		return nil, err
	}
	b := &bench{out: os.Stdout, o: o, srv: srv, root: root, home: filepath.Join(root, "home")}
	if err := os.Mkdir(b.home, 0o700); err != nil {
		return nil, err
	}
	b.tools = append(b.tools, &tool{name: "envdrift", envdrift: true, bin: o.envdrift, version: []string{"--version"}})
	if o.baseline != "" {
		b.tools = append(b.tools, &tool{name: "envdrift before", envdrift: true, bin: o.baseline, version: []string{"--version"}})
	}
	if o.sdkFloor != "" {
		b.tools = append(b.tools, &tool{name: "four SDKs, empty main", bin: o.sdkFloor})
	}
	for _, p := range peers {
		bin := filepath.Join(o.bin, p.name)
		if o.bin == "" {
			bin, _ = exec.LookPath(p.name)
		}
		if _, err := os.Stat(bin); err != nil || bin == "" {
			fmt.Fprintf(os.Stderr, "peers: %s not found, left out\n", p.name)
			continue
		}
		t := p
		t.bin = bin
		b.tools = append(b.tools, &t)
	}
	return b, nil
}

func (b *bench) cleanup() { _ = os.RemoveAll(b.root) }

// tool is one program under test.
type tool struct {
	name    string
	pinned  string // the version bench/peers.sh installs
	bin     string
	version []string // arguments that print the version and exit
	// envdrift: this is an envdrift binary (the one under test, or the
	// baseline).
	envdrift bool
	// backends the tool reads from; envdrift reads from both.
	backends []string
}

// peers are the other tools, in table order.
var peers = []tool{
	{name: "chamber", pinned: "v2.14.1", version: []string{"version"}, backends: []string{"aws"}},
	{name: "vals", pinned: "v0.46.1", version: []string{"version"}, backends: []string{"aws", "vault"}},
	{name: "berglas", pinned: "v2.0.10", version: []string{"--version"}},
}

func (t *tool) reads(backend string) bool {
	return t.envdrift || slices.Contains(t.backends, backend)
}

// workload is one row of the table.
type workload struct {
	name    string // for -only
	label   string
	backend string // "aws", "vault", or "" for start-up
	secrets int    // distinct secrets, each holding one key
	keys    int    // keys in one shared secret (secrets == 1)
}

func workloads() []workload {
	var ws []workload
	ws = append(ws, workload{name: "startup", label: "start-up (`--version`)"})
	for _, be := range []struct{ name, label string }{{"aws", "AWS"}, {"vault", "Vault"}} {
		for _, n := range []int{1, 20, 200} {
			label := fmt.Sprintf("%d separate secrets (%s)", n, be.label)
			if n == 1 {
				label = fmt.Sprintf("one secret (%s)", be.label)
			}
			ws = append(ws, workload{name: fmt.Sprintf("%s-%d", be.name, n), label: label, backend: be.name, secrets: n, keys: 1})
		}
		for _, k := range []int{20, 200} {
			ws = append(ws, workload{name: fmt.Sprintf("%s-shared-%d", be.name, k), label: fmt.Sprintf("%d keys in one secret (%s)", k, be.label),
				backend: be.name, secrets: 1, keys: k})
		}
	}
	return ws
}

// sample is one timed run of one tool.
type sample struct {
	wall     time.Duration
	rssKiB   int64
	requests int
}

// result is one tool's samples on one workload.
type result struct {
	tool    *tool
	samples []sample
	ratios  []float64 // this tool's wall time over envdrift's, per sample
}

func (b *bench) runAll() error {
	started := time.Now().UTC()
	loadBefore := loadAverage()
	type row struct {
		w       workload
		results []*result
	}
	var rows []row
	for _, w := range workloads() {
		if b.o.only != nil && !b.o.only.MatchString(w.name) {
			continue
		}
		fmt.Fprintf(os.Stderr, "peers: %s\n", w.name)
		res, err := b.runWorkload(w)
		if err != nil {
			return fmt.Errorf("%s: %w", w.name, err)
		}
		rows = append(rows, row{w, res})
	}
	loadAfter := loadAverage()

	var startup time.Duration
	for _, r := range rows {
		if r.w.backend == "" {
			startup = medianDur(r.results[0].samples)
		}
	}
	fmt.Fprint(b.out, "| workload | floor | envdrift |")
	for _, t := range b.tools[1:] {
		fmt.Fprintf(b.out, " %s |", strings.TrimSpace(t.name+" "+t.pinned))
	}
	fmt.Fprint(b.out, "\n| --- | --- | --- |")
	for range b.tools[1:] {
		fmt.Fprint(b.out, " --- |")
	}
	fmt.Fprintln(b.out)
	for _, r := range rows {
		floor := "—"
		if r.w.backend != "" && startup > 0 {
			// Start-up plus the round trips a run cannot avoid: one per
			// request of a one-secret read (Vault: the KV version lookup
			// and the read), whatever the number of keys.
			trips := time.Duration(r.results[0].requestsMedian())
			if r.w.secrets > 1 {
				trips = 0 // concurrent: no simple floor
			}
			if trips > 0 {
				floor = fmt.Sprintf("%.3f s", (startup + trips*b.o.latency).Seconds())
			}
		}
		fmt.Fprintf(b.out, "| %s | %s |", r.w.label, floor)
		for i, t := range b.tools {
			res := findResult(r.results, t)
			if res == nil {
				fmt.Fprint(b.out, " — |")
				continue
			}
			fmt.Fprintf(b.out, " %s |", res.cell(i == 0))
		}
		fmt.Fprintln(b.out)
	}
	fmt.Fprintln(b.out)
	fmt.Fprintf(b.out, "Each cell: median wall time of %d paired runs, median peak RSS, requests the server saw per run; for a peer, the median of its per-run ratio to envdrift's time (above 1×: envdrift was faster). Floor: envdrift's start-up plus one round trip (%v) per request of a one-secret read.\n\n",
		b.o.samples, b.o.latency)
	fmt.Fprintf(b.out, "Run: %s; load average %s before, %s after (1, 5, 15 min); %d ms per request; projects under %s.\n",
		started.Format("2006-01-02 15:04 UTC"), loadBefore, loadAfter, b.o.latency.Milliseconds(), b.o.dir)
	fmt.Fprintln(b.out)
	fmt.Fprintln(b.out, "<details><summary>Every sample (seconds, in run order)</summary>")
	fmt.Fprintln(b.out)
	fmt.Fprintln(b.out, "```")
	for _, r := range rows {
		for _, res := range r.results {
			var ss []string
			for _, s := range res.samples {
				ss = append(ss, fmt.Sprintf("%.3f", s.wall.Seconds()))
			}
			fmt.Fprintf(b.out, "%-24s %-9s %s\n", r.w.name, res.tool.name, strings.Join(ss, " "))
		}
	}
	fmt.Fprintln(b.out, "```")
	fmt.Fprintln(b.out)
	fmt.Fprintln(b.out, "</details>")
	return nil
}

func findResult(rs []*result, t *tool) *result {
	for _, r := range rs {
		if r.tool == t {
			return r
		}
	}
	return nil
}

func (r *result) requestsMedian() int {
	n := make([]int, len(r.samples))
	for i, s := range r.samples {
		n[i] = s.requests
	}
	slices.Sort(n)
	return n[len(n)/2]
}

func (r *result) cell(isEnvdrift bool) string {
	var rss []int64
	for _, s := range r.samples {
		rss = append(rss, s.rssKiB)
	}
	slices.Sort(rss)
	c := fmt.Sprintf("%.3f s, %.0f MiB", medianDur(r.samples).Seconds(), float64(rss[len(rss)/2])/1024)
	if req := r.requestsMedian(); req > 0 {
		c += fmt.Sprintf(", %d req", req)
	}
	if !isEnvdrift {
		c += fmt.Sprintf(" (**%.2f×**)", medianFloat(r.ratios))
	}
	return c
}

func medianDur(ss []sample) time.Duration {
	d := make([]time.Duration, len(ss))
	for i, s := range ss {
		d[i] = s.wall
	}
	slices.Sort(d)
	return d[len(d)/2]
}

func medianFloat(fs []float64) float64 {
	s := slices.Clone(fs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// runWorkload puts the workload's secrets in its server, warms every tool
// up once, then runs the paired samples.
func (b *bench) runWorkload(w workload) ([]*result, error) {
	var fx *fixture
	if w.backend != "" {
		var err error
		if fx, err = b.newFixture(w); err != nil {
			return nil, err
		}
	}
	var tools []*tool
	for _, t := range b.tools {
		if w.backend == "" || t.reads(w.backend) {
			tools = append(tools, t)
		}
	}
	results := make([]*result, len(tools))
	for i, t := range tools {
		results[i] = &result{tool: t}
		if _, err := b.runOnce(w, fx, t); err != nil { // warm-up
			return nil, err
		}
	}
	for s := range b.o.samples {
		walls := make([]time.Duration, len(tools))
		for k := range tools {
			i := (k + s) % len(tools)
			smp, err := b.runOnce(w, fx, tools[i])
			if err != nil {
				return nil, err
			}
			results[i].samples = append(results[i].samples, smp)
			walls[i] = smp.wall
		}
		for i := 1; i < len(tools); i++ {
			results[i].ratios = append(results[i].ratios, float64(walls[i])/float64(walls[0]))
		}
	}
	return results, nil
}

// runOnce prepares what the tool needs (untimed), runs it and checks its
// result.
func (b *bench) runOnce(w workload, fx *fixture, t *tool) (sample, error) {
	var args []string
	dir := b.home
	check := func(stdout string) error { return nil }
	switch {
	case w.backend == "":
		args = t.version
	case t.envdrift:
		d, err := fx.checkout()
		if err != nil {
			return sample{}, err
		}
		dir, args = d, []string{"sync", "--ci"}
		check = func(stdout string) error {
			want := fmt.Sprintf("Created: %d", fx.rows())
			if !strings.Contains(stdout, want) || !strings.Contains(stdout, "Errors: 0") {
				return fmt.Errorf("envdrift did not create %d keys files:\n%s", fx.rows(), tail(stdout))
			}
			return fx.checkKeysFiles(d)
		}
	case t.name == "chamber":
		args = append([]string{"export", "--format", "json"}, fx.secrets...)
		check = fx.checkOutput
	case t.name == "vals":
		args = []string{"eval", "-f", fx.valsTemplate}
		check = fx.checkOutput
	default:
		return sample{}, fmt.Errorf("%s cannot read from %s", t.name, w.backend)
	}
	before := b.requests()
	flushDisks()
	cmd := exec.Command(t.bin, args...)
	cmd.Dir = dir
	cmd.Env = append(b.srv.env(), "HOME="+b.home)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%s %s: %v\n%s\n%s", t.name, strings.Join(args, " "), err, tail(out.String()), tail(errb.String()))
	}
	if err := check(out.String()); err != nil {
		return sample{}, fmt.Errorf("%s: %w", t.name, err)
	}
	return sample{wall: wall, rssKiB: maxRSSKiB(cmd.ProcessState), requests: b.requests() - before}, nil
}

func (b *bench) requests() int { return b.srv.aws.Requests() + b.srv.vault.Requests() }

func tail(s string) string {
	if len(s) > 2000 {
		return "…" + s[len(s)-2000:]
	}
	return s
}

// fixture is a workload's secrets, in the server and as each tool reads
// them: an envdrift project, a vals template, chamber's service names.
type fixture struct {
	w            workload
	dir          string   // the envdrift project, checked out afresh for every run
	secrets      []string // secret names (chamber's services)
	keys         []string // private keys, hex; key i belongs to folder i
	valsTemplate string
	n            int // checkouts so far
}

// keyName is the name of key i: folder svc<i> has the env file
// .env.svc<i>, whose key dotenvx names DOTENV_PRIVATE_KEY_SVC<i>.
func keyName(i int) string { return fmt.Sprintf("DOTENV_PRIVATE_KEY_SVC%03d", i) }

func (b *bench) newFixture(w workload) (*fixture, error) {
	n := w.secrets * w.keys
	fx := &fixture{w: w, dir: filepath.Join(b.root, w.name)}
	var pubs []string
	for range n {
		k, err := dotenvx.GeneratePrivateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		fx.keys = append(fx.keys, k.Hex())
		pubs = append(pubs, k.PublicKey().Hex())
	}
	// The secrets: JSON objects of DOTENV_PRIVATE_KEY_* fields in AWS (the
	// shape chamber stores a service in), the same fields in a KV v2
	// secret in Vault.
	data := make([]map[string]any, w.secrets)
	for i := range n {
		s := i / w.keys
		if data[s] == nil {
			data[s] = map[string]any{}
		}
		data[s][keyName(i)] = fx.keys[i]
	}
	for s := range w.secrets {
		name := fmt.Sprintf("app-%03d", s)
		if w.keys > 1 {
			name = "shared"
		}
		fx.secrets = append(fx.secrets, name)
		switch w.backend {
		case "aws":
			payload, err := json.Marshal(data[s])
			if err != nil {
				return nil, err
			}
			b.srv.aws.Put(awssm.DefaultRegion, name, payload)
		case "vault":
			if _, err := b.srv.vault.PutData("", vaultkv.DefaultMount, name, data[s]); err != nil {
				return nil, err
			}
		}
	}
	// The envdrift project: folder svc<i>, env file .env.svc<i>, mapped to
	// the secret holding its key.
	provider := map[string]string{"aws": "aws", "vault": "hashicorp"}[w.backend]
	var cfg, tpl strings.Builder
	fmt.Fprintf(&cfg, "[vault]\nprovider = %q\n\n[vault.sync]\n", provider)
	for i := range n {
		folder := fmt.Sprintf("svc%03d", i)
		env := fmt.Sprintf("svc%03d", i)
		secret := fx.secrets[i/w.keys]
		if err := os.MkdirAll(filepath.Join(fx.dir, folder), 0o755); err != nil {
			return nil, err
		}
		body := fmt.Sprintf("DOTENV_PUBLIC_KEY_SVC%03d=%q\nPORT=8080\n", i, pubs[i])
		if err := os.WriteFile(filepath.Join(fx.dir, folder, ".env."+env), []byte(body), 0o644); err != nil {
			return nil, err
		}
		fmt.Fprintf(&cfg, "\n[[vault.sync.mappings]]\nsecret_name = %q\nfolder_path = %q\nenvironment = %q\n", secret, folder, env)
		switch w.backend {
		case "aws":
			fmt.Fprintf(&tpl, "%s: ref+awssecrets://%s#/%s\n", keyName(i), secret, keyName(i))
		case "vault":
			fmt.Fprintf(&tpl, "%s: ref+vault://%s/%s#/%s\n", keyName(i), vaultkv.DefaultMount, secret, keyName(i))
		}
	}
	if err := os.WriteFile(filepath.Join(fx.dir, "envdrift.toml"), []byte(cfg.String()), 0o644); err != nil {
		return nil, err
	}
	fx.valsTemplate = filepath.Join(b.root, w.name+"-vals.yaml")
	if err := os.WriteFile(fx.valsTemplate, []byte(tpl.String()), 0o644); err != nil {
		return nil, err
	}
	return fx, nil
}

func (fx *fixture) rows() int { return len(fx.keys) }

// checkout copies the project to a fresh directory, so that envdrift
// creates every keys file anew, as in a new clone.
func (fx *fixture) checkout() (string, error) {
	fx.n++
	dst := fmt.Sprintf("%s-run%03d", fx.dir, fx.n)
	err := filepath.WalkDir(fx.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(fx.dir, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	return dst, err
}

func (fx *fixture) checkKeysFiles(dir string) error {
	for i, k := range fx.keys {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("svc%03d", i), ".env.keys"))
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), keyName(i)+"="+k) {
			return fmt.Errorf("svc%03d/.env.keys does not hold its key", i)
		}
	}
	return nil
}

// checkOutput checks that a peer printed every key.
func (fx *fixture) checkOutput(stdout string) error {
	for i, k := range fx.keys {
		if !strings.Contains(stdout, k) {
			return fmt.Errorf("output lacks key %d of %d:\n%s", i+1, len(fx.keys), tail(stdout))
		}
	}
	return nil
}
