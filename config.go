package envdrift

import (
	"bufio"
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/BurntSushi/toml"

	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/internal/lazyre"
	"github.com/envdrift/envdrift/internal/suggest"
	"github.com/envdrift/envdrift/provider"
)

// Defaults applied when the configuration leaves a setting out.
const (
	defaultEnvironment     = "production"
	defaultEnvKeysFilename = ".env.keys"
	defaultKeepBackups     = 10
	// maxConfigSize bounds the configuration files envdrift reads (1 MiB).
	maxConfigSize = 1 << 20
	// maxConcurrency is the largest accepted concurrency (max_workers,
	// Options.Concurrency).
	maxConcurrency = 256
)

// Payload shapes Push writes for new secrets (Config.PushFormat).
const (
	pushFormatBare = "bare" // the key alone (the default)
	pushFormatEnv  = "env"  // one NAME=key line
	pushFormatJSON = "json" // a JSON object {"NAME": "key"}
)

// Config is a sync configuration: which provider to ask for which secret,
// and which folder's .env.keys file receives it. Load builds one from a
// file; a Config built in code is checked by New (see Validate) exactly
// as a loaded one is.
type Config struct {
	// Path is the file the configuration was read from; "" when built in code.
	Path string
	// Dir is the directory relative paths resolve against: the directory of
	// Path, so that `envdrift sync -c ../envdrift.toml` behaves the same from
	// anywhere. "" means the working directory.
	Dir string
	// Provider is the default provider ([vault] provider).
	Provider string
	// DefaultVaultName is [vault.sync] default_vault_name.
	DefaultVaultName string
	// EnvKeysFilename is the keys file name in each folder; "" means ".env.keys".
	EnvKeysFilename string
	// MaxWorkers is [vault.sync] max_workers, 0 when unset.
	MaxWorkers int
	// AllowExternalPaths is [vault.sync] allow_external_paths: it lets folders
	// and env files lie outside Dir.
	AllowExternalPaths bool
	// Schema is [vault.sync] schema, the default schema for schema checks.
	Schema string
	// KeepBackups is how many backups of each keys file to keep, the newest
	// ([vault.sync] keep_backups): 0 means 10, a negative number keeps every
	// backup (keep_backups = 0 in TOML).
	KeepBackups int
	// PushFormat is the payload shape Push writes for a new secret:
	// "bare" (the key alone; the default when ""), "env" (one NAME=key line)
	// or "json" (a JSON object {"NAME": "key"}).
	PushFormat string
	// Settings holds each provider's settings, keyed by provider name: the
	// pointer the provider's Driver.NewSettings makes (such as
	// *file.Settings), decoded from its [vault.<name>] table.
	Settings map[string]any
	// Mappings lists what to sync, in file order.
	Mappings []Mapping
	// Warnings are problems that do not stop a sync, such as unknown keys.
	Warnings []Warning

	// lines finds the line of a mapping's key in the file (0 if unknown).
	lines func(mapping int, key string) int
	// decoders decode a provider table read from the file into a settings
	// value, for registries other than the one Load used.
	decoders map[string]func(settings any) error
}

// Mapping ties one vault secret to one folder.
type Mapping struct {
	// SecretName is the secret to fetch.
	SecretName string
	// FolderPath is the folder as written in the configuration.
	FolderPath string
	// VaultName overrides Config.DefaultVaultName for this mapping.
	VaultName string
	// Environment names the env file .env.<environment>. When neither it nor
	// EnvFile is set, the folder's .env.production is used, or, if the folder
	// has none, its plain .env (dotenvx's default file).
	Environment string
	// EnvFile names the env file explicitly, relative to the folder.
	EnvFile string
	// Provider overrides Config.Provider for this mapping.
	Provider string
	// Profile limits the mapping to runs with Options.Profile set to it.
	Profile string
	// EphemeralKeys fetches and validates the key but never writes it; the key
	// is returned in memory through the result. In TOML, [vault.sync]
	// ephemeral_keys sets it for every mapping that does not say otherwise.
	EphemeralKeys bool
	// Schema is the schema to validate this folder's env file against.
	Schema string
	// Line is where the mapping starts in the configuration file (0 if unknown).
	Line int
}

// Warning is a problem that does not stop a run: a configuration warning
// (Path and Key say where) or a provider's notice (Provider says whose).
type Warning struct {
	Path     string `json:"path,omitempty"`
	Line     int    `json:"line,omitempty"`
	Key      string `json:"key,omitempty"`
	Provider string `json:"provider,omitempty"`
	Message  string `json:"message"`
}

// String formats the warning as "file:line: key: message", or
// "provider: message" for a provider's notice.
func (w Warning) String() string {
	if w.Provider != "" && w.Path == "" {
		return w.Provider + ": " + w.Message
	}
	return location(w.Path, w.Line, w.Key) + w.Message
}

// ConfigError reports every problem found in a configuration. Nothing is
// fetched or written when a configuration is invalid.
type ConfigError struct {
	Path     string
	Problems []Problem
	// Warnings are the configuration's warnings: an unknown key is often
	// the cause of a problem ("did you mean …").
	Warnings []Warning
}

