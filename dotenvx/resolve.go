package dotenvx

import (
	"fmt"
	"strings"
)

// ResolveOptions tell [File.Resolve] which of dotenvx run's rules to apply.
// The zero value applies none: the values are returned as written, which is
// what [File.Decrypt] does.
type ResolveOptions struct {
	// Expand expands $VAR, ${VAR} and the ${VAR:-default} family as
	// `dotenvx run` does, and recognises $(command) substitutions, which it
	// never runs (see the package documentation, "Expansion").
	Expand bool

	// LookupEnv looks a name up in the environment the file is loaded into,
	// usually os.LookupEnv. A variable of the file that it finds keeps the
	// environment's value unless Overload is set, and expansion looks names
	// up in it. nil stands for an empty environment.
	LookupEnv func(name string) (value string, ok bool)

	// Overload lets the file's values win over the environment's, as
	// `dotenvx run --overload` does.
	Overload bool
}

// ResolveResult is what [File.Resolve] returns.
type ResolveResult struct {
	// Values holds the value of every variable the file assigns, except its
	// DOTENV_PUBLIC_KEY* declarations: the value a process started by
	// `dotenvx run` with the same options would see. Setting each of them
	// in the environment LookupEnv reads (os.Setenv) applies dotenvx's
	// precedence, since a variable the environment keeps has its
	// environment value here.
	Values map[string]string

	// Warnings says where Values differ from dotenvx on purpose: values with
	// $(command) substitutions, which envdrift does not run. In file order.
	Warnings []Warning
}

// warningKind classifies a [Warning].
type warningKind int

// The kinds of [Warning].
const (
	// commandNotRun: the file's value holds a $(command) substitution that
	// dotenvx would run. It is not run and the value is used as written,
	// without expansion (dotenvx expands the output of the commands no
	// further, or, when a command fails, expands the value as written).
	commandNotRun warningKind = iota + 1

	// envCommandNotRun: the variable keeps the environment's value, and that
	// value holds a $(command) substitution that dotenvx would run (it
	// evaluates the environment's value of a variable the file assigns). It
	// is kept as the environment has it.
	envCommandNotRun

	// refersToCommand: the value refers to a variable, named in Warning.Ref,
	// whose $(command) was not run, and was expanded with that variable's
	// text as written.
	refersToCommand
)

// Warning reports a variable whose value differs from what dotenvx would give
// it because envdrift does not run $(command) substitutions. It names the
// variable and never holds a value.
type Warning struct {
	Path string // the env file ("" if unknown)
	Line int    // line of the assignment
	Key  string // the variable
	kind warningKind
	Ref  string // refersToCommand: the variable referred to
}

// String describes w without any value, e.g.
// ".env:3: API_URL: $(command) substitution not run; the value is used as written".
func (w Warning) String() string {
	var msg string
	switch w.kind {
	case commandNotRun:
		msg = "$(command) substitution not run; the value is used as written"
	case envCommandNotRun:
		msg = "the environment's value holds a $(command) substitution, which is not run; the value is kept as the environment has it"
	case refersToCommand:
		msg = "refers to " + w.Ref + ", whose $(command) substitution was not run; expanded with its text as written"
	default:
		msg = fmt.Sprintf("warning of unknown kind %d", int(w.kind))
	}
	where := fmt.Sprintf("line %d", w.Line)
	if w.Path != "" {
		where = fmt.Sprintf("%s:%d", w.Path, w.Line)
	}
	return where + ": " + w.Key + ": " + msg
}

