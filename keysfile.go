package envdrift

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/envdrift/envdrift/dotenvx"
	"github.com/envdrift/envdrift/internal/durable"
	"github.com/envdrift/envdrift/internal/lazyre"
)

// keysFileHeader is the banner dotenvx writes at the top of a new .env.keys
// file; envdrift writes the same so that files look alike whoever made them.
const keysFileHeader = "#/------------------!DOTENV_PRIVATE_KEYS!-------------------/\n" +
	"#/ private decryption keys. DO NOT commit to source control /\n" +
	"#/     [how it works](https://dotenvx.com/encryption)       /\n" +
	"#/          ⛨ ARMORED KEYS: `dotenvx armor up`              /\n" +
	"#/----------------------------------------------------------/\n"

// maxKeysFileSize bounds the .env.keys files envdrift reads (1 MiB).
const maxKeysFileSize = 1 << 20

// keysFile is a .env.keys file as read from disk.
type keysFile struct {
	path   string
	data   []byte
	exists bool
	mode   fs.FileMode
}

// readKeysFile reads path without following a symlink there. A missing file
// is not an error: exists is false.
func readKeysFile(path string) (*keysFile, error) {
	kf := &keysFile{path: path}
	f, err := durable.OpenNoFollow(path)
	if errors.Is(err, fs.ErrNotExist) {
		return kf, nil
	}
	if errors.Is(err, durable.ErrSymlink) {
		return nil, fmt.Errorf("%w: %s is a symlink; envdrift does not write through symlinks", ErrUnsafePath, path)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrUnsafePath, path)
	}
	if st.Size() > maxKeysFileSize {
		return nil, fmt.Errorf("%s is %d bytes, over the %d-byte limit for keys files", path, st.Size(), maxKeysFileSize)
	}
	data := make([]byte, st.Size())
	n, err := f.ReadAt(data, 0)
	if err != nil && n != len(data) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	kf.data, kf.exists, kf.mode = data[:n], true, st.Mode().Perm()
	return kf, nil
}

// exposed reports whether the file's mode lets group or others in. Never
// on Windows, where access is by ACL and mode bits say nothing about it.
func (kf *keysFile) exposed() bool {
	return runtime.GOOS != "windows" && kf.mode&0o077 != 0
}

// lookup returns the value dotenvx would read for name: the last assignment.
func (kf *keysFile) lookup(name string) (string, bool) {
	return lookupKey(kf.data, name)
}

func lookupKey(data []byte, name string) (string, bool) {
	entries, err := dotenvx.Parse(data)
	if err != nil {
		return "", false
	}
	value, found := "", false
	for _, e := range entries {
		if e.Key == name {
			value, found = e.Value, true
		}
	}
	return value, found
}

// errKeysFileFormat is returned when an existing keys file cannot be updated
// without rewriting lines envdrift does not own.
var errKeysFileFormat = errors.New("keys file cannot be updated in place")