// Problem is one reason a configuration is invalid.
type Problem struct {
	Line    int    // 1-based, 0 when unknown
	Key     string // dotted key path such as "vault.sync.mappings[2].folder_path"
	Message string
}

// Error lists every problem, one per line, each as "file:line: key: message".
func (e *ConfigError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(location(e.Path, p.Line, p.Key))
		b.WriteString(p.Message)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidConfig) true for every *ConfigError.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

func (e *ConfigError) add(line int, key, format string, args ...any) {
	e.Problems = append(e.Problems, Problem{Line: line, Key: key, Message: fmt.Sprintf(format, args...)})
}

// covers reports whether a problem was already reported for key, for a
// key inside it, or for a key holding it.
func (e *ConfigError) covers(key string) bool {
	for _, p := range e.Problems {
		if p.Key == key || strings.HasPrefix(p.Key, key+".") || strings.HasPrefix(key, p.Key+".") {
			return true
		}
	}
	return false
}

func (e *ConfigError) orNil() error {
	if len(e.Problems) == 0 {
		return nil
	}
	return e
}

func location(path string, line int, key string) string {
	var b strings.Builder
	if path != "" {
		b.WriteString(path)
		if line > 0 {
			b.WriteString(":" + strconv.Itoa(line))
		}
		b.WriteString(": ")
	}
	if key != "" {
		b.WriteString(key + ": ")
	}
	return b.String()
}

// Mapping field names, in the order they are documented.
var mappingKeys = []string{"secret_name", "folder_path", "vault_name", "environment", "env_file", "provider", "profile", "ephemeral_keys", "schema"}
var syncKeys = []string{"default_vault_name", "env_keys_filename", "max_workers", "mappings", "allow_external_paths", "schema", "ephemeral_keys", "keep_backups", "push_format"}

// Sections of the wider envdrift configuration file that sync does not read.
// They are accepted silently so one envdrift.toml can serve every command.
var otherSections = []string{"envdrift", "validation", "encryption", "precommit", "git_hook_check", "guard", "partial_encryption", "vault"}

// ErrNoConfig is returned by Load("") when no configuration file is found.
var ErrNoConfig = errors.New("no envdrift.toml, or pyproject.toml with [tool.envdrift], found")

// discover walks up from dir and returns the nearest envdrift.toml, or
// pyproject.toml holding a [tool.envdrift] table. In one directory
// envdrift.toml wins over pyproject.toml.
func discover(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("discover config: %w", err)
	}
	start := dir
	for {
		p := filepath.Join(dir, "envdrift.toml")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
		p = filepath.Join(dir, "pyproject.toml")
		if data, err := readLimited(p); err == nil && hasToolEnvdrift(data) {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w in %s or any parent directory", ErrNoConfig, start)
		}
		dir = parent
	}
}

var toolEnvdriftHeader = lazyre.New(`(?m)^\s*\[{1,2}\s*tool\s*\.\s*envdrift\s*[\].]`)

func hasToolEnvdrift(data []byte) bool {
	if !toolEnvdriftHeader().Match(data) {
		return false
	}
	var doc struct {
		Tool map[string]toml.Primitive `toml:"tool"`
	}
	if _, err := toml.Decode(string(data), &doc); err != nil {
		return true // it has the table; Load reports the syntax error
	}
	_, ok := doc.Tool["envdrift"]
	return ok
}

func readLimited(path string) ([]byte, error) {
	// O_NONBLOCK: opening a FIFO must not wait for a writer; it is then
	// refused as not a regular file.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if st.Size() > maxConfigSize {
		return nil, fmt.Errorf("%s: %d bytes is over the %d-byte limit for configuration files", path, st.Size(), maxConfigSize)
	}
	data := make([]byte, st.Size())
	n, err := f.ReadAt(data, 0)
	if err != nil && n != len(data) {
		return nil, err
	}
	return data[:n], nil
}

// Load reads a configuration file. A file whose name ends in .toml is TOML
// (envdrift.toml, or pyproject.toml with [tool.envdrift]); anything else is
// the legacy pair.txt format.
//
// An empty path finds the configuration as the CLI does without -c: the
// nearest envdrift.toml, or pyproject.toml holding a [tool.envdrift] table,
// walking up from the working directory (in one directory envdrift.toml
// wins); Config.Path then names it, relative to the working directory when
// it is below it. Finding none is an error wrapping ErrNoConfig that names
// the directory the search started from.
func Load(path string) (*Config, error) {
	if path == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("load config: %w", err)
		}
		if path, err = discover(wd); err != nil {
			return nil, err
		}
		if rel, err := filepath.Rel(wd, path); err == nil && filepath.IsLocal(rel) {
			path = rel
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	data, err := readLimited(abs)
	if err != nil {
		return nil, &ConfigError{Path: path, Problems: []Problem{{Message: "cannot read configuration: " + errMessage(err)}}}
	}
	if strings.EqualFold(filepath.Ext(abs), ".toml") {
		return parseTOML(path, filepath.Dir(abs), data)
	}
	return parsePairs(path, filepath.Dir(abs), data)
}

