package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/internal/testserver"
	"github.com/envdrift/envdrift/internal/testserver/awssm"
	"github.com/envdrift/envdrift/internal/testserver/azurekv"
	"github.com/envdrift/envdrift/internal/testserver/gcpsm"
	"github.com/envdrift/envdrift/internal/testserver/vaultkv"
)

// faultServer is one local wire-protocol server driven through its fault
// injection, as the envdrift binary sees it.
type faultServer struct {
	provider string
	server   any // the *awssm.Server, *vaultkv.Server, …
	base     *testserver.Base
	env      []string
	// vaults are the vault names of the three cloud mappings (AWS: three
	// regions, so that each secret is its own request).
	vaults [3]string
	// readOp is the operation name of one secret read in Base.Ops, and
	// firstReads how many of them the first fetch makes (Azure's first
	// request is answered with the bearer challenge).
	readOp     string
	firstReads int
	// table is the provider's TOML table, if it needs one.
	table string
	// secrets are random credentials no 8-character piece of which may
	// appear in output; credentials are fixed ones that may not appear whole.
	secrets, credentials []string
	put                  func(t *testing.T, vault, name, value string)
	// deny makes reads of vault/name fail with permission denied.
	deny func(vault, name string)
	// badCredentials returns environment entries with a wrong credential,
	// and that credential (which must not appear in output either).
	badCredentials func(t *testing.T) ([]string, string)
}

// faultProvider describes how one provider's server is started, which
// malformed bodies it can send, and what its messages say about each fault.
type faultProvider struct {
	start func(t *testing.T) *faultServer
	// malformed maps a style ("truncated JSON") to its injection.
	malformed map[string]func(fs *faultServer)
	// says maps a fault case's name to text its rows' messages must hold.
	says map[string][]string
}