// Resolve returns the variables of the file as `dotenvx run` sets them for
// the command it starts, with the options opts, decrypting with keys.
//
// Every encrypted value is decrypted first, with the candidates of keys that
// derive the DOTENV_PUBLIC_KEY* the file declares (see [File.Decrypt] for the
// key rules and the errors; a value that does not decrypt is an error
// wrapping ErrDecrypt, never left encrypted). Then, entry by entry in file
// order, as dotenvx does:
//
//   - Precedence: when opts.LookupEnv finds the name and opts.Overload is
//     off, the environment's value is used (even when empty). If that value
//     is itself encrypted it is decrypted with the same keys, as dotenvx
//     does.
//   - Expansion (opts.Expand): the value is expanded unless it was written
//     in single quotes, holds a $(command) substitution dotenvx would run, or
//     is the environment's non-empty value without opts.Overload. References
//     see the environment and the values assigned earlier in the file; the
//     environment wins unless opts.Overload is set. A later assignment is
//     not seen. The rules are in the package documentation, "Expansion".
//
// Single quotes are known for a File that [ReadFile] returned; the entries
// of a File built by hand, or whose Entries were added or removed since,
// count as unquoted.
//
// An expansion that does not end (dotenvx loops forever on some values) is
// an error wrapping ErrExpansion. Errors and warnings name variables and
// lines, never values or keys.
func (f *File) Resolve(keys []*PrivateKey, opts ResolveOptions) (ResolveResult, error) {
	if f == nil {
		return ResolveResult{}, fmt.Errorf("dotenvx: nil File")
	}
	plain, cands, err := f.decryptEntries(keys)
	if err != nil {
		return ResolveResult{}, err
	}
	x := newExpander(opts.LookupEnv, opts.Overload)
	res := ResolveResult{Values: make(map[string]string, len(f.Entries))}
	next := 0
	for i, e := range f.Entries {
		v := e.Value
		if isEncrypted(v) {
			v = plain[next]
			next++
		}
		env, inEnv := x.lookupEnv(e.Key)
		if inEnv && !opts.Overload {
			v = env
			if isEncrypted(v) {
				if v, cands, err = f.decryptFromEnv(e, v, cands, keys); err != nil {
					return ResolveResult{}, err
				}
			}
		}
		quote := f.quote(i)
		taint := false // v holds or took in the text of an unrun $(command)
		if opts.Expand && quote != '\'' {
			// dotenvx evaluates $(command) in the value it holds at this
			// point when the environment does not have the name or has
			// this very value; when a command changes the value it does
			// not expand it.
			if (!inEnv || env == v) && hasCommand(v) {
				taint = true
				kind := commandNotRun
				if inEnv && !opts.Overload {
					kind = envCommandNotRun
				}
				res.Warnings = append(res.Warnings, Warning{Path: f.Path, Line: e.Line, Key: e.Key, kind: kind})
			}
			if !taint && (env == "" || opts.Overload) {
				var refs []string
				v, refs, err = x.expand(v)
				if err != nil {
					return ResolveResult{}, inFile(f.Path, fmt.Errorf("expanding %s (line %d): %w", e.Key, e.Line, err))
				}
				for _, r := range refs {
					res.Warnings = append(res.Warnings, Warning{Path: f.Path, Line: e.Line, Key: e.Key, kind: refersToCommand, Ref: r})
				}
				taint = len(refs) > 0
			}
		}
		if quote == '\'' {
			x.literals[e.Key] = v
		}
		x.running[e.Key] = v
		x.tainted[e.Key] = taint
		if !isPublicKeyName(e.Key) {
			res.Values[e.Key] = v
		}
	}
	return res, nil
}

// decryptEntries decrypts the encrypted entries of f, in order, and returns
// the plaintexts and the key candidates used (nil when there was nothing to
// decrypt).
func (f *File) decryptEntries(keys []*PrivateKey) (plain []string, cands []*PrivateKey, err error) {
	enc := f.Encrypted()
	if len(enc) == 0 {
		return nil, nil, nil
	}
	cands, err = f.selectKeys(keys)
	if err != nil {
		return nil, nil, inFile(f.Path, err)
	}
	plain, errs := decryptAll(enc, cands)
	var failed []string
	var first error
	for i, err := range errs {
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s (line %d)", enc[i].Key, enc[i].Line))
			if first == nil {
				first = err
			}
		}
	}
	if first != nil {
		return nil, nil, inFile(f.Path, fmt.Errorf("could not decrypt %s: %w", strings.Join(failed, ", "), first))
	}
	return plain, cands, nil
}

// decryptFromEnv decrypts value, the environment's encrypted value of the
// variable of entry e, selecting the key candidates first if the file itself
// had nothing to decrypt.
func (f *File) decryptFromEnv(e Entry, value string, cands, keys []*PrivateKey) (string, []*PrivateKey, error) {
	if cands == nil {
		var err error
		if cands, err = f.selectKeys(keys); err != nil {
			return "", nil, inFile(f.Path, fmt.Errorf("the environment's value of %s (line %d) is encrypted: %w", e.Key, e.Line, err))
		}
	}
	plain, err := decryptAny(cands, value)
	if err != nil {
		return "", nil, inFile(f.Path, fmt.Errorf("could not decrypt the environment's value of %s (line %d): %w", e.Key, e.Line, err))
	}
	return plain, cands, nil
}