func errMessage(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// parseTOML parses TOML configuration data. path names the file in messages;
// dir is the directory relative paths resolve against. A pyproject.toml
// (recognised by its [tool.envdrift] table) is read from that table. Every
// problem is reported, syntax and types first, then Validate's.
func parseTOML(path, dir string, data []byte) (*Config, error) {
	cerr := &ConfigError{Path: path}
	if !validUTF8NoNUL(data) {
		cerr.add(0, "", "not a text file (invalid UTF-8 or NUL bytes)")
		return nil, cerr
	}
	var doc map[string]toml.Primitive
	md, err := toml.Decode(string(data), &doc)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			cerr.add(pe.Position.Line, "", "invalid TOML: %s", pe.Message)
		} else {
			cerr.add(0, "", "invalid TOML: %v", err)
		}
		return nil, cerr
	}
	p := &tomlParser{path: path, src: data, md: &md, cerr: cerr,
		cfg: &Config{Path: path, Dir: dir, Settings: map[string]any{}, decoders: map[string]func(any) error{}}}

	root, prefix := doc, ""
	if tool, ok := doc["tool"]; ok && isPyproject(path, doc) {
		var t map[string]toml.Primitive
		if err := md.PrimitiveDecode(tool, &t); err != nil {
			p.typeError(err, "tool")
			return nil, cerr
		}
		var env map[string]toml.Primitive
		if err := md.PrimitiveDecode(t["envdrift"], &env); err != nil {
			p.typeError(err, "tool.envdrift")
			return nil, cerr
		}
		root, prefix = env, "tool.envdrift."
	}
	p.prefix = prefix
	for k := range root {
		if !slices.Contains(otherSections, k) {
			p.warnUnknown(prefix, k, otherSections)
		}
	}
	cfg := p.cfg
	cfg.lines = func(i int, key string) int {
		if i < 0 {
			return p.line(prefix+"vault.sync", -1, key)
		}
		if n := p.line(prefix+"vault.sync.mappings", i, key); n > 0 {
			return n
		}
		if i >= 0 && i < len(cfg.Mappings) {
			return cfg.Mappings[i].Line
		}
		return 0
	}
	vault, ok := root["vault"]
	if !ok {
		cerr.add(0, prefix+"vault", "missing [%svault] table with the sync mappings%s", prefix, p.hintFor("", "vault"))
	} else {
		p.parseVault(vault)
	}
	// Validate even when parsing found problems, so that one run reports
	// every wrong-typed and every missing key; a key already reported (a
	// wrong type leaves the field empty) is not reported again as missing.
	if err := cfg.Validate(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			for _, v := range ce.Problems {
				if !cerr.covers(v.Key) {
					cerr.Problems = append(cerr.Problems, v)
				}
			}
		}
	}
	if len(cerr.Problems) > 0 {
		cerr.Warnings = cfg.Warnings
		return nil, cerr
	}
	return cfg, nil
}

func isPyproject(path string, doc map[string]toml.Primitive) bool {
	if strings.EqualFold(filepath.Base(path), "pyproject.toml") {
		return true
	}
	_, hasVault := doc["vault"]
	return !hasVault
}

func validUTF8NoNUL(data []byte) bool {
	return bytes.IndexByte(data, 0) < 0 && utf8Valid(data)
}

type tomlParser struct {
	path   string
	src    []byte
	md     *toml.MetaData
	cerr   *ConfigError
	cfg    *Config
	prefix string
	lines  map[lineKey]int // built by line on first use
}

// hintFor returns " (<warning>)" for an unknown key near want in the
// table named by prefix ("" for the top level, else "vault."): the
// misspelling that most likely caused want to be missing.
func (p *tomlParser) hintFor(prefix, want string) string {
	for _, w := range p.cfg.Warnings {
		k := strings.TrimPrefix(w.Key, p.prefix+prefix)
		if strings.Contains(k, ".") || suggest.Closest(k, []string{want}) == "" {
			continue
		}
		return fmt.Sprintf(" (line %d has %q: did you mean %q?)", w.Line, k, want)
	}
	return ""
}

func (p *tomlParser) parseVault(prim toml.Primitive) {
	var vault map[string]toml.Primitive
	if err := p.md.PrimitiveDecode(prim, &vault); err != nil {
		p.typeError(err, p.prefix+"vault")
		return
	}
	known := append([]string{"provider", "sync"}, provider.Default().Names()...)
	for k, v := range vault {
		key := p.prefix + "vault." + k
		switch k {
		case "provider":
			var raw any
			_ = p.md.PrimitiveDecode(v, &raw)
			p.str(raw, key, p.line(p.prefix+"vault", -1, "provider"), &p.cfg.Provider)
			if p.cfg.Provider != "" {
				p.checkProviderName(p.cfg.Provider, key, p.line(p.prefix+"vault", -1, "provider"))
			}
		case "sync":
		default:
			p.parseProviderTable(k, v, known)
		}
	}
	if s, ok := vault["sync"]; ok {
		p.parseSync(s)
	} else {
		p.cerr.add(0, p.prefix+"vault.sync", "missing [%svault.sync] table with [[%svault.sync.mappings]]%s", p.prefix, p.prefix, p.hintFor("vault.", "sync"))
	}
}

