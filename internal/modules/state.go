package modules

import (
	"errors"
	"fmt"
	"maps"
	"strings"
)

// State is where a module is in its lifecycle.
type State int

// A module moves New -> Starting -> Running -> Stopping -> Stopped, or to
// Failed when its init, Start, Run or Stop fails.
const (
	StateNew State = iota
	StateStarting
	StateRunning
	StateStopping
	StateStopped
	StateFailed
)

var stateNames = [...]string{"New", "Starting", "Running", "Stopping", "Stopped", "Failed"}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// MarshalText makes States encode as names in JSON (for /readyz).
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Ready returns nil only while every module of the running selection is
// Running and no shutdown has begun; otherwise its error names the modules
// that are not running, with their states.
func (m *Manager) Ready() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.resolved) == 0 {
		return errors.New("modules not started")
	}
	var notRunning []string
	for _, name := range m.resolved {
		if s := m.states[name]; s != StateRunning {
			notRunning = append(notRunning, name+" ("+s.String()+")")
		}
	}
	switch {
	case len(notRunning) > 0:
		return fmt.Errorf("modules not running: %s", strings.Join(notRunning, ", "))
	case m.stopping:
		return errors.New("modules shutting down")
	}
	return nil
}

// States returns a copy of the state of every module of the running
// selection; it is empty before Run.
func (m *Manager) States() map[string]State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.states)
}

func (m *Manager) setState(name string, s State) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.states[name] = s
}

func (m *Manager) state(name string) State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.states[name]
}