// mergeKey returns data with name set to value. Every line that assigns
// name (with or without `export `, quoted or not) gets the new value in the
// same quoting; if no line does, a block "# <envFile>" and "name=value" is
// appended after a blank line. Every other byte of data is kept: comments,
// other keys, order and line endings. An empty data gives a new file with
// dotenvx's header.
func mergeKey(data []byte, name, value, envFile string) ([]byte, error) {
	if len(data) == 0 {
		var b bytes.Buffer
		b.WriteString(keysFileHeader)
		b.WriteString("\n# " + envFile + "\n" + name + "=" + value + "\n")
		return b.Bytes(), nil
	}
	if bytes.HasPrefix(data, []byte{0xff, 0xfe}) || bytes.HasPrefix(data, []byte{0xfe, 0xff}) {
		return nil, fmt.Errorf("%w: it is UTF-16; save it as UTF-8", errKeysFileFormat)
	}
	// NUL bytes or invalid UTF-8: not something dotenvx or a person wrote
	// (a file zeroed by a crash, or the wrong file). Leave it for a human.
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return nil, fmt.Errorf("%w: it is not a text file (a NUL byte on line %d); restore it from a backup or move it away", errKeysFileFormat, 1+bytes.Count(data[:i], []byte("\n")))
	}
	if !utf8.Valid(data) {
		i := invalidUTF8At(data)
		return nil, fmt.Errorf("%w: it is not a text file (invalid UTF-8 on line %d); restore it from a backup or move it away", errKeysFileFormat, 1+bytes.Count(data[:i], []byte("\n")))
	}
	eol := "\n"
	if bytes.Contains(data, []byte("\r\n")) {
		eol = "\r\n"
	}
	starts, err := assignmentLines(data, name)
	if err != nil {
		return nil, err
	}
	lines := splitLines(data)
	if len(starts) == 0 {
		var b bytes.Buffer
		b.Write(data)
		if !bytes.HasSuffix(data, []byte("\n")) {
			b.WriteString(eol)
		}
		if last := lastLine(lines); len(bytes.TrimSpace(last)) != 0 {
			b.WriteString(eol)
		}
		b.WriteString("# " + envFile + eol + name + "=" + value + eol)
		// A last line without a line ending can change meaning once one is
		// added ("A:" becomes an assignment): only keep an append that
		// dotenvx reads as the old variables plus the new one.
		if !mergedCleanly(data, b.Bytes(), name, value) {
			return nil, fmt.Errorf("%w: its last line has no line ending and would be read differently with one; end the file with a newline", errKeysFileFormat)
		}
		return b.Bytes(), nil
	}
	for _, n := range starts {
		updated, err := replaceValue(lines[n-1], name, value)
		if err != nil {
			return nil, err
		}
		lines[n-1] = updated
	}
	out := bytes.Join(lines, nil)
	// The edit is only right if dotenvx reads the new value back, and
	// every other variable as before (a U+2028 can put two on one line).
	if !mergedCleanly(data, out, name, value) {
		return nil, fmt.Errorf("%w: the line assigning %s has a form envdrift cannot edit safely", errKeysFileFormat, name)
	}
	return out, nil
}

// mergedCleanly reports whether dotenvx reads after as it reads before
// with every assignment of name set to value — or, when before assigns name
// nowhere, as before followed by one assignment of name to value. Nothing
// else may change: no variable lost, added or altered.
func mergedCleanly(before, after []byte, name, value string) bool {
	entries := func(data []byte) []dotenvx.Entry {
		es, _ := dotenvx.Parse(data)
		for i := range es {
			es[i].Line = 0
		}
		return es
	}
	want, found := entries(before), false
	for i := range want {
		if want[i].Key == name {
			want[i].Value, found = value, true
		}
	}
	if !found {
		want = append(want, dotenvx.Entry{Key: name, Value: value})
	}
	return slices.Equal(want, entries(after))
}

// invalidUTF8At returns the offset of the first byte of data that is not
// part of a valid UTF-8 sequence.
func invalidUTF8At(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(data)
}

// splitLines splits data after each line ending, counting lines as the
// dotenvx parser does ("\n", "\r\n", or a lone "\r"), so that the n-th
// element is the line the parser numbers n.
func splitLines(data []byte) [][]byte {
	var lines [][]byte
	start := 0
	for i, c := range data {
		if c == '\n' || c == '\r' && (i+1 == len(data) || data[i+1] != '\n') {
			lines = append(lines, data[start:i+1])
			start = i + 1
		}
	}
	return append(lines, data[start:])
}

func lastLine(lines [][]byte) []byte {
	for i := len(lines) - 1; i >= 0; i-- {
		if len(lines[i]) > 0 {
			return lines[i]
		}
	}
	return nil
}

// assignmentLines returns the 1-based lines where an assignment of name
// starts, as dotenvx's parser sees them.
func assignmentLines(data []byte, name string) ([]int, error) {
	entries, err := dotenvx.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errKeysFileFormat, err)
	}
	var lines []int
	for _, e := range entries {
		if e.Key == name {
			lines = append(lines, e.Line)
		}
	}
	return lines, nil
}

var assignPrefix = lazyre.New(`^[ \t]*(?:export[ \t]+)?([\w.-]+)[ \t]*(?:=|:[ \t])[ \t]*`)

