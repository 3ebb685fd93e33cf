package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pathProject is a project directory "proj" (holding envdrift.toml and the
// file provider's secrets) next to a directory "outside" that the
// configuration must not reach unless it says allow_external_paths.
type pathProject struct {
	root, proj, outside string
	key                 string
}

func newPathProject(t *testing.T) *pathProject {
	root := t.TempDir()
	p := &pathProject{root: root, proj: filepath.Join(root, "proj"), outside: filepath.Join(root, "outside"), key: genKey(t).Hex()}
	writeFiles(t, root, map[string]string{
		"proj/secrets/svc-key":          p.key + "\n",
		"proj/svc/.env.production":      "A=1\n",
		"outside/svc/.env.production":   "A=1\n",
		"outside/shared.env":            "A=1\n",
		"outside/victim":                "not to be touched\n",
		"proj/real/api/.env.production": "A=1\n",
	})
	return p
}

// config writes proj/envdrift.toml with one mapping of svc-key; body is
// the mapping's lines after secret_name, sync is extra [vault.sync] lines.
func (p *pathProject) config(t *testing.T, sync, body string) {
	t.Helper()
	writeFiles(t, p.proj, map[string]string{"envdrift.toml": "[vault]\nprovider = \"file\"\n[vault.file]\npath = \"secrets\"\n" +
		"[vault.sync]\n" + sync + "\n[[vault.sync.mappings]]\nsecret_name = \"svc-key\"\n" + body})
}

func (p *pathProject) sync(t *testing.T, args ...string) cliResult {
	t.Helper()
	r := runCLI(t, p.proj, nil, append([]string{"sync", "--ci"}, args...)...)
	assertNoPieceOf(t, []string{p.key}, "output", r.stdout+r.stderr)
	return r
}

// TestPaths_OutsideTheConfigDirectoryOnlyWithAllowExternalPaths: a
// folder_path or env_file that leaves the configuration's directory ("..",
// an absolute path) is refused, and nothing is written, unless the
// configuration sets allow_external_paths = true.
func TestPaths_OutsideTheConfigDirectoryOnlyWithAllowExternalPaths(t *testing.T) {
	p := newPathProject(t)
	outsideAbs := filepath.Join(p.outside, "svc")
	for _, tc := range []struct{ name, body, keys string }{
		{"folder_path with ..", "folder_path = \"../outside/svc\"\n", filepath.Join(p.outside, "svc", ".env.keys")},
		{"absolute folder_path", fmt.Sprintf("folder_path = %q\n", outsideAbs), filepath.Join(p.outside, "svc", ".env.keys")},
		{"env_file with ..", "folder_path = \"svc\"\nenv_file = \"../../outside/shared.env\"\n", filepath.Join(p.proj, "svc", ".env.keys")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.config(t, "", tc.body)
			before := snapshotTree(t, p.root)
			r := p.sync(t)
			assert.Equal(t, 1, r.code, r.stdout+r.stderr)
			assert.Contains(t, r.stderr, "envdrift.toml:")
			assert.Contains(t, r.stderr, "set [vault.sync] allow_external_paths = true to allow it")
			assert.Empty(t, diffSnapshots(before, snapshotTree(t, p.root)))

			p.config(t, "allow_external_paths = true\n", tc.body)
			r = p.sync(t)
			require.Equal(t, 0, r.code, r.stdout+r.stderr)
			assert.Contains(t, read(t, tc.keys), p.key)
			assert.Equal(t, fs.FileMode(0o600), mode(t, tc.keys))
			require.NoError(t, os.Remove(tc.keys))
		})
	}
}

// TestPaths_EnvKeysFilenameMustBeAPlainFileName: env_keys_filename names a
// file in each folder, never a path.
func TestPaths_EnvKeysFilenameMustBeAPlainFileName(t *testing.T) {
	p := newPathProject(t)
	for _, name := range []string{"../keys", "sub/.env.keys", "/tmp/.env.keys", "..", ".", " .env.keys", `a\b`} {
		p.config(t, fmt.Sprintf("env_keys_filename = %q\n", name), "folder_path = \"svc\"\n")
		before := snapshotTree(t, p.root)
		r := p.sync(t)
		assert.Equal(t, 1, r.code, "%q: %s", name, r.stdout+r.stderr)
		assert.Contains(t, r.stderr, "envdrift.toml:6: vault.sync.env_keys_filename: ", name)
		assert.Contains(t, r.stderr, "must be a plain file name", name)
		assert.Empty(t, diffSnapshots(before, snapshotTree(t, p.root)), name)
	}
	p.config(t, "env_keys_filename = \"keys.private\"\n", "folder_path = \"svc\"\n")
	r := p.sync(t)
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Equal(t, fs.FileMode(0o600), mode(t, filepath.Join(p.proj, "svc", "keys.private")))
}

