package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/internal/testserver/awssm"
	"github.com/envdrift/envdrift/internal/testserver/azurekv"
	"github.com/envdrift/envdrift/internal/testserver/gcpsm"
	"github.com/envdrift/envdrift/internal/testserver/vaultkv"
)

// dotenvxKeysHeader is the banner `dotenvx encrypt` (2.38.2) writes at the
// top of a new .env.keys file.
const dotenvxKeysHeader = "#/------------------!DOTENV_PRIVATE_KEYS!-------------------/\n" +
	"#/ private decryption keys. DO NOT commit to source control /\n" +
	"#/     [how it works](https://dotenvx.com/encryption)       /\n" +
	"#/          ⛨ ARMORED KEYS: `dotenvx armor up`              /\n" +
	"#/----------------------------------------------------------/\n"

// pushTarget is an empty vault the push lifecycle publishes to.
type pushTarget struct {
	config string   // [vault] and provider tables
	env    []string // the SDK's standard variables
	writes func() int
}

// TestE2E_PushLifecycle runs, for every provider through the built binary
// and its real SDK: dotenvx-style keys files → push --dry-run (no write
// request reaches the server) → push (creates) → push again (no write) →
// a clean checkout syncs identical keys files that decrypt → a rotation is
// refused without --update and published with it, saying why.
func TestE2E_PushLifecycle(t *testing.T) {
	targets := map[string]func(t *testing.T) pushTarget{
		"file": func(t *testing.T) pushTarget {
			dir := t.TempDir()
			count := func() int {
				ents, _ := os.ReadDir(dir)
				return len(ents)
			}
			return pushTarget{config: "[vault]\nprovider = \"file\"\n[vault.file]\npath = \"" + dir + "\"\n", writes: count}
		},
		"aws": func(t *testing.T) pushTarget {
			s, err := awssm.Start()
			require.NoError(t, err)
			t.Cleanup(s.Close)
			return pushTarget{config: "[vault]\nprovider = \"aws\"\n", env: s.Env(), writes: s.Writes}
		},
		"hashicorp": func(t *testing.T) pushTarget {
			s, err := vaultkv.Start()
			require.NoError(t, err)
			t.Cleanup(s.Close)
			return pushTarget{config: "[vault]\nprovider = \"hashicorp\"\n[vault.hashicorp]\nkv_version = 2\n", env: s.Env(), writes: s.Writes}
		},
		"gcp": func(t *testing.T) pushTarget {
			s, err := gcpsm.Start()
			require.NoError(t, err)
			t.Cleanup(s.Close)
			return pushTarget{config: "[vault]\nprovider = \"gcp\"\n", env: s.Env(), writes: s.Writes}
		},
		"azure": func(t *testing.T) pushTarget {
			s, err := azurekv.Start()
			require.NoError(t, err)
			t.Cleanup(s.Close)
			return pushTarget{config: "[vault]\nprovider = \"azure\"\n[vault.azure]\nvault_url = \"" + s.VaultURL(azurekv.DefaultVault) + "\"\n",
				env: s.Env(), writes: s.Writes}
		},
	}
	for name, start := range targets {
		t.Run(name, func(t *testing.T) {
			tg := start(t)
			p := newProject(t, tg.config+fmt.Sprintf(twoMappings, "api-key", "web-key", ""))
			keys := map[string]string{}
			for svc, k := range map[string]*dotenvx.PrivateKey{"api": p.api, "web": p.web} {
				keys[svc] = dotenvxKeysHeader + "\n# .env.production\nDOTENV_PRIVATE_KEY_PRODUCTION=" + k.Hex() + "\n"
				require.NoError(t, os.WriteFile(filepath.Join(p.dir, svc, ".env.keys"), []byte(keys[svc]), 0o600))
			}
			secrets := []string{p.api.Hex(), p.web.Hex()}
			var outputs []string
			run := func(args ...string) cliResult {
				r := runCLI(t, p.dir, tg.env, args...)
				outputs = append(outputs, r.stdout, r.stderr)
				return r
			}

			before := tg.writes()
			r := run("push", "--dry-run")
			require.Equal(t, 0, r.code, r.stdout+r.stderr)
			assert.Contains(t, r.stdout, "+ api - would create")
			assert.Contains(t, r.stdout, "Dry run: 2 to create, 0 to update, 0 already published; nothing was written")
			assert.Equal(t, before, tg.writes(), "a dry run sends no write request")

			r = run("push")
			require.Equal(t, 0, r.code, r.stdout+r.stderr)
			assert.Contains(t, r.stdout, "+ api - created")
			assert.Contains(t, r.stdout, "All keys are published")
			written := tg.writes()
			assert.Greater(t, written, before)

			r = run("push", "-o", "json")
			require.Equal(t, 0, r.code, r.stdout+r.stderr)
			assert.Contains(t, r.stdout, `"action": "skipped"`)
			assert.Equal(t, written, tg.writes(), "a second push writes nothing")

			for svc := range keys {
				require.NoError(t, os.Remove(filepath.Join(p.dir, svc, ".env.keys")))
			}
			r = run("sync", "--ci", "--check-decryption")
			require.Equal(t, 0, r.code, r.stdout+r.stderr)
			assert.Contains(t, r.stdout, "Passed: 2")
			for svc, want := range keys {
				assert.Equal(t, want, read(t, filepath.Join(p.dir, svc, ".env.keys")), "%s: the keys file dotenvx wrote, byte for byte", svc)
			}

			// dotenvx rotate: api's env file is re-encrypted for a new key,
			// which replaces the old one in the keys file.
			k, err := dotenvx.GeneratePrivateKey(rand.Reader)
			require.NoError(t, err)
			secrets = append(secrets, k.Hex())
			enc, err := dotenvx.Encrypt(k.PublicKey(), "postgres://api-rotated")
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(p.dir, "api", ".env.production"),
				[]byte(fmt.Sprintf("DOTENV_PUBLIC_KEY_PRODUCTION=%q\nDATABASE_URL=%q\n", k.PublicKey().Hex(), enc)), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(p.dir, "api", ".env.keys"), []byte("DOTENV_PRIVATE_KEY_PRODUCTION="+k.Hex()+"\n"), 0o600))

			r = run("push", "api")
			assert.Equal(t, 1, r.code, r.stdout+r.stderr)
			assert.Contains(t, r.stdout, "x api - error")
			assert.Contains(t, r.stdout, "the vault holds another key (public "+dotenvx.ShortPublicKey(p.api.PublicKey().Hex())+"); use --update to replace it")
			r = run("push", "--update", "--dry-run", "api")
			require.Equal(t, 0, r.code, r.stdout+r.stderr)
			assert.Contains(t, r.stdout, "~ api - would update")
			r = run("push", "--update", "api")
			require.Equal(t, 0, r.code, r.stdout+r.stderr)
			assert.Contains(t, r.stdout, "~ api - updated\n    Note: replaced another key (public "+dotenvx.ShortPublicKey(p.api.PublicKey().Hex())+
				"): the vault's key no longer pairs with .env.production (a rotation)\n")

			// A teammate's old checkout syncs the rotated key.
			r = run("sync", "--ci", "--force", "--check-decryption")
			require.Equal(t, 0, r.code, r.stdout+r.stderr)
			assert.Contains(t, r.stdout, "= api - skipped")

			assertNoKeyMaterial(t, secrets, outputs...)
		})
	}
}
