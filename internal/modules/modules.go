// Package modules runs a chosen set of the platform's services in one
// process, as `backhaul serve --target=...` does. Each module declares the
// modules it depends on; the manager starts the selected targets and their
// dependencies in dependency order, stops them in reverse order, and shuts
// everything down as soon as one module fails.
package modules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// All is the target that selects every public module.
const All = "all"

// DefaultStopTimeout bounds each module's shutdown unless SetStopTimeout
// says otherwise.
const DefaultStopTimeout = 30 * time.Second

// ErrInvalidTarget is wrapped by the error Resolve and Run return when a
// requested target is unknown or names an internal module.
var ErrInvalidTarget = errors.New("invalid target")

// Service is what a module's InitFunc builds.
//
// Start returns once the module is ready to serve, or with an error; a
// module whose Start fails is not stopped. The context given to Start is
// cancelled when startup is abandoned or shutdown is requested, so Start
// must not keep it: long-running work belongs in Run.
//
// Stop releases what Start acquired. It is called once, after the module's
// Run context (if any) was cancelled, possibly while Run is still returning;
// the manager waits for both before stopping the module's dependencies.
type Service interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// Runner is implemented by services that do work in the background after
// Start (serving HTTP, consuming a queue). Run is started in its own
// goroutine once Start returned and must run until ctx is cancelled, then
// return nil. A Run that returns earlier, with or without an error, is a
// module failure and shuts the process down.
type Runner interface {
	Run(ctx context.Context) error
}

// InitFunc builds a module once its dependencies are running. It may return
// a nil Service for modules that only wire other modules together.
type InitFunc func(ctx context.Context) (Service, error)

// Option configures a module at registration.
type Option func(*module)

// DependsOn declares modules that must be running before this one starts
// and that are stopped only after it stopped.
func DependsOn(names ...string) Option {
	return func(m *module) { m.deps = append(m.deps, names...) }
}

// Public marks a module as a user-facing target such as "load-service".
// Modules are internal by default: they run only as dependencies.
func Public() Option {
	return func(m *module) { m.public = true }
}

// ModuleError says which module failed and in which step ("init", "start",
// "run" or "stop").
type ModuleError struct {
	Module string
	Op     string
	Err    error
}

func (e *ModuleError) Error() string {
	return "module " + e.Module + ": " + e.Op + ": " + e.Err.Error()
}

func (e *ModuleError) Unwrap() error { return e.Err }

type module struct {
	name   string
	init   InitFunc
	deps   []string
	public bool
}

// Manager registers modules and runs a selection of them. Registration
// happens before Run; Ready and States may be called from any goroutine.
type Manager struct {
	logger *slog.Logger

	mu          sync.Mutex
	modules     map[string]*module
	problems    []error // registration mistakes, reported by Validate
	stopTimeout time.Duration
	ran         bool
	stopping    bool
	resolved    []string
	states      map[string]State
}

// New returns an empty manager that logs to logger (nil discards logs).
func New(logger *slog.Logger) *Manager {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{
		logger:      logger,
		modules:     make(map[string]*module),
		stopTimeout: DefaultStopTimeout,
		states:      make(map[string]State),
	}
}

// SetStopTimeout bounds how long each module may take to stop; d <= 0
// restores DefaultStopTimeout.
func (m *Manager) SetStopTimeout(d time.Duration) {
	if d <= 0 {
		d = DefaultStopTimeout
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopTimeout = d
}

// Register adds a module. Mistakes (a duplicate or malformed name) are kept
// and reported by Validate, Resolve and Run, so that wiring code stays a flat
// list of Register calls.
func (m *Manager) Register(name string, init InitFunc, opts ...Option) {
	mod := &module{name: name, init: init}
	for _, opt := range opts {
		opt(mod)
	}
	slices.Sort(mod.deps) // start order must not depend on how DependsOn was spelled
	mod.deps = slices.Compact(mod.deps)

	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case name == "" || strings.ContainsAny(name, ", \t\r\n"):
		m.problems = append(m.problems, fmt.Errorf("module name %q must be non-empty without commas or spaces", name))
	case name == All:
		m.problems = append(m.problems, fmt.Errorf("module name %q is reserved", All))
	case m.modules[name] != nil:
		m.problems = append(m.problems, fmt.Errorf("module %q registered twice", name))
	default:
		m.modules[name] = mod
	}
}