func (p *tomlParser) parseProviderTable(name string, v toml.Primitive, known []string) {
	key := p.prefix + "vault." + name
	d, err := provider.Default().Lookup(name)
	if err != nil && !errors.Is(err, provider.ErrNotLinked) {
		p.warnUnknown(p.prefix+"vault.", name, known)
		return
	}
	md := p.md
	p.cfg.decoders[name] = func(settings any) error { return md.PrimitiveDecode(v, settings) }
	if err != nil {
		// A provider envdrift ships that this program does not link: its
		// table is checked by programs that do.
		return
	}
	var raw map[string]any
	if err := p.md.PrimitiveDecode(v, &raw); err != nil {
		p.typeError(err, key)
		return
	}
	settings := d.NewSettings()
	fields := tomlFieldNames(settings)
	problems := len(p.cerr.Problems)
	for k, val := range raw {
		if !slices.Contains(fields, k) {
			if msg, ok := credentialKeys[name+"."+k]; name == "hashicorp" && ok {
				p.cfg.Warnings = append(p.cfg.Warnings, Warning{Path: p.path, Line: p.line(key, -1, k), Key: key + "." + k, Message: msg})
				continue
			}
			p.warnUnknown(key+".", k, fields)
			continue
		}
		p.checkFieldType(settings, k, val, key+"."+k, p.line(key, -1, k))
	}
	if len(p.cerr.Problems) > problems {
		return
	}
	if err := p.md.PrimitiveDecode(v, settings); err != nil {
		p.typeError(err, key)
		return
	}
	p.cfg.Settings[name] = settings
}

// credentialKeys are keys that would hold a credential in a provider's
// table: never read, and said so, with where the credential comes from.
var credentialKeys = map[string]string{
	"hashicorp.token":     "ignored: tokens are never read from configuration files; they come from VAULT_TOKEN, ~/.vault-token, the caller, or the login of auth_method",
	"hashicorp.secret_id": "ignored: secret IDs are never read from configuration files; name a file (secret_id_file) or an environment variable (secret_id_env) that holds it",
	"hashicorp.jwt":       "ignored: JWTs are never read from configuration files; name a file (jwt_file) or an environment variable (jwt_env) that holds it",
}

// checkFieldType reports a TOML value whose type does not fit the settings
// field tagged tag, so that every wrong type is reported in one run.
func (p *tomlParser) checkFieldType(settings any, tag string, val any, key string, line int) {
	t := reflect.TypeOf(settings).Elem()
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("toml"), ","); name != tag {
			continue
		}
		want := ""
		switch ft := f.Type; {
		case ft.Implements(textUnmarshaler) || reflect.PointerTo(ft).Implements(textUnmarshaler):
			want = "string"
		case ft.Kind() == reflect.String:
			want = "string"
		case ft.Kind() == reflect.Bool:
			want = "bool"
		case ft.Kind() >= reflect.Int && ft.Kind() <= reflect.Uint64:
			want = "int"
		case ft.Kind() == reflect.Struct, ft.Kind() == reflect.Map:
			want = "table"
		case ft.Kind() == reflect.Slice:
			want = "array"
		}
		if want != "" && tomlTypeOf(val) != want {
			p.cerr.add(line, key, "must be %s, got %s", describeKind(want), describeValue(val))
		}
		return
	}
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// tomlTypeOf names the type of a value BurntSushi/toml decoded into an any.
func tomlTypeOf(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case map[string]any:
		return "table"
	case []any, []map[string]any:
		return "array"
	}
	return "date/time"
}

func describeKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int":
		return "an integer"
	case "float":
		return "a float"
	case "table":
		return "a table"
	case "array":
		return "an array"
	}
	return "a " + k
}

func describeValue(v any) string {
	if k := tomlTypeOf(v); k != "bool" {
		return describeKind(k)
	}
	return "a boolean"
}

// str stores a string value in dst, or reports its wrong type.
func (p *tomlParser) str(v any, key string, line int, dst *string) {
	switch s := v.(type) {
	case nil:
	case string:
		*dst = s
	default:
		p.cerr.add(line, key, "must be a string, got %s", describeValue(v))
	}
}

// boolean stores a bool value in dst, or reports its wrong type.
func (p *tomlParser) boolean(v any, key string, line int, dst *bool) {
	switch b := v.(type) {
	case nil:
	case bool:
		*dst = b
	default:
		p.cerr.add(line, key, "must be true or false, got %s", describeValue(v))
	}
}

// integer stores an integer value in dst, or reports its wrong type.
func (p *tomlParser) integer(v any, key string, line int, dst *int) {
	switch n := v.(type) {
	case nil:
	case int64:
		if n > math.MaxInt32 || n < math.MinInt32 {
			p.cerr.add(line, key, "%d is out of range", n)
			return
		}
		*dst = int(n)
	default:
		p.cerr.add(line, key, "must be an integer, got %s", describeValue(v))
	}
}

