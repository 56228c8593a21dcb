package documents_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backhaul/backhaul/internal/blob"
	"github.com/backhaul/backhaul/internal/blob/blobtest"
	"github.com/backhaul/backhaul/internal/documents"
	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/store/storetest"
)

// Sample files: the first bytes of each accepted type, padded.
var (
	pdfFile  = append([]byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n"), bytes.Repeat([]byte("x"), 3000)...)
	jpegFile = append([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F', 0}, bytes.Repeat([]byte{7}, 5000)...)
	pngFile  = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), make([]byte, 100)...)
	heicFile = append([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), make([]byte, 100)...)
	htmlFile = []byte("<html><script>alert(1)</script></html>")
)

// fakeLoads is the load-service's answer for a few loads: who posted, who
// booked, which driver. Visibility follows the load-service's rules.
type fakeLoads map[string]freight.Load

func (f fakeLoads) Get(_ context.Context, p freight.Principal, id string) (freight.Load, error) {
	l, ok := f[id]
	if !ok {
		return l, freight.NotFound("load")
	}
	switch {
	case p.Is(freight.RoleOperator), p.OrgID == l.OrgID, p.OrgID == l.CarrierID && (!p.Is(freight.RoleDriver) || p.DriverID == l.DriverID):
		return l, nil
	}
	return freight.Load{}, freight.NotFound("load")
}

var (
	shipper    = freight.Principal{OrgID: "org-shipper", OrgKind: freight.OrgShipper, UserID: "u1", Role: freight.RoleShipper}
	carrier    = freight.Principal{OrgID: "org-carrier", OrgKind: freight.OrgCarrier, UserID: "u2", Role: freight.RoleDispatcher}
	driver     = freight.Principal{OrgID: "org-carrier", OrgKind: freight.OrgCarrier, UserID: "u3", Role: freight.RoleDriver, DriverID: "drv-1"}
	otherDrv   = freight.Principal{OrgID: "org-carrier", OrgKind: freight.OrgCarrier, UserID: "u4", Role: freight.RoleDriver, DriverID: "drv-2"}
	stranger   = freight.Principal{OrgID: "org-other", OrgKind: freight.OrgCarrier, UserID: "u5", Role: freight.RoleAdmin}
	operator   = freight.Principal{OrgID: "org-platform", OrgKind: freight.OrgPlatform, UserID: "u6", Role: freight.RoleOperator}
	testLoads  = fakeLoads{"load-1": {ID: "load-1", OrgID: "org-shipper", CarrierID: "org-carrier", DriverID: "drv-1"}}
	linkSecret = []byte(strings.Repeat("k", 32))
)

type fixture struct {
	svc   *documents.Service
	db    *store.DB
	blobs blob.Store
	now   time.Time
}

func (f *fixture) clock() time.Time { return f.now }

// each runs f on every store engine with every blob backend.
func each(t *testing.T, f func(t *testing.T, fx *fixture)) {
	backends := map[string]func(t *testing.T) blob.Store{
		"fs": func(t *testing.T) blob.Store {
			s, err := blob.NewFS(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"s3": func(t *testing.T) blob.Store {
			s, err := blob.Open(context.Background(), blobtest.S3(t, "docs"), "", blob.Credentials{AccessKeyID: blobtest.AccessKey, SecretAccessKey: blobtest.SecretKey})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
	for _, engine := range storetest.Engines {
		for name, open := range backends {
			t.Run(engine+"/"+name, func(t *testing.T) {
				db := storetest.Open(t, engine)
				fx := &fixture{db: db, blobs: open(t), now: time.Now()}
				svc, err := documents.New(db, fx.blobs, testLoads, linkSecret, documents.Config{MaxBytes: 10_000, SweepGrace: time.Hour},
					slog.New(slog.DiscardHandler), prometheus.NewRegistry())
				if err != nil {
					t.Fatal(err)
				}
				svc.SetClock(fx.clock)
				fx.svc = svc
				f(t, fx)
			})
		}
	}
}

func upload(fx *fixture, p freight.Principal, kind documents.Kind, declared, name string, body []byte) (documents.Document, error) {
	return fx.svc.Upload(context.Background(), p, "load-1", documents.UploadInput{Kind: kind, DeclaredType: declared,
		Filename: name, Body: bytes.NewReader(body), Size: -1})
}

func linkParams(t *testing.T, d documents.Document) (string, string) {
	t.Helper()
	u, err := url.Parse(d.DownloadURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("expires"), u.Query().Get("sig")
}

func read(t *testing.T, fx *fixture, p freight.Principal, d documents.Document) ([]byte, error) {
	t.Helper()
	exp, sig := linkParams(t, d)
	dl, err := fx.svc.Open(context.Background(), p, d.ID, exp, sig)
	if err != nil {
		return nil, err
	}
	defer dl.Body.Close()
	return io.ReadAll(dl.Body)
}

func TestUploadListDownload(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		d, err := upload(fx, driver, documents.ProofOfDelivery, "image/jpeg", "pod.JPG", jpegFile)
		if err != nil {
			t.Fatalf("upload: %v", err)
		}
		sum := sha256.Sum256(jpegFile)
		if d.ContentType != "image/jpeg" || d.SizeBytes != int64(len(jpegFile)) || d.SHA256 != hex.EncodeToString(sum[:]) ||
			d.OrgID != driver.OrgID || d.UploadedBy != "user:u3" || d.Filename != "pod.JPG" {
			t.Errorf("uploaded = %+v", d)
		}
		// The shipper lists the load's documents and downloads the POD.
		docs, err := fx.svc.List(ctx, shipper, "load-1")
		if err != nil || len(docs) != 1 || docs[0].ID != d.ID || docs[0].DownloadURL == "" {
			t.Fatalf("List = %+v, %v", docs, err)
		}
		got, err := read(t, fx, shipper, docs[0])
		if err != nil || !bytes.Equal(got, jpegFile) {
			t.Fatalf("download = %d bytes, %v; want the upload", len(got), err)
		}
		// The event is in the outbox, in the upload's transaction.
		pending, err := fx.db.PendingEvents(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) != 1 || pending[0].Event.Type != documents.EventUploaded || pending[0].Event.SubjectID != d.ID {
			t.Errorf("outbox = %+v, want one %s", pending, documents.EventUploaded)
		}
	})
}

func TestUploadRefusals(t *testing.T) {
	big := append(append([]byte{}, pdfFile...), make([]byte, 10_000)...)
	cases := []struct {
		name     string
		kind     documents.Kind
		declared string
		filename string
		body     []byte
		code     string
		field    string
	}{
		{"empty", "pod", "", "", nil, freight.EINVALID, "file"},
		{"html", "pod", "", "", htmlFile, freight.EINVALID, "file"},
		{"html declared as pdf", "pod", "application/pdf", "x.pdf", htmlFile, freight.EINVALID, "file"},
		{"jpeg declared as pdf", "pod", "application/pdf", "", jpegFile, freight.EINVALID, "content_type"},
		{"pdf named exe", "bol", "", "bol.pdf.exe", pdfFile, freight.EINVALID, "filename"},
		{"png named jpg", "bol", "image/png", "photo.jpg", pngFile, freight.EINVALID, "filename"},
		{"declared garbage", "bol", "not a type;;", "", pdfFile, freight.EINVALID, "content_type"},
		{"unknown kind", "invoice", "", "", pdfFile, freight.EINVALID, "kind"},
		{"too large", "bol", "", "", big, freight.ETOOLARGE, ""},
	}
	each(t, func(t *testing.T, fx *fixture) {
		for _, c := range cases {
			_, err := upload(fx, shipper, c.kind, c.declared, c.filename, c.body)
			var fe *freight.Error
			if !errors.As(err, &fe) || fe.Code != c.code {
				t.Errorf("%s: err = %v, want code %s", c.name, err, c.code)
				continue
			}
			if c.field != "" && (len(fe.Fields) != 1 || fe.Fields[0].Field != c.field) {
				t.Errorf("%s: fields = %+v, want %s", c.name, fe.Fields, c.field)
			}
		}
		// Nothing was stored: no record, no blob.
		docs, err := fx.svc.List(context.Background(), shipper, "load-1")
		if err != nil || len(docs) != 0 {
			t.Errorf("after refusals, List = %v, %v; want none", docs, err)
		}
		n := 0
		_ = fx.blobs.List(context.Background(), "", func(blob.Info) error { n++; return nil })
		if n != 0 {
			t.Errorf("after refusals, %d blobs stored, want 0", n)
		}
	})
}

func TestAcceptedTypes(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		for _, c := range []struct {
			body     []byte
			declared string
			want     string
		}{
			{pdfFile, "application/pdf", "application/pdf"},
			{jpegFile, "image/jpg", "image/jpeg"},
			{pngFile, "application/octet-stream", "image/png"},
			{heicFile, "image/heif", "image/heic"},
			{append([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "), make([]byte, 50)...), "", "image/webp"},
		} {
			d, err := upload(fx, carrier, documents.BillOfLading, c.declared, "", c.body)
			if err != nil || d.ContentType != c.want {
				t.Errorf("upload %s = %+v, %v", c.want, d, err)
			}
		}
	})
}

func TestPartiesOnly(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		d, err := upload(fx, shipper, documents.RateConfirmation, "", "rc.pdf", pdfFile)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []freight.Principal{shipper, carrier, driver} {
			if _, err := fx.svc.Get(ctx, p, d.ID); err != nil {
				t.Errorf("%s: Get = %v, want the document", p.Subject(), err)
			}
		}
		for _, p := range []freight.Principal{stranger, otherDrv, operator} {
			if _, err := fx.svc.Get(ctx, p, d.ID); freight.ErrorCode(err) != freight.ENOTFOUND {
				t.Errorf("%s: Get = %v, want not found", p.Subject(), err)
			}
			if _, err := fx.svc.List(ctx, p, "load-1"); freight.ErrorCode(err) != freight.ENOTFOUND {
				t.Errorf("%s: List = %v, want not found", p.Subject(), err)
			}
			if _, err := upload(fx, p, documents.ProofOfDelivery, "", "", pdfFile); freight.ErrorCode(err) != freight.ENOTFOUND {
				t.Errorf("%s: Upload = %v, want not found", p.Subject(), err)
			}
			// A link minted for the shipper does not open for them either.
			if _, err := read(t, fx, p, fx.withLinkFor(t, shipper, d)); freight.ErrorCode(err) != freight.ENOTFOUND {
				t.Errorf("%s: download = %v, want not found", p.Subject(), err)
			}
		}
	})
}

func (fx *fixture) withLinkFor(t *testing.T, p freight.Principal, d documents.Document) documents.Document {
	t.Helper()
	got, err := fx.svc.Get(context.Background(), p, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestLinks(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		d, err := upload(fx, driver, documents.ProofOfDelivery, "", "", pngFile)
		if err != nil {
			t.Fatal(err)
		}
		mine := fx.withLinkFor(t, shipper, d)
		exp, sig := linkParams(t, mine)
		forbidden := func(name, id string, p freight.Principal, exp, sig string) {
			t.Helper()
			if _, err := fx.svc.Open(ctx, p, id, exp, sig); freight.ErrorCode(err) != freight.EFORBIDDEN {
				t.Errorf("%s: Open = %v, want forbidden", name, err)
			}
		}
		forbidden("no signature", d.ID, shipper, "", "")
		tampered := "A" + sig[1:]
		if sig[0] == 'A' {
			tampered = "B" + sig[1:]
		}
		forbidden("tampered signature", d.ID, shipper, exp, tampered)
		forbidden("extended expiry", d.ID, shipper, exp+"0", sig)
		// The carrier is a party, but the link was minted for the shipper.
		forbidden("another party's link", d.ID, carrier, exp, sig)
		fx.now = fx.now.Add(16 * time.Minute)
		forbidden("expired", d.ID, shipper, exp, sig)
		if _, err := fx.svc.Open(ctx, shipper, "no-such-doc", exp, sig); freight.ErrorCode(err) != freight.ENOTFOUND {
			t.Errorf("unknown document: %v, want not found", err)
		}
	})
}

func TestDelete(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		d, err := upload(fx, driver, documents.ProofOfDelivery, "", "", pdfFile)
		if err != nil {
			t.Fatal(err)
		}
		if err := fx.svc.Delete(ctx, shipper, d.ID); freight.ErrorCode(err) != freight.EFORBIDDEN {
			t.Errorf("shipper deletes the carrier's upload: %v, want forbidden", err)
		}
		if err := fx.svc.Delete(ctx, stranger, d.ID); freight.ErrorCode(err) != freight.ENOTFOUND {
			t.Errorf("stranger deletes: %v, want not found", err)
		}
		if err := fx.svc.Delete(ctx, carrier, d.ID); err != nil {
			t.Fatalf("carrier deletes its driver's upload: %v", err)
		}
		if _, err := fx.svc.Get(ctx, carrier, d.ID); freight.ErrorCode(err) != freight.ENOTFOUND {
			t.Errorf("Get after delete = %v, want not found", err)
		}
		n := 0
		_ = fx.blobs.List(ctx, "", func(blob.Info) error { n++; return nil })
		if n != 0 {
			t.Errorf("%d blobs after delete, want 0", n)
		}
	})
}

// A blob written by an upload whose record never committed (the process
// died in between) is removed by the sweeper once it is older than the
// grace period; blobs with records, and young ones, stay.
func TestSweepRemovesOrphans(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		d, err := upload(fx, shipper, documents.BillOfLading, "", "", pdfFile)
		if err != nil {
			t.Fatal(err)
		}
		orphan := "documents/load-1/crashed-upload"
		if err := fx.blobs.Put(ctx, orphan, bytes.NewReader(pdfFile), int64(len(pdfFile))); err != nil {
			t.Fatal(err)
		}
		if n, err := fx.svc.Sweep(ctx); err != nil || n != 0 {
			t.Fatalf("sweep within the grace period removed %d, %v; want 0", n, err)
		}
		fx.now = fx.now.Add(2 * time.Hour)
		if n, err := fx.svc.Sweep(ctx); err != nil || n != 1 {
			t.Fatalf("sweep after the grace period removed %d, %v; want 1", n, err)
		}
		if _, err := fx.blobs.Stat(ctx, orphan); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("orphan still there: %v", err)
		}
		if got, err := read(t, fx, shipper, fx.withLinkFor(t, shipper, d)); err != nil || !bytes.Equal(got, pdfFile) {
			t.Errorf("document after sweep: %d bytes, %v", len(got), err)
		}
	})
}

