// Package schema validates env files against JSON Schemas: the
// [envdrift.SchemaValidator] behind the CLI's --validate-schema, and the
// starting schemas `envdrift schema init` prints.
//
// It is a separate package so that programs that do not validate schemas do
// not link the JSON Schema compiler (github.com/santhosh-tekuri/jsonschema),
// which compiles the metaschemas of five drafts when the program starts. A
// program opts in by importing this package and setting
// [envdrift.Options].Schema:
//
//	opts := envdrift.Options{Schema: &schema.Validator{}}
package schema

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/envdrift/envdrift"
	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/internal/lazyre"
	"github.com/envdrift/envdrift/internal/schemagen"
)

// Draft is the JSON Schema dialect envdrift assumes for a schema that has
// no "$schema" keyword, and the one Generate writes.
const Draft = schemagen.Draft

// MaxSize bounds each schema file a Validator reads (4 MiB).
const MaxSize = 4 << 20

// Validator is the [envdrift.SchemaValidator] behind --validate-schema. It
// validates an env file against a JSON Schema (draft 2020-12 unless the
// schema's "$schema" names another draft) applied to the file as one object
// whose properties are the file's variables, in the manner of Node's
// env-schema.
//
// What is validated is what the service will see: encrypted values are
// decrypted with the key under check, plain values are taken as written, and
// DOTENV_PUBLIC_KEY* variables are left out. Each value is then converted
// from its string form to the type the schema declares for the property
// (see the coercion rules in docs/schema.md): PORT=8080 meets
// {"type": "integer", "minimum": 1024}. A value that cannot be converted
// stays a string and fails the type check.
//
// "format" is asserted (uri, email, hostname, ipv4, date-time, uuid, …), not
// merely annotated. "$ref" may point into the same file ("#/$defs/Port") or
// to other local files, relative to the schema's own location; references to
// network URLs are refused.
//
// Problems name the variable, the keyword broken and what was expected. They
// never hold the value of an encrypted variable. A plain value is shown only
// when the schema does not mark the property "writeOnly", its name does not
// look like a secret (…PASSWORD, …TOKEN, …SECRET, …KEY, …) and it holds no
// URL credentials.
//
// Compiled schemas are cached by path for the validator's lifetime, so one
// run compiles each schema once however many folders use it; build a new
// validator to pick up edited schema files. The zero value is ready to use;
// a Validator is safe for concurrent use and must not be copied after first
// use.
type Validator struct {
	mu    sync.Mutex
	cache map[string]*compiledSchema
}

// compiledSchema is one cache entry; ready is closed once sch or err is set.
type compiledSchema struct {
	ready chan struct{}
	sch   *jsonschema.Schema
	err   error
}

var _ envdrift.SchemaValidator = (*Validator)(nil)

// ValidateSchema implements [envdrift.SchemaValidator]. schema is the path of the
// schema file; an empty schema skips the check (no schema applies to this
// folder).
func (v *Validator) ValidateSchema(ctx context.Context, envFile, schema string, key envdrift.Key) envdrift.Check {
	if err := ctx.Err(); err != nil {
		return envdrift.Check{Status: envdrift.CheckFailed, Detail: "cancelled"}
	}
	if schema == "" {
		return envdrift.Check{Status: envdrift.CheckSkipped, Detail: "no schema for this folder"}
	}
	sch, err := v.compile(schema)
	if err != nil {
		return envdrift.Check{Status: envdrift.CheckFailed, Detail: err.Error()}
	}
	f, err := dotenvx.ReadFile(envFile)
	if err != nil {
		return envdrift.Check{Status: envdrift.CheckFailed, Detail: "cannot validate: " + err.Error()}
	}
	vars, err := f.Decrypt(key.PrivateKeys())
	if err != nil {
		return envdrift.Check{Status: envdrift.CheckFailed, Detail: "cannot validate: " + err.Error()}
	}
	encrypted := map[string]bool{}
	for _, e := range f.Encrypted() {
		encrypted[e.Key] = true
	}
	inst := make(map[string]any, len(vars))
	for name, val := range vars {
		inst[name] = coerce(sch, name, val)
	}
	name := filepath.Base(schema)
	verr := sch.Validate(inst)
	if verr == nil {
		return envdrift.Check{Status: envdrift.CheckPassed, Detail: fmt.Sprintf("%d variables valid against %s", len(inst), name)}
	}
	var ve *jsonschema.ValidationError
	if !errors.As(verr, &ve) {
		// Not expected from the library; its text is not shown, as it could
		// quote a value.
		return envdrift.Check{Status: envdrift.CheckFailed, Detail: name + ": the file does not match the schema"}
	}
	r := reporter{root: sch, inst: inst, encrypted: encrypted}
	problems := r.problems(ve)
	n := len(problems)
	if n == 0 { // every error is of a kind we cannot attribute; still invalid
		problems = []string{"(file): does not match the schema"}
		n = 1
	}
	return envdrift.Check{Status: envdrift.CheckFailed, Detail: fmt.Sprintf("%s: %d %s", name, n, plural(n, "violation", "violations")), Problems: problems}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// compile returns the compiled schema at path, compiling it once.
func (v *Validator) compile(path string) (*jsonschema.Schema, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", path, err)
	}
	v.mu.Lock()
	if v.cache == nil {
		v.cache = map[string]*compiledSchema{}
	}
	c, ok := v.cache[abs]
	if !ok {
		c = &compiledSchema{ready: make(chan struct{})}
		v.cache[abs] = c
	}
	v.mu.Unlock()
	if ok {
		<-c.ready
		return c.sch, c.err
	}
	c.sch, c.err = compileSchema(path, abs)
	close(c.ready)
	return c.sch, c.err
}

