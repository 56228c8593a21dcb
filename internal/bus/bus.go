// Package bus owns Backhaul's event stream and work queues on NATS
// JetStream. With no URL configured it runs a NATS server inside the process
// (no port, in-process connection, storage under the data directory); with a
// URL it connects to an external JetStream cluster. Either way the rest of the
// platform sees the same Bus.
//
// Domain events reach the stream through a transactional outbox drained by a
// Relay; every message carries the event ID as its Nats-Msg-Id, so a relay
// that re-publishes after a crash is de-duplicated by the stream.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// defaultStreamPrefix names the streams when no namespace is configured.
const defaultStreamPrefix = "BACKHAUL"

const (
	startTimeout = 10 * time.Second
	drainTimeout = 10 * time.Second
)

// Config says where the bus lives.
type Config struct {
	// URL of an external NATS server with JetStream ("nats://host:4222").
	// Empty runs an embedded server.
	URL string
	// DataDir holds the embedded server's storage (in DataDir/nats).
	// Required when URL is empty.
	DataDir string
	// Namespace isolates streams and subjects on a shared server, as tests
	// need: streams become "<ns>_EVENTS" and subjects "<ns>.loads.posted.v1".
	// Empty is the production layout: streams "BACKHAUL_EVENTS" and bare
	// subjects ("loads.posted.v1"). Letters, digits, '_' and '-' only.
	Namespace string
	// Replicas of each stream on a clustered server; 0 means 1.
	Replicas int
}

// Bus is a connection to JetStream, and the embedded server when there is one.
type Bus struct {
	log       *slog.Logger
	ns        string
	replicas  int
	srv       *server.Server // nil when connected to an external server
	nc        *nats.Conn
	js        jetstream.JetStream
	closed    chan struct{} // closed by the connection's ClosedHandler
	closeOnce sync.Once
}

// Open starts the embedded server or connects to the external one.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (*Bus, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := validNamespace(cfg.Namespace); err != nil {
		return nil, err
	}
	b := &Bus{
		log:      logger,
		ns:       cfg.Namespace,
		replicas: max(cfg.Replicas, 1),
		closed:   make(chan struct{}),
	}
	opts := []nats.Option{
		nats.Name("backhaul"),
		nats.DrainTimeout(drainTimeout),
		nats.ClosedHandler(func(*nats.Conn) { close(b.closed) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			logger.Error("nats async error", "subject", subject, "err", err)
		}),
	}

	url := cfg.URL
	if url == "" {
		if cfg.DataDir == "" {
			return nil, errors.New("bus: embedded server needs a data dir")
		}
		srv, err := startEmbedded(filepath.Join(cfg.DataDir, "nats"), logger)
		if err != nil {
			return nil, err
		}
		b.srv = srv
		url = srv.ClientURL()
		opts = append(opts, nats.InProcessServer(srv))
	} else {
		// An external server may restart or fail over; keep trying.
		opts = append(opts, nats.MaxReconnects(-1))
	}

	nc, err := nats.Connect(url, opts...)
	if err != nil {
		b.shutdownServer()
		return nil, fmt.Errorf("bus: connect: %w", err)
	}
	b.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	b.js = js
	if err := b.Healthy(ctx); err != nil {
		b.Close()
		return nil, err
	}
	logger.Info("bus open", "embedded", b.Embedded(), "namespace", cfg.Namespace)
	return b, nil
}

func startEmbedded(storeDir string, logger *slog.Logger) (*server.Server, error) {
	srv, err := server.NewServer(&server.Options{
		ServerName: "backhaul",
		JetStream:  true,
		StoreDir:   storeDir,
		DontListen: true,
		NoSigs:     true, // the process owns its signals
	})
	if err != nil {
		return nil, fmt.Errorf("bus: embedded server: %w", err)
	}
	srv.SetLoggerV2(serverLog{logger.With("component", "nats-server")}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(startTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("bus: embedded server not ready after %s", startTimeout)
	}
	return srv, nil
}

// Conn returns the underlying NATS connection.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// JetStream returns the JetStream API on the connection.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Embedded reports whether the bus runs its own server in the process.
func (b *Bus) Embedded() bool { return b.srv != nil }

// Namespace returns the configured namespace ("" in production).
func (b *Bus) Namespace() string { return b.ns }

// Healthy reports whether the connection is up and JetStream answers, for
// readiness probes.
func (b *Bus) Healthy(ctx context.Context) error {
	if b.srv != nil && !b.srv.Running() {
		return errors.New("bus: embedded server not running")
	}
	if st := b.nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("bus: connection %s", st)
	}
	if _, err := b.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("bus: jetstream account info: %w", err)
	}
	return nil
}

// Close drains the connection, so in-flight acknowledgements and
// subscriptions finish, then shuts the embedded server down and waits for it.
// It is safe to call more than once.
func (b *Bus) Close() {
	b.closeOnce.Do(func() {
		if b.nc != nil {
			if err := b.nc.Drain(); err != nil {
				b.nc.Close()
			}
			select {
			case <-b.closed:
			case <-time.After(drainTimeout + time.Second):
				b.log.Warn("bus: drain timed out")
				b.nc.Close()
			}
		}
		b.shutdownServer()
	})
}

func (b *Bus) shutdownServer() {
	if b.srv == nil {
		return
	}
	b.srv.Shutdown()
	b.srv.WaitForShutdown()
}

// Subject returns the NATS subject for an event type or a subject pattern
// ("loads.posted.v1", "loads.>"), with the namespace in front when one is set.
func (b *Bus) Subject(eventType string) string {
	if b.ns == "" {
		return eventType
	}
	return b.ns + "." + eventType
}

// StreamName returns the JetStream name of the stream called name
// ("EVENTS" becomes "BACKHAUL_EVENTS", or "<ns>_EVENTS" in a namespace).
func (b *Bus) StreamName(name string) string {
	prefix := b.ns
	if prefix == "" {
		prefix = defaultStreamPrefix
	}
	return prefix + "_" + name
}

func validNamespace(ns string) error {
	for _, r := range ns {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'
		if !ok {
			return fmt.Errorf("bus: namespace %q: only letters, digits, '_' and '-' allowed", ns)
		}
	}
	return nil
}

// serverLog sends the embedded server's log lines to slog. Its notices are
// start-up chatter, so they go to debug.
type serverLog struct{ l *slog.Logger }

func (s serverLog) Noticef(format string, v ...any) {
	s.l.Debug(strings.TrimSpace(fmt.Sprintf(format, v...)))
}
func (s serverLog) Warnf(format string, v ...any)  { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s serverLog) Fatalf(format string, v ...any) { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLog) Errorf(format string, v ...any) { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLog) Debugf(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s serverLog) Tracef(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