func (p *tomlParser) parseSync(prim toml.Primitive) {
	key := p.prefix + "vault.sync"
	var raw map[string]any
	if err := p.md.PrimitiveDecode(prim, &raw); err != nil {
		p.typeError(err, key)
		return
	}
	for k := range raw {
		if !slices.Contains(syncKeys, k) {
			p.warnUnknown(key+".", k, syncKeys)
		}
	}
	line := func(k string) int { return p.line(key, -1, k) }
	cfg := p.cfg
	p.str(raw["default_vault_name"], key+".default_vault_name", line("default_vault_name"), &cfg.DefaultVaultName)
	cfg.DefaultVaultName = strings.TrimSpace(cfg.DefaultVaultName)
	p.str(raw["env_keys_filename"], key+".env_keys_filename", line("env_keys_filename"), &cfg.EnvKeysFilename)
	if _, set := raw["env_keys_filename"]; !set {
		cfg.EnvKeysFilename = defaultEnvKeysFilename
	}
	p.integer(raw["max_workers"], key+".max_workers", line("max_workers"), &cfg.MaxWorkers)
	p.boolean(raw["allow_external_paths"], key+".allow_external_paths", line("allow_external_paths"), &cfg.AllowExternalPaths)
	p.str(raw["schema"], key+".schema", line("schema"), &cfg.Schema)
	p.str(raw["push_format"], key+".push_format", line("push_format"), &cfg.PushFormat)
	var ephemeral bool
	p.boolean(raw["ephemeral_keys"], key+".ephemeral_keys", line("ephemeral_keys"), &ephemeral)
	if v, ok := raw["keep_backups"]; ok {
		n := -2
		p.integer(v, key+".keep_backups", line("keep_backups"), &n)
		switch {
		case n == -2: // wrong type, reported
		case n < 0:
			p.cerr.add(line("keep_backups"), key+".keep_backups", "must be 0 (keep every backup) or more, got %d", n)
		case n == 0:
			cfg.KeepBackups = -1
		default:
			cfg.KeepBackups = n
		}
	}
	ms, ok := raw["mappings"]
	if !ok {
		p.cerr.add(line(""), key+".mappings", "no [[%s.mappings]] entries: nothing to sync%s", key, p.hintFor("vault.sync.", "mappings"))
		return
	}
	tables, ok := ms.([]map[string]any)
	if !ok {
		p.cerr.add(line("mappings"), key+".mappings", "must be an array of tables ([[%s.mappings]]), got %s", key, describeValue(ms))
		return
	}
	if len(tables) == 0 {
		p.cerr.add(line("mappings"), key+".mappings", "no [[%s.mappings]] entries: nothing to sync", key)
	}
	for i, m := range tables {
		p.parseMapping(i, m, ephemeral)
	}
}

func (p *tomlParser) parseMapping(i int, raw map[string]any, ephemeralDefault bool) {
	table := p.prefix + "vault.sync.mappings"
	key := fmt.Sprintf("%s[%d]", table, i)
	start := p.line(table, i, "")
	line := func(k string) int {
		if n := p.line(table, i, k); n > 0 {
			return n
		}
		return start
	}
	for k := range raw {
		if !slices.Contains(mappingKeys, k) {
			w := p.unknownWarning(key+".", k, mappingKeys)
			w.Line = p.line(table, i, k)
			p.cfg.Warnings = append(p.cfg.Warnings, w)
		}
	}
	m := Mapping{Line: start, EphemeralKeys: ephemeralDefault}
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"secret_name", &m.SecretName}, {"folder_path", &m.FolderPath}, {"vault_name", &m.VaultName},
		{"environment", &m.Environment}, {"env_file", &m.EnvFile}, {"provider", &m.Provider},
		{"profile", &m.Profile}, {"schema", &m.Schema},
	} {
		p.str(raw[f.name], key+"."+f.name, line(f.name), f.dst)
	}
	p.boolean(raw["ephemeral_keys"], key+".ephemeral_keys", line("ephemeral_keys"), &m.EphemeralKeys)
	m.SecretName, m.VaultName = strings.TrimSpace(m.SecretName), strings.TrimSpace(m.VaultName)
	m.Environment, m.Provider = strings.TrimSpace(m.Environment), strings.TrimSpace(m.Provider)
	if m.Provider != "" {
		p.checkProviderName(m.Provider, key+".provider", line("provider"))
	}
	p.cfg.Mappings = append(p.cfg.Mappings, m)
}

