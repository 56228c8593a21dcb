// Package documents keeps the papers of a load: bills of lading, proofs of
// delivery (photos and PDFs) and rate confirmations. The bytes live in a
// blob store (files in the data directory, or S3-compatible object storage);
// their metadata lives in the store. A file's type is decided by its content
// alone, and files are downloaded through signed, expiring links that are
// minted only for the parties of the load. The load-service serves it.
package documents

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/backhaul/backhaul/internal/blob"
	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/store"
)

// Prefixes are the API paths the service owns besides the load routes
// /api/v1/loads/{id}/documents, which travel with the load-service's.
var Prefixes = []string{"/api/v1/documents"}

// Kind says what a document is.
type Kind string

// Document kinds.
const (
	BillOfLading     Kind = "bol"
	ProofOfDelivery  Kind = "pod"
	RateConfirmation Kind = "rate_confirmation"
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	return k == BillOfLading || k == ProofOfDelivery || k == RateConfirmation
}

// EventUploaded is published when a document is stored, EventDeleted when
// it is removed.
const (
	EventUploaded = "documents.uploaded.v1"
	EventDeleted  = "documents.deleted.v1"
)

// Document is the record of a stored file.
type Document struct {
	ID          string    `json:"id"`
	LoadID      string    `json:"load_id"`
	OrgID       string    `json:"org_id"` // the uploader's organization
	Kind        Kind      `json:"kind"`
	ContentType string    `json:"content_type"` // sniffed from the content
	SizeBytes   int64     `json:"size_bytes"`
	SHA256      string    `json:"sha256"` // hex
	Filename    string    `json:"filename,omitempty"`
	UploadedBy  string    `json:"uploaded_by"`
	CreatedAt   time.Time `json:"created_at"`
	// A link for the caller who read the record, valid until
	// DownloadExpiresAt.
	DownloadURL       string     `json:"download_url,omitempty"`
	DownloadExpiresAt *time.Time `json:"download_expires_at,omitempty"`
}

// Loads returns a load the caller may see (the load-service).
type Loads interface {
	Get(ctx context.Context, p freight.Principal, id string) (freight.Load, error)
}

// Config sets the service's limits.
type Config struct {
	MaxBytes   int64         // largest file accepted; default DefaultMaxBytes
	LinkTTL    time.Duration // lifetime of download links; default 15 minutes
	SweepEvery time.Duration // how often orphaned blobs are looked for; default 15 minutes
	// SweepGrace is the age a blob must reach before the sweeper may take
	// it for an orphan: longer than any upload between its blob write and
	// its commit. Default one hour.
	SweepGrace time.Duration
}

// DefaultMaxBytes is the default size limit of one document: a multi-page
// scanned PDF or a full-resolution phone photo fits.
const DefaultMaxBytes = 20 << 20

func (c Config) withDefaults() Config {
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.LinkTTL <= 0 {
		c.LinkTTL = 15 * time.Minute
	}
	if c.SweepEvery <= 0 {
		c.SweepEvery = 15 * time.Minute
	}
	if c.SweepGrace <= 0 {
		c.SweepGrace = time.Hour
	}
	return c
}

// Service stores and serves documents.
type Service struct {
	db    *store.DB
	blobs blob.Store
	loads Loads
	links *Signer
	cfg   Config
	log   *slog.Logger
	now   func() time.Time

	uploads   *prometheus.CounterVec
	bytesIn   prometheus.Counter
	bytesOut  prometheus.Counter
	rejected  *prometheus.CounterVec
	swept     prometheus.Counter
	corrupted prometheus.Counter
}

// New returns the service. linkKey signs download links; every replica
// must share it.
func New(db *store.DB, blobs blob.Store, loads Loads, linkKey []byte, cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Service, error) {
	if len(linkKey) < 32 {
		return nil, errors.New("documents: link key must be at least 32 bytes")
	}
	s := &Service{db: db, blobs: blobs, loads: loads, links: NewSigner(linkKey), cfg: cfg.withDefaults(), log: log, now: time.Now,
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "backhaul_documents_uploaded_total",
			Help: "Documents stored, by kind."}, []string{"kind"}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{Name: "backhaul_documents_uploaded_bytes_total",
			Help: "Bytes of documents stored."}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{Name: "backhaul_documents_downloaded_bytes_total",
			Help: "Bytes of documents served."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "backhaul_documents_rejected_total",
			Help: "Uploads refused, by reason."}, []string{"reason"}),
		swept: prometheus.NewCounter(prometheus.CounterOpts{Name: "backhaul_documents_orphans_removed_total",
			Help: "Blobs removed by the sweeper because no document record points at them."}),
		corrupted: prometheus.NewCounter(prometheus.CounterOpts{Name: "backhaul_documents_checksum_mismatches_total",
			Help: "Downloads whose bytes did not match the stored SHA-256."}),
	}
	for _, c := range []prometheus.Collector{s.uploads, s.bytesIn, s.bytesOut, s.rejected, s.swept, s.corrupted} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("documents metrics: %w", err)
		}
	}
	return s, nil
}

