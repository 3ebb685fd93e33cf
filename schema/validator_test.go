package schema

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift"
	"github.com/envdrift/envdrift/dotenvx"
)

// envVar is one variable of a test env file; enc encrypts it.
type envVar struct {
	name, value string
	enc         bool
}

func plainVar(name, value string) envVar  { return envVar{name: name, value: value} }
func secretVar(name, value string) envVar { return envVar{name: name, value: value, enc: true} }

// writeEnv writes dir/.env.production declaring k's public key, with vars in
// order, and returns its path.
func writeEnv(t testing.TB, dir string, k *dotenvx.PrivateKey, vars ...envVar) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "DOTENV_PUBLIC_KEY_PRODUCTION=\"%s\"\n", k.PublicKey().Hex())
	for _, v := range vars {
		val := v.value
		if v.enc {
			var err error
			val, err = dotenvx.Encrypt(k.PublicKey(), v.value)
			require.NoError(t, err)
		}
		fmt.Fprintf(&b, "%s=%q\n", v.name, val)
	}
	p := filepath.Join(dir, ".env.production")
	require.NoError(t, os.WriteFile(p, []byte(b.String()), 0o644))
	return p
}

// genKey returns a new private key, as dotenvx and as envdrift hold it.
func genKey(t testing.TB) (*dotenvx.PrivateKey, envdrift.Key) {
	t.Helper()
	k, err := dotenvx.GeneratePrivateKey(rand.Reader)
	require.NoError(t, err)
	kk, err := envdrift.ParseKey(k.Hex())
	require.NoError(t, err)
	return k, kk
}

// schemaFile writes a schema document into dir and returns its path.
func schemaFile(t testing.TB, dir, name, doc string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(doc), 0o644))
	return p
}

// validateEnv validates vars against the schema document with a fresh
// validator and the key the file was encrypted with.
func validateEnv(t *testing.T, doc string, vars ...envVar) envdrift.Check {
	t.Helper()
	dir := t.TempDir()
	k, key := genKey(t)
	env := writeEnv(t, dir, k, vars...)
	sch := schemaFile(t, dir, "env.schema.json", doc)
	return (&Validator{}).ValidateSchema(context.Background(), env, sch, key)
}

// props is an object schema with the given properties (a JSON object body)
// and extra top-level keywords.
func props(properties string, extra ...string) string {
	s := `{"type":"object","properties":{` + properties + `}`
	for _, e := range extra {
		s += "," + e
	}
	return s + "}"
}

