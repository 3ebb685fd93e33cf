package main

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/internal/testserver/awssm"
	"github.com/envdrift/envdrift/internal/testserver/azurekv"
	"github.com/envdrift/envdrift/internal/testserver/gcpsm"
	"github.com/envdrift/envdrift/internal/testserver/vaultkv"
)

// envOf parses `env` output into a map.
func envOf(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// files lists every file under dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return err
	}))
	return out
}

func TestRun_TheCommandSeesTheDecryptedValuesAndNoPrivateKey(t *testing.T) {
	dir := copyQuickstart(t)
	before := files(t, dir)
	api := filepath.Join(dir, "services", "api")
	r := runCLI(t, api, []string{"DOTENV_PRIVATE_KEY_PRODUCTION=" + strings.Repeat("ab", 32)}, "run", "--", "env")
	require.Equal(t, 0, r.code, r.stderr)
	env := envOf(r.stdout)
	assert.Equal(t, "demo-api-token-0f3a9c", env["API_TOKEN"])
	assert.Equal(t, "8080", env["PORT"])
	for k := range env {
		assert.False(t, strings.HasPrefix(k, "DOTENV_PRIVATE_KEY"), "%s reached the command", k)
	}
	assert.Equal(t, before, files(t, dir), "no .env.keys (or anything else) appears")
	assertNoKeyMaterial(t, secretsIn(t, dir), r.stderr)
}

func TestRun_TheEnvironmentWinsUnlessOverload(t *testing.T) {
	dir := copyQuickstart(t)
	api := filepath.Join(dir, "services", "api")
	r := runCLI(t, api, []string{"PORT=1"}, "run", "--", "printenv", "PORT")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "1\n", r.stdout)
	r = runCLI(t, api, []string{"PORT=1"}, "run", "--overload", "--", "printenv", "PORT")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "8080\n", r.stdout)
}

func TestRun_SeveralEnvFilesInOrderAndAFolderWithTwoNeedsAChoice(t *testing.T) {
	dir := copyQuickstart(t)
	web := filepath.Join(dir, "services", "web")
	r := runCLI(t, web, nil, "run", "--", "env")
	assert.Equal(t, 2, r.code, "a folder with two env files is a usage error")
	assert.Contains(t, r.stderr, "several env files (.env.production, .env.staging); pick one with -f ENV_FILE")
	assert.Empty(t, r.stdout, "the command never started")

	r = runCLI(t, dir, nil, "run", "-f", "services/web/.env.staging", "-f", "services/web/.env.production", "--", "printenv", "PUBLIC_API_URL")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "https://api.staging.example.com\n", r.stdout, "the first file to set a variable wins")
	r = runCLI(t, dir, nil, "run", "--overload", "-f", "services/web/.env.staging", "-f", "services/web/.env.production", "--", "printenv", "PUBLIC_API_URL")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "https://api.example.com\n", r.stdout, "with --overload, the last")

	r = runCLI(t, dir, nil, "run", "-f", "services/api/env.schema.json", "--", "true")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "no mapping names the env file services/api/env.schema.json")
}

func TestRun_ExitsWithTheCommandsCode(t *testing.T) {
	dir := copyQuickstart(t)
	r := runCLI(t, filepath.Join(dir, "services", "api"), nil, "run", "--", "sh", "-c", "exit 7")
	assert.Equal(t, 7, r.code)
	r = runCLI(t, filepath.Join(dir, "services", "api"), nil, "run", "--", "no-such-command-envdrift")
	assert.Equal(t, 127, r.code)
	assert.Contains(t, r.stderr, "no-such-command-envdrift: command not found")
}

// TestRun_TheCommandIsTheProcess: on Unix envdrift run replaces itself with
// the command: the command's PID is the one envdrift was started with, and
// a SIGTERM sent to it reaches the command.
func TestRun_TheCommandIsTheProcess(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no exec(2): envdrift forwards signals to a child instead")
	}
	dir := copyQuickstart(t)
	cmd := exec.Command(binary, "run", "--", "sh", "-c", `trap 'echo "TERM reached $PORT"; exit 42' TERM; echo "pid $$"; while :; do sleep 0.05; done`)
	cmd.Dir = filepath.Join(dir, "services", "api")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := bufio.NewScanner(out)
	require.True(t, lines.Scan(), "the command started")
	pid, err := strconv.Atoi(strings.TrimPrefix(lines.Text(), "pid "))
	require.NoError(t, err, lines.Text())
	assert.Equal(t, cmd.Process.Pid, pid, "the command runs as envdrift's own process")
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.True(t, lines.Scan())
	assert.Equal(t, "TERM reached 8080", lines.Text())
	err = cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 42, ee.ExitCode())
}

func TestRun_NeverStartsTheCommandWithoutAPairedKey(t *testing.T) {
	for name, breakIt := range map[string]func(t *testing.T, dir string){
		"missing secret": func(t *testing.T, dir string) {
			require.NoError(t, os.Remove(filepath.Join(dir, "secrets", "api-production-key")))
		},
		"mispaired key": func(t *testing.T, dir string) {
			k, err := dotenvx.GeneratePrivateKey(rand.Reader)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets", "api-production-key"), []byte(k.Hex()), 0o600))
		},
		"undecryptable value": func(t *testing.T, dir string) {
			env := filepath.Join(dir, "services", "api", ".env.production")
			data := read(t, env)
			i := strings.Index(data, "API_TOKEN=")
			require.Positive(t, i)
			j := strings.Index(data[i:], "encrypted:") + i + len("encrypted:") + 10
			require.NoError(t, os.WriteFile(env, []byte(data[:j]+"AAAAAAAAAA"+data[j+10:]), 0o644))
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := copyQuickstart(t)
			breakIt(t, dir)
			marker := filepath.Join(t.TempDir(), "started")
			r := runCLI(t, filepath.Join(dir, "services", "api"), nil, "run", "--", "touch", marker)
			assert.Equal(t, 1, r.code, r.stderr)
			assert.Contains(t, r.stderr, "touch was not started")
			assert.NoFileExists(t, marker, "the command never started")
			assertNoKeyMaterial(t, secretsIn(t, dir), r.stdout, r.stderr)
		})
	}
}

