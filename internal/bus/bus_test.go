package bus

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/backhaul/backhaul/internal/event"
	"github.com/backhaul/backhaul/internal/testenv"
)

const testTimeout = 30 * time.Second

// engine opens a bus on one kind of server for a test.
type engine struct {
	name string
	open func(t *testing.T) *Bus
}

// engines returns the embedded server (in a temporary directory) and the
// external test server (in a namespace of its own).
func engines() []engine {
	return []engine{
		{"embedded", func(t *testing.T) *Bus {
			return openBus(t, Config{DataDir: t.TempDir()})
		}},
		{"external", func(t *testing.T) *Bus {
			url := testenv.NATSURL(t)
			return openBus(t, Config{URL: url, Namespace: testenv.Unique("t")})
		}},
	}
}

// openBus opens a bus with its events stream, and closes it (deleting the
// namespace's streams on a shared server) when the test ends.
func openBus(t *testing.T, cfg Config) *Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	b, err := Open(ctx, cfg, testLogger(t))
	if err != nil {
		t.Fatalf("open bus: %v", err)
	}
	t.Cleanup(func() {
		if cfg.Namespace != "" {
			deleteNamespaceStreams(t, b)
		}
		b.Close()
	})
	if err := b.EnsureEventStream(ctx); err != nil {
		t.Fatalf("ensure event stream: %v", err)
	}
	return b
}

func deleteNamespaceStreams(t *testing.T, b *Bus) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	names := b.JetStream().StreamNames(ctx)
	var owned []string
	for name := range names.Name() {
		if strings.HasPrefix(name, b.Namespace()+"_") {
			owned = append(owned, name)
		}
	}
	for _, name := range owned {
		if err := b.JetStream().DeleteStream(ctx, name); err != nil {
			t.Logf("delete stream %s: %v", name, err)
		}
	}
}

func testLogger(t *testing.T) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func newEvent(t testing.TB, typ string, n int) event.Event {
	t.Helper()
	e, err := event.New(typ, "org-1", fmt.Sprintf("subject-%d", n), time.Now(), map[string]int{"n": n})
	if err != nil {
		t.Fatalf("new event: %v", err)
	}
	return e
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, ctx context.Context, what string, cond func() (bool, string)) {
	t.Helper()
	for {
		ok, state := cond()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: gave up waiting: %s", what, state)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func streamMsgs(t *testing.T, ctx context.Context, b *Bus, stream string) uint64 {
	t.Helper()
	s, err := b.JetStream().Stream(ctx, b.StreamName(stream))
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream %s info: %v", stream, err)
	}
	return info.State.Msgs
}

// storedEvents reads every message of the events stream in order.
func storedEvents(t *testing.T, ctx context.Context, b *Bus) []event.Event {
	t.Helper()
	s, err := b.JetStream().Stream(ctx, b.StreamName(EventsStream))
	if err != nil {
		t.Fatalf("events stream: %v", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("events stream info: %v", err)
	}
	var out []event.Event
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get message %d: %v", seq, err)
		}
		e, err := decodeEvent(m.Data)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		if got, want := m.Subject, b.Subject(e.Type); got != want {
			t.Errorf("message %d subject: got %q, want %q", seq, got, want)
		}
		out = append(out, e)
	}
	return out
}

func sameEvent(a, b event.Event) bool {
	return a.ID == b.ID && a.Type == b.Type && a.OccurredAt.Equal(b.OccurredAt) &&
		a.OrgID == b.OrgID && a.SubjectID == b.SubjectID && sameJSON(a.Data, b.Data)
}

// sameJSON compares two JSON values by meaning: encoding may change
// whitespace and escapes ("&" becomes "\u0026").
func sameJSON(a, b json.RawMessage) bool {
	va, erra := decodeJSON(a)
	vb, errb := decodeJSON(b)
	if erra != nil || errb != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(va, vb)
}

