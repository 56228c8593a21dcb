package app_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/blob/blobtest"
	"github.com/backhaul/backhaul/internal/documents"
	"github.com/backhaul/backhaul/internal/event"
)

// podJPEG is a phone photo's first bytes, padded.
var podJPEG = append([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x10, 'E', 'x', 'i', 'f', 0, 0}, bytes.Repeat([]byte{0x42}, 40_000)...)

// upload sends a document as multipart/form-data: kind, then the file part
// with the given part Content-Type and file name.
func (p *platform) upload(token, loadID, kind, partType, filename string, body []byte) response {
	p.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("kind", kind)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+filename+`"`)
	if partType != "" {
		h.Set("Content-Type", partType)
	}
	fw, _ := mw.CreatePart(h)
	_, _ = fw.Write(body)
	_ = mw.Close()
	return p.callWith("POST", "/api/v1/loads/"+loadID+"/documents", token, mw.FormDataContentType(), buf.String())
}

func (p *platform) download(token, link string) response {
	p.t.Helper()
	req, _ := http.NewRequest("GET", p.base+link, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := client.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: b.Bytes()}
}

// TestDocuments: the driver's carrier uploads a proof of delivery, the
// shipper downloads it by a signed link, and nobody else can; lying,
// empty and oversized uploads are refused. Embedded (files in the data
// directory), production (S3-compatible object storage) and split (the
// gateway proxies uploads and downloads to the load-service).
func TestDocuments(t *testing.T) {
	const maxBytes = 64 << 10
	withDocs := func(blobURL string) setting {
		return func(c *appConfig) { c.BlobURL, c.DocumentMaxBytes = blobURL, maxBytes }
	}
	layouts := map[string]func(t *testing.T) *platform{
		"embedded": func(t *testing.T) *platform { return start(t, config(t, "embedded", withDocs(""))) },
		"production": func(t *testing.T) *platform {
			t.Setenv("BACKHAUL_BLOB_ACCESS_KEY_ID", blobtest.AccessKey)
			t.Setenv("BACKHAUL_BLOB_SECRET_ACCESS_KEY", blobtest.SecretKey)
			return start(t, config(t, "production", withDocs(blobtest.S3(t, "backhaul-docs"))))
		},
		"split": func(t *testing.T) *platform {
			s3 := blobtest.S3(t, "backhaul-docs")
			loadsCfg := config(t, "production", withTargets("load-service"), withDocs(s3))
			loadsProc := start(t, loadsCfg)
			gwCfg := config(t, "production", withTargets("api-gateway", "driver-service"), withDocs(s3))
			gwCfg.DatabaseURL, gwCfg.DataDir = loadsCfg.DatabaseURL, loadsCfg.DataDir
			gwCfg.ServiceURLs = []string{"load-service=" + loadsProc.base}
			return start(t, gwCfg)
		},
	}
	for name, layout := range layouts {
		t.Run(name, func(t *testing.T) {
			p := layout(t)
			w := newWorld(t, p)
			load := p.must(201, "POST", "/api/v1/loads", w.shipper.Token, loadInput())
			id := str(load, "id")
			booking := p.must(201, "POST", "/api/v1/bookings", w.dispatcher.Token, map[string]any{"load_id": id})
			p.must(200, "POST", "/api/v1/bookings/"+str(booking, "id")+"/assign", w.dispatcher.Token,
				map[string]any{"driver_id": w.driverID, "truck_id": w.truckID})

			// The assigned driver uploads the POD photo.
			r := p.upload(w.driver.Token, id, "pod", "image/jpeg", "pod.jpg", podJPEG)
			if r.Status != 201 {
				t.Fatalf("upload = %d: %s", r.Status, r.Body)
			}
			doc := r.JSON(t)
			if str(doc, "content_type") != "image/jpeg" || doc["size_bytes"].(float64) != float64(len(podJPEG)) || len(str(doc, "sha256")) != 64 {
				t.Errorf("uploaded document = %v", doc)
			}
			docID := str(doc, "id")

			// The shipper sees it and downloads it by its signed link.
			list := p.must(200, "GET", "/api/v1/loads/"+id+"/documents", w.shipper.Token, nil)["items"].([]any)
			if len(list) != 1 || str(list[0].(map[string]any), "id") != docID {
				t.Fatalf("shipper's list = %v", list)
			}
			meta := p.must(200, "GET", "/api/v1/documents/"+docID, w.shipper.Token, nil)
			link := str(meta, "download_url")
			dl := p.download(w.shipper.Token, link)
			if dl.Status != 200 || !bytes.Equal(dl.Body, podJPEG) {
				t.Fatalf("download = %d, %d bytes; want 200 and the photo", dl.Status, len(dl.Body))
			}
			for h, want := range map[string]string{
				"Content-Type":            "image/jpeg",
				"X-Content-Type-Options":  "nosniff",
				"Content-Security-Policy": "default-src 'none'; sandbox; frame-ancestors 'none'",
			} {
				if got := dl.Header.Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			if cd := dl.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
				t.Errorf("Content-Disposition = %q, want an attachment", cd)
			}

			// Another organization: not found, with or without the link.
			other := p.signup("carrier", "Other Freight", "admin@other.test")
			p.must(404, "GET", "/api/v1/documents/"+docID, other.Token, nil)
			p.must(404, "GET", "/api/v1/loads/"+id+"/documents", other.Token, nil)
			if r := p.download(other.Token, link); r.Status != 404 {
				t.Errorf("other org downloads = %d, want 404: %s", r.Status, r.Body)
			}
			// A tampered or expired link, or one minted for the carrier.
			u, _ := url.Parse(link)
			q := u.Query()
			q.Set("expires", q.Get("expires")+"9")
			if r := p.download(w.shipper.Token, u.Path+"?"+q.Encode()); r.Status != 403 {
				t.Errorf("tampered link = %d, want 403: %s", r.Status, r.Body)
			}
			expired := documents.NewSigner([]byte(p.app.Config().TokenSecret)).URL(docID, w.shipper.OrgID, time.Now().Add(-time.Minute))
			if r := p.download(w.shipper.Token, expired); r.Status != 403 {
				t.Errorf("expired link = %d, want 403: %s", r.Status, r.Body)
			}
			if r := p.download(w.dispatcher.Token, link); r.Status != 403 {
				t.Errorf("the shipper's link used by the carrier = %d, want 403: %s", r.Status, r.Body)
			}

			// Uploads that lie, are empty, or are too large.
			pdf := []byte("%PDF-1.7\n1 0 obj <<>> endobj\n")
			for _, c := range []struct {
				name, partType, filename string
				body                     []byte
				status                   int
				field                    string
			}{
				{"jpeg declared pdf", "application/pdf", "pod.pdf", podJPEG, 422, "file"},
				{"pdf named jpg", "", "pod.jpg", pdf, 422, "filename"},
				{"html", "image/png", "x.png", []byte("<html><script>alert(1)</script>"), 422, "file"},
				{"empty", "application/pdf", "x.pdf", nil, 422, "file"},
				{"too large", "application/pdf", "big.pdf", append(pdf, make([]byte, maxBytes)...), 413, ""},
			} {
				r := p.upload(w.dispatcher.Token, id, "bol", c.partType, c.filename, c.body)
				if r.Status != c.status {
					t.Errorf("%s: upload = %d, want %d: %s", c.name, r.Status, c.status, r.Body)
					continue
				}
				if c.field != "" && !strings.Contains(string(r.Body), `"field":"`+c.field+`"`) {
					t.Errorf("%s: problem does not name %s: %s", c.name, c.field, r.Body)
				}
			}
			// A raw body whose Content-Type lies.
			r = p.callWith("POST", "/api/v1/loads/"+id+"/documents?kind=pod", w.driver.Token, "application/pdf", string(podJPEG))
			if r.Status != 422 || !strings.Contains(string(r.Body), `"field":"Content-Type"`) {
				t.Errorf("raw lying upload = %d: %s", r.Status, r.Body)
			}
			if n := len(p.must(200, "GET", "/api/v1/loads/"+id+"/documents", w.shipper.Token, nil)["items"].([]any)); n != 1 {
				t.Errorf("after refused uploads the load has %d documents, want 1", n)
			}

			// Only the uploader's organization deletes.
			p.must(403, "DELETE", "/api/v1/documents/"+docID, w.shipper.Token, nil)
			if r := p.call("DELETE", "/api/v1/documents/"+docID, w.dispatcher.Token, nil); r.Status != 204 {
				t.Fatalf("carrier deletes = %d: %s", r.Status, r.Body)
			}
			p.must(404, "GET", "/api/v1/documents/"+docID, w.shipper.Token, nil)

			// Both changes reached the event stream through the outbox (in
			// split mode the load-service publishes in its own namespace).
			if name == "split" {
				return
			}
			want := map[string]bool{documents.EventUploaded: true, documents.EventDeleted: true}
			readEvents(t, p.app.Bus(), 0, func(e event.Event) bool {
				if e.SubjectID == docID {
					delete(want, e.Type)
				}
				return len(want) == 0
			})
			if len(want) != 0 {
				t.Errorf("events never published: %v", want)
			}
		})
	}
}
