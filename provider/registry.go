package provider

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// Driver builds providers of one kind. Obtain one with [Lookup]; provider
// packages create theirs with [Register].
type Driver struct {
	name        string
	newSettings func() any
	open        func(ctx context.Context, settings any, opts Options) (Provider, error)
}

// Name returns the name the driver was registered under.
func (d Driver) Name() string { return d.name }

// NewSettings returns a pointer to a fresh settings value for the driver's
// [vault.<name>] configuration table. Configuration loaders decode the table
// into it (it is a struct with `toml` tags) and pass it to Open.
func (d Driver) NewSettings() any { return d.newSettings() }

// Open builds a provider from settings (a value returned by NewSettings,
// decoded or left zero) and opts. Open does no network I/O: clients and
// credentials are set up on first use, so a configured but unused provider
// costs nothing.
func (d Driver) Open(ctx context.Context, settings any, opts Options) (Provider, error) {
	if settings == nil {
		settings = d.newSettings()
	}
	return d.open(ctx, settings, opts)
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Driver{}
)

// Register makes a provider available under name. S is the provider's
// settings struct, decoded from the [vault.<name>] table of envdrift.toml.
// Provider packages call Register from init. Registering a name twice panics:
// it is a programming error, like registering an http handler twice.
func Register[S any](name string, open func(ctx context.Context, settings *S, opts Options) (Provider, error)) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("provider: Register called twice for " + name)
	}
	registry[name] = Driver{
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

// Lookup returns the driver registered under name.
func Lookup(name string) (Driver, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	d, ok := registry[name]
	return d, ok
}

// Names returns the registered provider names, sorted.
func Names() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Builtin lists every provider envdrift ships, whether or not this program
// links it. Configuration validation uses it to tell "not compiled in" from
// "misspelt".
func Builtin() []string { return []string{"aws", "azure", "file", "gcp", "hashicorp"} }

// ImportPath returns the Go import path of a built-in provider's package.
func ImportPath(name string) string { return "github.com/envdrift/envdrift/provider/" + name }
