package schemahelper

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift"
	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/schema"
)

// helper is envdrift-schema, built once for these tests.
var helper string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "envdrift-schemahelper-")
	if err != nil {
		panic(err)
	}
	helper = filepath.Join(dir, Name)
	if runtime.GOOS == "windows" {
		helper += ".exe"
	}
	build := exec.Command("go", "build", "-o", helper, "../../cmd/envdrift-schema")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		panic("building envdrift-schema: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fixture is an env file with one plain and one encrypted variable, its key,
// and schemas beside it.
type fixture struct {
	dir, env string
	key      envdrift.Key
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	k, err := dotenvx.GeneratePrivateKey(rand.Reader)
	require.NoError(t, err)
	key, err := envdrift.ParseKey(k.Hex())
	require.NoError(t, err)
	enc, err := dotenvx.Encrypt(k.PublicKey(), "s3cr3t-database-password")
	require.NoError(t, err)
	env := filepath.Join(dir, ".env.production")
	body := fmt.Sprintf("DOTENV_PUBLIC_KEY_PRODUCTION=%q\nPORT=80\nAPI_URL=\"api.example.com\"\nDB_PASSWORD=%q\n", k.PublicKey().Hex(), enc)
	require.NoError(t, os.WriteFile(env, []byte(body), 0o644))
	return fixture{dir: dir, env: env, key: key}
}

func (f fixture) schema(t *testing.T, name, doc string) string {
	t.Helper()
	p := filepath.Join(f.dir, name)
	require.NoError(t, os.WriteFile(p, []byte(doc), 0o644))
	return p
}

func TestClient_AnswersAsTheLibraryDoes(t *testing.T) {
	f := newFixture(t)
	other, err := dotenvx.GeneratePrivateKey(rand.Reader)
	require.NoError(t, err)
	wrongKey, err := envdrift.ParseKey(other.Hex())
	require.NoError(t, err)
	cases := []struct {
		name, schema string
		key          envdrift.Key
	}{
		{"valid", f.schema(t, "ok.json", `{"type":"object","properties":{"PORT":{"type":"integer"}},"required":["PORT","DB_PASSWORD"]}`), f.key},
		{"violations, format asserted", f.schema(t, "bad.json", `{"type":"object","properties":{"PORT":{"type":"integer","minimum":1024},"API_URL":{"type":"string","format":"uri"},"DB_PASSWORD":{"minLength":64}},"required":["LOG_LEVEL"]}`), f.key},
		{"a $ref to another file", f.schema(t, "ref.json", `{"type":"object","properties":{"PORT":{"$ref":"port.json"}}}`), f.key},
		{"invalid schema", f.schema(t, "invalid.json", `{"type":"object","properties":{"PORT":{"type":"integr"}}}`), f.key},
		{"not JSON", f.schema(t, "broken.json", "{\n  \"type\": \"object\",,\n}"), f.key},
		{"missing schema file", filepath.Join(f.dir, "missing.json"), f.key},
		{"a key that cannot decrypt", filepath.Join(f.dir, "ok.json"), wrongKey},
		{"no key", filepath.Join(f.dir, "ok.json"), envdrift.Key{}},
		{"no schema", "", f.key},
	}
	f.schema(t, "port.json", `{"type":"integer","maximum":65535,"minimum":1024}`)
	c := &Client{Path: helper}
	defer func() { require.NoError(t, c.Close()) }()
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := (&schema.Validator{}).ValidateSchema(ctx, f.env, tc.schema, tc.key)
			got := c.ValidateSchema(ctx, f.env, tc.schema, tc.key)
			assert.Equal(t, want, got)
			assert.NotEmpty(t, got.Status)
		})
	}
	// The cases above checked something: one passed and one listed problems.
	ok := c.ValidateSchema(ctx, f.env, cases[0].schema, f.key)
	assert.Equal(t, envdrift.CheckPassed, ok.Status, ok.Detail)
	bad := c.ValidateSchema(ctx, f.env, cases[1].schema, f.key)
	assert.Equal(t, envdrift.CheckFailed, bad.Status)
	assert.Len(t, bad.Problems, 4, "%q", bad.Problems)
}

func TestClient_ConcurrentChecksShareOneHelperAndEachGetsItsOwnAnswer(t *testing.T) {
	f := newFixture(t)
	pass := f.schema(t, "pass.json", `{"properties":{"PORT":{"type":"integer"}}}`)
	fail := f.schema(t, "fail.json", `{"properties":{"PORT":{"type":"integer","minimum":1024}}}`)
	c := &Client{Path: helper}
	defer func() { require.NoError(t, c.Close()) }()
	var wg sync.WaitGroup
	got := make([]envdrift.Check, 64)
	for i := range got {
		wg.Go(func() {
			s := pass
			if i%2 == 1 {
				s = fail
			}
			got[i] = c.ValidateSchema(context.Background(), f.env, s, f.key)
		})
	}
	wg.Wait()
	for i, chk := range got {
		if i%2 == 0 {
			assert.Equal(t, envdrift.CheckPassed, chk.Status, "check %d: %s", i, chk.Detail)
		} else {
			assert.Equal(t, envdrift.CheckFailed, chk.Status, "check %d", i)
			assert.Equal(t, []string{"PORT: minimum: must be >= 1024, got 80"}, chk.Problems, "check %d", i)
		}
	}
}

