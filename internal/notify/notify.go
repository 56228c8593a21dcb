// Package notify is the notification-service: it turns the platform's
// events into notifications and delivers them to people and systems.
//
// Triggers. Durable consumers of the events stream, shared by the replicas
// (one per subject, since NATS before 2.10 takes one filter per consumer),
// turn each event into notifications for its audiences: the users of the
// organizations concerned, by role, and the driver it is about. Each
// event is handled in one transaction that records it as processed
// (store.Tx.FirstDelivery) together with everything it causes, and every
// row carries a de-duplication key derived from the event, so an event
// delivered twice notifies once.
//
// Channels. The in-app inbox is written in that transaction and pushed live
// to open server-sent-event streams (a wake-up over core NATS reaches
// every replica; the stream reads the store). Webhooks (per organization),
// email (SMTP) and SMS (a provider behind an interface) are deliveries: rows
// in notify_deliveries, worked through a JetStream work queue.
//
// Delivery. Deliveries are grouped in lanes: one webhook endpoint, or one
// user's email or SMS. A lane is sent in order, one delivery at a time, by
// the replica holding its lease in the store; queue messages only say which
// lane has work, so any number of replicas share the queue. A failed
// attempt is retried with exponential backoff and jitter, holding back the
// lane behind it (per-endpoint ordering); after MaxAttempts the delivery is
// dead-lettered and the lane moves on. Dead deliveries can be replayed by
// hand. An endpoint failing without a single success for DisableAfter is
// disabled. Sending is at least once: a replica dying between a send and
// its record sends again, with the same delivery ID (the
// Backhaul-Delivery-Id header, the email's Message-ID), so receivers can
// drop the repeat. Per-recipient rate limits defer, never drop.
//
// Preferences. Users and organizations choose channels per kind, quiet
// hours in their time zone (urgent kinds excepted) and digests; they shape
// deliveries when they are created, by holding them (next_at) or marking
// them for a digest.
//
// The gauge pending_notifications is the number of deliveries due and not
// yet sent, counted in the store, so every replica reports the same backlog.
package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/backhaul/backhaul/internal/bus"
	"github.com/backhaul/backhaul/internal/notify/webhook"
	"github.com/backhaul/backhaul/internal/promreg"
	"github.com/backhaul/backhaul/internal/ratelimit"
	"github.com/backhaul/backhaul/internal/store"
)

// Prefixes are the API paths this service owns (the gateway routes them).
var Prefixes = []string{"/api/v1/notifications", "/api/v1/webhooks"}

// Limiter decides whether a recipient may be sent another message now
// (internal/ratelimit: in-process, or Redis shared by the replicas).
type Limiter interface {
	Allow(ctx context.Context, key string, l ratelimit.Limit) (ratelimit.Decision, error)
}

// Deps are the outside services notify sends through. A nil Mailer or SMS
// turns that channel off: no deliveries are created for it.
type Deps struct {
	Mailer  Mailer
	SMS     SMSProvider
	Limiter Limiter // nil is an in-process limiter
}

// Options tune the service. Zero values take the defaults.
type Options struct {
	// Name identifies this replica in lane leases; default the host name
	// and a random suffix.
	Name string
	// Workers is the number of lanes this replica sends on at once;
	// default 16 (sending is waiting on the network).
	Workers int
	// AckWait is how long the queue waits for a worker before handing its
	// message to another; default 30s. It is also the lane lease.
	AckWait time.Duration
	// MaxAttempts is how many failed attempts dead-letter a delivery;
	// default 8.
	MaxAttempts int
	// RetryBase and RetryMax bound the backoff between attempts: the
	// n-th retry waits about RetryBase*2^(n-1), jittered, at most RetryMax.
	// Defaults 2s and 1h.
	RetryBase, RetryMax time.Duration
	// DisableAfter disables a webhook endpoint that has failed without a
	// success for this long; default 72h.
	DisableAfter time.Duration
	// WebhookTimeout bounds one webhook request; default 10s.
	WebhookTimeout time.Duration
	// AllowPrivateWebhooks lets webhook URLs reach loopback and private
	// networks (the embedded single-machine mode, tests). Production
	// deployments leave it false.
	AllowPrivateWebhooks bool
	// RecipientLimit bounds the email and SMS messages a user receives;
	// default 1 per second with a burst of 20. EndpointLimit bounds the
	// requests to one webhook endpoint; default 100/s, burst 200.
	RecipientLimit, EndpointLimit ratelimit.Limit
	// SweepInterval is how often lanes with due deliveries and no live
	// lease are queued again (a lost message, a crashed replica); default 5s.
	SweepInterval time.Duration
	// StreamPoll is how often an open inbox stream looks at the store
	// besides being woken; default 5s.
	StreamPoll time.Duration
	// Templates replace the built-in texts of some kinds.
	Templates map[Kind]Template
	// Now is the clock; default the store's.
	Now func() time.Time
}

func (o Options) withDefaults(db *store.DB) Options {
	if o.Name == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "notifier"
		}
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		o.Name = host + "-" + hex.EncodeToString(b)
	}
	if o.Workers <= 0 {
		o.Workers = 16
	}
	if o.AckWait <= 0 {
		o.AckWait = 30 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 2 * time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = time.Hour
	}
	if o.DisableAfter <= 0 {
		o.DisableAfter = 72 * time.Hour
	}
	if o.WebhookTimeout <= 0 {
		o.WebhookTimeout = 10 * time.Second
	}
	if o.RecipientLimit.Rate <= 0 {
		o.RecipientLimit = ratelimit.Limit{Rate: 1, Burst: 20}
	}
	if o.EndpointLimit.Rate <= 0 {
		o.EndpointLimit = ratelimit.Limit{Rate: 100, Burst: 200}
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = 5 * time.Second
	}
	if o.StreamPoll <= 0 {
		o.StreamPoll = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = db.Now
	}
	return o
}

