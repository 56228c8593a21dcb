package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// SMS is one text message.
type SMS struct {
	ID   string // the delivery's ID, for the provider's de-duplication
	To   string // E.164
	Body string
}

// SMSProvider sends text messages. An error wrapping errPermanent (for
// adapters in this package) or answered with a 4xx is not retried.
type SMSProvider interface {
	Send(ctx context.Context, m SMS) error
}

// HTTPSMS is an SMS provider reached over HTTP: it POSTs
// {"id", "to", "body"} as JSON with a bearer token, and any 2xx answer
// means the provider took the message. Most SMS gateways take this shape,
// or a small relay turns it into theirs.
type HTTPSMS struct {
	URL    string
	Token  string
	Client *http.Client // nil: a client with a 10s timeout
}

// Send posts one message.
func (p HTTPSMS) Send(ctx context.Context, m SMS) error {
	body, err := json.Marshal(map[string]string{"id": m.ID, "to": m.To, "body": m.Body})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: sms provider url: %v", errPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", m.ID)
	if p.Token != "" {
		req.Header.Set("Authorization", "Bearer "+p.Token)
	}
	c := p.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	res, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("sms provider: %w", err)
	}
	defer res.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return nil
	}
	e := fmt.Errorf("sms provider answered %d: %s", res.StatusCode, strings.TrimSpace(string(snippet)))
	if permanentStatus(res.StatusCode) {
		return fmt.Errorf("%w: %v", errPermanent, e)
	}
	return e
}
