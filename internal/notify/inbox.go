package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/store"
)

// InboxItem is one notification in a user's inbox.
type InboxItem struct {
	ID        string         `json:"id"`
	Seq       int64          `json:"seq"`
	Kind      Kind           `json:"kind"`
	Urgent    bool           `json:"urgent"`
	Title     string         `json:"title"`
	Body      string         `json:"body"`
	SubjectID string         `json:"subject_id,omitempty"`
	Data      map[string]any `json:"data"`
	EventID   string         `json:"event_id"`
	CreatedAt time.Time      `json:"created_at"`
	ReadAt    *time.Time     `json:"read_at,omitempty"`
}

// InboxPage is a page of the inbox with the unread count.
type InboxPage struct {
	Items      []InboxItem `json:"items"`
	NextCursor string      `json:"next_cursor,omitempty"`
	Unread     int         `json:"unread"`
}

// insertInbox writes n to a user's inbox once per event and kind.
func insertInbox(ctx context.Context, tx *store.Tx, userID, orgID string, n Notification, now time.Time) (bool, error) {
	data, err := json.Marshal(n.Data)
	if err != nil {
		return false, err
	}
	res, err := tx.Exec(ctx, `INSERT INTO notifications (id, dedup_key, user_id, org_id, kind, urgent, title, body, subject_id, data, event_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING`,
		newID(), n.EventID+"/"+string(n.Kind)+"/in_app/"+userID, userID, orgID, string(n.Kind), boolInt(n.Urgent),
		n.Title, n.Body, n.SubjectID, string(data), n.EventID, now)
	if err != nil {
		return false, fmt.Errorf("inbox: %w", err)
	}
	k, err := res.RowsAffected()
	return k == 1, err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func inboxUser(p freight.Principal) error {
	if p.UserID == "" {
		return freight.Errorf(freight.EFORBIDDEN, "the inbox belongs to users; API keys have none")
	}
	return nil
}

const inboxCols = `seq, id, kind, urgent, title, body, subject_id, data, event_id, created_at, read_at`

func scanInbox(sc interface{ Scan(...any) error }) (InboxItem, error) {
	var it InboxItem
	var urgent int
	var data string
	if err := sc.Scan(&it.Seq, &it.ID, &it.Kind, &urgent, &it.Title, &it.Body, &it.SubjectID, &data, &it.EventID,
		store.Time(&it.CreatedAt), store.NullTime(&it.ReadAt)); err != nil {
		return it, err
	}
	it.Urgent = urgent != 0
	if err := json.Unmarshal([]byte(data), &it.Data); err != nil {
		it.Data = map[string]any{}
	}
	return it, nil
}

// InboxFilter selects a page of the inbox.
type InboxFilter struct {
	UnreadOnly bool
	Cursor     string
	Limit      int
}

// Inbox returns the caller's notifications, newest first.
func (s *Service) Inbox(ctx context.Context, p freight.Principal, f InboxFilter) (InboxPage, error) {
	if err := inboxUser(p); err != nil {
		return InboxPage{}, err
	}
	q := `SELECT ` + inboxCols + ` FROM notifications WHERE user_id = ?`
	args := []any{p.UserID}
	if f.UnreadOnly {
		q += ` AND read_at IS NULL`
	}
	if f.Cursor != "" {
		keys, err := httpapi.DecodeCursor(f.Cursor, 1)
		if err != nil {
			return InboxPage{}, err
		}
		seq, err := strconv.ParseInt(keys[0], 10, 64)
		if err != nil {
			return InboxPage{}, freight.Errorf(freight.EINVALID, "malformed cursor")
		}
		q += ` AND seq < ?`
		args = append(args, seq)
	}
	q += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, f.Limit+1)
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return InboxPage{}, fmt.Errorf("inbox: %w", err)
	}
	defer rows.Close()
	page := InboxPage{Items: []InboxItem{}}
	for rows.Next() {
		it, err := scanInbox(rows)
		if err != nil {
			return InboxPage{}, fmt.Errorf("inbox: %w", err)
		}
		page.Items = append(page.Items, it)
	}
	if err := rows.Err(); err != nil {
		return InboxPage{}, err
	}
	if len(page.Items) > f.Limit {
		page.Items = page.Items[:f.Limit]
		page.NextCursor = httpapi.EncodeCursor(strconv.FormatInt(page.Items[f.Limit-1].Seq, 10))
	}
	page.Unread, err = s.unread(ctx, p.UserID)
	return page, err
}