// Validate checks everything that keeps a run safe, for a configuration
// loaded from a file or built in code: path safety (folders, env files and
// the keys-file name stay inside Dir unless AllowExternalPaths), secret and
// environment names, settings ranges, and that no two mappings write the
// same key into the same keys file. It returns a *ConfigError listing every
// problem. New calls it; it does no I/O.
func (c *Config) Validate() error {
	cerr := &ConfigError{Path: c.Path}
	prefix := ""
	if c.Path != "" && strings.EqualFold(filepath.Base(c.Path), "pyproject.toml") {
		prefix = "tool.envdrift."
	}
	pairs := c.Path != "" && !strings.EqualFold(filepath.Ext(c.Path), ".toml")
	syncKey := func(k string) string {
		switch {
		case pairs:
			return ""
		case c.Path == "":
			// A Config built in code: name its field.
			return map[string]string{"env_keys_filename": "EnvKeysFilename", "max_workers": "MaxWorkers", "push_format": "PushFormat"}[k]
		}
		return prefix + "vault.sync." + k
	}
	if c.EnvKeysFilename != "" {
		if msg := checkPlainFileName(c.EnvKeysFilename); msg != "" {
			cerr.add(c.lineOf(-1, "env_keys_filename"), syncKey("env_keys_filename"), "%s", msg)
		}
	}
	if c.MaxWorkers < 0 || c.MaxWorkers > maxConcurrency {
		cerr.add(c.lineOf(-1, "max_workers"), syncKey("max_workers"), "must be between 1 and %d, got %d", maxConcurrency, c.MaxWorkers)
	}
	switch c.PushFormat {
	case "", pushFormatBare, pushFormatEnv, pushFormatJSON:
	default:
		cerr.add(c.lineOf(-1, "push_format"), syncKey("push_format"), "%q is not a payload shape (%s, %s or %s)",
			c.PushFormat, pushFormatBare, pushFormatEnv, pushFormatJSON)
	}
	if len(c.Mappings) == 0 && c.Path == "" {
		cerr.add(0, "", "no mappings: nothing to sync")
	}
	optIn := "set [vault.sync] allow_external_paths = true to allow it"
	if pairs {
		optIn = "pair.txt cannot allow it: use an envdrift.toml with [vault.sync] allow_external_paths = true"
	} else if c.Path == "" {
		optIn = "set Config.AllowExternalPaths to allow it"
	}
	for i := range c.Mappings {
		c.validateMapping(cerr, i, prefix, pairs, optIn)
	}
	c.checkDuplicateTargets(cerr, prefix, pairs)
	return cerr.orNil()
}

func (c *Config) lineOf(mapping int, key string) int {
	if c.lines != nil {
		if mapping < 0 {
			return c.lines(-1, key)
		}
		return c.lines(mapping, key)
	}
	if mapping >= 0 && mapping < len(c.Mappings) {
		return c.Mappings[mapping].Line
	}
	return 0
}

// validateMapping checks one mapping's fields, whatever format it came from.
func (c *Config) validateMapping(cerr *ConfigError, i int, prefix string, pairs bool, optIn string) {
	m := c.Mappings[i]
	field := func(name string) string {
		switch {
		case pairs:
			return "" // pair.txt lines have no keys
		case c.Path == "":
			return fmt.Sprintf("Mappings[%d].%s", i, name)
		}
		return fmt.Sprintf("%svault.sync.mappings[%d].%s", prefix, i, name)
	}
	line := func(name string) int { return c.lineOf(i, name) }
	keysFile := c.EnvKeysFilename
	if keysFile == "" {
		keysFile = defaultEnvKeysFilename
	}
	if strings.TrimSpace(m.SecretName) == "" {
		cerr.add(line("secret_name"), field("secret_name"), "required: the name of the secret in the vault")
	} else if strings.ContainsAny(m.SecretName, "\x00\n\r") {
		cerr.add(line("secret_name"), field("secret_name"), "contains a control character")
	}
	if strings.TrimSpace(m.FolderPath) == "" {
		cerr.add(line("folder_path"), field("folder_path"), "required: the folder whose %s receives the key", keysFile)
	} else if msg := checkRelPath(m.FolderPath, c.AllowExternalPaths, optIn); msg != "" {
		cerr.add(line("folder_path"), field("folder_path"), "%s", msg)
	}
	if m.Environment != "" && !envNamePattern().MatchString(m.Environment) {
		cerr.add(line("environment"), field("environment"), "%q is not an environment name (letters, digits, '.', '_' and '-')", m.Environment)
	}
	if m.EnvFile != "" {
		if msg := checkRelPath(m.EnvFile, c.AllowExternalPaths, optIn); msg != "" {
			cerr.add(line("env_file"), field("env_file"), "%s", msg)
		} else if name, _ := dotenvx.KeyNames(m.EnvFile); !privateKeyName().MatchString(name) {
			cerr.add(line("env_file"), field("env_file"), "%q does not name a dotenvx env file (its key would be %s)", m.EnvFile, name)
		}
	}
	if m.VaultName != "" && strings.ContainsAny(m.VaultName, "\x00\n\r") {
		cerr.add(line("vault_name"), field("vault_name"), "contains a control character")
	}
}

// target is what a mapping writes: one key name in one keys file.
type target struct{ folder, envFile string }

