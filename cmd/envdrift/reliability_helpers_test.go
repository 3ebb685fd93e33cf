package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/dotenvx"
)

// Helpers shared by the reliability and security tests (crash, concurrency,
// faults, bad input, paths, redaction).

// longRun reports whether the long versions of the reliability tests were
// asked for (ENVDRIFT_LONG=1): 200 kills instead of 20, and so on.
func longRun() bool { return os.Getenv("ENVDRIFT_LONG") == "1" }

// genKey returns a fresh dotenvx private key.
func genKey(t testing.TB) *dotenvx.PrivateKey {
	t.Helper()
	k, err := dotenvx.GeneratePrivateKey(rand.Reader)
	require.NoError(t, err)
	return k
}

// randomToken returns a Vault-style token made of random characters, so
// that any 8-character piece of it appearing in output is a leak.
func randomToken(t testing.TB) string {
	t.Helper()
	b := make([]byte, 18)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "hvs.CAES" + base64.RawURLEncoding.EncodeToString(b)
}

// writeFiles writes each name → content below dir, creating directories.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

// fileConfig returns an envdrift.toml for the file provider reading
// secrets/ with one mapping per (secret, folder, environment) triple.
func fileConfig(mappings ...[3]string) string {
	var b strings.Builder
	b.WriteString("[vault]\nprovider = \"file\"\n\n[vault.file]\npath = \"secrets\"\n\n[vault.sync]\n")
	for _, m := range mappings {
		fmt.Fprintf(&b, "\n[[vault.sync.mappings]]\nsecret_name = %q\nfolder_path = %q\nenvironment = %q\n", m[0], m[1], m[2])
	}
	return b.String()
}

// tempFilePattern matches the temporary files envdrift's atomic writes use
// next to a keys file: "." + the keys file name + digits ("..env.keys123").
var tempFilePattern = regexp.MustCompile(`^\.\.env\.keys[0-9]+$`)

// tempFiles returns every leftover temporary file below dir.
func tempFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if tempFilePattern.MatchString(d.Name()) {
			out = append(out, p)
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

// snapshotTree describes every entry below dir: type, mode and a hash of
// the content (or a symlink's target). Two equal snapshots mean nothing was
// created, removed, changed or re-moded.
func snapshotTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case st.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "link -> " + target
		case st.IsDir():
			out[rel] = fmt.Sprintf("dir %04o", st.Mode().Perm())
		case st.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			out[rel] = fmt.Sprintf("file %04o %d %s", st.Mode().Perm(), len(data), hex.EncodeToString(sum[:8]))
		default:
			out[rel] = "special " + st.Mode().String()
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

// diffSnapshots lists what differs between two snapshots, sorted.
func diffSnapshots(before, after map[string]string) []string {
	var diff []string
	for k, v := range before {
		if w, ok := after[k]; !ok {
			diff = append(diff, "removed "+k)
		} else if v != w {
			diff = append(diff, fmt.Sprintf("changed %s: %s -> %s", k, v, w))
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			diff = append(diff, "created "+k+" ("+after[k]+")")
		}
	}
	sort.Strings(diff)
	return diff
}

// isKeysFileOrBackup reports whether name is a keys file or one of its
// backups: the only files allowed to hold key material.
func isKeysFileOrBackup(name string) bool {
	return name == ".env.keys" || strings.HasPrefix(name, ".env.keys.backup.")
}

// assertNoSecretsInTree fails if an 8-character piece of any secret appears
// in a file below dir other than keys files and their backups. skip lists
// paths (relative to dir) that hold the secrets on purpose, such as the file
// provider's secrets directory.
func assertNoSecretsInTree(t *testing.T, dir string, secrets []string, skip ...string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		for _, s := range skip {
			if rel == s || strings.HasPrefix(rel, s+string(filepath.Separator)) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		if d.IsDir() || !d.Type().IsRegular() || isKeysFileOrBackup(d.Name()) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		assertNoPieceOf(t, secrets, rel, string(data))
		return nil
	})
	require.NoError(t, err)
}

// assertNoPieceOf fails if any 8-character piece of any secret appears in
// text (compared case-insensitively, so hex in either case counts). what
// names the text in the failure message.
func assertNoPieceOf(t *testing.T, secrets []string, what, text string) {
	t.Helper()
	lower := strings.ToLower(text)
	for _, s := range secrets {
		s = strings.ToLower(s)
		for i := 0; i+8 <= len(s); i++ {
			if strings.Contains(lower, s[i:i+8]) {
				t.Fatalf("%s contains a piece of a secret (%q):\n%s", what, s[i:i+8], text)
			}
		}
	}
}
