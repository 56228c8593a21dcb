package modules

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// def is one module of a test graph.
type def struct {
	name   string
	deps   []string
	public bool
}

// platform is shaped like the real wiring: internal infrastructure modules
// that public services depend on.
var platform = []def{
	{name: "store"},
	{name: "bus", deps: []string{"store"}},
	{name: "cache"},
	{name: "api-gateway", deps: []string{"cache", "bus"}, public: true},
	{name: "load-service", deps: []string{"store", "bus"}, public: true},
	{name: "market-intelligence", deps: []string{"store"}, public: true},
}

func register(m *Manager, defs []def) {
	for _, d := range defs {
		opts := []Option{DependsOn(d.deps...)}
		if d.public {
			opts = append(opts, Public())
		}
		m.Register(d.name, nil, opts...)
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name    string
		targets []string
		want    []string
		wantErr []string // substrings of the error; nil means success
	}{
		{
			name:    "one target pulls in its dependencies",
			targets: []string{"load-service"},
			want:    []string{"store", "bus", "load-service"},
		},
		{
			name:    "two targets share dependencies once",
			targets: []string{"load-service", "api-gateway"},
			want:    []string{"store", "bus", "cache", "api-gateway", "load-service"},
		},
		{
			name:    "order does not depend on spelling",
			targets: []string{" api-gateway ,load-service", "load-service"},
			want:    []string{"store", "bus", "cache", "api-gateway", "load-service"},
		},
		{
			name:    "all expands to every public target",
			targets: []string{"all"},
			want:    []string{"store", "bus", "cache", "api-gateway", "load-service", "market-intelligence"},
		},
		{
			name:    "all with a repeated target",
			targets: []string{"all", "market-intelligence"},
			want:    []string{"store", "bus", "cache", "api-gateway", "load-service", "market-intelligence"},
		},
		{
			name:    "unknown target",
			targets: []string{"load-service", "billing"},
			wantErr: []string{`unknown "billing"`, "valid targets: all, api-gateway, load-service, market-intelligence"},
		},
		{
			name:    "internal module is not a target",
			targets: []string{"store"},
			wantErr: []string{`"store" is an internal module`, "valid targets: all, api-gateway"},
		},
		{
			name:    "every bad name is reported",
			targets: []string{"bus,nope"},
			wantErr: []string{`"bus" is an internal module`, `unknown "nope"`},
		},
		{
			name:    "nothing selected",
			targets: []string{" , "},
			wantErr: []string{"no target selected", "valid targets: all"},
		},
		{
			name:    "nil targets",
			wantErr: []string{"no target selected"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(nil)
			register(m, platform)
			got, err := m.Resolve(tt.targets)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("got order %v, want an error", got)
				}
				if !errors.Is(err, ErrInvalidTarget) {
					t.Errorf("got error %v, want one wrapping ErrInvalidTarget", err)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("got error %q, want it to contain %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got order %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTargets(t *testing.T) {
	m := New(nil)
	register(m, platform)
	got := m.Targets()
	want := []string{"api-gateway", "load-service", "market-intelligence"}
	if !slices.Equal(got, want) {
		t.Errorf("got targets %v, want %v", got, want)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		defs    []def
		wantErr []string // nil means valid
	}{
		{name: "platform", defs: platform},
		{
			name: "duplicate",
			defs: []def{{name: "store"}, {name: "store"}},
			wantErr: []string{
				`module "store" registered twice`,
			},
		},
		{
			name:    "unknown dependency",
			defs:    []def{{name: "api-gateway", deps: []string{"cache"}, public: true}},
			wantErr: []string{`module "api-gateway" depends on unknown module "cache"`},
		},
		{
			name:    "reserved and malformed names",
			defs:    []def{{name: "all"}, {name: ""}, {name: "a,b"}, {name: "a b"}},
			wantErr: []string{`"all" is reserved`, `module name "" must be`, `module name "a,b" must be`, `module name "a b" must be`},
		},
		{
			name:    "self dependency",
			defs:    []def{{name: "store", deps: []string{"store"}}},
			wantErr: []string{"dependency cycle: store -> store"},
		},
		{
			name: "cycle",
			defs: []def{
				{name: "a", deps: []string{"b"}, public: true},
				{name: "b", deps: []string{"c"}},
				{name: "c", deps: []string{"a"}},
			},
			wantErr: []string{"dependency cycle: a -> b -> c -> a"},
		},
		{
			name: "every problem at once",
			defs: []def{
				{name: "x", deps: []string{"y", "ghost"}},
				{name: "y", deps: []string{"x"}},
				{name: "x"},
			},
			wantErr: []string{
				`module "x" registered twice`,
				`module "x" depends on unknown module "ghost"`,
				"dependency cycle: x -> y -> x",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(nil)
			register(m, tt.defs)
			err := m.Validate()
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error, want %q", tt.wantErr)
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("got error %q, want it to contain %q", err, s)
				}
			}
			// Resolve must refuse a broken graph rather than sort it.
			if got, err := m.Resolve([]string{"all"}); err == nil || errors.Is(err, ErrInvalidTarget) {
				t.Errorf("Resolve: got order %v and error %v, want an invalid-graph error", got, err)
			}
		})
	}
}

func TestStateString(t *testing.T) {
	tests := []struct {
		s    State
		want string
	}{
		{StateNew, "New"},
		{StateStarting, "Starting"},
		{StateRunning, "Running"},
		{StateStopping, "Stopping"},
		{StateStopped, "Stopped"},
		{StateFailed, "Failed"},
		{State(42), "State(42)"},
		{State(-1), "State(-1)"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
		text, _ := tt.s.MarshalText()
		if string(text) != tt.want {
			t.Errorf("MarshalText: got %q, want %q", text, tt.want)
		}
	}
}

// FuzzResolve checks that whatever target list is given, Resolve either
// rejects it or returns each selected module once, after its dependencies.
func FuzzResolve(f *testing.F) {
	for _, seed := range []string{"all", "load-service,api-gateway", " store ", "", ",,all,,", "x,all"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, targets string) {
		m := New(nil)
		register(m, platform)
		order, err := m.Resolve(strings.Split(targets, "|"))
		if err != nil {
			if !errors.Is(err, ErrInvalidTarget) {
				t.Fatalf("got error %v, want one wrapping ErrInvalidTarget", err)
			}
			return
		}
		deps := make(map[string][]string)
		for _, d := range platform {
			deps[d.name] = d.deps
		}
		pos := make(map[string]int)
		for i, name := range order {
			if _, dup := pos[name]; dup {
				t.Fatalf("got %q twice in %v", name, order)
			}
			pos[name] = i
		}
		for i, name := range order {
			ds, ok := deps[name]
			if !ok {
				t.Fatalf("got unregistered module %q in %v", name, order)
			}
			for _, d := range ds {
				if j, ok := pos[d]; !ok || j > i {
					t.Fatalf("got %q before its dependency %q in %v", name, d, order)
				}
			}
		}
	})
}