func TestValidator_Keywords(t *testing.T) {
	cases := []struct {
		name     string
		schema   string
		vars     []envVar
		problems []string // nil: the file is valid
	}{
		{"required present", props(`"DATABASE_URL":{"type":"string"}`, `"required":["DATABASE_URL"]`),
			[]envVar{plainVar("DATABASE_URL", "x")}, nil},
		{"required missing", props(`"DATABASE_URL":{"type":"string"}`, `"required":["DATABASE_URL","PORT"]`),
			[]envVar{plainVar("OTHER", "x")}, []string{"DATABASE_URL: required: missing", "PORT: required: missing"}},
		{"pattern met", props(`"API_URL":{"type":"string","pattern":"^https://"}`),
			[]envVar{plainVar("API_URL", "https://api.example.com")}, nil},
		{"pattern broken", props(`"API_URL":{"type":"string","pattern":"^https://"}`),
			[]envVar{plainVar("API_URL", "http://api.example.com")}, []string{`API_URL: pattern: must match ^https://, got "http://api.example.com"`}},
		{"enum met", props(`"LOG_LEVEL":{"enum":["debug","info","warn"]}`),
			[]envVar{plainVar("LOG_LEVEL", "info")}, nil},
		{"enum broken", props(`"LOG_LEVEL":{"enum":["debug","info","warn"]}`),
			[]envVar{plainVar("LOG_LEVEL", "verbose")}, []string{`LOG_LEVEL: enum: must be one of "debug", "info", "warn", got "verbose"`}},
		{"const met", props(`"MODE":{"const":"production"}`),
			[]envVar{plainVar("MODE", "production")}, nil},
		{"const broken", props(`"MODE":{"const":"production"}`),
			[]envVar{plainVar("MODE", "dev")}, []string{`MODE: const: must be "production", got "dev"`}},
		{"format uri met", props(`"API_URL":{"type":"string","format":"uri"}`),
			[]envVar{plainVar("API_URL", "https://api.example.com/v1")}, nil},
		{"format uri broken", props(`"API_URL":{"type":"string","format":"uri"}`),
			[]envVar{plainVar("API_URL", "api.example.com/v1")}, []string{`API_URL: format: must be a valid uri, got "api.example.com/v1"`}},
		{"format email met", props(`"ADMIN_EMAIL":{"type":"string","format":"email"}`),
			[]envVar{plainVar("ADMIN_EMAIL", "ops@example.com")}, nil},
		{"format email broken", props(`"ADMIN_EMAIL":{"type":"string","format":"email"}`),
			[]envVar{plainVar("ADMIN_EMAIL", "ops.example.com")}, []string{`ADMIN_EMAIL: format: must be a valid email, got "ops.example.com"`}},
		{"format hostname met", props(`"DB_HOST":{"type":"string","format":"hostname"}`),
			[]envVar{plainVar("DB_HOST", "db.internal")}, nil},
		{"format hostname broken", props(`"DB_HOST":{"type":"string","format":"hostname"}`),
			[]envVar{plainVar("DB_HOST", "db_internal!")}, []string{`DB_HOST: format: must be a valid hostname, got "db_internal!"`}},
		{"minLength met", props(`"NAME":{"type":"string","minLength":3}`),
			[]envVar{plainVar("NAME", "api")}, nil},
		{"minLength broken", props(`"NAME":{"type":"string","minLength":3}`),
			[]envVar{plainVar("NAME", "ab")}, []string{"NAME: minLength: must be at least 3 characters, got 2"}},
		{"maxLength met", props(`"NAME":{"type":"string","maxLength":3}`),
			[]envVar{plainVar("NAME", "api")}, nil},
		{"maxLength broken", props(`"NAME":{"type":"string","maxLength":3}`),
			[]envVar{plainVar("NAME", "apis")}, []string{"NAME: maxLength: must be at most 3 characters, got 4"}},
		{"minimum met", props(`"PORT":{"type":"integer","minimum":1024}`),
			[]envVar{plainVar("PORT", "8080")}, nil},
		{"minimum broken", props(`"PORT":{"type":"integer","minimum":1024}`),
			[]envVar{plainVar("PORT", "80")}, []string{"PORT: minimum: must be >= 1024, got 80"}},
		{"maximum met", props(`"PORT":{"type":"integer","maximum":65535}`),
			[]envVar{plainVar("PORT", "65535")}, nil},
		{"maximum broken", props(`"PORT":{"type":"integer","maximum":65535}`),
			[]envVar{plainVar("PORT", "70000")}, []string{"PORT: maximum: must be <= 65535, got 70000"}},
		{"exclusiveMinimum and multipleOf met", props(`"RATIO":{"type":"number","exclusiveMinimum":0,"multipleOf":0.25}`),
			[]envVar{plainVar("RATIO", "0.75")}, nil},
		{"exclusiveMinimum and multipleOf broken", props(`"RATIO":{"type":"number","exclusiveMinimum":0,"multipleOf":0.25}`),
			[]envVar{plainVar("RATIO", "0")}, []string{"RATIO: exclusiveMinimum: must be > 0, got 0"}},
		{"type met after coercion", props(`"WORKERS":{"type":"integer"}`),
			[]envVar{plainVar("WORKERS", "4")}, nil},
		{"type broken: not an integer stays a string", props(`"WORKERS":{"type":"integer"}`),
			[]envVar{plainVar("WORKERS", "four")}, []string{`WORKERS: type: must be integer, got "four"`}},
		{"boolean met", props(`"DEBUG":{"type":"boolean"}`),
			[]envVar{plainVar("DEBUG", "TRUE")}, nil},
		{"boolean broken", props(`"DEBUG":{"type":"boolean"}`),
			[]envVar{plainVar("DEBUG", "yes")}, []string{`DEBUG: type: must be boolean, got "yes"`}},
		{"additionalProperties false met; DOTENV_PUBLIC_KEY is not a variable", props(`"PORT":{"type":"integer"}`, `"additionalProperties":false`),
			[]envVar{plainVar("PORT", "8080")}, nil},
		{"additionalProperties false broken", props(`"PORT":{"type":"integer"}`, `"additionalProperties":false`),
			[]envVar{plainVar("PORT", "8080"), plainVar("EXTRA", "1")}, []string{"EXTRA: additionalProperties: not declared in the schema"}},
		{"$ref into $defs met", props(`"PORT":{"$ref":"#/$defs/port"}`, `"$defs":{"port":{"type":"integer","minimum":1024,"maximum":65535}}`),
			[]envVar{plainVar("PORT", "8080")}, nil},
		{"$ref into $defs broken", props(`"PORT":{"$ref":"#/$defs/port"}`, `"$defs":{"port":{"type":"integer","minimum":1024,"maximum":65535}}`),
			[]envVar{plainVar("PORT", "80")}, []string{"PORT: minimum: must be >= 1024, got 80"}},
		{"several problems are sorted by variable", props(`"A":{"type":"integer"},"B":{"type":"boolean"}`, `"required":["C"]`),
			[]envVar{plainVar("B", "x"), plainVar("A", "y")},
			[]string{`A: type: must be integer, got "y"`, `B: type: must be boolean, got "x"`, "C: required: missing"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validateEnv(t, tc.schema, tc.vars...)
			if tc.problems == nil {
				assert.Equal(t, envdrift.CheckPassed, c.Status, "%s %v", c.Detail, c.Problems)
				assert.Empty(t, c.Problems)
				return
			}
			assert.Equal(t, envdrift.CheckFailed, c.Status)
			assert.Equal(t, tc.problems, c.Problems)
			assert.Equal(t, fmt.Sprintf("env.schema.json: %d %s", len(tc.problems), plural(len(tc.problems), "violation", "violations")), c.Detail)
		})
	}
}

