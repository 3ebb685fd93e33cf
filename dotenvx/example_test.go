package dotenvx_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/envdrift/envdrift/dotenvx"
)

func ExampleParse() {
	src := `# database
export DB_HOST=localhost
DB_PASS="p@ss # not a comment" # a comment
GREETING='it\'s
two lines'
ESCAPES="tab\there"
`
	entries, err := dotenvx.Parse([]byte(src))
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		fmt.Printf("line %d: %s=%q\n", e.Line, e.Key, e.Value)
	}
	// Output:
	// line 2: DB_HOST="localhost"
	// line 3: DB_PASS="p@ss # not a comment"
	// line 4: GREETING="it's\ntwo lines"
	// line 6: ESCAPES="tab\there"
}

func ExampleKeyNames() {
	for _, f := range []string{".env", "services/api/.env.production", ".env.production.local", ".env.my-app"} {
		priv, pub := dotenvx.KeyNames(f)
		fmt.Println(priv, pub)
	}
	// Output:
	// DOTENV_PRIVATE_KEY DOTENV_PUBLIC_KEY
	// DOTENV_PRIVATE_KEY_PRODUCTION DOTENV_PUBLIC_KEY_PRODUCTION
	// DOTENV_PRIVATE_KEY_PRODUCTION_LOCAL DOTENV_PUBLIC_KEY_PRODUCTION_LOCAL
	// DOTENV_PRIVATE_KEY_MY-APP DOTENV_PUBLIC_KEY_MY-APP
}

func ExampleParsePrivateKey() {
	// A throwaway key; real keys come from .env.keys or a vault.
	key, err := dotenvx.ParsePrivateKey("3a0923beb4dd50a8705cb28a585c699a93f7e2c3a46004d970887b1555ed5167")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(key.PublicKey().Hex())
	fmt.Println(key) // printing a key never shows it

	_, err = dotenvx.ParsePrivateKey("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
	fmt.Println(err)
	// Output:
	// 024aa602305e925ca2baadd778b7d318205fb1b6ef8069bacb6b720e096200af90
	// PrivateKey(REDACTED, public 024aa602…af90)
	// dotenvx: invalid private key: not below the curve order
}

func ExampleEncrypt() {
	key, err := dotenvx.GeneratePrivateKey(nil)
	if err != nil {
		log.Fatal(err)
	}
	value, err := dotenvx.Encrypt(key.PublicKey(), "s3cr3t")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(value, "encrypted:"))
	plain, err := dotenvx.Decrypt(key, value)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(plain)
	// Output:
	// true
	// s3cr3t
}

func ExampleFile_Decrypt() {
	dir := filepath.Join("testdata", "fixtures", "production")
	// The key would normally come from the environment or a vault.
	keysFile, err := dotenvx.ReadFile(filepath.Join(dir, ".env.keys"))
	if err != nil {
		log.Fatal(err)
	}
	key, _ := keysFile.Get("DOTENV_PRIVATE_KEY_PRODUCTION")
	keys, err := dotenvx.ParsePrivateKeys(key)
	if err != nil {
		log.Fatal(err)
	}
	f, err := dotenvx.ReadFile(filepath.Join(dir, ".env.production"))
	if err != nil {
		log.Fatal(err)
	}
	vars, err := f.Decrypt(keys)
	if err != nil {
		log.Fatal(err)
	}
	names := make([]string, 0, len(vars))
	for name := range vars {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Println(names)
	fmt.Println(vars["PORT"])
	// Output:
	// [API_TOKEN DATABASE_URL MULTI_LINE PORT TRAILING_SPACES]
	// 8080
}

func ExampleCheck() {
	f, err := dotenvx.ReadFile(filepath.Join("testdata", "fixtures", "ci", ".env.ci"))
	if err != nil {
		log.Fatal(err)
	}
	wrong, err := dotenvx.GeneratePrivateKey(nil)
	if err != nil {
		log.Fatal(err)
	}
	r := dotenvx.Check(f, []*dotenvx.PrivateKey{wrong})
	fmt.Println(r.Matched, r.Encrypted, r.Failed)
	// Output:
	// false 3 [CI_TOKEN CI_MESSAGE CI_UNICODE]
}

func ExampleShortPublicKey() {
	fmt.Println(dotenvx.ShortPublicKey("024aa602305e925ca2baadd778b7d318205fb1b6ef8069bacb6b720e096200af90"))
	// Output: 024aa602…af90
}

func ExampleFile_Resolve() {
	key, err := dotenvx.ParsePrivateKey("3a0923beb4dd50a8705cb28a585c699a93f7e2c3a46004d970887b1555ed5167")
	if err != nil {
		log.Fatal(err)
	}
	password, err := dotenvx.Encrypt(key.PublicKey(), "s3cr3t")
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, ".env.production")
	src := `DOTENV_PUBLIC_KEY_PRODUCTION="` + key.PublicKey().Hex() + `"
DB_HOST=db.internal
DB_PASSWORD="` + password + `"
DATABASE_URL="postgres://app:${DB_PASSWORD}@${DB_HOST}:${DB_PORT:-5432}/app"
LOG_LEVEL=info
PRICE='$5, not a reference'
GIT_SHA="$(git rev-parse HEAD)"
`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		log.Fatal(err)
	}

	f, err := dotenvx.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	// The environment the command would start in: LOG_LEVEL is set there.
	env := map[string]string{"LOG_LEVEL": "debug"}
	res, err := f.Resolve([]*dotenvx.PrivateKey{key}, dotenvx.ResolveOptions{
		Expand:    true,
		LookupEnv: func(name string) (string, bool) { v, ok := env[name]; return v, ok },
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"DATABASE_URL", "LOG_LEVEL", "PRICE", "GIT_SHA"} {
		fmt.Printf("%s=%s\n", name, res.Values[name])
	}
	for _, w := range res.Warnings {
		fmt.Println(w.Key, w.Line) // w.String() says why, naming the file and line

	}
	// Output:
	// DATABASE_URL=postgres://app:s3cr3t@db.internal:5432/app
	// LOG_LEVEL=debug
	// PRICE=$5, not a reference
	// GIT_SHA=$(git rev-parse HEAD)
	// GIT_SHA 7
}