// SetClock replaces the clock of link expiry and the sweeper (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// MaxBytes is the size limit of one document.
func (s *Service) MaxBytes() int64 { return s.cfg.MaxBytes }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// blobPrefix starts every document's blob key.
const blobPrefix = "documents/"

func blobKey(loadID, docID string) string { return blobPrefix + loadID + "/" + docID }

// party loads the load and checks that p is one of its parties: the
// organization that posted it, the carrier that booked it (a driver of
// that carrier only when assigned to it). Anyone else, an operator
// included, is told the load does not exist, as the load-service would.
func (s *Service) party(ctx context.Context, p freight.Principal, loadID string) (freight.Load, error) {
	l, err := s.loads.Get(ctx, p, loadID)
	if err != nil {
		return l, err
	}
	switch {
	case p.OrgID == l.OrgID && !p.Is(freight.RoleDriver):
		return l, nil
	case l.CarrierID != "" && p.OrgID == l.CarrierID:
		if !p.Is(freight.RoleDriver) || (p.DriverID != "" && p.DriverID == l.DriverID) {
			return l, nil
		}
	}
	return l, freight.NotFound("load")
}

// UploadInput is one file to store.
type UploadInput struct {
	Kind Kind
	// DeclaredType is the media type the client gave (the part's or the
	// request's Content-Type, or a content_type field); it is checked
	// against the content, never used.
	DeclaredType string
	// DeclaredTypeField names where DeclaredType came from, for errors.
	DeclaredTypeField string
	Filename          string
	Body              io.Reader
	Size              int64 // -1 when unknown
}

// sizeError is the reader error of a body past the limit.
type sizeError struct{ max int64 }

func (e sizeError) Error() string { return fmt.Sprintf("document larger than %d bytes", e.max) }

// limited counts what it reads, fails past max, and keeps the body's own
// read error, so that a failed blob write can be told apart: the client's
// fault (a body cut short or over the limit) or the store's.
type limited struct {
	r   io.Reader
	n   int64
	max int64
	err error // the body's read error, io.EOF excluded
}

func (l *limited) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		l.err = err
	}
	if l.n > l.max {
		return n, sizeError{l.max}
	}
	return n, err
}

func (s *Service) reject(reason string, err error) error {
	s.rejected.WithLabelValues(reason).Inc()
	return err
}

func invalid(field, format string, args ...any) error {
	return &freight.Error{Code: freight.EINVALID, Message: "invalid document",
		Fields: []freight.FieldError{{Field: field, Detail: fmt.Sprintf(format, args...)}}}
}

// cleanFilename keeps a file name for display: its last path element,
// printable, at most 200 bytes. It is never used to build a path or a
// header without encoding.
func cleanFilename(name string) string {
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	if name == "." || name == "/" {
		return ""
	}
	name = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, name)
	for len(name) > 200 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return name
}