func TestCoerce_FollowsTheDeclaredTypes(t *testing.T) {
	defs := `"$defs":{"port":{"$ref":"#/$defs/number"},"number":{"type":"integer","minimum":1024}}`
	cases := []struct {
		name   string
		schema string
		value  string
		want   any
	}{
		{"integer", props(`"V":{"type":"integer"}`), "8080", json.Number("8080")},
		{"negative integer", props(`"V":{"type":"integer"}`), "-3", json.Number("-3")},
		{"number", props(`"V":{"type":"number"}`), "1.5e3", json.Number("1.5e3")},
		{"not a number stays a string", props(`"V":{"type":"integer"}`), "8080x", "8080x"},
		{"no leading zeros", props(`"V":{"type":"integer"}`), "007", "007"},
		{"no padding", props(`"V":{"type":"integer"}`), " 1", " 1"},
		{"boolean true", props(`"V":{"type":"boolean"}`), "true", true},
		{"boolean any case", props(`"V":{"type":"boolean"}`), "False", false},
		{"not a boolean stays a string", props(`"V":{"type":"boolean"}`), "yes", "yes"},
		{"null from empty", props(`"V":{"type":["null","integer"]}`), "", nil},
		{"string schema keeps strings", props(`"V":{"type":"string"}`), "8080", "8080"},
		{"no schema for the variable", props(`"OTHER":{"type":"integer"}`), "8080", "8080"},
		{"type array prefers the non-string type", props(`"V":{"type":["integer","string"]}`), "8080", json.Number("8080")},
		{"type array keeps other strings", props(`"V":{"type":["integer","string"]}`), "auto", "auto"},
		{"anyOf integer", props(`"V":{"anyOf":[{"type":"integer","minimum":1024},{"const":"auto"}]}`), "8080", json.Number("8080")},
		{"anyOf string alternative", props(`"V":{"anyOf":[{"type":"integer","minimum":1024},{"const":"auto"}]}`), "auto", "auto"},
		{"anyOf none matches: declared type kept", props(`"V":{"anyOf":[{"type":"integer","minimum":1024},{"const":"auto"}]}`), "80", json.Number("80")},
		{"oneOf boolean", props(`"V":{"oneOf":[{"type":"boolean"},{"type":"integer"}]}`), "true", true},
		{"oneOf integer", props(`"V":{"oneOf":[{"type":"boolean"},{"type":"integer"}]}`), "3", json.Number("3")},
		{"allOf", props(`"V":{"allOf":[{"type":"integer"},{"minimum":1}]}`), "3", json.Number("3")},
		{"$ref", props(`"V":{"$ref":"#/$defs/number"}`, defs), "8080", json.Number("8080")},
		{"nested $ref", props(`"V":{"$ref":"#/$defs/port"}`, defs), "8080", json.Number("8080")},
		{"root $ref", `{"$ref":"#/$defs/env","$defs":{"env":{"properties":{"V":{"type":"number"}}}}}`, "2.5", json.Number("2.5")},
		{"enum of numbers implies a number", props(`"V":{"enum":[1,2,3]}`), "2", json.Number("2")},
		{"const boolean implies a boolean", props(`"V":{"const":true}`), "true", true},
		{"patternProperties", `{"patternProperties":{"^FEATURE_":{"type":"boolean"}}}`, "true", "true"},
		{"patternProperties match", `{"patternProperties":{"^V$":{"type":"boolean"}}}`, "true", true},
		{"additionalProperties schema", `{"properties":{"X":{}},"additionalProperties":{"type":"integer"}}`, "5", json.Number("5")},
		{"if/then", props(`"V":{"if":{"type":"integer"},"then":{"minimum":1}}`), "3", json.Number("3")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := schemaFile(t, t.TempDir(), "s.json", tc.schema)
			sch, err := (&Validator{}).compile(p)
			require.NoError(t, err)
			assert.Equal(t, tc.want, coerce(sch, "V", tc.value))
		})
	}
}