// checkDuplicateTargets reports two mappings that would write the same key
// into the same keys file from different secrets: the key would flip-flop
// between them, with a backup on every run. Mappings that never run
// together (different profiles) do not clash.
func (c *Config) checkDuplicateTargets(cerr *ConfigError, prefix string, pairs bool) {
	seen := map[target][]int{}
	for i, m := range c.Mappings {
		if strings.TrimSpace(m.FolderPath) == "" || m.SecretName == "" {
			continue
		}
		t := target{folder: filepath.Clean(m.FolderPath), envFile: m.envFileName()}
		for _, j := range seen[t] {
			o := c.Mappings[j]
			if o.Profile != "" && m.Profile != "" && o.Profile != m.Profile {
				continue
			}
			if o.SecretName == m.SecretName && o.VaultName == m.VaultName && o.Provider == m.Provider {
				continue // the same secret twice: harmless
			}
			name, _ := dotenvx.KeyNames(t.envFile)
			where := func(k int) string {
				if n := c.lineOf(k, ""); n > 0 {
					return fmt.Sprintf("mapping %d (line %d, secret %s)", k+1, n, c.Mappings[k].SecretName)
				}
				return fmt.Sprintf("mapping %d (secret %s)", k+1, c.Mappings[k].SecretName)
			}
			key := ""
			if !pairs {
				key = fmt.Sprintf("%svault.sync.mappings[%d]", prefix, i)
				if c.Path == "" {
					key = fmt.Sprintf("Mappings[%d]", i)
				}
			}
			cerr.add(c.lineOf(i, ""), key, "%s and %s both write %s into %s: give each folder and environment one secret",
				where(j), where(i), name, filepath.Join(m.FolderPath, c.keysFileName()))
			break
		}
		seen[t] = append(seen[t], i)
	}
}

// envFileName is the env file a mapping names before the folder is looked
// at: env_file, or .env.<environment>, or .env.production when neither is
// set (the folder may turn that into .env; see Syncer).
func (m Mapping) envFileName() string {
	switch {
	case m.EnvFile != "":
		return filepath.Clean(m.EnvFile)
	case m.Environment != "":
		return ".env." + m.Environment
	}
	return ".env." + defaultEnvironment
}

func (c *Config) keysFileName() string {
	if c.EnvKeysFilename == "" {
		return defaultEnvKeysFilename
	}
	return c.EnvKeysFilename
}

var envNamePattern = lazyre.New(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// checkRelPath refuses paths that leave the configuration's directory unless
// the configuration opts in with allow_external_paths.
func checkRelPath(p string, allowExternal bool, optIn string) string {
	if strings.ContainsRune(p, 0) {
		return "contains a NUL byte"
	}
	if allowExternal {
		return ""
	}
	if filepath.IsAbs(p) {
		return fmt.Sprintf("%q is absolute; paths must stay inside the configuration's directory (%s)", p, optIn)
	}
	if !filepath.IsLocal(filepath.Clean(p)) && filepath.Clean(p) != "." {
		return fmt.Sprintf("%q leaves the configuration's directory (%s)", p, optIn)
	}
	return ""
}

func checkPlainFileName(name string) string {
	if name == "." || name == ".." || strings.ContainsAny(name, `/\`+"\x00") || strings.TrimSpace(name) != name || name == "" {
		return fmt.Sprintf("%q must be a plain file name, without directories", name)
	}
	return ""
}

func (p *tomlParser) checkProviderName(name, key string, line int) {
	if _, err := provider.Default().Lookup(name); err != nil && !errors.Is(err, provider.ErrNotLinked) {
		p.cerr.add(line, key, "%s", strings.TrimPrefix(err.Error(), provider.ErrInvalid.Error()+": "))
	}
}

func (p *tomlParser) unknownWarning(prefix, k string, known []string) Warning {
	return Warning{Path: p.path, Key: prefix + k, Message: "unknown key, ignored" + suggest.DidYouMean(k, known)}
}

func (p *tomlParser) warnUnknown(prefix, k string, known []string) {
	w := p.unknownWarning(prefix, k, known)
	table := strings.TrimSuffix(prefix, ".")
	w.Line = p.line(table, -1, k)
	if w.Line == 0 {
		w.Line = p.line(strings.TrimPrefix(table+"."+k, "."), -1, "")
	}
	if w.Line == 0 {
		w.Line = p.line(strings.TrimPrefix(table+"."+k, "."), 0, "")
	}
	p.cfg.Warnings = append(p.cfg.Warnings, w)
}

var tomlTypeError = lazyre.New(`^toml: line (\d+) \(last key "([^"]*)"\): incompatible types: TOML value has type ([\w.\[\]]+); destination has type ([\w.\[\]*]+)`)

func (p *tomlParser) typeError(err error, key string) { p.typeErrorAt(err, key, 0) }

func (p *tomlParser) typeErrorAt(err error, key string, fallbackLine int) {
	if m := tomlTypeError().FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		k := m[2]
		if strings.Contains(key, "[") { // keep the mapping index the library does not know
			k = key + "." + k[strings.LastIndex(k, ".")+1:]
		}
		p.cerr.add(line, k, "must be %s, got %s", describeGoType(m[4]), describeTOMLType(m[3]))
		return
	}
	p.cerr.add(fallbackLine, key, "%s", strings.TrimPrefix(err.Error(), "toml: "))
}

func describeGoType(t string) string {
	switch {
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "an integer"
	case t == "bool", t == "boolean":
		return "true or false"
	case strings.HasPrefix(t, "[]"), t == "slice", t == "array":
		return "an array"
	case strings.HasPrefix(t, "map"), t == "struct", strings.Contains(t, "."):
		return "a table"
	}
	return "a " + t
}

func describeTOMLType(t string) string {
	switch {
	case strings.HasPrefix(t, "int"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a float"
	case t == "bool":
		return "a boolean"
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "[]"):
		return "an array"
	case strings.HasPrefix(t, "map"):
		return "a table"
	case strings.Contains(t, "Time"), strings.Contains(t, "Local"):
		return "a date/time"
	}
	return t
}

// line finds the 1-based line of key inside a table of the source. table is
// a dotted path ("vault.sync.mappings"); index selects the n-th [[table]]
// (-1 for a plain [table]); an empty key returns the header's own line.
// It returns 0 when the source does not spell it out plainly.
//
// The source is scanned once, on the first call: a configuration of
// thousands of mappings asks for a line per mapping.
func (p *tomlParser) line(table string, index int, key string) int {
	if p.lines == nil {
		p.lines = indexLines(p.src)
	}
	return p.lines[lineKey{table, index, key}]
}

// lineKey is what tomlParser.line looks up.
type lineKey struct {
	table string
	index int
	key   string
}

var headerRE = lazyre.New(`^\s*(\[\[?)\s*([^\]#]+?)\s*\]\]?\s*(#.*)?$`)
var keyRE = lazyre.New(`^\s*"?([A-Za-z0-9_.-]+)"?\s*=`)

// indexLines maps every table header and every key of src to the line
// where it first appears. A key before the first header is recorded at top
// level (table "") and under each dotted reading of it: vault.provider = "x"
// is also key provider of table vault.
func indexLines(src []byte) map[lineKey]int {
	lines := map[lineKey]int{}
	put := func(k lineKey, n int) {
		if _, seen := lines[k]; !seen {
			lines[k] = n
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 64*1024), maxConfigSize)
	counts := map[string]int{} // [[table]] headers seen so far
	current, index, top := "", -1, true
	for n := 1; sc.Scan(); n++ {
		text := sc.Text()
		if m := headerRE().FindStringSubmatch(text); m != nil {
			current, index, top = normalizeTableName(m[2]), -1, false
			if m[1] == "[[" {
				index = counts[current]
				counts[current]++
			}
			put(lineKey{current, index, ""}, n)
			continue
		}
		m := keyRE().FindStringSubmatch(text)
		switch {
		case m == nil:
		case !top:
			put(lineKey{current, index, m[1]}, n)
		default:
			put(lineKey{"", -1, m[1]}, n)
			for i := range len(m[1]) {
				if m[1][i] == '.' {
					put(lineKey{m[1][:i], -1, m[1][i+1:]}, n)
				}
			}
		}
	}
	return lines
}

func normalizeTableName(s string) string {
	parts := strings.Split(s, ".")
	for i, part := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(part), `"'`)
	}
	return strings.Join(parts, ".")
}

