package notify

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/ratelimit"
	"github.com/backhaul/backhaul/internal/testenv"
)

// smtpServer starts a real SMTP server (aiosmtpd, Debian's python3-aiosmtpd)
// that stores what it receives in a Maildir, and returns its address and
// the directory new messages appear in.
func smtpServer(t *testing.T) (addr, dir string) {
	t.Helper()
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import aiosmtpd").Run(); err != nil {
		testenv.Unavailable(t, "%s with aiosmtpd: %v", python, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	ln.Close()
	dir = filepath.Join(t.TempDir(), "maildir")
	cmd := exec.Command(python, "-m", "aiosmtpd", "-n", "-l", addr, "-c", "aiosmtpd.handlers.Mailbox", dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	waitFor(t, "the SMTP server", func() bool {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	return addr, filepath.Join(dir, "new")
}

func readMaildir(t *testing.T, dir string) []*mail.Message {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	var out []*mail.Message
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(fh)
		if err != nil {
			t.Fatalf("message %s: %v", f, err)
		}
		body, _ := io.ReadAll(m.Body)
		fh.Close()
		m.Body = strings.NewReader(string(body))
		out = append(out, m)
	}
	return out
}

// parts returns the text and HTML parts of a multipart/alternative message.
func parts(t *testing.T, m *mail.Message) (text, html string) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %q, want multipart/alternative", m.Header.Get("Content-Type"))
	}
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := r.NextPart() // decodes quoted-printable
		if err == io.EOF {
			return text, html
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		switch {
		case strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain"):
			text = string(b)
		case strings.HasPrefix(p.Header.Get("Content-Type"), "text/html"):
			html = string(b)
		}
	}
}

func setPrefs(t *testing.T, s *Service, p freight.Principal, prefs Preferences) {
	t.Helper()
	if _, err := s.SetPreferences(context.Background(), p, prefs); err != nil {
		t.Fatalf("preferences of %s: %v", p.UserID, err)
	}
}

// Email goes through a real SMTP server, as text and HTML.
func TestEmailThroughSMTP(t *testing.T) {
	addr, dir := smtpServer(t)
	db, buses := setups[0].open(t, 1)
	mailer := SMTP{Addr: addr, From: "Backhaul <notifications@backhaul.test>"}
	if err := mailer.Validate(); err != nil {
		t.Fatal(err)
	}
	s, _ := newService(t, db, buses[0], Deps{Mailer: mailer}, testOptions())
	setPrefs(t, s, shipAdmin, Preferences{Events: map[Kind][]Channel{KindLoadDelivered: {ChannelInApp, ChannelEmail}}})
	run(t, s)
	handle(t, s, statusEvent(t, "load-<1>", freight.StatusDelivered))
	waitFor(t, "the email", func() bool { return len(readMaildir(t, dir)) == 1 })
	m := readMaildir(t, dir)[0]
	if to := m.Header.Get("To"); !strings.Contains(to, "u-ship-admin@example.com") {
		t.Errorf("To = %q", to)
	}
	if subj := m.Header.Get("Subject"); subj != "Load load-<1> is delivered" {
		t.Errorf("Subject = %q", subj)
	}
	if id := m.Header.Get("Message-Id"); !strings.HasSuffix(id, "@backhaul.test>") {
		t.Errorf("Message-ID = %q", id)
	}
	text, html := parts(t, m)
	if !strings.Contains(text, "Load load-<1> was delivered.") {
		t.Errorf("text part = %q", text)
	}
	// The HTML part escapes what it shows.
	if !strings.Contains(html, "<h2>Load load-&lt;1&gt; is delivered</h2>") {
		t.Errorf("html part = %q", html)
	}
	// The other staff did not choose email.
	if n := len(readMaildir(t, dir)); n != 1 {
		t.Errorf("%d emails, want 1", n)
	}
}

// mailbox is a Mailer that keeps what it is given (for the rules that
// decide what is sent and when; the SMTP path is tested above).
type mailbox struct {
	mu   sync.Mutex
	sent []Email
}

func (m *mailbox) Send(_ context.Context, e Email) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, e)
	return nil
}

func (m *mailbox) all() []Email {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Email(nil), m.sent...)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Quiet hours hold what is not urgent until they end; urgent kinds go at
// once. A digest collects a period's messages into one.
func TestQuietHoursAndDigest(t *testing.T) {
	eachSetup(t, func(t *testing.T, su setup) {
		db, buses := su.open(t, 1)
		clk := &clock{t: time.Now().UTC().Truncate(time.Minute)}
		db.SetClock(clk.Now)
		opts := testOptions()
		opts.Now = db.Now
		mb := &mailbox{}
		s, reg := newService(t, db, buses[0], Deps{Mailer: mb}, opts)
		hhmm := func(d time.Duration) string { return clk.Now().Add(d).Format("15:04") }
		email := map[Kind][]Channel{KindLoadDelivered: {ChannelEmail}, KindLoadCancelled: {ChannelEmail}, KindLoadInTransit: {ChannelEmail}}
		setPrefs(t, s, shipUser, Preferences{Events: email, TimeZone: "UTC", QuietHours: &QuietHours{Start: hhmm(-time.Hour), End: hhmm(time.Hour)}})
		five := 5
		setPrefs(t, s, carrierDisp, Preferences{Events: email, DigestMinutes: &five})
		handle(t, s, statusEvent(t, "load-1", freight.StatusDelivered))
		handle(t, s, statusEvent(t, "load-2", freight.StatusCancelled))
		handle(t, s, statusEvent(t, "load-3", freight.StatusInTransit))
		run(t, s)

		// The urgent cancellation reaches both at once (and, by default,
		// the other staff and the driver).
		mine := func() []Email {
			var out []Email
			for _, e := range mb.all() {
				if e.To == "u-ship@example.com" || e.To == "u-disp@example.com" {
					out = append(out, e)
				}
			}
			return out
		}
		waitFor(t, "the urgent emails", func() bool { return len(mine()) == 2 })
		time.Sleep(300 * time.Millisecond)
		for _, e := range mine() {
			if e.Subject != "Load load-2 is cancelled" {
				t.Errorf("sent %q to %s during quiet hours / before the digest", e.Subject, e.To)
			}
		}
		if got := gauge(t, reg); got != 0 {
			t.Errorf("pending_notifications = %v while everything left is held, want 0", got)
		}

		clk.Add(2 * time.Hour)
		waitFor(t, "the held emails", func() bool { return len(mine()) == 5 })
		subjects := map[string]string{}
		for _, e := range mine()[2:] {
			subjects[e.To] += e.Subject + ";"
		}
		if got := subjects["u-ship@example.com"]; got != "Load load-1 is delivered;Load load-3 is in transit;" {
			t.Errorf("after quiet hours u-ship got %q", got)
		}
		if got := subjects["u-disp@example.com"]; got != "Backhaul digest: 2 notifications;" {
			t.Errorf("digest: u-disp got %q", got)
		}
	})
}