var faultProviders = map[string]faultProvider{
	"aws": {
		start: func(t *testing.T) *faultServer {
			s, err := awssm.Start()
			require.NoError(t, err)
			t.Cleanup(s.Close)
			return &faultServer{
				provider: "aws", server: s, base: s.Base, env: s.Env(), readOp: "GetSecretValue", firstReads: 1,
				vaults:      [3]string{"eu-west-1", "eu-west-2", "eu-west-3"},
				credentials: []string{awssm.SecretAccessKey},
				put:         func(_ *testing.T, vault, name, value string) { s.Put(vault, name, []byte(value)) },
				deny:        s.Deny,
				badCredentials: func(t *testing.T) ([]string, string) {
					secret := randomToken(t)[4:]
					return []string{"AWS_SECRET_ACCESS_KEY=" + secret}, secret
				},
			}
		},
		malformed: map[string]func(*faultServer){"truncated JSON": func(fs *faultServer) { fs.base.Inject(testserver.FaultMalformed) }},
		says: map[string][]string{
			"throttled throughout":           {"ThrottlingException", "lower --concurrency"},
			"connection reset":               {"connection reset by peer", "4 attempt(s)"},
			"slower than --timeout":          {"timed out", "300ms"},
			"auth failure part-way":          {"UnrecognizedClientException", "configure AWS credentials"},
			"malformed body: truncated JSON": {"could not be parsed as a Secrets Manager answer", "proxy"},
		},
	},
	"hashicorp": {
		start: func(t *testing.T) *faultServer {
			s, err := vaultkv.Start()
			require.NoError(t, err)
			t.Cleanup(s.Close)
			token := randomToken(t)
			s.AddToken(token)
			return &faultServer{
				provider: "hashicorp", server: s, base: s.Base, env: append(s.Env(), "VAULT_TOKEN="+token),
				readOp: vaultkv.OpKVv2Read, firstReads: 1,
				secrets: []string{token}, credentials: []string{s.Token()},
				put: func(t *testing.T, _, name, value string) {
					_, err := s.PutValue("", vaultkv.DefaultMount, name, value)
					require.NoError(t, err)
				},
				deny: func(_, name string) { s.Deny("", vaultkv.DefaultMount, name) },
				badCredentials: func(t *testing.T) ([]string, string) {
					wrong := randomToken(t)
					return []string{"VAULT_TOKEN=" + wrong}, wrong
				},
			}
		},
		malformed: map[string]func(*faultServer){"proxy HTML page": func(fs *faultServer) { fs.base.Inject(testserver.FaultMalformed) }},
		says: map[string][]string{
			"throttled throughout":            {"429", "rate limit quota exceeded"},
			"connection reset":                {"cannot reach Vault"},
			"slower than --timeout":           {"no answer from Vault", "raise --timeout"},
			"auth failure part-way":           {"Vault rejected the token from VAULT_TOKEN", "vault login"},
			"malformed body: proxy HTML page": {"text/html", "not a Vault JSON response"},
		},
	},
	"gcp": {
		start: func(t *testing.T) *faultServer {
			s, err := gcpsm.Start()
			require.NoError(t, err)
			t.Cleanup(s.Close)
			return &faultServer{
				provider: "gcp", server: s, base: s.Base, env: s.Env(), readOp: "AccessSecretVersion", firstReads: 1,
				put:  func(_ *testing.T, vault, name, value string) { s.Put(vault, name, []byte(value)) },
				deny: s.Deny,
				badCredentials: func(t *testing.T) ([]string, string) {
					// The credential files are the server's; an expired token
					// is the failure a run can meet.
					s.Inject(testserver.FaultAuth)
					return nil, ""
				},
			}
		},
		malformed: map[string]func(*faultServer){
			"truncated gRPC frame": func(fs *faultServer) {
				fs.server.(*gcpsm.Server).SetMalformedStyle(gcpsm.TruncatedFrame)
				fs.base.Inject(testserver.FaultMalformed)
			},
			"proxy HTML page": func(fs *faultServer) {
				fs.server.(*gcpsm.Server).SetMalformedStyle(gcpsm.ProxyHTML)
				fs.base.Inject(testserver.FaultMalformed)
			},
		},
		says: map[string][]string{
			"throttled throughout":                 {"RESOURCE_EXHAUSTED", "lower --concurrency"},
			"connection reset":                     {"UNAVAILABLE", "connection reset by peer"},
			"slower than --timeout":                {"within 300ms", "raise --timeout"},
			"auth failure part-way":                {"UNAUTHENTICATED", "gcloud auth application-default login"},
			"malformed body: truncated gRPC frame": {"INTERNAL", "unexpected EOF"},
			"malformed body: proxy HTML page":      {"502 (Bad Gateway)", "text/html"},
		},
	},
	"azure": {
		start: func(t *testing.T) *faultServer {
			s, err := azurekv.Start()
			require.NoError(t, err)
			t.Cleanup(s.Close)
			return &faultServer{
				provider: "azure", server: s, base: s.Base, env: s.Env(), readOp: "GetSecret", firstReads: 2,
				table:       "\n[vault.azure]\nvault_url = \"" + s.VaultURL(azurekv.DefaultVault) + "\"\n",
				credentials: []string{azurekv.ClientSecret},
				put:         func(_ *testing.T, vault, name, value string) { s.SetSecret(vault, name, []byte(value)) },
				deny:        s.Deny,
				badCredentials: func(t *testing.T) ([]string, string) {
					secret := randomToken(t)[4:]
					return []string{"AZURE_CLIENT_SECRET=" + secret}, secret
				},
			}
		},
		malformed: map[string]func(*faultServer){"proxy HTML page": func(fs *faultServer) { fs.base.Inject(testserver.FaultMalformed) }},
		says: map[string][]string{
			"throttled throughout":            {"Throttled", "lower --concurrency"},
			"connection reset":                {"request to vault envdrift-default failed"},
			"slower than --timeout":           {"timed out", "raise the timeout"},
			"auth failure part-way":           {"Unauthorized", "az login"},
			"malformed body: proxy HTML page": {"not a Key Vault secret", "proxy"},
		},
	},
}

// faultProject is a project with two folders served by the file provider
// and three served by the server under test.
type faultProject struct {
	dir  string
	keys map[string]*dotenvx.PrivateKey // folder → its key
}

var (
	fileFolders  = []string{"local1", "local2"}
	cloudFolders = []string{"cloud1", "cloud2", "cloud3"}
)