// compileSchema reads and compiles the schema file at abs; path is the name
// errors use.
func compileSchema(path, abs string) (*jsonschema.Schema, error) {
	doc, err := loadSchemaFile(abs)
	if err != nil {
		return nil, fmt.Errorf("cannot read schema %s: %w", path, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(localLoader{})
	if err := c.AddResource(abs, doc); err != nil {
		return nil, fmt.Errorf("invalid schema %s: %s", path, describeCompileError(err))
	}
	sch, err := c.Compile(abs)
	if err != nil {
		return nil, fmt.Errorf("invalid schema %s: %s", path, describeCompileError(err))
	}
	return sch, nil
}

// loadSchemaFile reads a JSON document of at most MaxSize bytes and
// reports syntax errors with their line and column.
func loadSchemaFile(path string) (any, error) {
	// O_NONBLOCK: a FIFO must not block the open; it is refused below.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, pe.Err
		}
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, errors.New("is a directory")
	} else if err == nil && !st.Mode().IsRegular() {
		return nil, errors.New("is not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxSize)
	}
	return parseJSON(data)
}

func parseJSON(data []byte) (any, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := lineCol(data, se.Offset-1) // Offset is just past the offending byte
			return nil, fmt.Errorf("invalid JSON at line %d, column %d: %s", line, col, se.Error())
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errors.New("invalid JSON: unexpected end of file")
		}
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		line, col := lineCol(data, dec.InputOffset())
		return nil, fmt.Errorf("invalid JSON at line %d, column %d: data after the top-level value", line, col)
	}
	return doc, nil
}

func lineCol(data []byte, offset int64) (line, col int) {
	offset = min(max(offset, 0), int64(len(data)))
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:]) + 1
	return line, col
}

// localLoader loads the files a schema references; it refuses anything but
// local files, so validation never touches the network.
type localLoader struct{}

func (localLoader) Load(url string) (any, error) {
	path, err := jsonschema.FileLoader{}.ToFile(url)
	if err != nil {
		return nil, errors.New("only local schema files can be referenced (no network access)")
	}
	return loadSchemaFile(path)
}

// describeCompileError turns a compiler error into one line, with file
// URLs shown as paths.
func describeCompileError(err error) string {
	var sve *jsonschema.SchemaValidationError
	var lue *jsonschema.LoadURLError
	var msg string
	if errors.As(err, &lue) {
		msg = fmt.Sprintf("cannot load %s: %v", lue.URL, lue.Err)
	} else if errors.As(err, &sve) {
		var lines []string
		var ve *jsonschema.ValidationError
		if errors.As(sve.Err, &ve) {
			lines = metaProblems(ve)
		}
		if len(lines) == 0 {
			lines = []string{sve.Err.Error()}
		}
		msg = "not a valid JSON Schema: " + strings.Join(lines, "; ")
	} else {
		msg = err.Error()
	}
	msg = strings.ReplaceAll(msg, "file://", "")
	return strings.Join(strings.Fields(msg), " ")
}

// metaProblems lists the leaves of a meta-schema validation error: where in
// the schema document and what is wrong. Schemas are not secret, so the
// library's own messages are used.
func metaProblems(e *jsonschema.ValidationError) []string {
	if len(e.Causes) == 0 {
		return []string{e.Error()}
	}
	var out []string
	for _, c := range e.Causes {
		out = append(out, metaProblems(c)...)
	}
	return out
}

// ---- coercion ----

