// Package registry is the one generic plugin registry behind every moeboost plugin kind
// (optimizers, MoE layers, losses, distillers, learners, environments, callbacks, benchmarks).
//
// It behaves like database/sql's driver registry: Register is called from init functions and
// panics on a duplicate name (a programmer error), Names lists the registered names sorted, and
// Get answers an unknown name with an error that lists the known ones.
package registry

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Registry maps names to values of one plugin kind (usually factories). It is safe for
// concurrent use. The zero value is not usable: create one with New.
type Registry[T any] struct {
	kind    string
	mu      sync.RWMutex
	entries map[string]T
}

// New returns an empty registry for plugins of the given kind; the kind ("optimizer",
// "environment", ...) appears in error messages.
func New[T any](kind string) *Registry[T] {
	return &Registry[T]{kind: kind, entries: make(map[string]T)}
}

// Kind returns the plugin kind given to New.
func (r *Registry[T]) Kind() string { return r.kind }

// Register adds a plugin under name. It panics if name is empty, is not lower snake/kebab case
// (letters, digits, '_', '-', '+', '.'), or is already registered: all are programmer errors
// that must surface at init time.
func (r *Registry[T]) Register(name string, value T) {
	if err := checkName(name); err != nil {
		panic(fmt.Sprintf("moeboost: cannot register %s %q: %v", r.kind, name, err))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.entries[name]; dup {
		panic(fmt.Sprintf("moeboost: %s %q registered twice", r.kind, name))
	}
	r.entries[name] = value
}

// Get returns the plugin registered under name, or an error naming the unknown value and
// listing the known names.
func (r *Registry[T]) Get(name string) (T, error) {
	r.mu.RLock()
	v, ok := r.entries[name]
	r.mu.RUnlock()
	if !ok {
		var zero T
		return zero, fmt.Errorf("unknown %s %q: known %s are %s", r.kind, name, Plural(r.kind), r.quotedNames())
	}
	return v, nil
}

// Has reports whether name is registered.
func (r *Registry[T]) Has(name string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.entries[name]
	return ok
}

// Names returns the registered names, sorted.
func (r *Registry[T]) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.entries))
	for n := range r.entries {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (r *Registry[T]) quotedNames() string {
	names := r.Names()
	if len(names) == 0 {
		return "(none registered)"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("empty name")
	}
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '-', c == '+', c == '.':
		default:
			return fmt.Errorf("character %q not allowed (use lower case letters, digits, '_', '-', '+', '.')", c)
		}
	}
	return nil
}

// Kinds is the directory of every registry created with NewKind, so that tools such as the
// benchmark runner's -list can print all plugins grouped by kind.
var kinds = struct {
	sync.Mutex
	list []Lister
}{}

// Lister is the read-only view of a registry that the kind directory keeps.
type Lister interface {
	Kind() string
	Names() []string
}

// NewKind is New plus an entry in the kind directory (see All). Every public plugin kind of
// moeboost is created with it.
func NewKind[T any](kind string) *Registry[T] {
	r := New[T](kind)
	kinds.Lock()
	defer kinds.Unlock()
	for _, k := range kinds.list {
		if k.Kind() == kind {
			panic(fmt.Sprintf("moeboost: plugin kind %q created twice", kind))
		}
	}
	kinds.list = append(kinds.list, r)
	return r
}

// All returns every registry created with NewKind, sorted by kind.
func All() []Lister {
	kinds.Lock()
	defer kinds.Unlock()
	out := slices.Clone(kinds.list)
	slices.SortFunc(out, func(a, b Lister) int { return strings.Compare(a.Kind(), b.Kind()) })
	return out
}

// Plural returns the English plural of a plugin kind ("loss" -> "losses").
func Plural(kind string) string {
	if strings.HasSuffix(kind, "s") {
		return kind + "es"
	}
	return kind + "s"
}
