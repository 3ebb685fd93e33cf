// Package dotenvx is a native Go implementation of what dotenvx
// (https://dotenvx.com) does with env files and keys: it reads .env files with
// the grammar dotenvx uses, derives the DOTENV_PRIVATE_KEY_* / DOTENV_PUBLIC_KEY_*
// names dotenvx gives an env file, parses and generates secp256k1 key pairs,
// and encrypts and decrypts "encrypted:" values with dotenvx's ECIES scheme.
//
// It needs neither Node.js nor the dotenvx CLI, so a Go service can load an
// encrypted .env file at start-up:
//
//	f, err := dotenvx.ReadFile(".env.production")
//	keys, err := dotenvx.ParsePrivateKeys(os.Getenv("DOTENV_PRIVATE_KEY_PRODUCTION"))
//	vars, err := f.Decrypt(keys)
//
// and a tool can check that a private key really decrypts a file:
//
//	f, _ := dotenvx.ReadFile(".env.production")
//	keys, _ := dotenvx.ParsePrivateKeys(key)
//	if r := dotenvx.Check(f, keys); !r.ok() { ... }
//
// # Compatibility
//
// The formats were measured against dotenvx 2.38.2 and 1.75.1; the test data
// under testdata/ was produced by those versions and is decrypted by the tests.
//
// Encrypted value: "encrypted:" followed by standard base64 of
// E(65) ‖ N(16) ‖ T(16) ‖ C, where E is an ephemeral uncompressed secp256k1
// public key, N the AES-GCM nonce, T the GCM tag and C the ciphertext. The AES
// key is HKDF-SHA256 (no salt, no info, 32 bytes) over E ‖ (d·E), both
// uncompressed.
//
// [Load] and [File.Decrypt] return the file's values as written (after
// unquoting and decryption). [File.Resolve] returns what `dotenvx run` would
// set: it applies the environment's precedence and, when asked, expands
// $VAR references (see Expansion below). No function of this package runs a
// $(command) substitution.
//
// # Expansion
//
// With [ResolveOptions].Expand, [File.Resolve] expands values as dotenvx
// 2.38.2 does (its @dotenvx/primitives 3.3.1 "expand" and "evaluate"). The
// rules were read from that code and are checked against it and against the
// dotenvx CLI by the interop tests:
//
//   - Entries are processed in file order. An entry's value is its decrypted
//     value, or, when the environment (ResolveOptions.LookupEnv) has the name
//     and Overload is off, the environment's value, even an empty one.
//   - A value is expanded unless it was written in single quotes (dotenvx
//     encrypt keeps the quotes, so this holds for encrypted values too), it
//     holds a $(command) dotenvx would run, or it is the environment's
//     non-empty value and Overload is off. Double-quoted, backtick-quoted
//     and unquoted values are expanded.
//   - A reference is ${NAME}, where NAME is anything but braces, or $NAME
//     with NAME matching [A-Za-z_][A-Za-z0-9_]*. A "$" preceded by a
//     backslash does not start one; after expansion every \$ becomes $.
//   - Names are looked up in the environment and in the values assigned
//     earlier in the file (as expanded); without Overload the environment
//     wins, with Overload the file does. A variable assigned later in the
//     file is not seen: "A=$B" then "B=1" gives A the empty string.
//   - Inside braces the first of ":-", "-", ":+" or "+" is an operator:
//     ${N:-d} is d when N is unset or empty, ${N-d} when N is unset; ${N:+a}
//     is a when N is set and not empty, ${N+a} when N is set; otherwise N's
//     value. An unset name gives the empty string. Other shell forms mean
//     nothing special: ${N:=d}, ${#N} or ${N%x} look up the whole inside as
//     a name, and ${N:?msg-x} has the operator "-" after "N:?msg", which
//     usually gives the empty string or the text after the operator.
//   - After each substitution the value is scanned again from its start, so
//     references in substituted text (defaults, environment values, earlier
//     values holding a "$" that was escaped) are expanded in turn. Expansion stops when the
//     value has become exactly the value of the variable just substituted,
//     or when that variable was single-quoted in the file and its value
//     holds a reference.
//
// dotenvx's quirks follow from its code and are kept, so that a file gives
// the same values under envdrift as under dotenvx:
//
//   - A substitution replaces the first occurrence of the reference's text,
//     which can be an escaped one before it: with A=x, "\$A and $A" gives
//     "\x and x", while "\$A" alone gives "$A".
//   - In substituted text "$$", "$&", "$`" and "$'" are JavaScript
//     replacement patterns: with P='pa$$word', "$P" gives "pa$word".
//   - A name without operator is cut at the text "null": ${my_null_var} looks
//     up "my_", and $nullable gives the empty string.
//
// Deliberate differences from dotenvx:
//
//   - $(command) substitutions are never run. dotenvx runs them with
//     /bin/sh, and uses the output (or, when a command fails, expands the
//     value as written). A value holding one — as dotenvx's scanner finds
//     them: a "$(" whose parentheses close outside quotes — is used as
//     written, not expanded, and [ResolveResult].Warnings names the variable
//     (never the value), as it does variables whose expansion took text from
//     such a value, and variables whose environment value holds one (dotenvx
//     evaluates those too).
//   - An expansion that does not end (X=a$LOOP with LOOP=$LOOP in the
//     environment, or X=${UNSET:-a$&}) is an error wrapping ErrExpansion;
//     dotenvx loops forever. The limits (65,536 substitutions and 64 MiB of
//     work per value) also refuse values with thousands of references to
//     long values, which dotenvx would expand, slowly.
//   - Names of JavaScript's Object.prototype ($constructor, ${toString}, …)
//     are ordinary names here; dotenvx expands them to odd text or hangs.
//   - A value that does not decrypt is an error wrapping ErrDecrypt, even
//     when the environment shadows it; dotenvx reports it and passes the
//     ciphertext on. Only keys that derive the file's DOTENV_PUBLIC_KEY* are
//     used.
//   - DOTENV_PUBLIC_KEY* variables are not returned (dotenvx run sets them
//     in the command's environment); they can be referenced.
//
// Several env files (dotenvx run -f a -f b): resolve them in order, each
// with a LookupEnv that also sees the Values of the files before it, as
// dotenvx sets each file's variables before it reads the next. Without
// Overload the first file to assign a variable wins; with it, the last.
//
// # Secrets
//
// Errors and the Format and LogValue methods of [PrivateKey] never
// contain private key material or decrypted values; public keys, which are not
// secret, are shown shortened (see [ShortPublicKey]).
package dotenvx