// TestPaths_ASymlinkedFolderIsFollowedOnlyInsideTheConfigDirectory: a
// mapping folder that is a symlink is followed when it leads to a directory
// inside the configuration's directory, and refused (unsafe_path, nothing
// written) when it leads outside, unless allow_external_paths = true.
func TestPaths_ASymlinkedFolderIsFollowedOnlyInsideTheConfigDirectory(t *testing.T) {
	p := newPathProject(t)
	require.NoError(t, os.Symlink(filepath.Join("real", "api"), filepath.Join(p.proj, "api")))
	require.NoError(t, os.Symlink(filepath.Join(p.outside, "svc"), filepath.Join(p.proj, "escape")))

	p.config(t, "", "folder_path = \"api\"\n")
	r := p.sync(t)
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Contains(t, read(t, filepath.Join(p.proj, "real", "api", ".env.keys")), p.key, "a symlink inside the project is followed")

	p.config(t, "", "folder_path = \"escape\"\n")
	before := snapshotTree(t, p.root)
	r = p.sync(t, "-o", "json")
	assert.Equal(t, 1, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, `"error_kind": "unsafe_path"`)
	assert.Contains(t, r.stdout, "folder escape is a symlink to "+p.outside)
	assert.Contains(t, r.stdout, "allow_external_paths = true")
	assert.Empty(t, diffSnapshots(before, snapshotTree(t, p.root)))

	p.config(t, "allow_external_paths = true\n", "folder_path = \"escape\"\n")
	r = p.sync(t)
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Contains(t, read(t, filepath.Join(p.outside, "svc", ".env.keys")), p.key)
}

// TestPaths_ASymlinkAtTheKeysFileIsNeverFollowed: whether the symlink
// points at an existing file or at nothing, the row is an error and the
// target is neither changed nor created, with or without --force.
func TestPaths_ASymlinkAtTheKeysFileIsNeverFollowed(t *testing.T) {
	p := newPathProject(t)
	p.config(t, "", "folder_path = \"svc\"\n")
	keys := filepath.Join(p.proj, "svc", ".env.keys")
	for _, target := range []string{filepath.Join(p.outside, "victim"), filepath.Join(p.outside, "created-through-link")} {
		require.NoError(t, os.Symlink(target, keys))
		before := snapshotTree(t, p.root)
		for _, args := range [][]string{nil, {"--force"}} {
			r := p.sync(t, args...)
			assert.Equal(t, 1, r.code, r.stdout+r.stderr)
			assert.Contains(t, r.stdout, "is a symlink; envdrift does not write through symlinks")
			assert.Empty(t, diffSnapshots(before, snapshotTree(t, p.root)))
		}
		require.NoError(t, os.Remove(keys))
	}
}

// TestPaths_ASymlinkAtABackupNameIsNeverFollowed plants symlinks at every
// backup name the next few seconds could use, pointing at an existing file
// and at nothing: the update still happens, its backup is a new regular
// file with a numeric suffix, and no symlink target is touched.
func TestPaths_ASymlinkAtABackupNameIsNeverFollowed(t *testing.T) {
	p := newPathProject(t)
	p.config(t, "", "folder_path = \"svc\"\n")
	require.Equal(t, 0, p.sync(t).code)
	keys := filepath.Join(p.proj, "svc", ".env.keys")
	newKey := genKey(t).Hex()
	require.NoError(t, os.WriteFile(filepath.Join(p.proj, "secrets", "svc-key"), []byte(newKey), 0o600))

	now := time.Now()
	for i := range 10 {
		name := keys + ".backup." + now.Add(time.Duration(i)*time.Second).Format("20060102_150405")
		target := filepath.Join(p.outside, "victim")
		if i%2 == 1 {
			target = filepath.Join(p.outside, fmt.Sprintf("created-through-link-%d", i))
		}
		require.NoError(t, os.Symlink(target, name))
	}
	outsideBefore := snapshotTree(t, p.outside)
	r := p.sync(t, "--force")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	assert.Contains(t, read(t, keys), newKey)
	assert.Empty(t, diffSnapshots(outsideBefore, snapshotTree(t, p.outside)), "nothing outside was written")

	backups, _ := filepath.Glob(keys + ".backup.*")
	regular := 0
	for _, b := range backups {
		st, err := os.Lstat(b)
		require.NoError(t, err)
		if st.Mode().IsRegular() {
			regular++
			assert.True(t, strings.HasSuffix(b, "_2"), "the backup skipped the symlinked name: %s", b)
			assert.Equal(t, fs.FileMode(0o600), st.Mode().Perm())
			assert.Contains(t, read(t, b), p.key, "the backup holds the old key")
		}
	}
	assert.Equal(t, 1, regular)
}