// coerce converts the string val of variable name to the type the schema
// declares for it. Candidates are tried in the order integer/number,
// boolean, null, string (each only when the schema declares that type
// somewhere for the property); the first that the property's schemas accept
// wins. When none is accepted, the first candidate is kept, so the error is
// reported against the declared type.
func coerce(root *jsonschema.Schema, name, val string) any {
	props := propertySchemas(root, name)
	if len(props) == 0 {
		return val
	}
	types := declaredTypes(props)
	var cands []any
	if types["integer"] || types["number"] {
		if n, ok := schemagen.JSONNumber(val); ok {
			cands = append(cands, n)
		}
	}
	if types["boolean"] {
		switch strings.ToLower(val) {
		case "true":
			cands = append(cands, true)
		case "false":
			cands = append(cands, false)
		}
	}
	if types["null"] && val == "" {
		cands = append(cands, nil)
	}
	if len(cands) == 0 {
		return val
	}
	cands = append(cands, val)
	for _, c := range cands {
		if acceptedByAll(props, c) {
			return c
		}
	}
	return cands[0]
}

func acceptedByAll(schemas []*jsonschema.Schema, v any) bool {
	for _, s := range schemas {
		if s.Validate(v) != nil {
			return false
		}
	}
	return true
}

// propertySchemas returns the subschemas that apply to the value of the
// object property name when root validates the object: "properties",
// matching "patternProperties", else "additionalProperties", collected
// through "$ref", "$dynamicRef", "allOf", "anyOf", "oneOf", "if"/"then"/
// "else" and "dependentSchemas" of the object's schema.
func propertySchemas(root *jsonschema.Schema, name string) []*jsonschema.Schema {
	var out []*jsonschema.Schema
	seen := map[*jsonschema.Schema]bool{}
	var visit func(s *jsonschema.Schema)
	visit = func(s *jsonschema.Schema) {
		if s == nil || seen[s] {
			return
		}
		seen[s] = true
		matched := false
		if p, ok := s.Properties[name]; ok {
			out = append(out, p)
			matched = true
		}
		for re, p := range s.PatternProperties {
			if re.MatchString(name) {
				out = append(out, p)
				matched = true
			}
		}
		if ap, ok := s.AdditionalProperties.(*jsonschema.Schema); ok && !matched {
			out = append(out, ap)
		}
		for _, sub := range applicators(s) {
			visit(sub)
		}
		for _, d := range s.DependentSchemas {
			visit(d)
		}
		for _, d := range s.Dependencies {
			if ds, ok := d.(*jsonschema.Schema); ok {
				visit(ds)
			}
		}
	}
	visit(root)
	return out
}

// applicators lists the in-place subschemas of s: those that apply to the
// same value s applies to ("not" excluded).
func applicators(s *jsonschema.Schema) []*jsonschema.Schema {
	subs := []*jsonschema.Schema{s.Ref, s.RecursiveRef, s.If, s.Then, s.Else}
	if s.DynamicRef != nil {
		subs = append(subs, s.DynamicRef.Ref)
	}
	subs = append(subs, s.AllOf...)
	subs = append(subs, s.AnyOf...)
	subs = append(subs, s.OneOf...)
	return slices.DeleteFunc(subs, func(x *jsonschema.Schema) bool { return x == nil })
}

// valueSchemas returns schemas and every in-place subschema reachable from
// them.
func valueSchemas(schemas []*jsonschema.Schema) []*jsonschema.Schema {
	var out []*jsonschema.Schema
	seen := map[*jsonschema.Schema]bool{}
	var visit func(s *jsonschema.Schema)
	visit = func(s *jsonschema.Schema) {
		if s == nil || seen[s] {
			return
		}
		seen[s] = true
		out = append(out, s)
		for _, sub := range applicators(s) {
			visit(sub)
		}
	}
	for _, s := range schemas {
		visit(s)
	}
	return out
}

// declaredTypes collects the JSON types the schemas declare for a value:
// "type" keywords (arrays included) and the types of "const" and "enum"
// values, through $ref, allOf, anyOf, oneOf and if/then/else.
func declaredTypes(schemas []*jsonschema.Schema) map[string]bool {
	types := map[string]bool{}
	addValue := func(v any) {
		switch v.(type) {
		case json.Number:
			types["number"] = true
		case bool:
			types["boolean"] = true
		case nil:
			types["null"] = true
		case string:
			types["string"] = true
		}
	}
	for _, s := range valueSchemas(schemas) {
		if s.Types != nil {
			for _, t := range s.Types.ToStrings() {
				types[t] = true
			}
		}
		if s.Const != nil {
			addValue(*s.Const)
		}
		if s.Enum != nil {
			for _, e := range s.Enum.Values {
				addValue(e)
			}
		}
	}
	return types
}

