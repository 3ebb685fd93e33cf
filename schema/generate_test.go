package schema

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/envdrift/envdrift"
	"github.com/envdrift/envdrift/internal/schemagen"
)

func TestGenerate_RoundTripsAnEncryptedFile(t *testing.T) {
	dir := t.TempDir()
	k, key := genKey(t)
	secrets := []envVar{secretVar("PORT", "8080"), secretVar("RATIO", "0.75"), secretVar("ENABLED", "TRUE"),
		secretVar("API_TOKEN", "tok-7f3a-hidden"), secretVar("DATABASE_URL", "postgres://u:pw@db/app")}
	vars := append([]envVar{plainVar("NAME", "api"), plainVar("ZIP", "01234"), plainVar("EMPTY", ""), plainVar("DEBUG", "False")}, secrets...)
	env := writeEnv(t, dir, k, vars...)

	out, warnings, err := Generate(env, key)
	require.NoError(t, err)
	assert.Empty(t, warnings)
	for _, v := range secrets {
		assert.NotContains(t, string(out), v.value)
	}
	var doc struct {
		Schema     string `json:"$schema"`
		Type       string
		Properties map[string]struct {
			Type      string
			WriteOnly bool
		}
		Required             []string
		AdditionalProperties bool
	}
	require.NoError(t, json.Unmarshal(out, &doc))
	assert.Equal(t, Draft, doc.Schema)
	assert.Equal(t, "object", doc.Type)
	assert.True(t, doc.AdditionalProperties)
	assert.Equal(t, []string{"NAME", "ZIP", "EMPTY", "DEBUG", "PORT", "RATIO", "ENABLED", "API_TOKEN", "DATABASE_URL"}, doc.Required)
	encrypted := map[string]bool{}
	for _, v := range secrets {
		encrypted[v.name] = true
	}
	types := map[string]string{}
	for name, p := range doc.Properties {
		types[name] = p.Type
		assert.Equal(t, encrypted[name], p.WriteOnly, "writeOnly exactly for encrypted variables: %s", name)
	}
	assert.Equal(t, map[string]string{"NAME": "string", "ZIP": "string", "EMPTY": "string", "DEBUG": "boolean",
		"PORT": "integer", "RATIO": "number", "ENABLED": "boolean", "API_TOKEN": "string", "DATABASE_URL": "string"}, types)
	assert.NotContains(t, string(out), "DOTENV_PUBLIC_KEY")
	assert.True(t, strings.Index(string(out), `"NAME"`) < strings.Index(string(out), `"ZIP"`), "file order is kept")

	sch := schemaFile(t, dir, "env.schema.json", string(out))
	c := (&Validator{}).ValidateSchema(context.Background(), env, sch, key)
	assert.Equal(t, envdrift.CheckPassed, c.Status, c.Problems)

	// Without the key, encrypted variables are typed "string" and the schema
	// still describes the file.
	out, warnings, err = Generate(env, envdrift.Key{})
	require.NoError(t, err)
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0], "cannot decrypt .env.production")
	assert.Contains(t, string(out), `"PORT": {`+"\n"+`      "type": "string",`+"\n"+`      "writeOnly": true`)
	sch = schemaFile(t, dir, "nokey.schema.json", string(out))
	assert.Equal(t, envdrift.CheckPassed, (&Validator{}).ValidateSchema(context.Background(), env, sch, key).Status)

	_, _, err = Generate(filepath.Join(dir, "missing"), key)
	assert.Error(t, err)
}

func TestGuessType(t *testing.T) {
	cases := map[string]string{
		"8080": "integer", "-1": "integer", "0": "integer", "1.5": "number", "1e3": "number",
		"true": "boolean", "FALSE": "boolean", "007": "string", "": "string", "1_000": "string",
		"0x10": "string", "yes": "string", "+1": "string", " 1": "string",
	}
	for v, want := range cases {
		assert.Equal(t, want, schemagen.GuessType(v), "%q", v)
		if want != "string" {
			p := schemaFile(t, t.TempDir(), "s.json", props(`"V":{"type":"`+want+`"}`))
			sch, err := (&Validator{}).compile(p)
			require.NoError(t, err)
			assert.NotEqual(t, v, coerce(sch, "V", v), "what Generate types, coerce converts: %q", v)
		}
	}
}