// Unread returns the caller's number of unread notifications.
func (s *Service) Unread(ctx context.Context, p freight.Principal) (int, error) {
	if err := inboxUser(p); err != nil {
		return 0, err
	}
	return s.unread(ctx, p.UserID)
}

func (s *Service) unread(ctx context.Context, userID string) (int, error) {
	var n int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM notifications WHERE user_id = ? AND read_at IS NULL`, userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("unread count: %w", err)
	}
	return n, nil
}

// MarkRead marks one of the caller's notifications read; marking it again
// changes nothing. Another user's notification is not found.
func (s *Service) MarkRead(ctx context.Context, p freight.Principal, id string) (InboxItem, error) {
	if err := inboxUser(p); err != nil {
		return InboxItem{}, err
	}
	if _, err := s.db.Exec(ctx, `UPDATE notifications SET read_at = ? WHERE id = ? AND user_id = ? AND read_at IS NULL`,
		s.opts.Now(), id, p.UserID); err != nil {
		return InboxItem{}, fmt.Errorf("mark read: %w", err)
	}
	it, err := scanInbox(s.db.QueryRow(ctx, `SELECT `+inboxCols+` FROM notifications WHERE id = ? AND user_id = ?`, id, p.UserID))
	if errors.Is(err, sql.ErrNoRows) {
		return InboxItem{}, freight.NotFound("notification")
	}
	return it, err
}

// MarkAllRead marks every unread notification of the caller read, up to and
// including seq when it is positive, and returns how many it marked.
func (s *Service) MarkAllRead(ctx context.Context, p freight.Principal, upTo int64) (int64, error) {
	if err := inboxUser(p); err != nil {
		return 0, err
	}
	q := `UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL`
	args := []any{s.opts.Now(), p.UserID}
	if upTo > 0 {
		q += ` AND seq <= ?`
		args = append(args, upTo)
	}
	res, err := s.db.Exec(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("mark all read: %w", err)
	}
	return res.RowsAffected()
}

// after returns the caller's notifications with seq above after, oldest
// first, for the live stream.
func (s *Service) after(ctx context.Context, userID string, after int64, limit int) ([]InboxItem, error) {
	rows, err := s.db.Query(ctx, `SELECT `+inboxCols+` FROM notifications WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
		userID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("inbox stream: %w", err)
	}
	defer rows.Close()
	var out []InboxItem
	for rows.Next() {
		it, err := scanInbox(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// lastSeq returns the newest seq of a user's inbox, 0 when empty.
func (s *Service) lastSeq(ctx context.Context, userID string) (int64, error) {
	var seq sql.NullInt64
	err := s.db.QueryRow(ctx, `SELECT MAX(seq) FROM notifications WHERE user_id = ?`, userID).Scan(&seq)
	return seq.Int64, err
}

// broker wakes the open inbox streams of a user in this replica.
type broker struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}
}

func newBroker() *broker { return &broker{subs: map[string]map[chan struct{}]struct{}{}} }

func (b *broker) subscribe(userID string) (chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	if b.subs[userID] == nil {
		b.subs[userID] = map[chan struct{}]struct{}{}
	}
	b.subs[userID][ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		delete(b.subs[userID], ch)
		if len(b.subs[userID]) == 0 {
			delete(b.subs, userID)
		}
		b.mu.Unlock()
	}
}

func (b *broker) wake(userID string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs[userID] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
