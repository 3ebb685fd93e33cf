package dotenvx

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// genFile builds an env file like dotenvx writes: a declared public key and n
// encrypted values.
func genFile(t testing.TB, n int) (*File, *PrivateKey, []byte) {
	t.Helper()
	key, err := GeneratePrivateKey(nil)
	require.NoError(t, err)
	var sb strings.Builder
	fmt.Fprintf(&sb, "DOTENV_PUBLIC_KEY_PRODUCTION=\"%s\"\n\n# .env.production\n", key.PublicKey().Hex())
	for i := range n {
		ct, err := Encrypt(key.PublicKey(), fmt.Sprintf("value number %d with some length to it", i))
		require.NoError(t, err)
		fmt.Fprintf(&sb, "VARIABLE_%04d=\"%s\"\n", i, ct)
	}
	data := []byte(sb.String())
	entries, err := Parse(data)
	require.NoError(t, err)
	return &File{Path: ".env.production", Entries: entries}, key, data
}

// TestCheck1000IsFast guards the performance contract: checking 1,000
// encrypted values natively takes well under a second (dotenvx's CLI needs
// about 20 s).
func TestCheck1000IsFast(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("timing is meaningless under -race / -short")
	}
	f, key, _ := genFile(t, 1000)
	start := time.Now()
	r := Check(f, []*PrivateKey{key})
	elapsed := time.Since(start)
	require.True(t, r.ok())
	require.Equal(t, 1000, r.Encrypted)
	require.Less(t, elapsed, time.Second)
	t.Logf("Check of 1,000 values: %v", elapsed)
}

func BenchmarkCheck1000(b *testing.B) {
	f, key, _ := genFile(b, 1000)
	keys := []*PrivateKey{key}
	for b.Loop() {
		if r := Check(f, keys); !r.ok() {
			b.Fatal("check failed")
		}
	}
}

// BenchmarkCheckFile1000 includes reading and parsing the file; set
// DOTENVX_BENCH_FILE and DOTENVX_BENCH_KEY to measure a file made by dotenvx.
func BenchmarkCheckFile1000(b *testing.B) {
	path, keyHex := os.Getenv("DOTENVX_BENCH_FILE"), os.Getenv("DOTENVX_BENCH_KEY")
	if path == "" {
		_, key, data := genFile(b, 1000)
		path = filepath.Join(b.TempDir(), ".env.production")
		require.NoError(b, os.WriteFile(path, data, 0o600))
		keyHex = key.Hex()
	}
	keys, err := ParsePrivateKeys(keyHex)
	require.NoError(b, err)
	for b.Loop() {
		f, err := ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		if r := Check(f, keys); !r.ok() {
			b.Fatal("check failed")
		}
	}
}

func BenchmarkDecrypt(b *testing.B) {
	key := mustKey(b, testKeyHex)
	for b.Loop() {
		if _, err := Decrypt(key, dotenvxValue); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncrypt(b *testing.B) {
	pub := mustKey(b, testKeyHex).PublicKey()
	for b.Loop() {
		if _, err := Encrypt(pub, "world"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	_, _, data := genFile(b, 1000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseFixture(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "fixtures", "env", ".env"))
	require.NoError(b, err)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveExpand100 resolves a file of 100 values, a third of them
// encrypted and a third with references, against the process environment:
// the library's share of `envdrift run`'s start-up.
func BenchmarkResolveExpand100(b *testing.B) {
	key, err := GeneratePrivateKey(nil)
	require.NoError(b, err)
	var sb strings.Builder
	fmt.Fprintf(&sb, "DOTENV_PUBLIC_KEY_PRODUCTION=\"%s\"\n", key.PublicKey().Hex())
	for i := range 100 {
		switch i % 3 {
		case 0:
			ct, err := Encrypt(key.PublicKey(), fmt.Sprintf("secret value %d", i))
			require.NoError(b, err)
			fmt.Fprintf(&sb, "V%03d=\"%s\"\n", i, ct)
		case 1:
			fmt.Fprintf(&sb, "V%03d=\"https://${V%03d}:${PORT:-8080}/$HOME\"\n", i, i-1)
		default:
			fmt.Fprintf(&sb, "V%03d=plain value %d\n", i, i)
		}
	}
	entries, quotes := parse([]byte(sb.String()))
	f := &File{Path: ".env.production", Entries: entries, quotes: quotes}
	keys := []*PrivateKey{key}
	opts := ResolveOptions{Expand: true, LookupEnv: os.LookupEnv}
	for b.Loop() {
		res, err := f.Resolve(keys, opts)
		if err != nil || len(res.Values) != 100 {
			b.Fatal(err, len(res.Values))
		}
	}
}