// Validate reports every registration problem at once: duplicate or
// malformed names, dependencies on unknown modules, and dependency cycles.
func (m *Manager) Validate() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.validateLocked()
}

func (m *Manager) validateLocked() error {
	errs := slices.Clone(m.problems)
	names := m.namesLocked(false)
	for _, name := range names {
		for _, dep := range m.modules[name].deps {
			if m.modules[dep] == nil {
				errs = append(errs, fmt.Errorf("module %q depends on unknown module %q", name, dep))
			}
		}
	}
	_, cycles := m.sortLocked(names)
	for _, c := range cycles {
		errs = append(errs, fmt.Errorf("dependency cycle: %s", strings.Join(c, " -> ")))
	}
	return errors.Join(errs...)
}

// Targets returns the public module names, sorted.
func (m *Manager) Targets() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.namesLocked(true)
}

func (m *Manager) namesLocked(publicOnly bool) []string {
	var names []string
	for name, mod := range m.modules {
		if mod.public || !publicOnly {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// Resolve turns requested targets into the modules to run, dependencies
// first. Each element may itself be a comma-separated list; "all" selects
// every public target and repeated names count once. The order depends only
// on the set of targets, never on how they were spelled.
func (m *Manager) Resolve(targets []string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.resolveLocked(targets)
}

func (m *Manager) resolveLocked(targets []string) ([]string, error) {
	if err := m.validateLocked(); err != nil {
		return nil, fmt.Errorf("invalid module graph: %w", err)
	}
	public := m.namesLocked(true)
	var requested []string
	for _, t := range targets {
		for name := range strings.SplitSeq(t, ",") {
			if name = strings.TrimSpace(name); name != "" {
				requested = append(requested, name)
			}
		}
	}
	slices.Sort(requested)
	requested = slices.Compact(requested)

	var roots, bad []string
	for _, name := range requested {
		switch mod := m.modules[name]; {
		case name == All:
			roots = append(roots, public...)
		case mod == nil:
			bad = append(bad, fmt.Sprintf("unknown %q", name))
		case !mod.public:
			bad = append(bad, fmt.Sprintf("%q is an internal module", name))
		default:
			roots = append(roots, name)
		}
	}
	valid := "valid targets: " + strings.Join(append([]string{All}, public...), ", ")
	if len(bad) > 0 {
		return nil, fmt.Errorf("%w: %s (%s)", ErrInvalidTarget, strings.Join(bad, "; "), valid)
	}
	if len(roots) == 0 {
		return nil, fmt.Errorf("%w: no target selected (%s)", ErrInvalidTarget, valid)
	}
	slices.Sort(roots)
	order, _ := m.sortLocked(slices.Compact(roots)) // validateLocked ruled out cycles
	return order, nil
}

// sortLocked lists roots and their transitive dependencies so that every
// module comes after all of its dependencies (a depth-first post-order).
// Roots and dependencies are visited in sorted order, so the result is
// deterministic. Unknown dependencies are skipped; each back edge found is
// returned as a cycle such as [a b a].
func (m *Manager) sortLocked(roots []string) (order []string, cycles [][]string) {
	const (
		visiting = 1
		done     = 2
	)
	mark := make(map[string]int)
	var path []string
	var visit func(name string)
	visit = func(name string) {
		mod := m.modules[name]
		switch {
		case mod == nil || mark[name] == done:
			return
		case mark[name] == visiting:
			i := slices.Index(path, name)
			cycles = append(cycles, append(slices.Clone(path[i:]), name))
			return
		}
		mark[name] = visiting
		path = append(path, name)
		for _, dep := range mod.deps {
			visit(dep)
		}
		path = path[:len(path)-1]
		mark[name] = done
		order = append(order, name)
	}
	for _, name := range roots {
		visit(name)
	}
	return order, cycles
}
