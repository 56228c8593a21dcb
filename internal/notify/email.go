package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"
)

// Email is one message to one address.
type Email struct {
	To      string
	Subject string
	Text    string
	HTML    string // empty sends text only
	// ID identifies the delivery; it becomes the Message-ID, so a message
	// sent twice after a crash can be recognised.
	ID string
}

// Mailer sends email.
type Mailer interface {
	Send(ctx context.Context, e Email) error
}

// SMTP sends email through an SMTP server, with STARTTLS when the server
// offers it and authentication when a user name is set.
type SMTP struct {
	Addr     string // host:port
	From     string // the sender address
	Username string
	Password string
	// Timeout bounds one message, from dial to QUIT; default 30s.
	Timeout time.Duration
	// Hostname is sent in HELO; default "localhost".
	Hostname string
}

// Validate checks the configuration.
func (m SMTP) Validate() error {
	if _, _, err := net.SplitHostPort(m.Addr); err != nil {
		return fmt.Errorf("smtp address: want host:port, got %q", m.Addr)
	}
	if _, err := mail.ParseAddress(m.From); err != nil {
		return fmt.Errorf("smtp from: %q is not an email address", m.From)
	}
	return nil
}

// Send delivers one message. A 5xx answer is permanent; anything else may
// be retried.
func (m SMTP) Send(ctx context.Context, e Email) error {
	to, err := mail.ParseAddress(e.To)
	if err != nil {
		return fmt.Errorf("%w: recipient %q is not an email address", errPermanent, e.To)
	}
	from, err := mail.ParseAddress(m.From)
	if err != nil {
		return fmt.Errorf("%w: sender %q is not an email address", errPermanent, m.From)
	}
	msg, err := buildMessage(from, to, e, time.Now())
	if err != nil {
		return fmt.Errorf("%w: %v", errPermanent, err)
	}
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.Addr)
	if err != nil {
		return fmt.Errorf("smtp dial: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(m.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return smtpErr("greeting", err)
	}
	defer c.Close()
	helo := m.Hostname
	if helo == "" {
		helo = "localhost"
	}
	if err := c.Hello(helo); err != nil {
		return smtpErr("HELO", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}); err != nil {
			return smtpErr("STARTTLS", err)
		}
	}
	if m.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", m.Username, m.Password, host)); err != nil {
			return smtpErr("AUTH", err)
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return smtpErr("MAIL FROM", err)
	}
	if err := c.Rcpt(to.Address); err != nil {
		return smtpErr("RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return smtpErr("DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return smtpErr("DATA", err)
	}
	if err := w.Close(); err != nil {
		return smtpErr("DATA", err)
	}
	return smtpErr("QUIT", c.Quit())
}

// smtpErr wraps an SMTP failure, marking 5xx answers permanent.
func smtpErr(step string, err error) error {
	if err == nil {
		return nil
	}
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return fmt.Errorf("%w: smtp %s: %v", errPermanent, step, err)
	}
	return fmt.Errorf("smtp %s: %w", step, err)
}

// buildMessage renders a MIME message: multipart/alternative with the text
// and the HTML part, or text alone.
func buildMessage(from, to *mail.Address, e Email, now time.Time) ([]byte, error) {
	var b bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", from.String())
	hdr("To", to.String())
	hdr("Subject", mime.QEncoding.Encode("utf-8", oneLine(e.Subject)))
	hdr("Date", now.UTC().Format(time.RFC1123Z))
	if e.ID != "" {
		domain := "backhaul.invalid"
		if at := strings.LastIndexByte(from.Address, '@'); at >= 0 {
			domain = from.Address[at+1:]
		}
		hdr("Message-ID", "<"+e.ID+"@"+domain+">")
	}
	hdr("MIME-Version", "1.0")
	hdr("Auto-Submitted", "auto-generated")
	if e.HTML == "" {
		hdr("Content-Type", `text/plain; charset="utf-8"`)
		hdr("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		if err := writeQP(&b, e.Text); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	mw := multipart.NewWriter(&b)
	hdr("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	b.WriteString("\r\n")
	for _, part := range []struct{ typ, body string }{{"text/plain", e.Text}, {"text/html", e.HTML}} {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.typ + `; charset="utf-8"`},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		if err := writeQP(pw, part.body); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeQP(w interface{ Write([]byte) (int, error) }, s string) error {
	qp := quotedprintable.NewWriter(w)
	if _, err := qp.Write([]byte(s)); err != nil {
		return err
	}
	return qp.Close()
}

// oneLine keeps header values on one line: a newline in a subject would
// start a header of its own.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
