package envdrift

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/BurntSushi/toml"

	"github.com/envdrift/envdrift/internal/lazyre"
	"github.com/envdrift/envdrift/internal/suggest"
	"github.com/envdrift/envdrift/provider"
)

// Defaults applied when the configuration leaves a setting out.
const (
	DefaultEnvironment     = "production"
	DefaultEnvKeysFilename = ".env.keys"
	// MaxConfigSize bounds the configuration files envdrift reads (1 MiB).
	MaxConfigSize = 1 << 20
)

// Config is a loaded and validated sync configuration: which provider to ask
// for which secret, and which folder's .env.keys file receives it.
type Config struct {
	// Path is the file the configuration was read from; "" when built in code.
	Path string
	// Dir is the directory relative paths resolve against: the directory of
	// Path, so that `envdrift sync -c ../envdrift.toml` behaves the same from
	// anywhere.
	Dir string
	// Provider is the default provider ([vault] provider).
	Provider string
	// DefaultVaultName is [vault.sync] default_vault_name.
	DefaultVaultName string
	// EnvKeysFilename is the keys file name in each folder, ".env.keys" by default.
	EnvKeysFilename string
	// MaxWorkers is [vault.sync] max_workers, 0 when unset.
	MaxWorkers int
	// AllowExternalPaths is [vault.sync] allow_external_paths: it lets folders
	// and env files lie outside Dir.
	AllowExternalPaths bool
	// Schema is [vault.sync] schema, the default JSON Schema for --validate-schema.
	Schema string
	// Settings holds each provider's decoded [vault.<name>] table, keyed by
	// provider name. Values are the pointers provider.Driver.NewSettings made.
	Settings map[string]any
	// Mappings lists what to sync, in file order.
	Mappings []Mapping
	// Warnings are problems that do not stop a sync, such as unknown keys.
	Warnings []Warning
}

// Mapping ties one vault secret to one folder.
type Mapping struct {
	// SecretName is the secret to fetch.
	SecretName string
	// FolderPath is the folder as written in the configuration.
	FolderPath string
	// VaultName overrides Config.DefaultVaultName for this mapping.
	VaultName string
	// Environment names the env file .env.<environment>; "production" by default.
	Environment string
	// EnvFile names the env file explicitly, relative to the folder.
	EnvFile string
	// Provider overrides Config.Provider for this mapping.
	Provider string
	// Profile limits the mapping to runs with --profile <Profile>.
	Profile string
	// EphemeralKeys fetches and validates the key but never writes it; the key
	// is returned in memory through the result.
	EphemeralKeys bool
	// Schema is the JSON Schema to validate this folder's env file against.
	Schema string
	// Line is where the mapping starts in the configuration file (0 if unknown).
	Line int
}

// Warning is a configuration problem that does not stop a sync.
type Warning struct {
	Path    string
	Line    int
	Key     string
	Message string
}

// String formats the warning as "file:line: key: message".
func (w Warning) String() string { return location(w.Path, w.Line, w.Key) + w.Message }