// TestRun_WithEachCloudProvider runs a command with the key from each test
// server, through its real SDK.
func TestRun_WithEachCloudProvider(t *testing.T) {
	type server struct {
		config string
		env    []string
		put    func(key string)
	}
	for name, start := range map[string]func(t *testing.T) server{
		"aws": func(t *testing.T) server {
			s, err := awssm.Start()
			require.NoError(t, err)
			t.Cleanup(s.Close)
			return server{"[vault]\nprovider = \"aws\"\n", s.Env(), func(k string) { s.Put(awssm.DefaultRegion, "api-key", []byte(k)) }}
		},
		"hashicorp": func(t *testing.T) server {
			s, err := vaultkv.Start()
			require.NoError(t, err)
			t.Cleanup(s.Close)
			return server{"[vault]\nprovider = \"hashicorp\"\n", s.Env(), func(k string) {
				_, err := s.PutValue("", vaultkv.DefaultMount, "api-key", k)
				require.NoError(t, err)
			}}
		},
		"gcp": func(t *testing.T) server {
			s, err := gcpsm.Start()
			require.NoError(t, err)
			t.Cleanup(s.Close)
			return server{"[vault]\nprovider = \"gcp\"\n", s.Env(), func(k string) { s.Put(gcpsm.DefaultProject, "api-key", []byte(k)) }}
		},
		"azure": func(t *testing.T) server {
			s, err := azurekv.Start()
			require.NoError(t, err)
			t.Cleanup(s.Close)
			return server{"[vault]\nprovider = \"azure\"\n[vault.azure]\nvault_url = \"" + s.VaultURL(azurekv.DefaultVault) + "\"\n", s.Env(),
				func(k string) { s.SetSecret(azurekv.DefaultVault, "api-key", []byte(k)) }}
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := start(t)
			p := newProject(t, s.config+fmt.Sprintf(twoMappings, "api-key", "web-key", ""))
			s.put(p.api.Hex())
			before := files(t, p.dir)
			r := runCLI(t, p.dir, s.env, "run", "-f", "api/.env.production", "--", "printenv", "DATABASE_URL")
			require.Equal(t, 0, r.code, r.stderr)
			assert.Equal(t, "postgres://api\n", r.stdout)
			assert.Equal(t, before, files(t, p.dir), "nothing written")
			assertNoKeyMaterial(t, []string{p.api.Hex()}, r.stdout, r.stderr)
		})
	}
}

// TestRun_GivesTheVariablesDotenvxRunGives compares `envdrift run` with
// `dotenvx run` (2.38.2) on the quickstart's files, which the real dotenvx
// encrypted: the same variables reach the command.
func TestRun_GivesTheVariablesDotenvxRunGives(t *testing.T) {
	dotenvxBin := os.Getenv("DOTENVX_BIN")
	if dotenvxBin == "" {
		t.Skip("set DOTENVX_BIN to the reference dotenvx (see README) to compare with dotenvx run")
	}
	node, err := exec.LookPath("node")
	require.NoError(t, err, "dotenvx needs node")
	dir := copyQuickstart(t)
	printEnv := []string{node, "-e", "process.stdout.write(JSON.stringify(process.env))"}
	clean := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for _, c := range []struct{ folder, file, secret string }{
		{"services/api", ".env.production", "api-production-key"},
		{"services/web", ".env.production", "web-production-key"},
		{"services/web", ".env.staging", "web-staging-key"},
	} {
		t.Run(c.folder+"/"+c.file, func(t *testing.T) {
			keys := hexKey.FindAllString(read(t, filepath.Join(dir, "secrets", c.secret)), -1)
			require.Len(t, keys, 1)
			name, _ := dotenvx.KeyNames(c.file)
			theirs := exec.Command(dotenvxBin, append([]string{"run", "-q", "-f", c.file, "--"}, printEnv...)...)
			theirs.Dir = filepath.Join(dir, c.folder)
			theirs.Env = append(slices.Clone(clean), name+"="+keys[0])
			want, err := theirs.Output()
			require.NoError(t, err)

			ours := runCLI(t, filepath.Join(dir, c.folder), nil, append([]string{"run", "-f", c.file, "--"}, printEnv...)...)
			require.Equal(t, 0, ours.code, ours.stderr)

			var w, g map[string]string
			require.NoError(t, json.Unmarshal(want, &w))
			require.NoError(t, json.Unmarshal([]byte(ours.stdout), &g))
			for _, m := range []map[string]string{w, g} {
				for k := range m {
					// The environments differ only where the tools do:
					// dotenvx passes its key and public key on.
					if strings.HasPrefix(k, "DOTENV_") || k == "HOME" || k == "NO_COLOR" {
						delete(m, k)
					}
				}
			}
			assert.Equal(t, w, g)
		})
	}
}