func newFaultProject(t *testing.T, fs *faultServer) *faultProject {
	p := &faultProject{dir: t.TempDir(), keys: map[string]*dotenvx.PrivateKey{}}
	var b strings.Builder
	b.WriteString("[vault]\nprovider = \"" + fs.provider + "\"\n\n[vault.file]\npath = \"secrets\"\n" + fs.table + "\n[vault.sync]\n")
	files := map[string]string{}
	for _, folder := range append(append([]string{}, fileFolders...), cloudFolders...) {
		k := genKey(t)
		p.keys[folder] = k
		files[folder+"/.env.production"] = "DOTENV_PUBLIC_KEY_PRODUCTION=\"" + k.PublicKey().Hex() + "\"\n"
	}
	for _, folder := range fileFolders {
		files["secrets/"+folder+"-key"] = p.keys[folder].Hex() + "\n"
		fmt.Fprintf(&b, "\n[[vault.sync.mappings]]\nsecret_name = %q\nfolder_path = %q\nprovider = \"file\"\n", folder+"-key", folder)
	}
	for i, folder := range cloudFolders {
		fs.put(t, fs.vaults[i], "app-"+folder, p.keys[folder].Hex())
		fmt.Fprintf(&b, "\n[[vault.sync.mappings]]\nsecret_name = %q\nfolder_path = %q\n", "app-"+folder, folder)
		if fs.vaults[i] != "" {
			fmt.Fprintf(&b, "vault_name = %q\n", fs.vaults[i])
		}
	}
	files["envdrift.toml"] = b.String()
	writeFiles(t, p.dir, files)
	return p
}

func (p *faultProject) allKeys() []string {
	var out []string
	for _, k := range p.keys {
		out = append(out, k.Hex())
	}
	return out
}