// writeOnly reports whether the schema marks the property name (or the
// whole object) "writeOnly".
func writeOnly(root *jsonschema.Schema, name string) bool {
	for _, s := range valueSchemas([]*jsonschema.Schema{root}) {
		if s.WriteOnly {
			return true
		}
	}
	for _, s := range valueSchemas(propertySchemas(root, name)) {
		if s.WriteOnly {
			return true
		}
	}
	return false
}

// ---- reporting ----

// secretName matches variable names whose values envdrift never shows,
// even when plain.
var secretName = lazyre.New(`(?i)(secret|passw|pwd|token|private|credential|key|auth|cert|salt|signature|session|cookie|dsn|conn)`)

// urlCredentials matches URLs that carry a user name or password.
var urlCredentials = lazyre.New(`[A-Za-z][A-Za-z0-9+.-]*://[^/\s@]*@`)

// reporter turns validation errors into problem lines.
type reporter struct {
	root      *jsonschema.Schema
	inst      map[string]any
	encrypted map[string]bool
}

// showable reports whether the value of variable name may appear in output.
func (r *reporter) showable(name string) bool {
	v, ok := r.inst[name]
	if !ok || r.encrypted[name] || secretName().MatchString(name) || writeOnly(r.root, name) {
		return false
	}
	if s, ok := v.(string); ok && urlCredentials().MatchString(s) {
		return false
	}
	return true
}

// got returns ", got <value>" for a showable variable, else "".
func (r *reporter) got(name string) string {
	if !r.showable(name) {
		return ""
	}
	return ", got " + displayValue(r.inst[name])
}

func displayValue(v any) string {
	switch x := v.(type) {
	case string:
		if utf8.RuneCountInString(x) > 60 {
			x = string([]rune(x)[:57]) + "..."
		}
		return strconv.Quote(x)
	case nil:
		return "null"
	}
	return fmt.Sprint(v)
}

// problems flattens a validation error into sorted, de-duplicated lines.
func (r *reporter) problems(e *jsonschema.ValidationError) []string {
	lines := r.walk(e)
	slices.Sort(lines)
	return slices.Compact(lines)
}

func (r *reporter) walk(e *jsonschema.ValidationError) []string {
	switch k := e.ErrorKind.(type) {
	case *kind.Schema, *kind.Group, *kind.Reference, *kind.AllOf:
		var out []string
		for _, c := range e.Causes {
			out = append(out, r.walk(c)...)
		}
		return out
	case *kind.AnyOf:
		return []string{r.alternatives(e, "anyOf", "matches none of the alternatives")}
	case *kind.OneOf:
		if len(k.Subschemas) >= 2 {
			return []string{fmt.Sprintf("%s: oneOf: must match exactly one alternative, matches #%d and #%d",
				variable(e.InstanceLocation), k.Subschemas[0]+1, k.Subschemas[1]+1)}
		}
		return []string{r.alternatives(e, "oneOf", "matches none of the alternatives")}
	case *kind.Required:
		out := make([]string, 0, len(k.Missing))
		for _, m := range k.Missing {
			out = append(out, fmt.Sprintf("%s: required: missing", prefixed(e.InstanceLocation, m)))
		}
		return out
	case *kind.AdditionalProperties:
		out := make([]string, 0, len(k.Properties))
		for _, p := range k.Properties {
			out = append(out, fmt.Sprintf("%s: additionalProperties: not declared in the schema", prefixed(e.InstanceLocation, p)))
		}
		return out
	case *kind.PropertyNames:
		return []string{fmt.Sprintf("%s: propertyNames: variable name not allowed", prefixed(e.InstanceLocation, k.Property))}
	case *kind.DependentRequired:
		return []string{fmt.Sprintf("%s: dependentRequired: needs %s", prefixed(e.InstanceLocation, k.Prop), strings.Join(k.Missing, ", "))}
	case *kind.Dependency:
		return []string{fmt.Sprintf("%s: dependencies: needs %s", prefixed(e.InstanceLocation, k.Prop), strings.Join(k.Missing, ", "))}
	}
	if len(e.Causes) > 0 {
		var out []string
		for _, c := range e.Causes {
			out = append(out, r.walk(c)...)
		}
		return out
	}
	return []string{variable(e.InstanceLocation) + ": " + r.leaf(e)}
}

