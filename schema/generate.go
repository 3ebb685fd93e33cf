package schema

import (
	"github.com/envdrift/envdrift"
	"github.com/envdrift/envdrift/internal/schemagen"
)

// Generate returns a starting JSON Schema (draft 2020-12) for the env
// file at envFile, indented for people to edit. Every variable except
// DOTENV_PUBLIC_KEY* becomes a required property, in file order, with a
// type guessed from its value: "boolean" for true or false (any case),
// "integer" for a whole JSON number, "number" for any other JSON number,
// else "string". Encrypted variables are decrypted with key to guess their
// type and are marked "writeOnly", so validation problems never show them.
// "additionalProperties" is written out as true: variables the schema does
// not declare are allowed until the user sets it to false.
//
// The schema never contains a value, not as a default or an example.
//
// When the file has encrypted values that key cannot decrypt (or key is
// zero), the schema is still returned with those variables typed "string",
// and warnings says why. err is non-nil only when the file cannot be read.
func Generate(envFile string, key envdrift.Key) (schema []byte, warnings []string, err error) {
	return schemagen.Generate(envFile, key)
}
