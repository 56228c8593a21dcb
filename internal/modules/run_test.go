package modules

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// testBound keeps a broken manager from hanging the test run.
const testBound = 10 * time.Second

type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func (r *recorder) has(e string) bool { return slices.Contains(r.get(), e) }

// service records its lifecycle calls and can be told to fail or block.
type service struct {
	name      string
	rec       *recorder
	startErr  error
	startGate chan struct{} // if set, Start waits for it (or ctx) before returning
	stopErr   error
	stopGate  chan struct{} // if set, Stop waits for it, ignoring ctx
}

func (s *service) Start(ctx context.Context) error {
	s.rec.add("start " + s.name)
	if s.startGate != nil {
		select {
		case <-s.startGate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.startErr
}

func (s *service) Stop(context.Context) error {
	s.rec.add("stop " + s.name)
	if s.stopGate != nil {
		<-s.stopGate
	}
	return s.stopErr
}

// runner is a service with background work.
type runner struct {
	*service
	exit     chan error    // a value sent here makes Run return it before shutdown
	hangGate chan struct{} // if set, Run ignores cancellation until it is closed
}

func (r *runner) Run(ctx context.Context) error {
	select {
	case err := <-r.exit:
		return err
	case <-ctx.Done():
		if r.hangGate != nil {
			<-r.hangGate
		}
		return nil
	}
}

// fixture is the platform graph with a recording service per module.
type fixture struct {
	m    *Manager
	rec  *recorder
	svcs map[string]*service
	bus  *runner // bus is a Runner, as the event bus consumer would be
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		m:    New(slog.New(slog.NewTextHandler(t.Output(), nil))),
		rec:  &recorder{},
		svcs: make(map[string]*service),
	}
	for _, d := range platform {
		svc := &service{name: d.name, rec: f.rec}
		f.svcs[d.name] = svc
		var built Service = svc
		if d.name == "bus" {
			f.bus = &runner{service: svc, exit: make(chan error, 1)}
			built = f.bus
		}
		opts := []Option{DependsOn(d.deps...)}
		if d.public {
			opts = append(opts, Public())
		}
		f.m.Register(d.name, func(context.Context) (Service, error) {
			f.rec.add("init " + d.name)
			return built, nil
		}, opts...)
	}
	return f
}

// start runs the manager in the background; the returned function waits
// for Run's result.
func (f *fixture) start(t *testing.T, ctx context.Context, targets ...string) func() error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f.m.Run(ctx, targets) }()
	return func() error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(testBound):
			t.Fatal("Run did not return")
			return nil
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (f *fixture) waitReady(t *testing.T) {
	t.Helper()
	waitFor(t, "modules to be ready", func() bool { return f.m.Ready() == nil })
}

func checkStates(t *testing.T, m *Manager, want map[string]State) {
	t.Helper()
	got := m.States()
	for name, w := range want {
		if got[name] != w {
			t.Errorf("module %s: got state %s, want %s", name, got[name], w)
		}
	}
}

func TestRunStartsInOrderAndStopsInReverse(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	wait := f.start(t, ctx, "load-service", "api-gateway")

	// Readers poll throughout Run, as /readyz would.
	stopPolling := make(chan struct{})
	var polling sync.WaitGroup
	polling.Go(func() {
		for {
			select {
			case <-stopPolling:
				return
			default:
				_ = f.m.Ready()
				_ = f.m.States()
			}
		}
	})

	f.waitReady(t)
	cancel()
	if err := wait(); err != nil {
		t.Fatalf("got error %v, want a clean shutdown", err)
	}
	close(stopPolling)
	polling.Wait()

	want := []string{
		"init store", "start store",
		"init bus", "start bus",
		"init cache", "start cache",
		"init api-gateway", "start api-gateway",
		"init load-service", "start load-service",
		"stop load-service", "stop api-gateway", "stop cache", "stop bus", "stop store",
	}
	if got := f.rec.get(); !slices.Equal(got, want) {
		t.Errorf("got events\n%v\nwant\n%v", got, want)
	}
	checkStates(t, f.m, map[string]State{
		"store": StateStopped, "bus": StateStopped, "cache": StateStopped,
		"api-gateway": StateStopped, "load-service": StateStopped,
	})
	if _, ok := f.m.States()["market-intelligence"]; ok {
		t.Error("got a state for market-intelligence, which was not selected")
	}
	if err := f.m.Ready(); err == nil {
		t.Error("got ready after Run returned, want not ready")
	}
	if err := f.m.Run(t.Context(), []string{"all"}); err == nil {
		t.Error("second Run: got no error, want one")
	}
}

