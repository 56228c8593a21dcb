package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/backhaul/backhaul/internal/bus"
	"github.com/backhaul/backhaul/internal/event"
	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/store"
)

// trigger is one durable consumer of the events stream, shared by the
// replicas.
type trigger struct {
	durable string
	subject string
}

// triggerSubjects are the event subjects notifications come from. A
// subject whose area the events stream does not carry (yet) is left out,
// since a consumer cannot filter on it.
var triggerSubjects = []string{
	"loads.>", "bookings.>", "tracking.>", "matching.recommended.v1", "optimize.job_finished.v1", "documents.uploaded.v1",
}

// maxEventAge bounds the age of the events that notify: a new consumer
// reads the stream's whole retention once, and last week's news is noise.
const maxEventAge = 24 * time.Hour

func (s *Service) triggers() []trigger {
	var out []trigger
	for _, subj := range triggerSubjects {
		area, _, _ := strings.Cut(subj, ".")
		if !slices.Contains(bus.EventAreas, area) {
			continue
		}
		durable := "notify-" + strings.NewReplacer(".>", "", ".", "-", "_", "-").Replace(subj)
		out = append(out, trigger{durable: durable, subject: subj})
	}
	return out
}

// audience is the people one notification is for: the staff of an
// organization (every user but drivers) and the users bound to some of its
// drivers. Webhooks of the organization receive it too.
type audience struct {
	orgID     string
	staff     bool
	driverIDs []string
	n         Notification
}

// HandleEvent turns an event into notifications, once per event and
// consumer: the record that the consumer handled it commits with the
// inbox rows and deliveries it causes.
func (s *Service) HandleEvent(ctx context.Context, consumer string, e event.Event) error {
	return s.HandleEvents(ctx, consumer, []event.Event{e})
}

// HandleEvents handles events, in order, in one transaction: each is
// recorded as handled by consumer with the inbox rows and deliveries it
// causes, and one already handled changes nothing.
func (s *Service) HandleEvents(ctx context.Context, consumer string, events []event.Event) error {
	type work struct {
		e    event.Event
		auds []audience
	}
	var todo []work
	for _, e := range events {
		if s.opts.Now().Sub(e.OccurredAt) > maxEventAge {
			continue
		}
		auds, err := s.audiences(ctx, e)
		if err != nil {
			return err
		}
		if len(auds) > 0 {
			todo = append(todo, work{e, auds})
		}
	}
	if len(todo) == 0 {
		return nil
	}
	var out fanoutResult
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		out = fanoutResult{cache: newTxCache()}
		for _, w := range todo {
			first, err := tx.FirstDelivery(ctx, consumer, w.e.ID)
			if err != nil {
				return err
			}
			if !first {
				continue
			}
			for _, a := range w.auds {
				if err := s.fanout(ctx, tx, a, &out); err != nil {
					return err
				}
			}
		}
		return s.flushDeliveries(ctx, tx, &out)
	})
	if err != nil {
		return err
	}
	for _, w := range todo {
		s.m.events.WithLabelValues(w.e.Type).Inc()
	}
	s.m.inbox.Add(float64(out.inbox))
	for _, u := range out.users {
		if err := s.bus.Conn().Publish(s.bus.Subject(liveSubject), []byte(u)); err != nil {
			s.log.Debug("wake inbox streams", "err", err)
		}
	}
	if len(out.lanes) > 0 {
		for _, err := range s.enqueueAll(ctx, out.lanes) {
			// The sweeper queues the lane again; the delivery is stored.
			s.log.Warn("queue delivery", "err", err)
		}
	}
	return nil
}

// Trigger consumption: events are taken in stream order, up to batchSize
// that are already waiting at a time, and a batch is handled in one
// transaction, so a burst costs one commit per batch rather than per event.
const (
	batchSize        = 50
	triggerAckWait   = 30 * time.Second
	triggerMaxTries  = 10
	triggerRetryBase = 500 * time.Millisecond
)

