package envdrift_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/envdrift/envdrift"
	"github.com/envdrift/envdrift/dotenvx"
	_ "github.com/envdrift/envdrift/provider/file"
)

// demoKey is a throwaway dotenvx private key used by the examples.
const demoKey = "9f2c1d8e7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa00112233"

// exampleProject lays out a project whose vault is a directory of files.
func exampleProject() (dir string, cleanup func()) {
	dir, _ = os.MkdirTemp("", "envdrift-example-")
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "secrets"), 0o700))
	must(os.MkdirAll(filepath.Join(dir, "services", "api"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "secrets", "api-key"), []byte(demoKey+"\n"), 0o600))
	must(os.WriteFile(filepath.Join(dir, "services", "api", ".env.production"), []byte("PORT=8080\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "envdrift.toml"), []byte(`
[vault]
provider = "file"

[vault.file]
path = "secrets"

[[vault.sync.mappings]]
secret_name = "api-key"
folder_path = "services/api"
`), 0o644))
	return dir, func() { os.RemoveAll(dir) }
}

// Sync a project's keys: the first run creates the keys file, the second
// finds it in step with the vault.
func ExampleSyncer_Sync() {
	dir, cleanup := exampleProject()
	defer cleanup()

	cfg, err := envdrift.Load(filepath.Join(dir, "envdrift.toml"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for run := 1; run <= 2; run++ {
		s, err := envdrift.New(cfg, envdrift.Options{})
		if err != nil {
			fmt.Println(err)
			return
		}
		res, err := s.Sync(context.Background())
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, row := range res.Rows {
			fmt.Printf("run %d: %s %s %s\n", run, row.Folder, row.KeyName, row.Action)
		}
	}
	st, _ := os.Stat(filepath.Join(dir, "services", "api", ".env.keys"))
	fmt.Println("mode:", st.Mode().Perm())
	// Output:
	// run 1: services/api DOTENV_PRIVATE_KEY_PRODUCTION created
	// run 2: services/api DOTENV_PRIVATE_KEY_PRODUCTION skipped
	// mode: -rw-------
}

// Verify without writing: Result.Err joins the failed rows, so a caller
// branches on the cause with errors.Is and finds the row with errors.As.
func ExampleOptions_verify() {
	dir, cleanup := exampleProject()
	defer cleanup()
	cfg, _ := envdrift.Load(filepath.Join(dir, "envdrift.toml"))
	s, _ := envdrift.New(cfg, envdrift.Options{Verify: true})
	res, _ := s.Sync(context.Background())
	err := res.Err()
	fmt.Println(errors.Is(err, envdrift.ErrMismatch))
	var row *envdrift.RowError
	if errors.As(err, &row) {
		fmt.Println(row.Folder, row.Secret)
	}
	// Output:
	// true
	// services/api api-key
}

// Keep keys in memory only: ephemeral mappings return the key in the result
// and write nothing.
func ExampleMapping_ephemeralKeys() {
	dir, cleanup := exampleProject()
	defer cleanup()
	cfg, _ := envdrift.Load(filepath.Join(dir, "envdrift.toml"))
	cfg.Mappings[0].EphemeralKeys = true
	s, _ := envdrift.New(cfg, envdrift.Options{})
	res, _ := s.Sync(context.Background())
	row := res.Rows[0]
	fmt.Println(row.Action, row.Key) // a Key prints its public key, never itself
	_, err := os.Stat(filepath.Join(dir, "services", "api", ".env.keys"))
	fmt.Println(errors.Is(err, os.ErrNotExist))
	// Output:
	// ephemeral Key(public 03f76b51…f107)
	// true
}

// Check that a key decrypts an env file, natively in Go.
func ExampleNativeDecrypter() {
	dir, _ := os.MkdirTemp("", "envdrift-example-")
	defer os.RemoveAll(dir)
	key, _ := envdrift.ParseKey(demoKey)
	pub := key.PrivateKeys()[0].PublicKey()
	secret, _ := dotenvx.Encrypt(pub, "postgres://db")
	env := filepath.Join(dir, ".env.production")
	_ = os.WriteFile(env, []byte(fmt.Sprintf("DOTENV_PUBLIC_KEY_PRODUCTION=%q\nDATABASE_URL=%q\n", pub.Hex(), secret)), 0o644)

	c := envdrift.NativeDecrypter{}.CheckDecryption(context.Background(), env, key)
	fmt.Println(c.Status, c.Detail)
	// Output:
	// passed 1 encrypted values decrypted
}

// Start a service with its decrypted environment: the key is fetched from
// the vault into memory and never written.
func ExampleLoadEnv() {
	dir, cleanup := exampleProject()
	defer cleanup()
	// The env file, as dotenvx encrypt leaves it: the key's public key and
	// an encrypted value.
	key, _ := envdrift.ParseKey(demoKey)
	pub := key.PrivateKeys()[0].PublicKey()
	secret, _ := dotenvx.Encrypt(pub, "postgres://db.internal/api")
	_ = os.WriteFile(filepath.Join(dir, "services", "api", ".env.production"),
		[]byte(fmt.Sprintf("DOTENV_PUBLIC_KEY_PRODUCTION=%q\nPORT=8080\nDATABASE_URL=%q\n", pub.Hex(), secret)), 0o644)

	env, err := envdrift.LoadEnv(context.Background(), filepath.Join(dir, "envdrift.toml"), "services/api",
		envdrift.LoadOption{LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(env["PORT"], env["DATABASE_URL"])
	_, err = os.Stat(filepath.Join(dir, "services", "api", ".env.keys"))
	fmt.Println("keys file written:", !errors.Is(err, os.ErrNotExist))
	// Output:
	// 8080 postgres://db.internal/api
	// keys file written: false
}
