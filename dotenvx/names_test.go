package dotenvx

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The expectations were measured with `dotenvx encrypt -f NAME` (2.38.2; the
// ones marked 1.x also with 1.75.1), reading the names it wrote.
func TestKeyNames(t *testing.T) {
	tests := []struct {
		file, suffix string
	}{
		{".env", ""},
		{".env.production", "_PRODUCTION"},
		{".env.production.local", "_PRODUCTION_LOCAL"},
		{".env.staging.eu.west", "_STAGING_EU"}, // 1.x too
		{".env.my-app", "_MY-APP"},              // 1.x too
		{".env.ci", "_CI"},
		{".env.txt", ""},
		{".env.production.txt", "_PRODUCTION"}, // 1.x too
		{".env.prod.TXT", "_PROD"},
		{".env.a.b.c.txt", "_A_B"},
		{"env.txt", "_ENV.TXT"}, // 1.x too: .txt is only dropped after ".env…"
		{"my.env.txt", "_TXT"},
		{".env.Production", "_PRODUCTION"},
		{".ENV.PROD", "_PROD"},
		{"x.env", "_XDEVELOPMENT"}, // 1.x too
		{"secrets.env", "_SECRETSDEVELOPMENT"},
		{".env1", "_DEVELOPMENT1"},
		{".envrc", "_DEVELOPMENTRC"},
		{"env", "_ENV"},
		{".env.", "_"},
		{"foo.production", "_FOO.PRODUCTION"},
		{"config.env.prod", "_PROD"},
		{"services/api/.env.production", "_PRODUCTION"},
		{"/abs/path/.env", ""},
		{"dir.with.dots/.env.ci", "_CI"},
		{"", "_"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			priv, pub := KeyNames(tt.file)
			assert.Equal(t, "DOTENV_PRIVATE_KEY"+tt.suffix, priv)
			assert.Equal(t, "DOTENV_PUBLIC_KEY"+tt.suffix, pub)
		})
	}
}
