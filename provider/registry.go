package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/envdrift/envdrift/internal/suggest"
)

// Driver builds providers of one kind. Provider packages make theirs with
// [NewDriver] and export it (for example file.Driver()); a [Registry] maps
// names to drivers.
type Driver struct {
	name        string
	newSettings func() any
	open        func(ctx context.Context, settings any, opts Options) (Provider, error)
}

// NewDriver returns the driver of a provider named name. S is the provider's
// settings struct, decoded from the [vault.<name>] table of envdrift.toml
// (its fields carry `toml` tags); open builds a provider from it.
func NewDriver[S any](name string, open func(ctx context.Context, settings *S, opts Options) (Provider, error)) Driver {
	return Driver{
		name:        name,
		newSettings: func() any { return new(S) },
		open: func(ctx context.Context, settings any, opts Options) (Provider, error) {
			s, ok := settings.(*S)
			if !ok {
				return nil, fmt.Errorf("provider %s: settings of type %T, want %T: %w", name, settings, s, ErrInvalid)
			}
			return open(ctx, s, opts)
		},
	}
}

// NewSettings returns a pointer to a fresh settings value for the driver's
// [vault.<name>] configuration table. Configuration loaders decode the table
// into it and pass it to Open.
func (d Driver) NewSettings() any { return d.newSettings() }

// Open builds a provider from settings (a value returned by NewSettings,
// decoded or left zero; nil means zero) and opts. Open does no network I/O:
// clients and credentials are set up on first use, so a configured but
// unused provider costs nothing.
func (d Driver) Open(ctx context.Context, settings any, opts Options) (Provider, error) {
	if settings == nil {
		settings = d.newSettings()
	}
	return d.open(ctx, settings, opts)
}

// ErrNotLinked is wrapped by the error Registry.Lookup returns for a provider
// envdrift ships whose package this program does not import.
var ErrNotLinked = errors.New("not linked into this program")

// Registry maps provider names to drivers. The zero value is an empty
// registry ready to use, and a Registry is safe for concurrent use.
//
// Provider packages register their driver in [Default] when imported, so
// `import _ "github.com/envdrift/envdrift/provider/aws"` is enough for most
// programs. A program that needs its own set (two parts using different
// providers, or a test) builds a Registry and passes it in envdrift.Options:
//
//	var reg provider.Registry
//	reg.Register(file.Driver())
type Registry struct {
	mu      sync.RWMutex
	drivers map[string]Driver
}

var defaultRegistry Registry

// Default returns the registry provider packages register themselves in.
func Default() *Registry { return &defaultRegistry }

// Register adds d under its provider name. Registering a name twice panics: it is a
// programming error, like registering an http handler twice.
func (r *Registry) Register(d Driver) {
	if d.name == "" || d.open == nil {
		panic("provider: Register of a Driver not made by NewDriver")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.drivers[d.name]; dup {
		panic("provider: Register called twice for " + d.name)
	}
	if r.drivers == nil {
		r.drivers = map[string]Driver{}
	}
	r.drivers[d.name] = d
}

// Lookup returns the driver registered under name. For a provider envdrift
// ships that is not registered, the error wraps [ErrNotLinked] and names the
// package to import; for any other name it wraps [ErrInvalid] and suggests
// the closest known name.
func (r *Registry) Lookup(name string) (Driver, error) {
	r.mu.RLock()
	d, ok := r.drivers[name]
	r.mu.RUnlock()
	if ok {
		return d, nil
	}
	if slices.Contains(builtin, name) {
		return Driver{}, fmt.Errorf("provider %q is %w (import %s)", name, ErrNotLinked, importPath+name)
	}
	known := r.known()
	return Driver{}, fmt.Errorf("%w: unknown provider %q%s (known: %s)", ErrInvalid, name,
		suggest.DidYouMean(name, known), strings.Join(known, ", "))
}

// Names returns the registered provider names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.drivers))
	for n := range r.drivers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// known returns the registered names and the names of every provider
// envdrift ships, sorted: the names a configuration may use.
func (r *Registry) known() []string {
	names := r.Names()
	for _, b := range builtin {
		if !slices.Contains(names, b) {
			names = append(names, b)
		}
	}
	slices.Sort(names)
	return names
}

// builtin lists every provider envdrift ships, whether or not a program
// links it, so that a configuration naming one gets "import it" rather than
// "misspelt".
var builtin = []string{"aws", "azure", "file", "gcp", "hashicorp"}

const importPath = "github.com/envdrift/envdrift/provider/"
