// Package schemahelper runs the JSON Schema check of `envdrift sync
// --validate-schema` in a second program, envdrift-schema (cmd/envdrift-schema).
//
// The JSON Schema library (github.com/santhosh-tekuri/jsonschema) compiles the
// metaschemas of five drafts in its package initialisation: about 5 ms and
// 1.7 MB on every start of any program that links it, whether or not it ever
// checks a schema. Go runs the initialisation of every linked package before
// main, so the only way for the envdrift binary not to pay it on every
// command is not to link it. envdrift therefore starts envdrift-schema when
// the first schema check of a run is due, sends it every check of the run
// over a pipe, and stops it when the run ends.
//
// The protocol is private to the two programs, which ship together
// (`go install github.com/envdrift/envdrift/cmd/...`): a stream of JSON
// requests on the helper's stdin, a stream of JSON answers on its stdout,
// matched by id, answered concurrently. The private key travels on the pipe,
// never in the arguments or the environment.
package schemahelper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/envdrift/envdrift"
)

// Name is the helper's program name.
const Name = "envdrift-schema"

// Protocol is the version of the request/answer stream. A helper refuses a
// version it does not speak, so an envdrift and an envdrift-schema of
// different releases fail with a clear message rather than a wrong answer.
const Protocol = "1"

// ErrNotInstalled is returned by [Find] when envdrift-schema is neither next
// to the running program nor on PATH.
var ErrNotInstalled = errors.New(Name + " is not installed")

// request asks for one check: [envdrift.SchemaValidator.ValidateSchema]'s
// arguments. Key is the key's text ([envdrift.Key.Reveal]), or empty.
type request struct {
	ID      uint64 `json:"id"`
	EnvFile string `json:"env_file"`
	Schema  string `json:"schema"`
	Key     string `json:"key,omitempty"`
}

// answer is the check of request ID.
type answer struct {
	ID    uint64         `json:"id"`
	Check envdrift.Check `json:"check"`
}

// Serve answers the requests read from r with v's checks, written to w, until
// r ends or ctx is done. Requests are checked concurrently and answered as
// they finish; the caller bounds how many are in flight. A request that is
// not valid JSON ends the stream with an error.
func Serve(ctx context.Context, r io.Reader, w io.Writer, v envdrift.SchemaValidator) error {
	dec := json.NewDecoder(r)
	var (
		mu   sync.Mutex
		enc  = json.NewEncoder(w)
		werr error
		wg   sync.WaitGroup
	)
	defer wg.Wait()
	for {
		var req request
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			var se *json.SyntaxError
			if errors.As(err, &se) {
				// Its message quotes the offending character, which could
				// belong to a key.
				return fmt.Errorf("reading a request: not JSON (at byte %d)", se.Offset)
			}
			return fmt.Errorf("reading a request: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := answer{ID: req.ID, Check: check(ctx, v, req)}
			mu.Lock()
			defer mu.Unlock()
			if werr == nil {
				werr = enc.Encode(a)
			}
		}()
	}
}

// check runs one request; a key that does not parse fails the check without
// quoting it.
func check(ctx context.Context, v envdrift.SchemaValidator, req request) envdrift.Check {
	var key envdrift.Key
	if req.Key != "" {
		k, err := envdrift.ParseKey(req.Key)
		if err != nil {
			return envdrift.Check{Status: envdrift.CheckFailed, Detail: "cannot validate: the private key sent to " + Name + " is not valid"}
		}
		key = k
	}
	return v.ValidateSchema(ctx, req.EnvFile, req.Schema, key)
}

// Find returns the path of envdrift-schema: the one in the running program's
// directory (symbolic links resolved) if there is one, else the first on
// PATH. Its error wraps [ErrNotInstalled] and says how to install it.
func Find() (string, error) {
	name := Name
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	if self, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(self); err == nil {
			self = real
		}
		p := filepath.Join(filepath.Dir(self), name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	if p, err := lookPath(Name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%w: it runs the schema check and is looked for next to this program and on PATH; "+
		"install it with `go install github.com/envdrift/envdrift/cmd/%s@%s`", ErrNotInstalled, Name, version())
}

// version is the module version this program was built from, for the
// install hint; "latest" when it is not a release.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "latest"
}