func decodeJSON(raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil // absent encodes as null
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

func TestSubjectAndStreamName(t *testing.T) {
	tests := []struct {
		ns, typ, wantSubject, wantStream string
	}{
		{"", "loads.posted.v1", "loads.posted.v1", "BACKHAUL_EVENTS"},
		{"", "loads.>", "loads.>", "BACKHAUL_EVENTS"},
		{"t1234", "loads.posted.v1", "t1234.loads.posted.v1", "t1234_EVENTS"},
		{"a-b_c", "tracking.geofence.v2", "a-b_c.tracking.geofence.v2", "a-b_c_EVENTS"},
	}
	for _, tt := range tests {
		b := &Bus{ns: tt.ns}
		if got := b.Subject(tt.typ); got != tt.wantSubject {
			t.Errorf("ns %q: Subject(%q): got %q, want %q", tt.ns, tt.typ, got, tt.wantSubject)
		}
		if got := b.StreamName(EventsStream); got != tt.wantStream {
			t.Errorf("ns %q: StreamName: got %q, want %q", tt.ns, got, tt.wantStream)
		}
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	ctx := testContext(t)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"embedded without data dir", Config{}},
		{"namespace with a dot", Config{DataDir: t.TempDir(), Namespace: "a.b"}},
		{"namespace with a wildcard", Config{DataDir: t.TempDir(), Namespace: "a*"}},
		{"namespace with a space", Config{DataDir: t.TempDir(), Namespace: "a b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Open(ctx, tt.cfg, nil)
			if err == nil {
				b.Close()
				t.Fatalf("got no error, want one")
			}
		})
	}
}

func TestHealthy(t *testing.T) {
	t.Parallel()
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			b := eng.open(t)
			if got, want := b.Embedded(), eng.name == "embedded"; got != want {
				t.Errorf("Embedded: got %v, want %v", got, want)
			}
			if err := b.Healthy(ctx); err != nil {
				t.Fatalf("Healthy on an open bus: got %v, want nil", err)
			}
			b.Close()
			if err := b.Healthy(ctx); err == nil {
				t.Fatalf("Healthy on a closed bus: got nil, want an error")
			}
			b.Close() // a second Close is harmless
		})
	}
}

func TestPublishConsumeRoundTrip(t *testing.T) {
	t.Parallel()
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			b := eng.open(t)

			posted := newEvent(t, "loads.posted.v1", 1)
			driver := newEvent(t, "drivers.updated.v1", 2)
			booked := newEvent(t, "loads.booked.v1", 3)
			for _, e := range []event.Event{posted, driver, booked} {
				if err := b.Publish(ctx, e); err != nil {
					t.Fatalf("publish %s: %v", e.Type, err)
				}
			}

			cctx, stop := context.WithCancel(ctx)
			var got []event.Event
			done := make(chan error, 1)
			go func() {
				done <- b.Consume(cctx, ConsumerConfig{Durable: "loads-reader", Subjects: []string{"loads.>"}},
					func(_ context.Context, e event.Event) error {
						got = append(got, e)
						if len(got) == 2 {
							stop()
						}
						return nil
					})
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Consume: got %v, want nil", err)
				}
			case <-ctx.Done():
				t.Fatalf("Consume did not return: got %d events", len(got))
			}

			want := []event.Event{posted, booked}
			if len(got) != len(want) {
				t.Fatalf("consumed %d events, want %d", len(got), len(want))
			}
			for i := range want {
				if !sameEvent(got[i], want[i]) {
					t.Errorf("event %d: got %+v, want %+v", i, got[i], want[i])
				}
			}
			if got, want := len(storedEvents(t, ctx, b)), 3; got != want {
				t.Errorf("stream holds %d events, want %d", got, want)
			}
		})
	}
}

func TestPublishRejectsBadEvents(t *testing.T) {
	ctx := testContext(t)
	b := openBus(t, Config{DataDir: t.TempDir()})
	good := newEvent(t, "loads.posted.v1", 1)
	noID := good
	noID.ID = ""
	wildcard := good
	wildcard.Type = "loads.*.v1"
	unversioned := good
	unversioned.Type = "loads.posted"
	unowned := good
	unowned.Type = "nobody.owns.v1"
	for name, e := range map[string]event.Event{
		"no id": noID, "wildcard type": wildcard, "unversioned type": unversioned, "subject of no stream": unowned,
	} {
		if err := b.Publish(ctx, e); err == nil {
			t.Errorf("%s: got no error, want one", name)
		}
	}
}

func TestPublishDeduplicatesByEventID(t *testing.T) {
	t.Parallel()
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			b := eng.open(t)

			e := newEvent(t, "bookings.confirmed.v1", 1)
			for i := range 3 {
				if err := b.Publish(ctx, e); err != nil {
					t.Fatalf("publish #%d: %v", i+1, err)
				}
			}
			same := e
			same.ID = newEvent(t, "bookings.confirmed.v1", 1).ID // same content, another event
			if err := b.Publish(ctx, same); err != nil {
				t.Fatalf("publish another event: %v", err)
			}
			got := storedEvents(t, ctx, b)
			if len(got) != 2 || got[0].ID != e.ID || got[1].ID != same.ID {
				ids := make([]string, len(got))
				for i, g := range got {
					ids[i] = g.ID
				}
				t.Fatalf("stored events: got %v, want [%s %s]", ids, e.ID, same.ID)
			}
		})
	}
}