func TestRunStartupFailure(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name       string
		initFails  bool
		failing    string
		wantEvents []string
		wantOp     string
	}{
		{
			name:    "start fails",
			failing: "cache",
			wantOp:  "start",
			wantEvents: []string{
				"init store", "start store", "init bus", "start bus", "init cache", "start cache",
				"stop bus", "stop store",
			},
		},
		{
			name:      "init fails",
			initFails: true,
			failing:   "api-gateway",
			wantOp:    "init",
			wantEvents: []string{
				"init store", "start store", "init bus", "start bus", "init cache", "start cache",
				"stop cache", "stop bus", "stop store",
			},
		},
		{
			name:       "first module fails",
			failing:    "store",
			wantOp:     "start",
			wantEvents: []string{"init store", "start store"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.initFails {
				f.m.modules[tt.failing].init = func(context.Context) (Service, error) { return nil, boom }
			} else {
				f.svcs[tt.failing].startErr = boom
			}
			err := f.start(t, t.Context(), "all")()
			var me *ModuleError
			if !errors.As(err, &me) || me.Module != tt.failing || me.Op != tt.wantOp {
				t.Fatalf("got error %v, want a %s error from module %s", err, tt.wantOp, tt.failing)
			}
			if !errors.Is(err, boom) {
				t.Errorf("got error %v, want it to wrap %v", err, boom)
			}
			if got := f.rec.get(); !slices.Equal(got, tt.wantEvents) {
				t.Errorf("got events\n%v\nwant\n%v", got, tt.wantEvents)
			}
			checkStates(t, f.m, map[string]State{tt.failing: StateFailed, "load-service": StateNew})
			if err := f.m.Ready(); err == nil || !strings.Contains(err.Error(), tt.failing+" (Failed)") {
				t.Errorf("got Ready error %v, want it to name %s as failed", err, tt.failing)
			}
		})
	}
}

func TestRunRunnerFailure(t *testing.T) {
	boom := errors.New("consumer lost")
	tests := []struct {
		name    string
		exit    error
		wantErr string
	}{
		{name: "run returns an error", exit: boom, wantErr: "module bus: run: consumer lost"},
		{name: "run returns early", exit: nil, wantErr: "module bus: run: returned before shutdown was requested"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.svcs["store"].stopErr = errors.New("close failed")
			wait := f.start(t, t.Context(), "load-service", "api-gateway")
			f.waitReady(t)
			f.bus.exit <- tt.exit
			err := wait()
			if err == nil {
				t.Fatal("got no error, want the runner failure")
			}
			var me *ModuleError
			if !errors.As(err, &me) || me.Module != "bus" || me.Op != "run" {
				t.Errorf("got error %v, want the first error to be bus's run failure", err)
			}
			for _, s := range []string{tt.wantErr, "module store: stop: close failed"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("got error %q, want it to contain %q", err, s)
				}
			}
			wantStops := []string{"stop load-service", "stop api-gateway", "stop cache", "stop bus", "stop store"}
			if got := f.rec.get(); !slices.Equal(got[len(got)-5:], wantStops) {
				t.Errorf("got events %v, want them to end with %v", got, wantStops)
			}
			checkStates(t, f.m, map[string]State{
				"bus": StateFailed, "store": StateFailed, "cache": StateStopped, "load-service": StateStopped,
			})
		})
	}
}