// consume runs one trigger until ctx is done.
func (s *Service) consume(ctx context.Context, t trigger) error {
	cons, err := s.bus.JetStream().CreateOrUpdateConsumer(ctx, s.bus.StreamName(bus.EventsStream), jetstream.ConsumerConfig{
		Durable: t.durable,
		// One filter subject: NATS servers before 2.10 take no more.
		FilterSubject: s.bus.Subject(t.subject),
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxDeliver:    triggerMaxTries,
		AckWait:       triggerAckWait,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("notify: consumer %s: %w", t.durable, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * batchSize))
	if err != nil {
		return fmt.Errorf("notify: consumer %s: %w", t.durable, err)
	}
	defer it.Stop()
	msgs := make(chan jetstream.Msg, batchSize)
	var readErr error
	go func() {
		defer close(msgs)
		for {
			m, err := it.Next(jetstream.NextContext(ctx))
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					readErr = fmt.Errorf("notify: consumer %s: %w", t.durable, err)
					return
				}
				s.log.Warn("trigger: next event", "consumer", t.durable, "err", err)
				continue
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		var batch []jetstream.Msg
		select {
		case m, ok := <-msgs:
			if !ok {
				return readErr
			}
			batch = append(batch, m)
		case <-ctx.Done():
			return nil
		}
	more:
		for len(batch) < batchSize {
			select {
			case m, ok := <-msgs:
				if !ok {
					break more
				}
				batch = append(batch, m)
			default:
				break more
			}
		}
		s.handleBatch(ctx, t.durable, batch)
	}
}

// handleBatch handles a batch of messages and acknowledges them. When the
// batch fails, its events are handled one by one, so that one event no
// retry can fix holds up no other.
func (s *Service) handleBatch(ctx context.Context, consumer string, msgs []jetstream.Msg) {
	var events []event.Event
	var kept []jetstream.Msg
	for _, m := range msgs {
		var e event.Event
		if err := json.Unmarshal(m.Data(), &e); err != nil || e.ID == "" || event.ValidType(e.Type) != nil {
			s.log.Error("trigger: undecodable event terminated", "consumer", consumer, "subject", m.Subject(), "err", err)
			_ = m.Term()
			continue
		}
		events, kept = append(events, e), append(kept, m)
	}
	if len(events) == 0 {
		return
	}
	err := s.HandleEvents(ctx, consumer, events)
	if err == nil {
		for _, m := range kept {
			_ = m.Ack()
		}
		return
	}
	if len(events) > 1 {
		s.log.Warn("trigger: batch failed; handling its events one by one", "consumer", consumer, "events", len(events), "err", err)
	}
	for i, e := range events {
		err := err
		if len(events) > 1 {
			err = s.HandleEvents(ctx, consumer, []event.Event{e})
		}
		if err == nil {
			_ = kept[i].Ack()
			continue
		}
		if ctx.Err() != nil {
			_ = kept[i].Nak()
			continue
		}
		delivered := 1
		if md, merr := kept[i].Metadata(); merr == nil {
			delivered = int(md.NumDelivered)
		}
		if delivered >= triggerMaxTries {
			s.log.Error("trigger: event dropped after its last delivery", "consumer", consumer, "event", e.ID, "type", e.Type, "err", err)
			_ = kept[i].Term()
			continue
		}
		s.log.Warn("trigger: event failed, will retry", "consumer", consumer, "event", e.ID, "type", e.Type, "deliveries", delivered, "err", err)
		_ = kept[i].NakWithDelay(triggerRetryBase << min(delivered-1, 7))
	}
}

type queued struct{ lane, id string }

type fanoutResult struct {
	users []string // users whose inbox got a notification
	inbox int      // inbox rows written
	lanes []queued // lanes with a new delivery due now
	cache *txCache

	rows [][]any  // deliveries to store
	due  []queued // those of rows due now
}

type recipient struct {
	id, email string
}

// fanout writes one audience's inbox rows and deliveries.
func (s *Service) fanout(ctx context.Context, tx *store.Tx, a audience, out *fanoutResult) error {
	n := a.n
	if err := s.tpl.render(&n); err != nil {
		s.m.templateErrors.Inc()
		s.log.Warn("notification template failed; sending the plain text", "kind", n.Kind, "event", n.EventID, "err", err)
	}
	users, err := s.recipients(ctx, tx, a, out.cache)
	if err != nil {
		return err
	}
	orgPrefs, err := out.cache.loadPrefs(ctx, tx, a.orgID, "")
	if err != nil {
		return err
	}
	now := tx.Now()
	for _, u := range users {
		own, err := out.cache.loadPrefs(ctx, tx, a.orgID, u.id)
		if err != nil {
			return err
		}
		prefs := Preferences{}.merge(orgPrefs).merge(own)
		for _, ch := range prefs.channels(n.Kind) {
			switch ch {
			case ChannelInApp:
				ok, err := insertInbox(ctx, tx, u.id, a.orgID, n, now)
				if err != nil {
					return err
				}
				if ok {
					out.inbox++
					if !slices.Contains(out.users, u.id) {
						out.users = append(out.users, u.id)
					}
				}
			case ChannelEmail:
				if s.deps.Mailer == nil || u.email == "" {
					continue
				}
				if err := s.addDelivery(ctx, tx, deliverySpec{channel: ChannelEmail, lane: "email:" + u.id, orgID: a.orgID,
					userID: u.id, to: u.email, n: n, prefs: &prefs}, out); err != nil {
					return err
				}
			case ChannelSMS:
				if s.deps.SMS == nil || prefs.Phone == "" {
					continue
				}
				if err := s.addDelivery(ctx, tx, deliverySpec{channel: ChannelSMS, lane: "sms:" + u.id, orgID: a.orgID,
					userID: u.id, to: prefs.Phone, n: n, prefs: &prefs}, out); err != nil {
					return err
				}
			}
		}
	}
	if !a.staff {
		return nil
	}
	eps, err := out.cache.subscribed(ctx, tx, a.orgID, n.Kind)
	if err != nil {
		return err
	}
	for _, ep := range eps {
		if err := s.addDelivery(ctx, tx, deliverySpec{channel: ChannelWebhook, lane: "webhook:" + ep, orgID: a.orgID,
			endpointID: ep, n: n}, out); err != nil {
			return err
		}
	}
	return nil
}

// recipients returns the users of the audience: the organization's staff
// and the users bound to the named drivers.
func (s *Service) recipients(ctx context.Context, tx *store.Tx, a audience, c *txCache) ([]recipient, error) {
	users, ok := c.users[a.orgID]
	if !ok {
		rows, err := tx.Query(ctx, `SELECT id, email, role, driver_id FROM users WHERE org_id = ? ORDER BY id`, a.orgID)
		if err != nil {
			return nil, fmt.Errorf("notification recipients: %w", err)
		}
		for rows.Next() {
			var u orgUser
			if err := rows.Scan(&u.id, &u.email, &u.role, &u.driverID); err != nil {
				rows.Close()
				return nil, fmt.Errorf("notification recipients: %w", err)
			}
			users = append(users, u)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("notification recipients: %w", err)
		}
		c.users[a.orgID] = users
	}
	var out []recipient
	for _, u := range users {
		isDriver := freight.Role(u.role) == freight.RoleDriver
		if (a.staff && !isDriver) || (isDriver && u.driverID != "" && slices.Contains(a.driverIDs, u.driverID)) {
			out = append(out, recipient{id: u.id, email: u.email})
		}
	}
	return out, nil
}

// txCache remembers, within one transaction, what the events of a batch
// read again and again: an organization's users, preferences and webhook
// endpoints.
type txCache struct {
	users     map[string][]orgUser
	prefs     map[[2]string]Preferences
	endpoints map[string][]orgEndpoint
}

type orgUser struct {
	id, email, role, driverID string
}

type orgEndpoint struct {
	id    string
	types []string
}

func newTxCache() *txCache {
	return &txCache{users: map[string][]orgUser{}, prefs: map[[2]string]Preferences{}, endpoints: map[string][]orgEndpoint{}}
}

func (c *txCache) loadPrefs(ctx context.Context, tx *store.Tx, orgID, userID string) (Preferences, error) {
	key := [2]string{orgID, userID}
	if p, ok := c.prefs[key]; ok {
		return p, nil
	}
	p, err := loadPrefs(ctx, tx, orgID, userID)
	if err == nil {
		c.prefs[key] = p
	}
	return p, err
}

// subscribed returns the active endpoints of an organization that take
// kind k.
func (c *txCache) subscribed(ctx context.Context, tx *store.Tx, orgID string, k Kind) ([]string, error) {
	eps, ok := c.endpoints[orgID]
	if !ok {
		var err error
		if eps, err = activeEndpoints(ctx, tx, orgID); err != nil {
			return nil, err
		}
		c.endpoints[orgID] = eps
	}
	var out []string
	for _, ep := range eps {
		if slices.Contains(ep.types, allEvents) || slices.Contains(ep.types, string(k)) {
			out = append(out, ep.id)
		}
	}
	return out, nil
}

// audiences decides who hears about an event, and what.
func (s *Service) audiences(ctx context.Context, e event.Event) ([]audience, error) {
	base := Notification{EventID: e.ID, EventType: e.Type, OccurredAt: e.OccurredAt, SubjectID: e.SubjectID}
	mk := func(k Kind, data map[string]any) Notification {
		n := base
		n.Kind, n.Urgent, n.Data = k, k.Urgent(), data
		return n
	}
	switch {
	case e.Type == "loads.status.v1":
		var d struct {
			LoadID    string             `json:"load_id"`
			From      freight.LoadStatus `json:"from"`
			To        freight.LoadStatus `json:"to"`
			CarrierID string             `json:"carrier_id"`
			DriverID  string             `json:"driver_id"`
			ShipperID string             `json:"shipper_id"`
		}
		if err := json.Unmarshal(e.Data, &d); err != nil || d.LoadID == "" {
			return nil, nil
		}
		k, ok := statusKinds[d.To]
		if !ok {
			return nil, nil
		}
		data, err := s.loadData(ctx, d.LoadID)
		if err != nil {
			return nil, err
		}
		data["status"], data["from"] = string(d.To), string(d.From)
		n := mk(k, data)
		n.SubjectID = d.LoadID
		shipper := firstNonEmpty(d.ShipperID, e.OrgID)
		auds := []audience{{orgID: shipper, staff: true, n: n}}
		if d.CarrierID != "" && d.CarrierID != shipper {
			a := audience{orgID: d.CarrierID, staff: true, n: n}
			if d.DriverID != "" && (d.To == freight.StatusDispatched || d.To == freight.StatusCancelled) {
				a.driverIDs = []string{d.DriverID}
			}
			auds = append(auds, a)
		}
		return auds, nil

	case e.Type == "loads.posted.v1":
		data, err := s.loadData(ctx, e.SubjectID)
		if err != nil {
			return nil, err
		}
		return []audience{{orgID: e.OrgID, staff: true, n: mk(KindLoadPosted, data)}}, nil

	case strings.HasPrefix(e.Type, "bookings."):
		var d struct {
			Booking struct {
				ID        string `json:"id"`
				LoadID    string `json:"load_id"`
				CarrierID string `json:"carrier_id"`
				DriverID  string `json:"driver_id"`
			} `json:"booking"`
			ShipperID string `json:"shipper_id"`
		}
		if err := json.Unmarshal(e.Data, &d); err != nil || d.Booking.LoadID == "" {
			return nil, nil
		}
		carrier := firstNonEmpty(d.Booking.CarrierID, e.OrgID)
		data, err := s.loadData(ctx, d.Booking.LoadID)
		if err != nil {
			return nil, err
		}
		data["booking_id"] = d.Booking.ID
		switch e.Type {
		case "bookings.created.v1", "bookings.confirmed.v1":
			return []audience{{orgID: carrier, staff: true, n: mk(KindBookingConfirmed, data)}}, nil
		case "bookings.assigned.v1":
			a := audience{orgID: carrier, staff: true, n: mk(KindBookingAssigned, data)}
			if d.Booking.DriverID != "" {
				a.driverIDs = []string{d.Booking.DriverID}
			}
			return []audience{a}, nil
		case "bookings.cancelled.v1":
			n := mk(KindBookingCancelled, data)
			auds := []audience{{orgID: carrier, staff: true, n: n}}
			if d.ShipperID != "" && d.ShipperID != carrier {
				auds = append(auds, audience{orgID: d.ShipperID, staff: true, n: n})
			}
			return auds, nil
		}
		return nil, nil

	case e.Type == "tracking.late_risk.v1":
		var d struct {
			LoadID    string    `json:"load_id"`
			Stop      string    `json:"stop"`
			CarrierID string    `json:"carrier_id"`
			ShipperID string    `json:"shipper_id"`
			P50       time.Time `json:"p50"`
			WindowEnd time.Time `json:"window_end"`
		}
		if err := json.Unmarshal(e.Data, &d); err != nil || d.LoadID == "" {
			return nil, nil
		}
		data, err := s.loadData(ctx, d.LoadID)
		if err != nil {
			return nil, err
		}
		data["stop"], data["eta"], data["window_end"] = d.Stop, d.P50.UTC().Format(time.RFC3339), d.WindowEnd.UTC().Format(time.RFC3339)
		return bothSides(mk(KindLateRisk, data), firstNonEmpty(d.ShipperID, e.OrgID), d.CarrierID), nil

	case strings.HasPrefix(e.Type, "tracking."):
		// Detention: a geofence event saying it started, or a departure
		// that recorded some, or a dedicated detention event.
		var d struct {
			LoadID       string `json:"load_id"`
			Stop         string `json:"stop"`
			Kind         string `json:"kind"`
			CarrierID    string `json:"carrier_id"`
			ShipperID    string `json:"shipper_id"`
			DetentionMin int    `json:"detention_min"`
		}
		if err := json.Unmarshal(e.Data, &d); err != nil || d.LoadID == "" {
			return nil, nil
		}
		detention := strings.Contains(e.Type, "detention") || strings.Contains(d.Kind, "detention") ||
			(d.Kind == "departed" && d.DetentionMin > 0)
		if !detention {
			return nil, nil
		}
		data, err := s.loadData(ctx, d.LoadID)
		if err != nil {
			return nil, err
		}
		data["stop"], data["detention_min"] = d.Stop, d.DetentionMin
		return bothSides(mk(KindDetention, data), firstNonEmpty(d.ShipperID, e.OrgID), d.CarrierID), nil

	case e.Type == "matching.recommended.v1":
		return s.recommended(e, mk)

	case e.Type == "optimize.job_finished.v1":
		var d struct {
			JobID    string   `json:"job_id"`
			Status   string   `json:"status"`
			Vehicles *int     `json:"vehicles"`
			Distance *float64 `json:"distance"`
		}
		if err := json.Unmarshal(e.Data, &d); err != nil || d.JobID == "" || e.OrgID == "" {
			return nil, nil
		}
		data := map[string]any{"job_id": d.JobID, "status": d.Status}
		if d.Vehicles != nil {
			data["vehicles"] = *d.Vehicles
		}
		if d.Distance != nil {
			data["distance"] = *d.Distance
		}
		n := mk(KindJobFinished, data)
		n.SubjectID = d.JobID
		return []audience{{orgID: e.OrgID, staff: true, n: n}}, nil

	case e.Type == "documents.uploaded.v1":
		// The data is the document record: its load, the uploader's
		// organization and its kind (bol, pod, ...). Both parties of the
		// load hear of it.
		var d struct {
			LoadID string `json:"load_id"`
			Kind   string `json:"kind"`
		}
		if err := json.Unmarshal(e.Data, &d); err != nil || d.LoadID == "" {
			return nil, nil
		}
		data, err := s.loadData(ctx, d.LoadID)
		if err != nil {
			return nil, err
		}
		data["document_type"] = firstNonEmpty(d.Kind, "document")
		n := mk(KindDocumentUploaded, data)
		n.SubjectID = d.LoadID
		shipper, carrier := str(data["shipper_id"]), str(data["carrier_id"])
		if shipper == "" {
			shipper = e.OrgID
		}
		return bothSides(n, shipper, carrier), nil
	}
	return nil, nil
}

// statusKinds maps the load statuses that notify to their kinds; draft and
// posted (loads.posted.v1 says that) do not.
var statusKinds = map[freight.LoadStatus]Kind{
	freight.StatusBooked:     KindLoadBooked,
	freight.StatusDispatched: KindLoadDispatched,
	freight.StatusAtPickup:   KindLoadAtPickup,
	freight.StatusInTransit:  KindLoadInTransit,
	freight.StatusAtDelivery: KindLoadAtDelivery,
	freight.StatusDelivered:  KindLoadDelivered,
	freight.StatusCancelled:  KindLoadCancelled,
}

func bothSides(n Notification, shipperID, carrierID string) []audience {
	var out []audience
	if shipperID != "" {
		out = append(out, audience{orgID: shipperID, staff: true, n: n})
	}
	if carrierID != "" && carrierID != shipperID {
		out = append(out, audience{orgID: carrierID, staff: true, n: n})
	}
	return out
}

// recommended tells carriers about loads recommended for their drivers. A
// request for a driver concerns its carrier; a request for a new load
// ranks several carriers' drivers, and each carrier hears only about its
// own. The poster of the load is not told whose trucks match.
func (s *Service) recommended(e event.Event, mk func(Kind, map[string]any) Notification) ([]audience, error) {
	var d struct {
		Kind      string `json:"kind"`
		SubjectID string `json:"subject_id"`
		OrgID     string `json:"org_id"`
		Items     []struct {
			Score     float64 `json:"score"`
			LoadID    string  `json:"load_id"`
			DriverID  string  `json:"driver_id"`
			CarrierID string  `json:"carrier_id"`
		} `json:"items"`
	}
	if err := json.Unmarshal(e.Data, &d); err != nil || len(d.Items) == 0 {
		return nil, nil
	}
	type group struct {
		loads   []string
		drivers []string
		best    float64
	}
	groups := map[string]*group{}
	for _, it := range d.Items {
		carrier := it.CarrierID
		if d.Kind == "driver" {
			carrier = firstNonEmpty(d.OrgID, e.OrgID)
		}
		if carrier == "" {
			continue
		}
		g := groups[carrier]
		if g == nil {
			g = &group{best: it.Score}
			groups[carrier] = g
		}
		if !slices.Contains(g.loads, it.LoadID) {
			g.loads = append(g.loads, it.LoadID)
		}
		driver := it.DriverID
		if d.Kind == "driver" {
			driver = d.SubjectID
		}
		if driver != "" && !slices.Contains(g.drivers, driver) {
			g.drivers = append(g.drivers, driver)
		}
		g.best = max(g.best, it.Score)
	}
	carriers := sortedKeys(groups)
	var out []audience
	for _, c := range carriers {
		g := groups[c]
		n := mk(KindRecommended, map[string]any{"count": len(g.loads), "best_score": fmt.Sprintf("%.2f", g.best),
			"load_ids": g.loads, "driver_ids": g.drivers, "request_id": e.SubjectID})
		out = append(out, audience{orgID: c, staff: true, driverIDs: g.drivers, n: n})
	}
	return out, nil
}

// loadData reads what the texts say about a load. A load this store does
// not hold is named by its ID.
func (s *Service) loadData(ctx context.Context, id string) (map[string]any, error) {
	var ref, oc, os, dc, ds, shipper, carrier string
	err := s.db.QueryRow(ctx, `SELECT reference, origin_city, origin_state, dest_city, dest_state, org_id, carrier_id FROM loads WHERE id = ?`, id).
		Scan(&ref, &oc, &os, &dc, &ds, &shipper, &carrier)
	if errors.Is(err, sql.ErrNoRows) {
		return map[string]any{"load_id": id, "reference": id, "origin": "", "destination": ""}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", id, err)
	}
	return map[string]any{"load_id": id, "reference": firstNonEmpty(ref, id), "origin": place(oc, os), "destination": place(dc, ds),
		"shipper_id": shipper, "carrier_id": carrier}, nil
}

func place(city, state string) string {
	if city == "" {
		return state
	}
	if state == "" {
		return city
	}
	return city + ", " + state
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
