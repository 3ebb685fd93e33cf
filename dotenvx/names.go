package dotenvx

import (
	"path/filepath"
	"strings"
)

// Prefixes of the variable names dotenvx uses for keys.
const (
	privateKeyPrefix = "DOTENV_PRIVATE_KEY"
	publicKeyPrefix  = "DOTENV_PUBLIC_KEY"
)

// KeyNames returns the names dotenvx gives the private and public key of the
// env file at path envFile, for example DOTENV_PRIVATE_KEY_PRODUCTION and
// DOTENV_PUBLIC_KEY_PRODUCTION for ".env.production".
//
// The rule, as dotenvx 2.38.2 (and 1.75.1) applies it to the base name of the
// path:
//
//  1. Lowercase it. If it starts with ".env" and ends with ".txt", drop the
//     ".txt".
//  2. ".env" gives the bare names DOTENV_PRIVATE_KEY and DOTENV_PUBLIC_KEY.
//  3. Otherwise split it on "." and drop the first two parts (for ".env.x"
//     those are "" and "env"; for "config.env.x" they are "config" and
//     "env"). One part left: that part; two or more: the first two joined by
//     "_"; none: the name with its first ".env" replaced by "development".
//  4. Uppercase the result and append it after "_". Dashes and any other
//     characters are kept as they are.
//
// Examples: .env.production → _PRODUCTION; .env.production.local →
// _PRODUCTION_LOCAL; .env.staging.eu.west → _STAGING_EU; .env.my-app →
// _MY-APP; .env.ci → _CI; .env.txt → no suffix; .env.production.txt →
// _PRODUCTION; env.txt → _ENV.TXT; .env1 → _DEVELOPMENT1; secrets.env →
// _SECRETSDEVELOPMENT; config.env.prod → _PROD.
//
// dotenvx prefers a DOTENV_PUBLIC_KEY* name the file already declares; see
// [File.PublicKey] for that.
func KeyNames(envFile string) (privateName, publicName string) {
	suffix, ok := keyNameSuffix(envFile)
	if !ok {
		return privateKeyPrefix, publicKeyPrefix
	}
	return privateKeyPrefix + "_" + suffix, publicKeyPrefix + "_" + suffix
}

// keyNameSuffix returns the environment part of the key names and false when
// the names have no suffix.
func keyNameSuffix(envFile string) (string, bool) {
	base := ""
	if envFile != "" {
		base = filepath.Base(envFile)
	}
	name := strings.ToLower(base)
	if strings.HasPrefix(name, ".env") && strings.HasSuffix(name, ".txt") {
		name = name[:len(name)-len(".txt")]
	}
	if name == ".env" {
		return "", false
	}
	var env string
	parts := strings.Split(name, ".")
	switch {
	case len(parts) <= 2:
		env = strings.Replace(name, ".env", "development", 1)
	case len(parts) == 3:
		env = parts[2]
	default:
		env = parts[2] + "_" + parts[3]
	}
	return strings.ToUpper(env), true
}