// Service is the notification service of one replica.
type Service struct {
	db     *store.DB
	bus    *bus.Bus
	log    *slog.Logger
	opts   Options
	deps   Deps
	tpl    *templates
	policy webhook.Policy
	client *http.Client
	live   *broker

	// cons is the work queue's consumer, shared by the replicas.
	cons jetstream.Consumer
	// active are the lanes this replica's workers are on.
	active lanes

	m metrics
}

type metrics struct {
	sent           *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	templateErrors prometheus.Counter
	events         *prometheus.CounterVec
	inbox          prometheus.Counter
}

// Queue names, before the bus adds its prefix and namespace. Queue subjects
// stay outside bus.EventAreas: one stream owns a subject.
const (
	queueStream  = "NOTIFY_DELIVERIES"
	queueSubject = "jobs.notify.lanes"
	queueDurable = "notify-deliver"
)

// liveSubject is the core NATS subject that wakes inbox streams on every
// replica; its body is the user ID.
const liveSubject = "live.notifications"

// setupTimeout bounds the creation of the queue and its consumer.
const setupTimeout = 15 * time.Second

// New builds the service, creates its work queue, and registers the metrics
// on reg (nil registers nowhere).
func New(db *store.DB, b *bus.Bus, deps Deps, log *slog.Logger, reg prometheus.Registerer, opts Options) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts = opts.withDefaults(db)
	if deps.Limiter == nil {
		deps.Limiter = ratelimit.NewLocal(time.Now)
	}
	s := &Service{db: db, bus: b, log: log.With("service", "notification-service"), opts: opts, deps: deps,
		tpl: newTemplates(opts.Templates), policy: webhook.Policy{AllowPrivate: opts.AllowPrivateWebhooks},
		live: newBroker()}
	s.client = s.policy.Client(opts.WebhookTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := s.ensureQueue(ctx); err != nil {
		return nil, err
	}
	if err := s.registerMetrics(reg); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Service) registerMetrics(reg prometheus.Registerer) error {
	s.m.sent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "backhaul_notify_deliveries_total",
		Help: "Delivery attempts on the external channels, by channel and result (delivered, retry, dead, deferred).",
	}, []string{"channel", "result"})
	s.m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "backhaul_notify_delivery_delay_seconds",
		Help:    "Time from an event to its delivery, by channel (held and retried deliveries included).",
		Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600},
	}, []string{"channel"})
	s.m.templateErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "backhaul_notify_template_errors_total",
		Help: "Notifications whose template failed and that were sent with a plain fallback text.",
	})
	s.m.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "backhaul_notify_events_total",
		Help: "Events handled by the notification triggers, by event type.",
	}, []string{"type"})
	s.m.inbox = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "backhaul_notify_inbox_total",
		Help: "Notifications written to in-app inboxes.",
	})
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "pending_notifications",
		Help: "Notification deliveries due and not yet sent (the notification-service autoscaler reads it).",
	}, s.pendingGauge)
	for _, c := range []Channel{ChannelWebhook, ChannelEmail, ChannelSMS} {
		for _, r := range []string{"delivered", "retry", "dead"} {
			s.m.sent.WithLabelValues(string(c), r)
		}
	}
	if reg == nil {
		return nil
	}
	var err error
	if s.m.sent, err = promreg.Register(reg, s.m.sent); err != nil {
		return err
	}
	if s.m.latency, err = promreg.Register(reg, s.m.latency); err != nil {
		return err
	}
	if s.m.templateErrors, err = promreg.Register(reg, s.m.templateErrors); err != nil {
		return err
	}
	if s.m.events, err = promreg.Register(reg, s.m.events); err != nil {
		return err
	}
	if s.m.inbox, err = promreg.Register(reg, s.m.inbox); err != nil {
		return err
	}
	_, err = promreg.Register[prometheus.Collector](reg, pending)
	return err
}

func (s *Service) pendingGauge() float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := s.Pending(ctx)
	if err != nil {
		s.log.Warn("count pending notifications", "err", err)
		return 0
	}
	return float64(n)
}

// Pending returns the number of deliveries due now and not yet sent: the
// backlog. Deliveries held for quiet hours, a digest or a retry later are
// not counted until they are due.
func (s *Service) Pending(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM notify_deliveries WHERE status = 'pending' AND next_at <= ?`, s.opts.Now()).Scan(&n)
	return n, err
}

// Run runs the triggers, the delivery workers, the sweeper and the live
// wake-ups until ctx is done.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	spawn := func(f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				errs <- err
				cancel()
			}
		}()
	}
	sub, err := s.bus.Conn().Subscribe(s.bus.Subject(liveSubject), func(m *nats.Msg) { s.live.wake(string(m.Data)) })
	if err != nil {
		return err
	}
	defer func() { _ = sub.Unsubscribe() }()
	for _, t := range s.triggers() {
		spawn(func(ctx context.Context) error { return s.consume(ctx, t) })
	}
	spawn(s.deliver)
	spawn(func(ctx context.Context) error { s.sweeper(ctx); return nil })
	<-ctx.Done()
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// errPermanent marks a failure no retry can fix (a 4xx answer, a refused
// address): the delivery is dead-lettered at once.
var errPermanent = errors.New("permanent failure")