// tomlFieldNames lists the toml tag names of the struct v points to.
func tomlFieldNames(v any) []string { return structTags(v, "toml") }

// parsePairs parses the legacy pair.txt format: one `secret=folder` or
// `vault/secret=folder` per line; lines starting with # are comments; blank
// lines are ignored; whitespace is trimmed. pair.txt carries no provider:
// give one with Options.Provider.
func parsePairs(path, dir string, data []byte) (*Config, error) {
	cerr := &ConfigError{Path: path}
	cfg := &Config{Path: path, Dir: dir, EnvKeysFilename: defaultEnvKeysFilename, Settings: map[string]any{}}
	if !validUTF8NoNUL(data) {
		cerr.add(0, "", "not a text file (invalid UTF-8 or NUL bytes)")
		return nil, cerr
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	for n, text := range strings.Split(string(data), "\n") {
		lineNo := n + 1
		text = strings.TrimSpace(strings.TrimSuffix(text, "\r"))
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		left, folder, ok := strings.Cut(text, "=")
		left, folder = strings.TrimSpace(left), strings.TrimSpace(folder)
		if !ok || left == "" || folder == "" {
			cerr.add(lineNo, "", "expected secret-name=folder-path or vault-name/secret-name=folder-path")
			continue
		}
		m := Mapping{SecretName: left, FolderPath: folder, Line: lineNo}
		if vault, secret, found := strings.Cut(left, "/"); found {
			m.VaultName, m.SecretName = strings.TrimSpace(vault), strings.TrimSpace(secret)
			if m.VaultName == "" || m.SecretName == "" {
				cerr.add(lineNo, "", "expected vault-name/secret-name before '='")
				continue
			}
		}
		cfg.Mappings = append(cfg.Mappings, m)
	}
	if len(cfg.Mappings) == 0 && len(cerr.Problems) == 0 {
		cerr.add(0, "", "no secret=folder lines: nothing to sync")
	}
	if err := cfg.Validate(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			cerr.Problems = append(cerr.Problems, ce.Problems...)
		}
	}
	return cfg, cerr.orNil()
}