func TestConsumeRedeliversAfterHandlerError(t *testing.T) {
	t.Parallel()
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			b := eng.open(t)

			flaky := newEvent(t, "tracking.position.v1", 1)  // fails on its first delivery
			fine := newEvent(t, "tracking.position.v1", 2)   // always succeeds
			poison := newEvent(t, "tracking.position.v1", 3) // always fails
			if err := b.Publish(ctx, flaky); err != nil {
				t.Fatal(err)
			}
			// A message that is no event envelope must be terminated, not
			// retried and not handed to the handler.
			if _, err := b.JetStream().Publish(ctx, b.Subject("tracking.garbage.v1"), []byte("{not json")); err != nil {
				t.Fatal(err)
			}
			for _, e := range []event.Event{fine, poison} {
				if err := b.Publish(ctx, e); err != nil {
					t.Fatal(err)
				}
			}

			var mu sync.Mutex
			calls := map[string]int{}
			count := func(id string) int { mu.Lock(); defer mu.Unlock(); return calls[id] }
			handler := func(_ context.Context, e event.Event) error {
				mu.Lock()
				defer mu.Unlock()
				calls[e.ID]++
				switch {
				case e.ID == flaky.ID && calls[e.ID] == 1:
					return fmt.Errorf("temporary failure")
				case e.ID == poison.ID:
					return fmt.Errorf("permanent failure")
				}
				return nil
			}
			cctx, stop := context.WithCancel(ctx)
			defer stop()
			cfg := ConsumerConfig{Durable: "tracker", Subjects: []string{"tracking.>"}, MaxDeliver: 3, AckWait: 5 * time.Second, RetryDelay: 10 * time.Millisecond}
			done := make(chan error, 1)
			go func() { done <- b.Consume(cctx, cfg, handler) }()

			eventually(t, ctx, "every message settled", func() (bool, string) {
				depth, err := b.QueueDepth(ctx, EventsStream, "tracker")
				state := fmt.Sprintf("depth %d (%v), flaky %d, fine %d, poison %d", depth, err, count(flaky.ID), count(fine.ID), count(poison.ID))
				return err == nil && depth == 0 && count(flaky.ID) == 2 && count(fine.ID) == 1 && count(poison.ID) == 3, state
			})
			stop()
			if err := <-done; err != nil {
				t.Fatalf("Consume: got %v, want nil", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if got, want := len(calls), 3; got != want {
				t.Errorf("handler saw %d distinct events, want %d (the garbage must not reach it)", got, want)
			}
			if got, want := calls[poison.ID], 3; got != want {
				t.Errorf("poison deliveries: got %d, want %d (MaxDeliver)", got, want)
			}
		})
	}
}

func TestWorkQueueDepth(t *testing.T) {
	t.Parallel()
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			b := eng.open(t)
			if err := b.EnsureWorkQueue(ctx, "JOBS", []string{"jobs.>"}); err != nil {
				t.Fatalf("ensure work queue: %v", err)
			}
			if err := b.EnsureWorkQueue(ctx, "JOBS", []string{"jobs.>"}); err != nil {
				t.Fatalf("ensure work queue again: %v", err)
			}
			if _, err := b.JetStream().CreateOrUpdateConsumer(ctx, b.StreamName("JOBS"), jetstream.ConsumerConfig{
				Durable: "solver", AckPolicy: jetstream.AckExplicitPolicy,
			}); err != nil {
				t.Fatalf("create consumer: %v", err)
			}
			const jobs = 3
			for i := range jobs {
				if err := b.Publish(ctx, newEvent(t, "jobs.solve.v1", i)); err != nil {
					t.Fatalf("publish job: %v", err)
				}
			}
			// The server counts a consumer's pending messages asynchronously.
			eventually(t, ctx, "queue depth before work", func() (bool, string) {
				depth, err := b.QueueDepth(ctx, "JOBS", "solver")
				return err == nil && depth == jobs, fmt.Sprintf("got %d (%v), want %d", depth, err, jobs)
			})

			cctx, stop := context.WithCancel(ctx)
			defer stop()
			var mu sync.Mutex
			handled := 0
			done := make(chan error, 1)
			go func() {
				done <- b.Consume(cctx, ConsumerConfig{Durable: "solver", Stream: "JOBS"}, func(context.Context, event.Event) error {
					mu.Lock()
					defer mu.Unlock()
					handled++
					return nil
				})
			}()
			eventually(t, ctx, "queue drained", func() (bool, string) {
				depth, err := b.QueueDepth(ctx, "JOBS", "solver")
				msgs := streamMsgs(t, ctx, b, "JOBS")
				return err == nil && depth == 0 && msgs == 0, fmt.Sprintf("depth %d (%v), %d messages left", depth, err, msgs)
			})
			stop()
			if err := <-done; err != nil {
				t.Fatalf("Consume: %v", err)
			}
			if handled != jobs {
				t.Errorf("handled %d jobs, want %d", handled, jobs)
			}
			if _, err := b.QueueDepth(ctx, "JOBS", "nobody"); err == nil {
				t.Errorf("queue depth of a missing consumer: got no error, want one")
			}
		})
	}
}