// ConfigError reports every problem found in a configuration file. Nothing
// is fetched or written when a configuration is invalid.
type ConfigError struct {
	Path     string
	Problems []Problem
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
var syncKeys = []string{"default_vault_name", "env_keys_filename", "max_workers", "mappings", "allow_external_paths", "schema"}

// Sections of the wider envdrift configuration file that sync does not read.
// They are accepted silently so one envdrift.toml can serve every command.
var otherSections = []string{"envdrift", "validation", "encryption", "precommit", "git_hook_check", "guard", "partial_encryption", "vault"}

type syncTable struct {
	DefaultVaultName   string           `toml:"default_vault_name"`
	EnvKeysFilename    string           `toml:"env_keys_filename"`
	MaxWorkers         int              `toml:"max_workers"`
	AllowExternalPaths bool             `toml:"allow_external_paths"`
	Schema             string           `toml:"schema"`
	Mappings           []toml.Primitive `toml:"mappings"`
}

type mappingTable struct {
	SecretName    string `toml:"secret_name"`
	FolderPath    string `toml:"folder_path"`
	VaultName     string `toml:"vault_name"`
	Environment   string `toml:"environment"`
	EnvFile       string `toml:"env_file"`
	Provider      string `toml:"provider"`
	Profile       string `toml:"profile"`
	EphemeralKeys bool   `toml:"ephemeral_keys"`
	Schema        string `toml:"schema"`
}

// ErrNoConfig is returned by Discover when no configuration file is found.
var ErrNoConfig = errors.New("no envdrift.toml, or pyproject.toml with [tool.envdrift], found")

// Discover walks up from dir and returns the nearest envdrift.toml, or
// pyproject.toml holding a [tool.envdrift] table. In one directory
// envdrift.toml wins over pyproject.toml.
func Discover(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("discover config: %w", err)
	}
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
			return "", fmt.Errorf("%w in %s or any parent directory", ErrNoConfig, dir)
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
	if st.Size() > MaxConfigSize {
		return nil, fmt.Errorf("%s: %d bytes is over the %d-byte limit for configuration files", path, st.Size(), MaxConfigSize)
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
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	data, err := readLimited(abs)
	if err != nil {
		return nil, &ConfigError{Path: path, Problems: []Problem{{Message: "cannot read configuration: " + errMessage(err)}}}
	}
	if strings.EqualFold(filepath.Ext(abs), ".toml") {
		return ParseTOML(path, filepath.Dir(abs), data)
	}
	return ParsePairs(path, filepath.Dir(abs), data)
}

func errMessage(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// ParseTOML parses TOML configuration data. path names the file in messages;
// dir is the directory relative paths resolve against. A pyproject.toml
// (recognised by its [tool.envdrift] table) is read from that table.
func ParseTOML(path, dir string, data []byte) (*Config, error) {
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
		cfg: &Config{Path: path, Dir: dir, Settings: map[string]any{}}}

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
	vault, ok := root["vault"]
	if !ok {
		cerr.add(0, prefix+"vault", "missing [%svault] table with the sync mappings", prefix)
		return nil, cerr
	}
	p.parseVault(vault)
	if len(cerr.Problems) > 0 {
		return nil, cerr
	}
	return p.cfg, nil
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

func (p *tomlParser) parseVault(prim toml.Primitive) {
	var vault map[string]toml.Primitive
	if err := p.md.PrimitiveDecode(prim, &vault); err != nil {
		p.typeError(err, p.prefix+"vault")
		return
	}
	known := append([]string{"provider", "sync"}, provider.Default().Known()...)
	for k, v := range vault {
		key := p.prefix + "vault." + k
		switch k {
		case "provider":
			if err := p.md.PrimitiveDecode(v, &p.cfg.Provider); err != nil {
				p.typeError(err, key)
			}
		case "sync":
			p.parseSync(v)
		default:
			p.parseProviderTable(k, v, known)
		}
	}
	if p.cfg.Provider != "" {
		p.checkProviderName(p.cfg.Provider, p.prefix+"vault.provider", p.line(p.prefix+"vault", -1, "provider"))
	}
	if _, ok := vault["sync"]; !ok {
		p.cerr.add(0, p.prefix+"vault.sync", "missing [%svault.sync] table with [[%svault.sync.mappings]]", p.prefix, p.prefix)
	}
}

func (p *tomlParser) parseProviderTable(name string, v toml.Primitive, known []string) {
	key := p.prefix + "vault." + name
	d, err := provider.Default().Lookup(name)
	if err != nil && !errors.Is(err, provider.ErrNotLinked) {
		p.warnUnknown(p.prefix+"vault.", name, known)
		return
	}
	if err != nil {
		// A built-in provider this program does not link: its table is
		// checked by programs that do.
		return
	}
	var raw map[string]any
	if err := p.md.PrimitiveDecode(v, &raw); err != nil {
		p.typeError(err, key)
		return
	}
	settings := d.NewSettings()
	if err := p.md.PrimitiveDecode(v, settings); err != nil {
		p.typeError(err, key)
		return
	}
	fields := tomlFieldNames(settings)
	for k := range raw {
		if slices.Contains(fields, k) {
			continue
		}
		if name == "hashicorp" && k == "token" {
			p.cfg.Warnings = append(p.cfg.Warnings, Warning{Path: p.path, Line: p.line(key, -1, k), Key: key + ".token",
				Message: "ignored: tokens are never read from configuration files; use --token, VAULT_TOKEN or ~/.vault-token"})
			continue
		}
		p.warnUnknown(key+".", k, fields)
	}
	p.cfg.Settings[name] = settings
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
	var s syncTable
	if err := p.md.PrimitiveDecode(prim, &s); err != nil {
		p.typeError(err, key)
		return
	}
	cfg := p.cfg
	cfg.DefaultVaultName = strings.TrimSpace(s.DefaultVaultName)
	cfg.EnvKeysFilename = s.EnvKeysFilename
	cfg.MaxWorkers = s.MaxWorkers
	cfg.AllowExternalPaths = s.AllowExternalPaths
	cfg.Schema = s.Schema
	if cfg.EnvKeysFilename == "" {
		cfg.EnvKeysFilename = DefaultEnvKeysFilename
	} else if msg := checkPlainFileName(cfg.EnvKeysFilename); msg != "" {
		p.cerr.add(p.line(key, -1, "env_keys_filename"), key+".env_keys_filename", "%s", msg)
	}
	if s.MaxWorkers < 0 || s.MaxWorkers > MaxConcurrency {
		p.cerr.add(p.line(key, -1, "max_workers"), key+".max_workers", "must be between 1 and %d, got %d", MaxConcurrency, s.MaxWorkers)
	}
	if _, ok := raw["mappings"]; !ok || len(s.Mappings) == 0 {
		p.cerr.add(p.line(key, -1, ""), key+".mappings", "no [[%s.mappings]] entries: nothing to sync", key)
		return
	}
	for i, m := range s.Mappings {
		p.parseMapping(i, m)
	}
}

func (p *tomlParser) parseMapping(i int, prim toml.Primitive) {
	table := p.prefix + "vault.sync.mappings"
	key := fmt.Sprintf("%s[%d]", table, i)
	line := p.line(table, i, "")
	var raw map[string]any
	if err := p.md.PrimitiveDecode(prim, &raw); err != nil {
		p.cerr.add(line, key, "must be a table")
		return
	}
	for k := range raw {
		if !slices.Contains(mappingKeys, k) {
			w := p.unknownWarning(key+".", k, mappingKeys)
			w.Line = p.line(table, i, k)
			p.cfg.Warnings = append(p.cfg.Warnings, w)
		}
	}
	var t mappingTable
	if err := p.md.PrimitiveDecode(prim, &t); err != nil {
		p.typeErrorAt(err, key, line)
		return
	}
	m := Mapping{
		SecretName: strings.TrimSpace(t.SecretName), FolderPath: t.FolderPath, VaultName: strings.TrimSpace(t.VaultName),
		Environment: strings.TrimSpace(t.Environment), EnvFile: t.EnvFile, Provider: strings.TrimSpace(t.Provider),
		Profile: t.Profile, EphemeralKeys: t.EphemeralKeys, Schema: t.Schema, Line: line,
	}
	p.checkMapping(&m, key, func(k string) int {
		if n := p.line(table, i, k); n > 0 {
			return n
		}
		return line
	})
	if m.Provider != "" {
		p.checkProviderName(m.Provider, key+".provider", p.line(table, i, "provider"))
	}
	p.cfg.Mappings = append(p.cfg.Mappings, m)
}

// checkMapping validates one mapping's fields, whatever format it came from.
func checkMapping(cerr *ConfigError, cfg *Config, m *Mapping, key string, lineOf func(string) int) {
	// field names a mapping's key; pair.txt lines have no keys (key is "").
	field := func(name string) string {
		if key == "" {
			return ""
		}
		return key + "." + name
	}
	optIn := "set [vault.sync] allow_external_paths = true to allow it"
	if key == "" {
		optIn = "pair.txt cannot allow it: use an envdrift.toml with [vault.sync] allow_external_paths = true"
	}
	if m.SecretName == "" {
		cerr.add(lineOf("secret_name"), field("secret_name"), "required: the name of the secret in the vault")
	} else if strings.ContainsAny(m.SecretName, "\x00\n\r") {
		cerr.add(lineOf("secret_name"), field("secret_name"), "contains a control character")
	}
	if strings.TrimSpace(m.FolderPath) == "" {
		cerr.add(lineOf("folder_path"), field("folder_path"), "required: the folder whose %s receives the key", cfg.EnvKeysFilename)
	} else if msg := checkRelPath(m.FolderPath, cfg.AllowExternalPaths, optIn); msg != "" {
		cerr.add(lineOf("folder_path"), field("folder_path"), "%s", msg)
	}
	if m.Environment != "" && !envNamePattern().MatchString(m.Environment) {
		cerr.add(lineOf("environment"), field("environment"), "%q is not an environment name (letters, digits, '.', '_' and '-')", m.Environment)
	}
	if m.EnvFile != "" {
		if msg := checkRelPath(m.EnvFile, cfg.AllowExternalPaths, optIn); msg != "" {
			cerr.add(lineOf("env_file"), field("env_file"), "%s", msg)
		}
	}
	if m.Environment == "" {
		m.Environment = DefaultEnvironment
	}
}

func (p *tomlParser) checkMapping(m *Mapping, key string, lineOf func(string) int) {
	checkMapping(p.cerr, p.cfg, m, key, lineOf)
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
	sc.Buffer(make([]byte, 64*1024), MaxConfigSize)
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

// ParsePairs parses the legacy pair.txt format: one `secret=folder` or
// `vault/secret=folder` per line; lines starting with # are comments; blank
// lines are ignored; whitespace is trimmed. pair.txt carries no provider:
// give one with Options.Provider (--provider).
func ParsePairs(path, dir string, data []byte) (*Config, error) {
	cerr := &ConfigError{Path: path}
	cfg := &Config{Path: path, Dir: dir, EnvKeysFilename: DefaultEnvKeysFilename, Settings: map[string]any{}}
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
		checkMapping(cerr, cfg, &m, "", func(string) int { return lineNo })
		cfg.Mappings = append(cfg.Mappings, m)
	}
	if len(cfg.Mappings) == 0 && len(cerr.Problems) == 0 {
		cerr.add(0, "", "no secret=folder lines: nothing to sync")
	}
	if len(cerr.Problems) > 0 {
		return nil, cerr
	}
	return cfg, nil
}