// TestPaths_ASymlinkWithATemporaryFileNameIsNeverFollowed: symlinks named
// like envdrift's temporary files ("..env.keys<digits>") are neither
// followed nor removed by a sync, and the mechanism the atomic write relies
// on (O_CREAT|O_EXCL, used by os.CreateTemp) refuses a symlink
// at the name, dangling or not.
func TestPaths_ASymlinkWithATemporaryFileNameIsNeverFollowed(t *testing.T) {
	p := newPathProject(t)
	p.config(t, "", "folder_path = \"svc\"\n")
	dir := filepath.Join(p.proj, "svc")
	links := map[string]string{
		filepath.Join(dir, "..env.keys1"):                   filepath.Join(p.outside, "victim"),
		filepath.Join(dir, "..env.keys42"):                  filepath.Join(p.outside, "created-through-link"),
		filepath.Join(dir, "..env.keys9223372036854775807"): filepath.Join(p.outside, "victim"),
	}
	for link, target := range links {
		require.NoError(t, os.Symlink(target, link))
	}
	outsideBefore := snapshotTree(t, p.outside)
	require.Equal(t, 0, p.sync(t).code)
	require.NoError(t, os.WriteFile(filepath.Join(p.proj, "secrets", "svc-key"), []byte(genKey(t).Hex()), 0o600))
	require.Equal(t, 0, p.sync(t, "--force").code)
	assert.Empty(t, diffSnapshots(outsideBefore, snapshotTree(t, p.outside)))
	for link, target := range links {
		got, err := os.Readlink(link)
		require.NoError(t, err, "the symlink is left alone")
		assert.Equal(t, target, got)
	}

	for link := range links {
		f, err := os.OpenFile(link, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if f != nil {
			f.Close()
		}
		assert.True(t, errors.Is(err, fs.ErrExist), "O_EXCL refuses %s: %v", link, err)
	}
	assert.NoFileExists(t, filepath.Join(p.outside, "created-through-link"))
}

// TestPaths_KeysFilesAndBackupsAre0600WhateverTheUmask runs a create and a
// forced update under a permissive umask (000) and a restrictive one (277,
// which would make new files read-only): both files are 0600.
func TestPaths_KeysFilesAndBackupsAre0600WhateverTheUmask(t *testing.T) {
	for _, umask := range []int{0o000, 0o022, 0o277} {
		t.Run(fmt.Sprintf("umask %03o", umask), func(t *testing.T) {
			p := newPathProject(t)
			p.config(t, "", "folder_path = \"svc\"\n")
			old := setUmask(t, umask)
			defer setUmask(t, old)
			keys := filepath.Join(p.proj, "svc", ".env.keys")
			require.Equal(t, 0, p.sync(t).code)
			assert.Equal(t, fs.FileMode(0o600), mode(t, keys))
			require.NoError(t, os.WriteFile(filepath.Join(p.proj, "secrets", "svc-key"), []byte(genKey(t).Hex()), 0o600))
			r := p.sync(t, "--force")
			require.Equal(t, 0, r.code, r.stdout+r.stderr)
			assert.Equal(t, fs.FileMode(0o600), mode(t, keys))
			backups, _ := filepath.Glob(keys + ".backup.*")
			require.Len(t, backups, 1)
			assert.Equal(t, fs.FileMode(0o600), mode(t, backups[0]))
		})
	}
}