func TestValidator_CoercionInsideCombinators(t *testing.T) {
	port := props(`"PORT":{"anyOf":[{"type":"integer","minimum":1024},{"const":"auto"}]}`)
	assert.Equal(t, envdrift.CheckPassed, validateEnv(t, port, plainVar("PORT", "8080")).Status)
	assert.Equal(t, envdrift.CheckPassed, validateEnv(t, port, plainVar("PORT", "auto")).Status)
	c := validateEnv(t, port, plainVar("PORT", "80"))
	assert.Equal(t, envdrift.CheckFailed, c.Status)
	assert.Equal(t, []string{`PORT: anyOf: matches none of the alternatives (minimum: must be >= 1024, got 80 | const: must be "auto", got 80)`}, c.Problems)

	one := props(`"WORKERS":{"oneOf":[{"type":"integer","maximum":4},{"type":"integer","minimum":2}]}`)
	assert.Equal(t, envdrift.CheckPassed, validateEnv(t, one, plainVar("WORKERS", "1")).Status)
	c = validateEnv(t, one, plainVar("WORKERS", "3"))
	assert.Equal(t, []string{"WORKERS: oneOf: must match exactly one alternative, matches #1 and #2"}, c.Problems)

	nested := props(`"PORT":{"$ref":"#/$defs/port"}`,
		`"$defs":{"port":{"$ref":"#/$defs/range"},"range":{"type":"integer","minimum":1024,"maximum":65535}}`)
	assert.Equal(t, envdrift.CheckPassed, validateEnv(t, nested, plainVar("PORT", "8080")).Status)
	c = validateEnv(t, nested, plainVar("PORT", "99999"))
	assert.Equal(t, []string{"PORT: maximum: must be <= 65535, got 99999"}, c.Problems)
}