func TestReadyTransitions(t *testing.T) {
	f := newFixture(t)
	// A module without a service still counts towards readiness.
	f.m.modules["cache"].init = func(context.Context) (Service, error) { return nil, nil }
	gate := make(chan struct{})
	f.svcs["api-gateway"].startGate = gate

	if err := f.m.Ready(); err == nil {
		t.Error("before Run: got ready, want not ready")
	}
	if got := len(f.m.States()); got != 0 {
		t.Errorf("before Run: got %d states, want 0", got)
	}

	wait := f.start(t, t.Context(), "api-gateway")
	waitFor(t, "api-gateway to start", func() bool { return f.rec.has("start api-gateway") })
	err := f.m.Ready()
	if err == nil || !strings.Contains(err.Error(), "api-gateway (Starting)") {
		t.Errorf("while Start blocks: got Ready error %v, want it to name api-gateway as starting", err)
	}
	checkStates(t, f.m, map[string]State{"store": StateRunning, "cache": StateRunning, "api-gateway": StateStarting})

	close(gate)
	f.waitReady(t)
	checkStates(t, f.m, map[string]State{"store": StateRunning, "bus": StateRunning, "cache": StateRunning, "api-gateway": StateRunning})

	f.bus.exit <- errors.New("consumer lost")
	if err := wait(); err == nil {
		t.Fatal("got no error, want the runner failure")
	}
	err = f.m.Ready()
	if err == nil || !strings.Contains(err.Error(), "bus (Failed)") {
		t.Errorf("after failure: got Ready error %v, want it to name bus as failed", err)
	}
}

func TestRunShutdownDuringStart(t *testing.T) {
	f := newFixture(t)
	f.svcs["api-gateway"].startGate = make(chan struct{}) // never opens
	ctx, cancel := context.WithCancel(t.Context())
	wait := f.start(t, ctx, "api-gateway")
	waitFor(t, "api-gateway to start", func() bool { return f.rec.has("start api-gateway") })
	cancel()
	if err := wait(); err != nil {
		t.Fatalf("got error %v, want a clean shutdown", err)
	}
	want := []string{
		"init store", "start store", "init bus", "start bus", "init cache", "start cache",
		"init api-gateway", "start api-gateway",
		"stop cache", "stop bus", "stop store",
	}
	if got := f.rec.get(); !slices.Equal(got, want) {
		t.Errorf("got events\n%v\nwant\n%v", got, want)
	}
	checkStates(t, f.m, map[string]State{"api-gateway": StateStopped, "store": StateStopped})
}

func TestRunStopTimeout(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(f *fixture, release chan struct{})
		module string
		op     string
	}{
		{
			name:   "stop hangs",
			setup:  func(f *fixture, release chan struct{}) { f.svcs["cache"].stopGate = release },
			module: "cache",
			op:     "stop",
		},
		{
			name:   "run ignores cancellation",
			setup:  func(f *fixture, release chan struct{}) { f.bus.hangGate = release },
			module: "bus",
			op:     "run",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.m.SetStopTimeout(20 * time.Millisecond)
			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			tt.setup(f, release)

			ctx, cancel := context.WithCancel(t.Context())
			wait := f.start(t, ctx, "api-gateway")
			f.waitReady(t)
			cancel()
			err := wait() // bounded by testBound, far above the stop timeout
			var me *ModuleError
			if !errors.As(err, &me) || me.Module != tt.module || me.Op != tt.op {
				t.Fatalf("got error %v, want a %s timeout from module %s", err, tt.op, tt.module)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("got error %v, want it to wrap context.DeadlineExceeded", err)
			}
			// The modules below the hung one are still stopped.
			if !f.rec.has("stop store") {
				t.Errorf("got events %v, want store stopped", f.rec.get())
			}
			checkStates(t, f.m, map[string]State{tt.module: StateFailed, "store": StateStopped})
		})
	}
}

func TestRunInvalid(t *testing.T) {
	m := New(nil)
	register(m, platform)
	m.Register("store", nil)
	if err := m.Run(t.Context(), []string{"all"}); err == nil || !strings.Contains(err.Error(), `"store" registered twice`) {
		t.Errorf("got error %v, want the duplicate reported", err)
	}

	m = New(nil)
	register(m, platform)
	if err := m.Run(t.Context(), []string{"store"}); !errors.Is(err, ErrInvalidTarget) {
		t.Errorf("got error %v, want ErrInvalidTarget", err)
	}
}