// Upload stores a file for a load. The file is refused, before anything is
// stored, when it is empty, larger than the limit, of a type that is not
// accepted, or when its declared type or name disagrees with its content.
// The blob is written first and the record with its event committed after,
// so a record never points at a missing blob.
func (s *Service) Upload(ctx context.Context, p freight.Principal, loadID string, in UploadInput) (Document, error) {
	if !in.Kind.Valid() {
		return Document{}, s.reject("kind", invalid("kind", "must be one of bol, pod, rate_confirmation"))
	}
	if _, err := s.party(ctx, p, loadID); err != nil {
		return Document{}, err
	}
	if in.Size > s.cfg.MaxBytes {
		return Document{}, s.reject("size", freight.Errorf(freight.ETOOLARGE, "document larger than %d bytes", s.cfg.MaxBytes))
	}
	field := in.DeclaredTypeField
	if field == "" {
		field = "content_type"
	}
	br := bufio.NewReaderSize(in.Body, 4096)
	head, err := br.Peek(SniffLen)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return Document{}, s.readError(err)
	}
	if len(head) == 0 {
		return Document{}, s.reject("empty", invalid("file", "is empty"))
	}
	typ, ok := Sniff(head)
	if !ok {
		return Document{}, s.reject("type", invalid("file", "content is not a PDF, JPEG, PNG, WebP or HEIC file"))
	}
	if !agrees(in.DeclaredType, typ) {
		return Document{}, s.reject("declared_type", invalid(field, "declared %q but the content is %s", in.DeclaredType, typ.MIME))
	}
	name := cleanFilename(in.Filename)
	if !nameAgrees(name, typ) {
		return Document{}, s.reject("filename", invalid("filename", "extension %q does not match the content (%s)", path.Ext(name), typ.MIME))
	}

	d := Document{ID: newID(), LoadID: loadID, OrgID: p.OrgID, Kind: in.Kind, ContentType: typ.MIME,
		Filename: name, UploadedBy: p.Subject()}
	key := blobKey(loadID, d.ID)
	hash := sha256.New()
	body := &limited{r: io.TeeReader(br, hash), max: s.cfg.MaxBytes}
	if err := s.blobs.Put(ctx, key, body, in.Size); err != nil {
		if errors.As(err, new(sizeError)) {
			return Document{}, s.reject("size", freight.Errorf(freight.ETOOLARGE, "document larger than %d bytes", s.cfg.MaxBytes))
		}
		if body.err != nil {
			return Document{}, s.readError(body.err)
		}
		if ctx.Err() != nil {
			return Document{}, s.readError(ctx.Err())
		}
		return Document{}, fmt.Errorf("store document: %w", err)
	}
	d.SizeBytes, d.SHA256 = body.n, hex.EncodeToString(hash.Sum(nil))
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		d.CreatedAt = tx.Now()
		_, err := tx.Exec(ctx, `INSERT INTO documents (id, load_id, org_id, kind, content_type, size_bytes, sha256, filename, blob_key, uploaded_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, d.ID, d.LoadID, d.OrgID, string(d.Kind), d.ContentType, d.SizeBytes, d.SHA256,
			d.Filename, key, d.UploadedBy, d.CreatedAt)
		if err != nil {
			return fmt.Errorf("insert document: %w", err)
		}
		return tx.EmitNew(ctx, EventUploaded, d.OrgID, d.ID, d)
	})
	if err != nil {
		// The blob has no record; remove it now, or the sweeper will.
		if derr := s.blobs.Delete(context.WithoutCancel(ctx), key); derr != nil {
			s.log.Warn("remove blob of failed upload", "key", key, "err", derr)
		}
		return Document{}, err
	}
	s.uploads.WithLabelValues(string(d.Kind)).Inc()
	s.bytesIn.Add(float64(d.SizeBytes))
	return d, nil
}

func (s *Service) readError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return s.reject("size", freight.Errorf(freight.ETOOLARGE, "request body larger than %d bytes", mbe.Limit))
	}
	return s.reject("read", freight.Errorf(freight.EINVALID, "reading the upload: %v", err))
}

const docCols = `id, load_id, org_id, kind, content_type, size_bytes, sha256, filename, uploaded_by, created_at`

func scanDoc(row interface{ Scan(...any) error }) (Document, error) {
	var d Document
	err := row.Scan(&d.ID, &d.LoadID, &d.OrgID, &d.Kind, &d.ContentType, &d.SizeBytes, &d.SHA256, &d.Filename,
		&d.UploadedBy, store.Time(&d.CreatedAt))
	return d, err
}

// withLink adds a download link for p.
func (s *Service) withLink(p freight.Principal, d Document) Document {
	exp := s.now().Add(s.cfg.LinkTTL).Truncate(time.Second)
	d.DownloadURL = s.links.URL(d.ID, p.OrgID, exp)
	d.DownloadExpiresAt = &exp
	return d
}

// List returns a load's documents, oldest first, each with a download link
// for the caller.
func (s *Service) List(ctx context.Context, p freight.Principal, loadID string) ([]Document, error) {
	if _, err := s.party(ctx, p, loadID); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+docCols+` FROM documents WHERE load_id = ? ORDER BY created_at, id`, loadID)
	if err != nil {
		return nil, fmt.Errorf("documents: %w", err)
	}
	defer rows.Close()
	out := []Document{}
	for rows.Next() {
		d, err := scanDoc(rows)
		if err != nil {
			return nil, fmt.Errorf("documents: %w", err)
		}
		out = append(out, s.withLink(p, d))
	}
	return out, rows.Err()
}

// get returns a document whose load p is a party of.
func (s *Service) get(ctx context.Context, p freight.Principal, id string) (Document, string, error) {
	var key string
	row := s.db.QueryRow(ctx, `SELECT `+docCols+`, blob_key FROM documents WHERE id = ?`, id)
	var d Document
	err := row.Scan(&d.ID, &d.LoadID, &d.OrgID, &d.Kind, &d.ContentType, &d.SizeBytes, &d.SHA256, &d.Filename,
		&d.UploadedBy, store.Time(&d.CreatedAt), &key)
	if errors.Is(err, sql.ErrNoRows) {
		return d, "", freight.NotFound("document")
	}
	if err != nil {
		return d, "", fmt.Errorf("document: %w", err)
	}
	if _, err := s.party(ctx, p, d.LoadID); err != nil {
		if freight.ErrorCode(err) == freight.ENOTFOUND {
			return Document{}, "", freight.NotFound("document")
		}
		return Document{}, "", err
	}
	return d, key, nil
}

// Get returns a document's record with a download link for the caller.
func (s *Service) Get(ctx context.Context, p freight.Principal, id string) (Document, error) {
	d, _, err := s.get(ctx, p, id)
	if err != nil {
		return d, err
	}
	return s.withLink(p, d), nil
}

// Delete removes a document. Only the organization that uploaded it may,
// and of its users a driver only for what the driver uploaded. The record
// goes first; its blob is removed after the commit, or by the sweeper.
func (s *Service) Delete(ctx context.Context, p freight.Principal, id string) error {
	d, key, err := s.get(ctx, p, id)
	if err != nil {
		return err
	}
	if d.OrgID != p.OrgID || (p.Is(freight.RoleDriver) && d.UploadedBy != p.Subject()) {
		return freight.Errorf(freight.EFORBIDDEN, "only the organization that uploaded a document may delete it")
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM documents WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete document: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return freight.NotFound("document")
		}
		return tx.EmitNew(ctx, EventDeleted, d.OrgID, d.ID, map[string]string{"id": d.ID, "load_id": d.LoadID, "deleted_by": p.Subject()})
	})
	if err != nil {
		return err
	}
	if err := s.blobs.Delete(context.WithoutCancel(ctx), key); err != nil {
		s.log.Warn("remove blob of deleted document; the sweeper will", "key", key, "err", err)
	}
	return nil
}

// Download is an open document.
type Download struct {
	Document
	Body io.ReadCloser
}

// Open checks a download link for p and opens the document. A document p
// may not see is not found; a link that is expired, altered, or minted for
// another organization is forbidden.
func (s *Service) Open(ctx context.Context, p freight.Principal, id, expires, sig string) (Download, error) {
	d, key, err := s.get(ctx, p, id)
	if err != nil {
		return Download{}, err
	}
	if err := s.links.Check(id, p.OrgID, expires, sig, s.now()); err != nil {
		return Download{}, err
	}
	rc, info, err := s.blobs.Get(ctx, key)
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			// A record without its blob should not exist; say so loudly.
			s.log.Error("document blob missing", "document", id, "key", key)
		}
		return Download{}, fmt.Errorf("open document: %w", err)
	}
	if info.Size != d.SizeBytes {
		rc.Close()
		s.corrupted.Inc()
		return Download{}, fmt.Errorf("document %s: blob has %d bytes, record says %d", id, info.Size, d.SizeBytes)
	}
	return Download{Document: d, Body: &verifying{rc: rc, hash: sha256.New(), want: d.SHA256, onMismatch: func() {
		s.corrupted.Inc()
		s.log.Error("document checksum mismatch", "document", id, "key", key)
	}, onRead: func(n int) { s.bytesOut.Add(float64(n)) }}}, nil
}

// verifying hashes what is read and reports, at the end, bytes that do not
// match the checksum recorded at upload (a damaged or replaced blob).
type verifying struct {
	rc   io.ReadCloser
	hash interface {
		io.Writer
		Sum([]byte) []byte
	}
	want       string
	done       bool
	onMismatch func()
	onRead     func(int)
}

func (v *verifying) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	v.hash.Write(p[:n])
	v.onRead(n)
	if errors.Is(err, io.EOF) && !v.done {
		v.done = true
		if hex.EncodeToString(v.hash.Sum(nil)) != v.want {
			v.onMismatch()
			return n, errors.New("document checksum mismatch")
		}
	}
	return n, err
}

func (v *verifying) Close() error { return v.rc.Close() }