// alternatives describes a failed anyOf/oneOf with what each alternative
// expected.
func (r *reporter) alternatives(e *jsonschema.ValidationError, kw, what string) string {
	name := variable(e.InstanceLocation)
	var parts []string
	for _, c := range e.Causes {
		var sub []string
		for _, l := range r.walk(c) {
			sub = append(sub, strings.TrimPrefix(l, name+": "))
		}
		slices.Sort(sub)
		parts = append(parts, strings.Join(slices.Compact(sub), " and "))
	}
	msg := fmt.Sprintf("%s: %s: %s", name, kw, what)
	if len(parts) > 0 {
		msg += " (" + strings.Join(parts, " | ") + ")"
	}
	return msg
}

// leaf describes one failed keyword: the keyword, what was expected and,
// for a showable variable, what it got.
func (r *reporter) leaf(e *jsonschema.ValidationError) string {
	name := variable(e.InstanceLocation)
	got := r.got(name)
	switch k := e.ErrorKind.(type) {
	case *kind.Type:
		g := got
		if g == "" {
			g = ", got " + k.Got
		}
		return fmt.Sprintf("type: must be %s%s", strings.Join(k.Want, " or "), g)
	case *kind.Enum:
		return fmt.Sprintf("enum: must be one of %s%s", displayList(k.Want), got)
	case *kind.Const:
		return fmt.Sprintf("const: must be %s%s", displaySchemaValue(k.Want), got)
	case *kind.Format:
		return fmt.Sprintf("format: must be a valid %s%s", k.Want, got)
	case *kind.Pattern:
		return fmt.Sprintf("pattern: must match %s%s", k.Want, got)
	case *kind.MinLength:
		return fmt.Sprintf("minLength: must be at least %d characters%s", k.Want, r.gotLength(name, k.Got))
	case *kind.MaxLength:
		return fmt.Sprintf("maxLength: must be at most %d characters%s", k.Want, r.gotLength(name, k.Got))
	case *kind.Minimum:
		return fmt.Sprintf("minimum: must be >= %s%s", ratString(k.Want), got)
	case *kind.Maximum:
		return fmt.Sprintf("maximum: must be <= %s%s", ratString(k.Want), got)
	case *kind.ExclusiveMinimum:
		return fmt.Sprintf("exclusiveMinimum: must be > %s%s", ratString(k.Want), got)
	case *kind.ExclusiveMaximum:
		return fmt.Sprintf("exclusiveMaximum: must be < %s%s", ratString(k.Want), got)
	case *kind.MultipleOf:
		return fmt.Sprintf("multipleOf: must be a multiple of %s%s", ratString(k.Want), got)
	case *kind.MinProperties:
		return fmt.Sprintf("minProperties: must have at least %d variables, has %d", k.Want, k.Got)
	case *kind.MaxProperties:
		return fmt.Sprintf("maxProperties: must have at most %d variables, has %d", k.Want, k.Got)
	case *kind.FalseSchema:
		return "not allowed by the schema"
	case *kind.Not:
		return "not: must not match the schema under \"not\""
	case *kind.ContentEncoding:
		return fmt.Sprintf("contentEncoding: must be %s encoded", k.Want)
	case *kind.ContentMediaType:
		return fmt.Sprintf("contentMediaType: must be %s", k.Want)
	}
	if kw := e.ErrorKind.KeywordPath(); len(kw) > 0 {
		return kw[0] + ": does not match the schema"
	}
	return "does not match the schema"
}

// gotLength returns ", got N" for a showable variable: the length of a
// hidden value is not shown either.
func (r *reporter) gotLength(name string, n int) string {
	if !r.showable(name) {
		return ""
	}
	return fmt.Sprintf(", got %d", n)
}

// variable names the variable an instance location points at; "(file)"
// for the object itself.
func variable(loc []string) string {
	if len(loc) == 0 {
		return "(file)"
	}
	return strings.Join(loc, "/")
}

// prefixed names property p of the object at loc.
func prefixed(loc []string, p string) string {
	if len(loc) == 0 {
		return p
	}
	return strings.Join(loc, "/") + "/" + p
}

func displayList(vals []any) string {
	const most = 10
	var parts []string
	for i, v := range vals {
		if i == most {
			parts = append(parts, fmt.Sprintf("… (%d more)", len(vals)-most))
			break
		}
		parts = append(parts, displaySchemaValue(v))
	}
	return strings.Join(parts, ", ")
}

// displaySchemaValue shows a value written in the schema (not secret).
func displaySchemaValue(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case nil:
		return "null"
	case []any, map[string]any:
		b, err := json.Marshal(x)
		if err != nil {
			return "the value in the schema"
		}
		return string(b)
	}
	return fmt.Sprint(v)
}

func ratString(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}
