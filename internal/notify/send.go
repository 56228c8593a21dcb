package notify

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/backhaul/backhaul/internal/notify/webhook"
	"github.com/backhaul/backhaul/internal/store"
)

// send makes one attempt at a delivery, or at a digest of several.
func (s *Service) send(ctx context.Context, batch []delivery) error {
	head := batch[0]
	switch head.Channel {
	case ChannelWebhook:
		return s.sendWebhook(ctx, &batch[0])
	case ChannelEmail:
		return s.sendEmail(ctx, batch)
	case ChannelSMS:
		return s.sendSMS(ctx, batch)
	}
	return fmt.Errorf("%w: unknown channel %q", errPermanent, head.Channel)
}

// WebhookBody is the JSON body of every webhook request.
type WebhookBody struct {
	ID         string         `json:"id"` // the delivery's ID, as in Backhaul-Delivery-Id
	Type       Kind           `json:"type"`
	CreatedAt  time.Time      `json:"created_at"`
	OrgID      string         `json:"org_id"`
	Urgent     bool           `json:"urgent"`
	Title      string         `json:"title"`
	Body       string         `json:"body"`
	SubjectID  string         `json:"subject_id,omitempty"`
	Data       map[string]any `json:"data"`
	EventID    string         `json:"event_id"`
	EventType  string         `json:"event_type"`
	OccurredAt time.Time      `json:"occurred_at"`
}

func webhookBody(d delivery) WebhookBody {
	n := d.Payload.Notification
	return WebhookBody{ID: d.ID, Type: n.Kind, CreatedAt: d.CreatedAt, OrgID: d.OrgID, Urgent: n.Urgent, Title: n.Title,
		Body: n.Body, SubjectID: n.SubjectID, Data: n.Data, EventID: n.EventID, EventType: n.EventType, OccurredAt: n.OccurredAt}
}

// maxErrorBody bounds what is read of a failed webhook answer.
const maxErrorBody = 512

func (s *Service) sendWebhook(ctx context.Context, d *delivery) error {
	var url, secret, status string
	var deleted, failing *time.Time
	err := s.db.QueryRow(ctx, `SELECT url, secret, status, deleted_at, failing_since, last_success_at FROM notify_endpoints WHERE id = ?`, d.EndpointID).
		Scan(&url, &secret, &status, store.NullTime(&deleted), store.NullTime(&failing), store.NullTime(&d.endpointSuccessPtr))
	d.endpointFailing = failing != nil
	if d.endpointSuccessPtr != nil {
		d.endpointSuccess = *d.endpointSuccessPtr
	}
	if errors.Is(err, sql.ErrNoRows) || deleted != nil {
		return fmt.Errorf("%w: endpoint deleted", errPermanent)
	}
	if err != nil {
		return fmt.Errorf("endpoint: %w", err)
	}
	if status != "active" {
		return fmt.Errorf("%w: endpoint disabled", errPermanent)
	}
	body, err := json.Marshal(webhookBody(*d))
	if err != nil {
		return fmt.Errorf("%w: encode body: %v", errPermanent, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %v", errPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Backhaul-Webhooks/1")
	req.Header.Set(webhook.SignatureHeader, webhook.Sign([]byte(secret), s.opts.Now(), body))
	req.Header.Set(webhook.DeliveryHeader, d.ID)
	req.Header.Set(webhook.EventHeader, string(d.Kind))
	res, err := s.client.Do(req)
	if err != nil {
		if errors.Is(err, webhook.ErrForbiddenAddress) {
			return fmt.Errorf("%w: %v", errPermanent, err)
		}
		return fmt.Errorf("post webhook: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		return nil
	}
	snippet, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	e := fmt.Errorf("webhook answered %d: %s", res.StatusCode, strings.TrimSpace(string(snippet)))
	if permanentStatus(res.StatusCode) {
		return fmt.Errorf("%w: %v", errPermanent, e)
	}
	return e
}

// permanentStatus reports whether an HTTP answer says that retrying the
// same request cannot help: client errors, except timeouts, conflicts
// (often transient locks) and rate limiting.
func permanentStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooEarly, http.StatusTooManyRequests:
		return false
	}
	return code >= 400 && code < 500
}

func (s *Service) notifications(batch []delivery) []Notification {
	out := make([]Notification, len(batch))
	for i, d := range batch {
		out[i] = d.Payload.Notification
	}
	return out
}

func (s *Service) sendEmail(ctx context.Context, batch []delivery) error {
	if s.deps.Mailer == nil {
		return fmt.Errorf("%w: email is not configured", errPermanent)
	}
	head := batch[0]
	c := newEmailContent(s.notifications(batch))
	text, html, err := renderEmail(c)
	if err != nil {
		s.m.templateErrors.Inc()
		s.log.Warn("email layout failed; sending plain text", "delivery", head.ID, "err", err)
	}
	return s.deps.Mailer.Send(ctx, Email{To: head.Payload.To, Subject: c.Subject, Text: text, HTML: html, ID: head.ID})
}

// maxSMS bounds an SMS body (three concatenated segments).
const maxSMS = 459

func (s *Service) sendSMS(ctx context.Context, batch []delivery) error {
	if s.deps.SMS == nil {
		return fmt.Errorf("%w: SMS is not configured", errPermanent)
	}
	head := batch[0]
	var body string
	if len(batch) == 1 {
		n := head.Payload.Notification
		body = n.Title + ": " + n.Body
	} else {
		titles := make([]string, len(batch))
		for i, d := range batch {
			titles[i] = d.Payload.Notification.Title
		}
		body = fmt.Sprintf("Backhaul, %d notifications: %s", len(batch), strings.Join(titles, "; "))
	}
	if len(body) > maxSMS {
		body = body[:maxSMS-3] + "..."
	}
	return s.deps.SMS.Send(ctx, SMS{ID: head.ID, To: head.Payload.To, Body: body})
}