func TestValidator_ValidatesDecryptedValuesAndNeverShowsThem(t *testing.T) {
	doc := props(`
		"PORT":{"type":"integer","minimum":1024},
		"API_URL":{"type":"string","format":"uri","pattern":"^https://"},
		"ADMIN_EMAIL":{"type":"string","format":"email"},
		"LOG_LEVEL":{"enum":["debug","info"]},
		"BUDGET":{"type":"number","maximum":10}`, `"required":["PORT","API_URL","LOG_LEVEL","BUDGET"]`)

	valid := validateEnv(t, doc, secretVar("PORT", "8080"), secretVar("API_URL", "https://internal.example.com"),
		secretVar("ADMIN_EMAIL", "ops@example.com"), secretVar("LOG_LEVEL", "info"), secretVar("BUDGET", "9.5"))
	assert.Equal(t, envdrift.CheckPassed, valid.Status, valid.Problems)
	assert.Equal(t, "5 variables valid against env.schema.json", valid.Detail)

	secrets := []envVar{secretVar("PORT", "80"), secretVar("API_URL", "http://hidden-host.invalid"),
		secretVar("ADMIN_EMAIL", "hidden-at-example.com"),
		secretVar("LOG_LEVEL", "verbose-hidden"), secretVar("BUDGET", "12345.75")}
	c := validateEnv(t, doc, secrets...)
	assert.Equal(t, envdrift.CheckFailed, c.Status)
	assert.Equal(t, []string{
		"ADMIN_EMAIL: format: must be a valid email",
		"API_URL: pattern: must match ^https://",
		"BUDGET: maximum: must be <= 10",
		`LOG_LEVEL: enum: must be one of "debug", "info"`,
		"PORT: minimum: must be >= 1024",
	}, c.Problems)
	out := c.Detail + "\n" + strings.Join(c.Problems, "\n")
	for _, v := range secrets {
		assert.NotContains(t, out, v.value)
	}
	assert.NotContains(t, out, "12345")
	assert.NotContains(t, out, "hidden")

	typ := validateEnv(t, props(`"PORT":{"type":"integer"}`), secretVar("PORT", "eighty-hidden"))
	assert.Equal(t, []string{"PORT: type: must be integer, got string"}, typ.Problems)
	short := validateEnv(t, props(`"API_TOKEN":{"type":"string","minLength":32}`), secretVar("API_TOKEN", "tok-hidden"))
	assert.Equal(t, []string{"API_TOKEN: minLength: must be at least 32 characters"}, short.Problems, "not even the length of a secret")
}

func TestValidator_ShowsPlainValuesOnlyWhenSafe(t *testing.T) {
	cases := []struct {
		name   string
		schema string
		v      envVar
		want   string
	}{
		{"plain value shown", props(`"PUBLIC_URL":{"pattern":"^https://"}`),
			plainVar("PUBLIC_URL", "http://example.com"), `PUBLIC_URL: pattern: must match ^https://, got "http://example.com"`},
		{"writeOnly hides a plain value", props(`"PUBLIC_URL":{"pattern":"^https://","writeOnly":true}`),
			plainVar("PUBLIC_URL", "http://example.com"), `PUBLIC_URL: pattern: must match ^https://`},
		{"writeOnly through $ref", props(`"PUBLIC_URL":{"$ref":"#/$defs/secret","pattern":"^https://"}`, `"$defs":{"secret":{"type":"string","writeOnly":true}}`),
			plainVar("PUBLIC_URL", "http://example.com"), `PUBLIC_URL: pattern: must match ^https://`},
		{"writeOnly on the whole file", props(`"PUBLIC_URL":{"pattern":"^https://"}`, `"writeOnly":true`),
			plainVar("PUBLIC_URL", "http://example.com"), `PUBLIC_URL: pattern: must match ^https://`},
		{"secret-looking name", props(`"DB_PASSWORD":{"minLength":30}`),
			plainVar("DB_PASSWORD", "hunter2"), `DB_PASSWORD: minLength: must be at least 30 characters`},
		{"URL with credentials", props(`"DATABASE_URL":{"pattern":"^postgresql://"}`),
			plainVar("DATABASE_URL", "postgres://app:hunter2@db/app"), `DATABASE_URL: pattern: must match ^postgresql://`},
		{"long plain value shortened", props(`"GREETING":{"maxLength":3}`),
			plainVar("GREETING", strings.Repeat("a", 100)), `GREETING: maxLength: must be at most 3 characters, got 100`},
		{"long plain value shortened in quotes", props(`"GREETING":{"const":"hi"}`),
			plainVar("GREETING", strings.Repeat("a", 100)), `GREETING: const: must be "hi", got "` + strings.Repeat("a", 57) + `..."`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validateEnv(t, tc.schema, tc.v)
			assert.Equal(t, []string{tc.want}, c.Problems)
			if !strings.Contains(tc.want, "got") {
				assert.NotContains(t, strings.Join(c.Problems, "\n"), tc.v.value)
			}
		})
	}
}