func TestClient_StartsNoProcessWhenNoCheckIsDue(t *testing.T) {
	c := &Client{Path: filepath.Join(t.TempDir(), "does-not-exist")}
	chk := c.ValidateSchema(context.Background(), "x/.env", "", envdrift.Key{})
	assert.Equal(t, envdrift.CheckSkipped, chk.Status)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	chk = c.ValidateSchema(ctx, "x/.env", "s.json", envdrift.Key{})
	assert.Equal(t, envdrift.Check{Status: envdrift.CheckFailed, Detail: "cancelled"}, chk)
	assert.False(t, c.started, "no helper is started for a check that is not due")
	assert.NoError(t, c.Close())
}

func TestClient_AHelperThatCannotStartFailsEveryCheckAndSaysWhy(t *testing.T) {
	f := newFixture(t)
	s := f.schema(t, "s.json", `{}`)
	c := &Client{Path: filepath.Join(t.TempDir(), "does-not-exist")}
	for range 2 {
		chk := c.ValidateSchema(context.Background(), f.env, s, f.key)
		assert.Equal(t, envdrift.CheckFailed, chk.Status)
		assert.Contains(t, chk.Detail, "cannot validate: starting envdrift-schema:")
	}
	assert.NoError(t, c.Close())
}

// shellHelper writes a shell script standing in for envdrift-schema and
// returns its path.
func shellHelper(t *testing.T, body string) string {
	t.Helper()
	script := filepath.Join(t.TempDir(), Name)
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\n"+body+"\n"), 0o755))
	return script
}

func TestClient_AHelperThatStopsFailsTheWaitingChecksWithItsLastWords(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses a shell script as the helper")
	}
	f := newFixture(t)
	s := f.schema(t, "s.json", `{}`)
	// A helper of another release: it refuses the protocol and exits 2.
	c := &Client{Path: shellHelper(t, "echo 'envdrift-schema: speaks protocol 9' >&2\nexit 2")}
	chk := c.ValidateSchema(context.Background(), f.env, s, f.key)
	assert.Equal(t, envdrift.CheckFailed, chk.Status)
	assert.Equal(t, "cannot validate: envdrift-schema stopped (exit status 2): envdrift-schema: speaks protocol 9", chk.Detail)
	err := c.Close()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exit status 2")
}

func TestHelper_RefusesAnotherProtocolAndBadUsage(t *testing.T) {
	for _, args := range [][]string{{"serve", "--protocol", "0"}, {"serve"}, {}} {
		cmd := exec.Command(helper, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "%q", args)
		assert.Equal(t, 2, ee.ExitCode(), "%q", args)
		assert.Contains(t, stderr.String(), "envdrift-schema", "%q", args)
	}
}

func TestServe_NeverQuotesTheKeyOrTheInput(t *testing.T) {
	f := newFixture(t)
	s := f.schema(t, "s.json", `{}`)
	secret := strings.Repeat("7", 30) + "-not-a-key-but-secret"
	// A key that does not parse: the answer says so without quoting it.
	req, err := json.Marshal(request{ID: 7, EnvFile: f.env, Schema: s, Key: secret})
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, Serve(context.Background(), bytes.NewReader(req), &out, &schema.Validator{}))
	var a answer
	require.NoError(t, json.Unmarshal(out.Bytes(), &a))
	assert.Equal(t, uint64(7), a.ID)
	assert.Equal(t, envdrift.CheckFailed, a.Check.Status)
	assert.NotContains(t, out.String(), secret[:8])
	// Input that is not JSON ends the stream; the error does not quote it.
	err = Serve(context.Background(), strings.NewReader(`{"id":1} `+secret), &out, &schema.Validator{})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), secret[:1]+"'")
	assert.NotContains(t, err.Error(), "-not-a-key")
}

func TestFind_NextToTheProgramThenOnPATHElseSaysHowToInstall(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	_, err := Find()
	require.ErrorIs(t, err, ErrNotInstalled)
	assert.Contains(t, err.Error(), "go install github.com/envdrift/envdrift/cmd/envdrift-schema@")

	name := Name
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	onPath := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(onPath, []byte("#!/bin/sh\n"), 0o755))
	got, err := Find()
	require.NoError(t, err)
	assert.Equal(t, onPath, got)
}

func TestClient_ACancelledCheckReturnsAndCloseStillEndsTheHelper(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses a shell script as the helper")
	}
	f := newFixture(t)
	s := f.schema(t, "s.json", `{}`)
	// A helper that reads every request and never answers.
	c := &Client{Path: shellHelper(t, "exec cat >/dev/null")}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	chk := c.ValidateSchema(ctx, f.env, s, f.key)
	assert.Equal(t, envdrift.Check{Status: envdrift.CheckFailed, Detail: "cancelled"}, chk)
	done := make(chan error, 1)
	go func() { done <- c.Close() }()
	select {
	case err := <-done:
		assert.NoError(t, err, "the helper exits cleanly once its input ends")
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return: the helper was left running")
	}
}
