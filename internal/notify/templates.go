package notify

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
)

// Template is the title and body of a kind, as text/template sources over
// the notification's data. A missing key is an error, not "<no value>".
type Template struct {
	Title string
	Body  string
}

// defaultTemplates are the built-in texts of every kind.
var defaultTemplates = map[Kind]Template{
	KindLoadPosted:       {"Load {{.reference}} is on the board", "Your load {{.reference}} from {{.origin}} to {{.destination}} is posted."},
	KindLoadBooked:       {"Load {{.reference}} is booked", "Load {{.reference}} was booked by a carrier."},
	KindLoadDispatched:   {"Load {{.reference}} is dispatched", "A driver is dispatched to pick up load {{.reference}}."},
	KindLoadAtPickup:     {"Load {{.reference}}: truck at pickup", "The truck for load {{.reference}} has arrived at the pickup."},
	KindLoadInTransit:    {"Load {{.reference}} is in transit", "Load {{.reference}} left the pickup and is on its way."},
	KindLoadAtDelivery:   {"Load {{.reference}}: truck at delivery", "The truck for load {{.reference}} has arrived at the delivery."},
	KindLoadDelivered:    {"Load {{.reference}} is delivered", "Load {{.reference}} was delivered."},
	KindLoadCancelled:    {"Load {{.reference}} is cancelled", "Load {{.reference}} was cancelled."},
	KindLateRisk:         {"Load {{.reference}} may arrive late", "The estimated arrival at the {{.stop}} ({{.eta}}) is after the window ending {{.window_end}}."},
	KindDetention:        {"Load {{.reference}}: detention at the {{.stop}}", "The truck has been on site at the {{.stop}} past the free time ({{.detention_min}} min of detention)."},
	KindRecommended:      {"New loads recommended", "{{.count}} load(s) are recommended for your driver; the best scores {{.best_score}}."},
	KindBookingConfirmed: {"Booking confirmed for load {{.reference}}", "The booking {{.booking_id}} of load {{.reference}} is confirmed."},
	KindBookingAssigned:  {"Driver assigned to load {{.reference}}", "A driver and truck are assigned to load {{.reference}}."},
	KindBookingCancelled: {"Booking cancelled for load {{.reference}}", "The booking {{.booking_id}} of load {{.reference}} was cancelled."},
	KindDocumentUploaded: {"Document uploaded for load {{.reference}}", "A {{.document_type}} was uploaded for load {{.reference}}."},
	KindJobFinished:      {"Optimization job {{.status}}", "The optimization job {{.job_id}} finished: {{.status}}."},
}

// templates renders notifications. Sources are parsed once; a kind whose
// template fails to parse or execute falls back to a plain text that names
// the kind and carries the data, so a notification is never dropped for
// its wording.
type templates struct {
	title map[Kind]*texttemplate.Template
	body  map[Kind]*texttemplate.Template
	bad   map[Kind]error // parse errors, reported on each use
}

func newTemplates(overrides map[Kind]Template) *templates {
	t := &templates{title: map[Kind]*texttemplate.Template{}, body: map[Kind]*texttemplate.Template{}, bad: map[Kind]error{}}
	for _, k := range Kinds {
		src, ok := overrides[k]
		if !ok {
			src = defaultTemplates[k]
		}
		tt, err1 := texttemplate.New(string(k)).Option("missingkey=error").Parse(src.Title)
		bt, err2 := texttemplate.New(string(k)).Option("missingkey=error").Parse(src.Body)
		if err := firstErr(err1, err2); err != nil {
			t.bad[k] = fmt.Errorf("template %s: %w", k, err)
			continue
		}
		t.title[k], t.body[k] = tt, bt
	}
	return t
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// render fills n.Title and n.Body from n.Data. It returns the template
// error, after filling a plain fallback text, so callers count it.
func (t *templates) render(n *Notification) error {
	err := t.bad[n.Kind]
	if err == nil {
		var title, body bytes.Buffer
		tt, bt := t.title[n.Kind], t.body[n.Kind]
		if tt == nil || bt == nil {
			err = fmt.Errorf("template %s: no template for this kind", n.Kind)
		} else if e := firstErr(tt.Execute(&title, n.Data), bt.Execute(&body, n.Data)); e != nil {
			err = fmt.Errorf("template %s: %w", n.Kind, e)
		} else {
			n.Title, n.Body = title.String(), body.String()
			return nil
		}
	}
	n.Title = fallbackTitle(n.Kind)
	n.Body = fallbackBody(n)
	n.TemplateError = err.Error()
	return err
}

func fallbackTitle(k Kind) string {
	s := strings.NewReplacer(".", ": ", "_", " ").Replace(string(k))
	return "Backhaul notification (" + s + ")"
}

func fallbackBody(n *Notification) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Event %s about %s.", n.EventType, n.SubjectID)
	keys := sortedKeys(n.Data)
	for _, k := range keys {
		fmt.Fprintf(&b, "\n%s: %v", k, n.Data[k])
	}
	return b.String()
}

// Email layouts: every email is multipart/alternative with this text and
// this HTML. A digest lists several notifications.
var (
	emailText = texttemplate.Must(texttemplate.New("email.txt").Option("missingkey=error").Parse(
		`{{range $i, $n := .Items}}{{if $i}}
----
{{end}}{{$n.Title}}

{{$n.Body}}
{{end}}
--
Backhaul. Change what you receive at /api/v1/notifications/preferences.
`))
	emailHTML = htmltemplate.Must(htmltemplate.New("email.html").Option("missingkey=error").Parse(
		`<!doctype html>
<html><body style="font-family: sans-serif">
{{range .Items}}<h2{{if .Urgent}} style="color: #b00020"{{end}}>{{.Title}}</h2>
<p>{{.Body}}</p>
{{end}}<hr><p style="color: #666; font-size: small">Backhaul. Change what you receive at /api/v1/notifications/preferences.</p>
</body></html>
`))
)

// emailContent is what an email's layouts are executed with.
type emailContent struct {
	Subject string
	Items   []Notification
}

func newEmailContent(items []Notification) emailContent {
	c := emailContent{Items: items}
	switch {
	case len(items) == 1:
		c.Subject = items[0].Title
	default:
		c.Subject = fmt.Sprintf("Backhaul digest: %d notifications", len(items))
	}
	return c
}

// renderEmail returns the text and HTML bodies. On a layout error it
// returns a plain text body listing every item and the error, so the
// email is still sent.
func renderEmail(c emailContent) (text, html string, err error) {
	var tb, hb bytes.Buffer
	err = firstErr(emailText.Execute(&tb, c), emailHTML.Execute(&hb, c))
	if err == nil {
		return tb.String(), hb.String(), nil
	}
	var b strings.Builder
	for _, n := range c.Items {
		fmt.Fprintf(&b, "%s\n\n%s\n\n", n.Title, n.Body)
	}
	return b.String(), "", fmt.Errorf("email layout: %w", err)
}
