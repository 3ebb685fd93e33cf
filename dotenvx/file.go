package dotenvx

import (
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
)

// maxFileSize is the largest env file ReadFile and Parse accept (16 MiB).
// Real env files are a few kilobytes; the limit keeps a wrong path (a log
// file, a device) from exhausting memory.
const maxFileSize = 16 << 20

// File is a parsed env file.
type File struct {
	Path    string  // the path it was read from ("" if parsed from memory)
	Entries []Entry // every assignment, in file order

	// quotes[i] is the quote character Entries[i] was written with (0 for
	// none), as ReadFile found it; nil for a File built by hand.
	quotes []byte
}

// ReadFile reads and parses the env file at path (see [Parse]). Files larger
// than maxFileSize are refused with an error wrapping errFileTooLarge.
func ReadFile(path string) (*File, error) {
	// O_NONBLOCK: opening a FIFO must not wait for a writer; it is then
	// refused below as not a regular file.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("dotenvx: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("dotenvx: %w", err)
	}
	if !st.Mode().IsRegular() {
		what := "not a regular file"
		if st.IsDir() {
			what = "a directory, not a file"
		}
		return nil, fmt.Errorf("dotenvx: %s is %s", path, what)
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("%w: %s is %d bytes (limit %d)", errFileTooLarge, path, st.Size(), maxFileSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("dotenvx: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", errFileTooLarge, path, maxFileSize)
	}
	entries, quotes := parse(data)
	return &File{Path: path, Entries: entries, quotes: quotes}, nil
}

// Get returns the value of key. When the key is assigned more than once the
// last assignment wins, as in dotenvx.
func (f *File) Get(key string) (string, bool) {
	if f == nil {
		return "", false
	}
	for i := len(f.Entries) - 1; i >= 0; i-- {
		if f.Entries[i].Key == key {
			return f.Entries[i].Value, true
		}
	}
	return "", false
}

// PublicKey returns the DOTENV_PUBLIC_KEY* variable the file declares: its
// name and value (the last assignment of that name). If the file declares
// several names, the one KeyNames(f.Path) gives wins, else the first declared.
// ok is false when the file declares none.
func (f *File) PublicKey() (name, value string, ok bool) {
	if f == nil {
		return "", "", false
	}
	_, want := KeyNames(f.Path)
	for _, e := range f.Entries {
		if isPublicKeyName(e.Key) {
			if !ok {
				name, ok = e.Key, true
			}
			if e.Key == want {
				name = want
				break
			}
		}
	}
	if !ok {
		return "", "", false
	}
	value, _ = f.Get(name)
	return name, value, true
}

// quote returns the quote character entry i was written with, or 0 when it
// was unquoted or the File does not know (see [File.Resolve]).
func (f *File) quote(i int) byte {
	if len(f.quotes) != len(f.Entries) {
		return 0
	}
	return f.quotes[i]
}

func isPublicKeyName(key string) bool { return strings.HasPrefix(key, publicKeyPrefix) }

// Encrypted returns the entries whose value is encrypted (starts with
// "encrypted:"), duplicates included, in file order.
func (f *File) Encrypted() []Entry {
	if f == nil {
		return nil
	}
	var out []Entry
	for _, e := range f.Entries {
		if isEncrypted(e.Value) {
			out = append(out, e)
		}
	}
	return out
}