// serverGoroutines counts goroutines running code of the NATS server.
func serverGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "nats-server/v2/server.") {
			count++
		}
	}
	return count
}

// Not parallel: it counts the goroutines of the whole test binary.
func TestEmbeddedCloseStopsServerAndKeepsMessages(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	before := serverGoroutines()

	b, err := Open(ctx, Config{DataDir: dir}, testLogger(t))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if err := b.EnsureEventStream(ctx); err != nil {
		t.Fatal(err)
	}
	if serverGoroutines() <= before {
		t.Fatalf("no server goroutines while open: the leak check below would prove nothing")
	}
	var published []event.Event
	for i := range 3 {
		e := newEvent(t, "orgs.created.v1", i)
		if err := b.Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
		published = append(published, e)
	}
	b.Close()
	eventually(t, ctx, "server goroutines gone", func() (bool, string) {
		n := serverGoroutines()
		return n <= before, fmt.Sprintf("%d server goroutines, %d before open", n, before)
	})

	b2 := openBus(t, Config{DataDir: dir})
	got := storedEvents(t, ctx, b2)
	if len(got) != len(published) {
		t.Fatalf("after restart the stream holds %d events, want %d", len(got), len(published))
	}
	for i := range published {
		if !sameEvent(got[i], published[i]) {
			t.Errorf("event %d after restart: got %+v, want %+v", i, got[i], published[i])
		}
	}
	// The duplicate window survives the restart too.
	if err := b2.Publish(ctx, published[0]); err != nil {
		t.Fatal(err)
	}
	if got, want := streamMsgs(t, ctx, b2, EventsStream), uint64(len(published)); got != want {
		t.Errorf("after re-publishing a stored event: %d messages, want %d", got, want)
	}
}

func TestRetryDelay(t *testing.T) {
	tests := []struct {
		base      time.Duration
		delivered int
		want      time.Duration
	}{
		{100 * time.Millisecond, 1, 100 * time.Millisecond},
		{100 * time.Millisecond, 2, 200 * time.Millisecond},
		{100 * time.Millisecond, 4, 800 * time.Millisecond},
		{time.Second, 100, time.Minute},
		{2 * time.Minute, 1, time.Minute},
	}
	for _, tt := range tests {
		if got := retryDelay(tt.base, tt.delivered); got != tt.want {
			t.Errorf("retryDelay(%s, %d): got %s, want %s", tt.base, tt.delivered, got, tt.want)
		}
	}
}

func FuzzDecodeEvent(f *testing.F) {
	e, err := event.New("loads.posted.v1", "org", "load", time.Unix(1700000000, 0), map[string]string{"a": "b"})
	if err != nil {
		f.Fatal(err)
	}
	good, _ := json.Marshal(e)
	f.Add(good)
	f.Add([]byte(`{"id":"x","type":"loads.posted.v1","data":null}`))
	f.Add([]byte(`{"id":"","type":"loads.posted.v1"}`))
	f.Add([]byte(`{"id":"x","type":"loads.>"}`))
	f.Add([]byte(`{not json`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeEvent(data)
		if err != nil {
			return
		}
		if got.ID == "" {
			t.Fatalf("decoded an event with no id from %q", data)
		}
		if err := event.ValidType(got.Type); err != nil {
			t.Fatalf("decoded an invalid type from %q: %v", data, err)
		}
		again, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", got, err)
		}
		back, err := decodeEvent(again)
		if err != nil {
			t.Fatalf("decode re-encoded %q: %v", again, err)
		}
		if !sameEvent(back, got) {
			t.Fatalf("round trip: got %+v, want %+v", back, got)
		}
	})
}

func BenchmarkPublish(b *testing.B) {
	ctx := context.Background()
	bus, err := Open(ctx, Config{DataDir: b.TempDir()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer bus.Close()
	if err := bus.EnsureEventStream(ctx); err != nil {
		b.Fatal(err)
	}
	e := newEvent(b, "loads.posted.v1", 1)
	n := 0
	for b.Loop() {
		n++
		e.ID = fmt.Sprintf("bench-%d", n)
		if err := bus.Publish(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
}
