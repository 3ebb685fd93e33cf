package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/envdrift/envdrift"
	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/internal/schemagen"
)

// schemaCmd is `envdrift schema`: helpers for --validate-schema.
type schemaCmd struct {
	Init schemaInitCmd `cmd:"" help:"Print a starting JSON Schema (draft 2020-12) for an env file."`
}

// schemaInitCmd is `envdrift schema init [ENV_FILE]`. It prints the schema
// schema.Generate makes: every variable required, typed from its
// value, encrypted variables writeOnly, additionalProperties open. It never
// prints a value.
type schemaInitCmd struct {
	EnvFile  string `arg:"" optional:"" placeholder:"ENV_FILE" help:"Env file to describe (default: .env.production, else .env, in the current directory)."`
	KeysFile string `name:"keys-file" placeholder:"PATH" help:"Keys file holding the private key, used to type encrypted values (default: .env.keys next to the env file). DOTENV_PRIVATE_KEY* variables in the environment are used too."`
}

// defaultEnvFiles are tried, in order, when no ENV_FILE is given.
var defaultEnvFiles = []string{".env.production", ".env"}

// Run prints the schema on stdout and notes on stderr.
func (c *schemaInitCmd) Run(std stdio) error {
	envFile := c.EnvFile
	if envFile == "" {
		for _, name := range defaultEnvFiles {
			if st, err := os.Stat(name); err == nil && !st.IsDir() {
				envFile = name
				break
			}
		}
		if envFile == "" {
			return usageErr("no ENV_FILE given and no %s here", strings.Join(defaultEnvFiles, " or "))
		}
	}
	f, err := dotenvx.ReadFile(envFile)
	if err != nil {
		return &exitError{code: exitFail, err: err}
	}
	key, notes, err := c.key(f, std)
	if err != nil {
		return &exitError{code: exitFail, err: err}
	}
	doc, warnings, err := schemagen.Generate(envFile, key)
	if err != nil {
		return &exitError{code: exitFail, err: err}
	}
	for _, n := range append(notes, warnings...) {
		fmt.Fprintf(std.err, "warning: %s\n", n)
	}
	if len(warnings) > 0 {
		priv, _ := dotenvx.KeyNames(envFile)
		if name, _, ok := f.PublicKey(); ok {
			priv = strings.Replace(name, "DOTENV_PUBLIC_KEY", "DOTENV_PRIVATE_KEY", 1)
		}
		fmt.Fprintf(std.err, "hint: run `envdrift sync` first, pass --keys-file, or set %s to type encrypted values\n", priv)
	}
	_, err = std.out.Write(doc)
	return err
}

// keyCollector gathers private keys, noting (never showing) the ones that
// are not valid.
type keyCollector struct{ hexes, notes []string }

func (kc *keyCollector) add(name, value, where string) {
	keys, err := dotenvx.ParsePrivateKeys(value)
	if err != nil {
		kc.notes = append(kc.notes, fmt.Sprintf("ignored %s in %s: not a valid private key", name, where))
		return
	}
	for _, k := range keys {
		kc.hexes = append(kc.hexes, k.Hex())
	}
}

// envKeyNames are the variables that may hold f's private key: the name
// dotenvx derives from the file name, and the one its public key declares.
func envKeyNames(f *dotenvx.File) []string {
	priv, _ := dotenvx.KeyNames(f.Path)
	names := []string{priv}
	if name, _, ok := f.PublicKey(); ok {
		if p := strings.Replace(name, "DOTENV_PUBLIC_KEY", "DOTENV_PRIVATE_KEY", 1); p != priv {
			names = append(names, p)
		}
	}
	return names
}

// key gathers the private keys at hand for f: every DOTENV_PRIVATE_KEY* in
// the keys file, and the env file's key names in the environment. Decryption
// uses those whose public key the env file declares. notes name keys that
// were ignored, never their values.
func (c *schemaInitCmd) key(f *dotenvx.File, std stdio) (envdrift.Key, []string, error) {
	keysFile := c.KeysFile
	if keysFile == "" {
		keysFile = filepath.Join(filepath.Dir(f.Path), ".env.keys")
	}
	var kc keyCollector
	kf, err := dotenvx.ReadFile(keysFile)
	switch {
	case errors.Is(err, fs.ErrNotExist) && c.KeysFile == "":
	case err != nil:
		return envdrift.Key{}, nil, fmt.Errorf("--keys-file: %w", err)
	default:
		for _, e := range kf.Entries {
			if strings.HasPrefix(e.Key, "DOTENV_PRIVATE_KEY") && e.Value != "" {
				kc.add(e.Key, e.Value, keysFile)
			}
		}
	}
	if std.getenv != nil {
		for _, name := range envKeyNames(f) {
			if v := strings.TrimSpace(std.getenv(name)); v != "" {
				kc.add(name, v, "the environment")
			}
		}
	}
	hexes, notes := kc.hexes, kc.notes
	if len(hexes) == 0 {
		return envdrift.Key{}, notes, nil
	}
	key, err := envdrift.ParseKey(strings.Join(hexes, ","))
	if err != nil { // cannot happen: every part parsed above
		return envdrift.Key{}, notes, errors.New("invalid private keys")
	}
	return key, notes, nil
}