// A blob changed behind the platform's back fails its checksum on download.
func TestDownloadDetectsCorruption(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		d, err := upload(fx, shipper, documents.BillOfLading, "", "", pdfFile)
		if err != nil {
			t.Fatal(err)
		}
		bad := append([]byte{}, pdfFile...)
		bad[len(bad)-1] ^= 1
		if err := fx.blobs.Put(ctx, "documents/load-1/"+d.ID, bytes.NewReader(bad), int64(len(bad))); err != nil {
			t.Fatal(err)
		}
		if _, err := read(t, fx, shipper, fx.withLinkFor(t, shipper, d)); err == nil {
			t.Error("download of a corrupted blob succeeded")
		}
	})
}

// failingStore is a blob store whose writes fail, as an object store that
// is down would.
type failingStore struct{ blob.Store }

func (failingStore) Put(context.Context, string, io.Reader, int64) error {
	return errors.New("object store unavailable")
}

// A body cut short is the client's error; a store that fails is the
// server's. Neither leaves a record.
func TestUploadFailures(t *testing.T) {
	each(t, func(t *testing.T, fx *fixture) {
		ctx := context.Background()
		cut := io.MultiReader(bytes.NewReader(pdfFile[:100]), iotestErr{io.ErrUnexpectedEOF})
		_, err := fx.svc.Upload(ctx, shipper, "load-1", documents.UploadInput{Kind: documents.BillOfLading, Body: cut, Size: int64(len(pdfFile))})
		if freight.ErrorCode(err) != freight.EINVALID {
			t.Errorf("body cut short: %v, want invalid (400)", err)
		}
		broken, err := documents.New(fx.db, failingStore{fx.blobs}, testLoads, linkSecret, documents.Config{},
			slog.New(slog.DiscardHandler), prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		_, err = broken.Upload(ctx, shipper, "load-1", documents.UploadInput{Kind: documents.BillOfLading, Body: bytes.NewReader(pdfFile), Size: -1})
		var fe *freight.Error
		if err == nil || errors.As(err, &fe) {
			t.Errorf("store down: %v, want an internal error (500)", err)
		}
		if docs, err := fx.svc.List(ctx, shipper, "load-1"); err != nil || len(docs) != 0 {
			t.Errorf("after failed uploads, List = %v, %v; want none", docs, err)
		}
	})
}

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }
