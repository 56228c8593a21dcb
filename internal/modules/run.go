package modules

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Run resolves targets, then initialises and starts each module in
// dependency order, a module only after all of its dependencies are
// running. It then waits until ctx is cancelled or a module fails, and
// stops every started module in reverse order, each within the stop
// timeout. A shutdown requested through ctx, even during startup, returns
// nil unless a module failed to stop; otherwise the error names the module
// that failed first (a *ModuleError) joined with any stop errors.
//
// Run may be called once per Manager.
func (m *Manager) Run(ctx context.Context, targets []string) error {
	m.mu.Lock()
	if m.ran {
		m.mu.Unlock()
		return errors.New("modules: Run called more than once")
	}
	order, err := m.resolveLocked(targets)
	if err != nil {
		m.mu.Unlock()
		return err
	}
	m.ran = true
	m.resolved = order
	mods := make([]*module, len(order))
	for i, name := range order {
		mods[i] = m.modules[name]
		m.states[name] = StateNew
	}
	timeout := m.stopTimeout
	m.mu.Unlock()

	shutdownCtx, shutdown := context.WithCancelCause(ctx)
	defer shutdown(nil)
	l := &lifecycle{m: m, ctx: shutdownCtx, shutdown: shutdown}

	m.logger.Info("starting modules", "modules", order)
	var started []*instance
	for _, mod := range mods {
		if shutdownCtx.Err() != nil {
			break
		}
		inst, err := l.start(mod)
		if err != nil {
			if !l.fail(mod.name, err) {
				// Shutdown was requested while the module started, which is
				// most likely why its Start gave up: not a failure.
				m.setState(mod.name, StateStopped)
				m.logger.Warn("module start interrupted by shutdown", "module", mod.name, "err", err)
			}
			break
		}
		started = append(started, inst)
	}
	if len(started) == len(mods) {
		m.logger.Info("all modules running")
	}

	<-shutdownCtx.Done()
	m.mu.Lock()
	m.stopping = true
	m.mu.Unlock()
	m.logger.Info("stopping modules", "reason", context.Cause(shutdownCtx))

	var stopErrs []error
	for i := len(started) - 1; i >= 0; i-- {
		if err := m.stop(ctx, started[i], timeout); err != nil {
			stopErrs = append(stopErrs, err)
		}
	}
	l.mu.Lock()
	failure := l.failure
	l.mu.Unlock()
	if failure == nil && len(stopErrs) == 0 {
		m.logger.Info("modules stopped")
		return nil
	}
	return errors.Join(append([]error{failure}, stopErrs...)...)
}

// lifecycle is one call of Run: it keeps the first module failure and turns
// it into a shutdown request.
type lifecycle struct {
	m        *Manager
	ctx      context.Context // done once shutdown was requested or a module failed
	shutdown context.CancelCauseFunc

	mu      sync.Mutex
	failure error
}

// fail records err as the failure of module name unless shutdown was already
// requested, and reports whether it did.
func (l *lifecycle) fail(name string, err error) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx.Err() != nil {
		return false
	}
	l.failure = err
	l.m.setState(name, StateFailed)
	l.m.logger.Error("module failed", "module", name, "err", err)
	l.shutdown(err)
	return true
}

// instance is a module that started and must be stopped.
type instance struct {
	name      string
	svc       Service // nil for wiring-only modules
	cancelRun context.CancelFunc
	runDone   chan struct{} // closed when Run returned; nil without a Runner
	runErr    error         // an error Run returned after shutdown began
}

func (l *lifecycle) start(mod *module) (*instance, error) {
	m := l.m
	m.setState(mod.name, StateStarting)
	m.logger.Info("starting module", "module", mod.name)
	inst := &instance{name: mod.name}
	if mod.init != nil {
		svc, err := mod.init(l.ctx)
		if err != nil {
			return nil, &ModuleError{Module: mod.name, Op: "init", Err: err}
		}
		inst.svc = svc
	}
	if inst.svc != nil {
		if err := inst.svc.Start(l.ctx); err != nil {
			return nil, &ModuleError{Module: mod.name, Op: "start", Err: err}
		}
	}
	// Running before Run begins, so that an immediate Run failure is not
	// overwritten.
	m.setState(mod.name, StateRunning)
	m.logger.Info("module running", "module", mod.name)
	if r, ok := inst.svc.(Runner); ok {
		l.run(inst, r)
	}
	return inst, nil
}

func (l *lifecycle) run(inst *instance, r Runner) {
	// The Run context keeps ctx's values but is cancelled only when this
	// module is stopped, after the modules depending on it.
	ctx, cancel := context.WithCancel(context.WithoutCancel(l.ctx))
	inst.cancelRun = cancel
	inst.runDone = make(chan struct{})
	go func() {
		defer close(inst.runDone)
		err := r.Run(ctx)
		failure := err
		if failure == nil {
			failure = errors.New("returned before shutdown was requested")
		}
		if l.fail(inst.name, &ModuleError{Module: inst.name, Op: "run", Err: failure}) {
			return
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			inst.runErr = &ModuleError{Module: inst.name, Op: "run", Err: err}
		}
	}()
}

// stop cancels the module's Run, calls Stop and waits for Run to return,
// all within timeout. A module that already failed stays Failed.
func (m *Manager) stop(ctx context.Context, inst *instance, timeout time.Duration) error {
	failed := m.state(inst.name) == StateFailed
	if !failed {
		m.setState(inst.name, StateStopping)
	}
	m.logger.Info("stopping module", "module", inst.name)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	timedOut := fmt.Errorf("timed out after %s: %w", timeout, context.DeadlineExceeded)

	if inst.cancelRun != nil {
		inst.cancelRun()
	}
	var errs []error
	if inst.svc != nil {
		done := make(chan error, 1) // buffered: a Stop that hangs past the timeout must not leak a blocked send
		go func() { done <- inst.svc.Stop(ctx) }()
		switch err, ok := await(ctx, done); {
		case !ok:
			errs = append(errs, &ModuleError{Module: inst.name, Op: "stop", Err: timedOut})
		case err != nil:
			errs = append(errs, &ModuleError{Module: inst.name, Op: "stop", Err: err})
		}
	}
	if inst.runDone != nil {
		switch _, ok := await(ctx, inst.runDone); {
		case !ok:
			errs = append(errs, &ModuleError{Module: inst.name, Op: "run", Err: timedOut})
		case inst.runErr != nil:
			errs = append(errs, inst.runErr)
		}
	}

	err := errors.Join(errs...)
	switch {
	case err != nil:
		m.setState(inst.name, StateFailed)
		m.logger.Error("module stop failed", "module", inst.name, "err", err)
	case failed:
		m.logger.Info("failed module stopped", "module", inst.name)
	default:
		m.setState(inst.name, StateStopped)
		m.logger.Info("module stopped", "module", inst.name)
	}
	return err
}

// await receives from ch unless ctx ends first; when both are ready it
// prefers ch, so work that finished right at the deadline is not reported
// as timed out.
func await[T any](ctx context.Context, ch <-chan T) (v T, ok bool) {
	select {
	case v = <-ch:
		return v, true
	case <-ctx.Done():
		select {
		case v = <-ch:
			return v, true
		default:
			return v, false
		}
	}
}