// replaceValue rewrites the value in one assignment line, keeping the
// prefix, the quote style, any trailing comment and the line ending.
func replaceValue(line []byte, name, value string) ([]byte, error) {
	m := assignPrefix().FindSubmatchIndex(line)
	if m == nil || string(line[m[2]:m[3]]) != name {
		return nil, fmt.Errorf("%w: cannot find the assignment of %s", errKeysFileFormat, name)
	}
	prefix, rest := line[:m[1]], line[m[1]:]
	body := bytes.TrimRight(rest, "\r\n")
	ending := rest[len(body):]
	var out bytes.Buffer
	out.Write(prefix)
	if q, end, ok := quotedValue(body); ok {
		out.WriteByte(q)
		out.WriteString(value)
		out.Write(body[end:]) // closing quote and whatever follows
	} else if len(body) > 0 && (body[0] == '"' || body[0] == '\'' || body[0] == '`') && bytes.IndexByte(body[1:], body[0]) < 0 {
		return nil, fmt.Errorf("%w: the value of %s spans several lines", errKeysFileFormat, name)
	} else {
		// dotenvx ends an unquoted value at the first '#'; keep the
		// comment and the blanks before it.
		var tail []byte
		if i := bytes.IndexByte(body, '#'); i >= 0 {
			for i > 0 && (body[i-1] == ' ' || body[i-1] == '\t') {
				i--
			}
			tail = body[i:]
		}
		out.WriteString(value)
		out.Write(tail)
	}
	out.Write(ending)
	return out.Bytes(), nil
}

// quotedValue reports whether body starts with a quoted value the way the
// .env grammar reads it: an opening quote, the first unescaped closing quote
// of the same kind on the line, then only blanks or a comment. end is the
// closing quote's index.
func quotedValue(body []byte) (q byte, end int, ok bool) {
	if len(body) == 0 || (body[0] != '"' && body[0] != '\'' && body[0] != '`') {
		return 0, 0, false
	}
	q = body[0]
	for i := 1; i < len(body); i++ {
		switch body[i] {
		case '\\':
			if i+1 < len(body) && body[i+1] == q {
				i++
			}
		case q:
			rest := bytes.TrimLeft(body[i+1:], " \t")
			return q, i, len(rest) == 0 || rest[0] == '#'
		}
	}
	return 0, 0, false
}

// keysFileMode is the permissions of the keys files and backups envdrift
// writes, whatever the umask.
const keysFileMode = 0o600

// backupSuffixLayout is the time layout of backup names:
// <keys file>.backup.YYYYMMDD_HHMMSS.
const backupSuffixLayout = durable.BackupLayout

// pruneBackups removes the oldest backups of path (<path>.backup.<stamp>
// and <stamp>_N), keeping the newest keep, and returns the paths removed.
// Backup names sort by time: the stamp is YYYYMMDD_HHMMSS and a collision
// suffix counts up. It removes only regular files, never through a
// symlink. It is called with the folder locked, after a successful write.
func pruneBackups(path string, keep int) []string {
	dir, prefix := filepath.Dir(path), filepath.Base(path)+".backup."
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	type backup struct {
		name  string
		stamp string
		n     int
	}
	var bs []backup
	for _, e := range ents {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok || !e.Type().IsRegular() || len(rest) < len(backupSuffixLayout) {
			continue
		}
		stamp, suffix := rest[:len(backupSuffixLayout)], rest[len(backupSuffixLayout):]
		if _, err := time.Parse(backupSuffixLayout, stamp); err != nil {
			continue
		}
		n := 1
		if suffix != "" {
			num, ok := strings.CutPrefix(suffix, "_")
			v, err := strconv.Atoi(num)
			if !ok || err != nil || v < 2 {
				continue
			}
			n = v
		}
		bs = append(bs, backup{name, stamp, n})
	}
	if len(bs) <= keep {
		return nil
	}
	slices.SortFunc(bs, func(a, b backup) int {
		if c := strings.Compare(b.stamp, a.stamp); c != 0 {
			return c
		}
		return b.n - a.n
	})
	var removed []string
	for _, b := range bs[keep:] {
		p := filepath.Join(dir, b.name)
		if err := os.Remove(p); err == nil {
			removed = append(removed, p)
		}
	}
	return removed
}