func TestValidator_RefToAnotherFile(t *testing.T) {
	dir := t.TempDir()
	k, key := genKey(t)
	schemaFile(t, dir, "common/defs.json", `{"$defs":{"port":{"$ref":"#/$defs/range"},"range":{"type":"integer","minimum":1024}}}`)
	sch := schemaFile(t, dir, "env.schema.json", props(`"PORT":{"$ref":"common/defs.json#/$defs/port"}`))
	v := &Validator{}

	env := writeEnv(t, dir, k, plainVar("PORT", "8080"))
	assert.Equal(t, envdrift.CheckPassed, v.ValidateSchema(context.Background(), env, sch, key).Status)
	env = writeEnv(t, dir, k, plainVar("PORT", "80"))
	assert.Equal(t, []string{"PORT: minimum: must be >= 1024, got 80"}, v.ValidateSchema(context.Background(), env, sch, key).Problems)
}

func TestValidator_UnusableSchemaFails(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name   string
		path   string
		detail []string
	}{
		{"missing file", filepath.Join(dir, "missing.json"),
			[]string{"cannot read schema " + filepath.Join(dir, "missing.json") + ": no such file or directory"}},
		{"a directory", dir, []string{"cannot read schema " + dir + ": is a directory"}},
		{"not JSON", schemaFile(t, dir, "bad.json", "{\n  \"type\": \"object\",\n  \"properties\": {,}\n}"),
			[]string{"cannot read schema " + filepath.Join(dir, "bad.json") + ": invalid JSON at line 3, column 18"}},
		{"trailing data", schemaFile(t, dir, "trailing.json", `{"type":"object"} {}`),
			[]string{"data after the top-level value"}},
		{"unknown type", schemaFile(t, dir, "type.json", props(`"PORT":{"type":"integr"}`)),
			[]string{"invalid schema " + filepath.Join(dir, "type.json") + ": not a valid JSON Schema: ", "/properties/PORT/type"}},
		{"wrong keyword value", schemaFile(t, dir, "minlen.json", props(`"PORT":{"minLength":"three"}`)),
			[]string{"invalid schema", "/properties/PORT/minLength"}},
		{"bad regular expression", schemaFile(t, dir, "regex.json", props(`"PORT":{"pattern":"(unclosed"}`)),
			[]string{"invalid schema", "(unclosed"}},
		{"$ref to a missing file", schemaFile(t, dir, "ref.json", props(`"PORT":{"$ref":"nowhere.json"}`)),
			[]string{"invalid schema", filepath.Join(dir, "nowhere.json")}},
		{"$ref to a missing definition", schemaFile(t, dir, "def.json", props(`"PORT":{"$ref":"#/$defs/nope"}`)),
			[]string{"invalid schema", "nope"}},
		{"$ref to the network", schemaFile(t, dir, "net.json", props(`"PORT":{"$ref":"https://schemas.example.com/port.json"}`)),
			[]string{"invalid schema", "only local schema files can be referenced"}},
	}
	k, key := genKey(t)
	env := writeEnv(t, t.TempDir(), k, plainVar("PORT", "8080"))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := (&Validator{}).ValidateSchema(context.Background(), env, tc.path, key)
			assert.Equal(t, envdrift.CheckFailed, c.Status)
			assert.Empty(t, c.Problems)
			for _, d := range tc.detail {
				assert.Contains(t, c.Detail, d)
			}
			assert.NotContains(t, c.Detail, "\n")
		})
	}
}