// sync runs sync with --output json and returns the result, the rows
// keyed by folder, and the time it took.
func (p *faultProject) sync(t *testing.T, fs *faultServer, args ...string) (cliResult, map[string]map[string]any, time.Duration) {
	t.Helper()
	start := time.Now()
	r := runCLI(t, p.dir, fs.env, append([]string{"sync", "--ci", "-o", "json"}, args...)...)
	took := time.Since(start)
	var doc struct {
		Rows []map[string]any `json:"rows"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc), "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	rows := map[string]map[string]any{}
	for _, row := range doc.Rows {
		rows[row["folder"].(string)] = row
	}
	assertNoPieceOf(t, append(p.allKeys(), fs.secrets...), "output", r.stdout+r.stderr)
	for _, c := range fs.credentials {
		assert.NotContains(t, r.stdout+r.stderr, c)
	}
	return r, rows, took
}

// faultCase is one injected fault and what every cloud row must show.
type faultCase struct {
	name   string
	inject func(fs *faultServer)
	args   []string
	kind   string // error_kind of the failed cloud rows; "" when every row succeeds
	// partWay: only the first cloud mapping succeeds; the fault starts after it.
	partWay bool
}

const injectedMessage = "storage backend exploded (injected)"

func faultCases(fp faultProvider) []faultCase {
	cases := []faultCase{
		{name: "throttling burst is retried", inject: func(fs *faultServer) { fs.base.Throttle(2) }},
		// A throttled request is sent again while the endpoint still
		// answers something else within the request time limit; one that
		// answers nothing but throttling for that long fails the rows.
		{name: "throttled throughout", inject: func(fs *faultServer) { fs.base.Inject(testserver.FaultThrottle) },
			args: []string{"--timeout", "2s"}, kind: "throttled"},
		{name: "server error 500", inject: func(fs *faultServer) { fs.base.FailWith(injectedMessage) }, kind: "unavailable"},
		{name: "connection reset", inject: func(fs *faultServer) { fs.base.Inject(testserver.FaultReset) }, kind: "unavailable"},
		{name: "slower than --timeout", inject: func(fs *faultServer) { fs.base.SetLatency(time.Minute) },
			args: []string{"--timeout", "300ms"}, kind: "unavailable"},
		{name: "auth failure part-way", partWay: true, kind: "unauthenticated"},
	}
	for style, inject := range fp.malformed {
		cases = append(cases, faultCase{name: "malformed body: " + style, inject: inject, kind: "unavailable"})
	}
	return cases
}

// runFaultMatrix injects each fault into its own server and runs a sync of
// two file-provider mappings and three mappings on the faulty server. The
// file mappings are unaffected; the cloud rows fail with the right kind and
// a message that names the provider and says what happened (or, for a short
// burst of throttling, succeed after retries); the exit code follows; no
// file appears in a folder whose fetch failed; and no key, token or secret
// credential reaches the output.
func runFaultMatrix(t *testing.T, name string) {
	t.Parallel()
	fp := faultProviders[name]
	for _, fc := range faultCases(fp) {
		t.Run(fc.name, func(t *testing.T) {
			t.Parallel()
			fs := fp.start(t)
			p := newFaultProject(t, fs)
			before := snapshotTree(t, p.dir)
			args := fc.args
			if fc.partWay {
				args = append(args, "--concurrency", "1")
				fs.base.SetLatency(200 * time.Millisecond)
				go func() {
					// Once the first fetch's read is being served (it has
					// already been let through), every later request is
					// refused, as when a token expires during a run.
					for fs.base.Ops()[fs.readOp] < fs.firstReads {
						select {
						case <-t.Context().Done():
							return
						case <-time.After(time.Millisecond):
						}
					}
					time.Sleep(100 * time.Millisecond)
					fs.base.Inject(testserver.FaultAuth)
				}()
			} else {
				fc.inject(fs)
			}
			r, rows, took := p.sync(t, fs, args...)
			assert.Less(t, took, 30*time.Second, "the run ends promptly")

			for _, folder := range fileFolders {
				assert.Equal(t, "created", rows[folder]["action"], "%s is not affected: %v", folder, rows[folder])
			}
			var failed []string
			switch {
			case fc.kind == "":
			case fc.partWay:
				failed = cloudFolders[1:]
			default:
				failed = cloudFolders
			}
			checkFaultRows(t, name, fp, fc, rows, failed)
			if len(failed) > 0 {
				assert.Equal(t, 1, r.code, r.stdout+r.stderr)
			} else {
				assert.Equal(t, 0, r.code, r.stdout+r.stderr)
			}

			// Nothing is written for a mapping whose fetch failed; the
			// others hold their own key and nothing else changed.
			for _, d := range diffSnapshots(before, snapshotTree(t, p.dir)) {
				folder, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(d, "created "), "changed "), string(filepath.Separator))
				assert.False(t, slices.Contains(failed, folder), "written for a failed fetch: %s", d)
				assert.True(t, strings.HasPrefix(d, "created "+folder+string(filepath.Separator)+".env.keys "), "unexpected change: %s", d)
			}
			for _, folder := range append(slices.Clone(fileFolders), cloudFolders...) {
				if !slices.Contains(failed, folder) {
					assert.Contains(t, read(t, filepath.Join(p.dir, folder, ".env.keys")), "DOTENV_PRIVATE_KEY_PRODUCTION="+p.keys[folder].Hex()+"\n")
				}
			}
		})
	}
}

// checkFaultRows asserts that the cloud rows in failed are errors of the
// case's kind, each naming the provider and its own secret and saying
// what happened, and that the others were created.
func checkFaultRows(t *testing.T, name string, fp faultProvider, fc faultCase, rows map[string]map[string]any, failed []string) {
	t.Helper()
	for _, folder := range cloudFolders {
		row := rows[folder]
		if !slices.Contains(failed, folder) {
			assert.Equal(t, "created", row["action"], "%s: %v", folder, row)
			continue
		}
		assert.Equal(t, "error", row["action"], "%s: %v", folder, row)
		assert.Equal(t, fc.kind, row["error_kind"], "%s: %v", folder, row)
		msg, _ := row["message"].(string)
		// JSON keeps every row's own message; the text output explains a
		// shared cause once.
		assert.True(t, strings.HasPrefix(msg, name+": secret "+row["secret"].(string)+": "),
			"the message names the provider and the secret: %q", msg)
		want := fp.says[fc.name]
		if fc.name == "server error 500" {
			want = []string{injectedMessage}
		}
		require.NotEmpty(t, want, "no expected message for %s", fc.name)
		for _, w := range want {
			assert.Contains(t, msg, w, "%s", folder)
		}
	}
}

func TestFaults_AWS(t *testing.T)       { runFaultMatrix(t, "aws") }
func TestFaults_HashiCorp(t *testing.T) { runFaultMatrix(t, "hashicorp") }
func TestFaults_GCP(t *testing.T)       { runFaultMatrix(t, "gcp") }
func TestFaults_Azure(t *testing.T)     { runFaultMatrix(t, "azure") }