// A recipient's rate limit defers messages; nothing is dropped.
func TestRecipientRateLimit(t *testing.T) {
	db, buses := setups[0].open(t, 1)
	opts := testOptions()
	opts.RecipientLimit = ratelimit.Limit{Rate: 5, Burst: 1}
	mb := &mailbox{}
	s, _ := newService(t, db, buses[0], Deps{Mailer: mb}, opts)
	setPrefs(t, s, shipUser, Preferences{Events: map[Kind][]Channel{KindLoadDelivered: {ChannelEmail}}})
	for _, l := range []string{"load-1", "load-2", "load-3"} {
		handle(t, s, statusEvent(t, l, freight.StatusDelivered))
	}
	run(t, s)
	waitFor(t, "all three emails", func() bool { return len(mb.all()) == 3 })
	if got := counter(s.m.sent.WithLabelValues("email", "deferred")); got < 1 {
		t.Errorf("deferred = %v, want at least 1 (burst 1)", got)
	}
	for i, e := range mb.all() {
		if want := "Load load-" + string(rune('1'+i)) + " is delivered"; e.Subject != want {
			t.Errorf("email %d = %q, want %q (order kept)", i, e.Subject, want)
		}
	}
}

// SMS go to an HTTP provider; a refusal (4xx) is dead at once.
func TestSMSProvider(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]string
	answer := http.StatusAccepted
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]string
		_ = json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		got = append(got, m)
		w.WriteHeader(answer)
	}))
	defer provider.Close()
	db, buses := setups[0].open(t, 1)
	s, _ := newService(t, db, buses[0], Deps{SMS: HTTPSMS{URL: provider.URL, Token: "tok"}}, testOptions())
	setPrefs(t, s, driver, Preferences{Phone: "+15125550100", Events: map[Kind][]Channel{KindLoadDispatched: {ChannelSMS, ChannelInApp}}})
	run(t, s)
	handle(t, s, statusEvent(t, "load-1", freight.StatusDispatched))
	waitFor(t, "the SMS", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 })
	mu.Lock()
	m := got[0]
	answer = http.StatusBadRequest
	mu.Unlock()
	if m["to"] != "+15125550100" || m["body"] != "Load load-1 is dispatched: A driver is dispatched to pick up load load-1." || m["id"] == "" {
		t.Errorf("provider got %v", m)
	}
	handle(t, s, statusEvent(t, "load-2", freight.StatusDispatched))
	waitFor(t, "the refused SMS to be dead", func() bool {
		var n int
		_ = db.QueryRow(context.Background(), `SELECT COUNT(*) FROM notify_deliveries WHERE channel = 'sms' AND status = 'dead'`).Scan(&n)
		return n == 1
	})
}

// A template that fails never drops a notification: it goes out with a
// plain text naming the kind and carrying the data, and the failure is
// counted.
func TestTemplateErrorFallsBack(t *testing.T) {
	db, buses := setups[0].open(t, 1)
	opts := testOptions()
	opts.Templates = map[Kind]Template{
		KindLoadDelivered: {Title: "{{.no_such_key}}", Body: "x"},
		KindLoadCancelled: {Title: "{{", Body: "x"},
	}
	s, _ := newService(t, db, buses[0], Deps{}, opts)
	h := newHook(t)
	h.register(s, shipAdmin, "*")
	run(t, s)
	handle(t, s, statusEvent(t, "load-1", freight.StatusDelivered))
	handle(t, s, statusEvent(t, "load-2", freight.StatusCancelled))
	items := inbox(t, s, shipAdmin).Items
	if len(items) != 2 {
		t.Fatalf("inbox has %d items, want 2", len(items))
	}
	for _, it := range items {
		if !strings.HasPrefix(it.Title, "Backhaul notification (load: ") || !strings.Contains(it.Body, it.Data["load_id"].(string)) {
			t.Errorf("fallback item = %q / %q", it.Title, it.Body)
		}
	}
	waitFor(t, "both webhooks", func() bool { return len(h.received()) == 2 })
	if got := counter(s.m.templateErrors); got != 4 { // two events, two organizations each
		t.Errorf("template errors = %v, want 4", got)
	}
}