func TestValidator_KeyThatCannotDecryptSaysSo(t *testing.T) {
	dir := t.TempDir()
	k, key := genKey(t)
	_, other := genKey(t)
	env := writeEnv(t, dir, k, secretVar("API_TOKEN", "tok-hidden-value"), plainVar("PORT", "8080"))
	sch := schemaFile(t, dir, "env.schema.json", props(`"PORT":{"type":"integer"}`))
	for name, wrong := range map[string]envdrift.Key{"another key": other, "no key": {}} {
		t.Run(name, func(t *testing.T) {
			c := (&Validator{}).ValidateSchema(context.Background(), env, sch, wrong)
			assert.Equal(t, envdrift.CheckFailed, c.Status)
			assert.True(t, strings.HasPrefix(c.Detail, "cannot validate: "), c.Detail)
			assert.Contains(t, c.Detail, "no matching private key")
			assert.Empty(t, c.Problems)
			assert.NotContains(t, c.Detail, "tok-hidden-value")
		})
	}

	// A corrupted value is named, not shown.
	data, err := os.ReadFile(env)
	require.NoError(t, err)
	enc := strings.Split(strings.Split(string(data), "API_TOKEN=\"")[1], "\"")[0]
	require.NoError(t, os.WriteFile(env, []byte(strings.Replace(string(data), enc, enc[:len(enc)-4]+"AAAA", 1)), 0o644))
	c := (&Validator{}).ValidateSchema(context.Background(), env, sch, key)
	assert.Equal(t, envdrift.CheckFailed, c.Status)
	assert.Contains(t, c.Detail, "cannot validate: ")
	assert.Contains(t, c.Detail, "API_TOKEN")
}

func TestValidator_NoSchemaSkipsAndCancelledFails(t *testing.T) {
	k, key := genKey(t)
	env := writeEnv(t, t.TempDir(), k, plainVar("PORT", "8080"))
	c := (&Validator{}).ValidateSchema(context.Background(), env, "", key)
	assert.Equal(t, envdrift.Check{Status: envdrift.CheckSkipped, Detail: "no schema for this folder"}, c)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c = (&Validator{}).ValidateSchema(ctx, env, "whatever.json", key)
	assert.Equal(t, envdrift.CheckFailed, c.Status)

	c = (&Validator{}).ValidateSchema(context.Background(), filepath.Join(t.TempDir(), ".env.production"), schemaFile(t, t.TempDir(), "s.json", "{}"), key)
	assert.Equal(t, envdrift.CheckFailed, c.Status)
	assert.Contains(t, c.Detail, "cannot validate: ")
}

func TestValidator_CachesCompiledSchemasAndIsSafeForConcurrentUse(t *testing.T) {
	dir := t.TempDir()
	k, key := genKey(t)
	sch := schemaFile(t, dir, "env.schema.json", props(`"PORT":{"type":"integer","minimum":1024}`))
	good := writeEnv(t, t.TempDir(), k, secretVar("PORT", "8080"))
	bad := writeEnv(t, t.TempDir(), k, secretVar("PORT", "80"))
	v := &Validator{}
	var wg sync.WaitGroup
	results := make([]envdrift.Check, 64)
	for i := range results {
		wg.Go(func() {
			env := good
			if i%2 == 1 {
				env = bad
			}
			results[i] = v.ValidateSchema(context.Background(), env, sch, key)
		})
	}
	wg.Wait()
	for i, c := range results {
		if i%2 == 0 {
			assert.Equal(t, envdrift.CheckPassed, c.Status)
		} else {
			assert.Equal(t, []string{"PORT: minimum: must be >= 1024"}, c.Problems)
		}
	}
	assert.Len(t, v.cache, 1)

	// The compiled schema is reused: editing the file does not change this
	// validator's answer; a new validator reads the new file.
	schemaFile(t, dir, "env.schema.json", props(`"PORT":{"type":"integer","minimum":1}`))
	assert.Equal(t, envdrift.CheckFailed, v.ValidateSchema(context.Background(), bad, sch, key).Status)
	assert.Equal(t, envdrift.CheckPassed, (&Validator{}).ValidateSchema(context.Background(), bad, sch, key).Status)
}

func TestValidator_ExactlyMaxSizeIsReadOneByteMoreIsRefused(t *testing.T) {
	doc := `{"type": "object"}`
	p := filepath.Join(t.TempDir(), "env.schema.json")
	require.NoError(t, os.WriteFile(p, []byte(doc+strings.Repeat(" ", MaxSize-len(doc))), 0o600))
	_, err := loadSchemaFile(p)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p, []byte(doc+strings.Repeat(" ", MaxSize+1-len(doc))), 0o600))
	_, err = loadSchemaFile(p)
	assert.ErrorContains(t, err, "larger than 4194304 bytes")
}
