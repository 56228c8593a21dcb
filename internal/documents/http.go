package documents

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/backhaul/backhaul/internal/httpapi"
)

// Routes registers the document endpoints.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/loads/{id}/documents", s.handleUpload)
	mux.HandleFunc("GET /api/v1/loads/{id}/documents", s.handleList)
	mux.HandleFunc("GET /api/v1/documents/{id}", s.handleGet)
	mux.HandleFunc("DELETE /api/v1/documents/{id}", s.handleDelete)
	mux.HandleFunc("GET /api/v1/documents/{id}/download", s.handleDownload)
}

// IsUpload reports whether a request is a document upload, whose body limit
// is the document size limit rather than the API's.
func IsUpload(r *http.Request) bool {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/api/v1/loads/") {
		return false
	}
	rest := strings.TrimPrefix(r.URL.Path, "/api/v1/loads/")
	id, tail, ok := strings.Cut(rest, "/")
	return ok && id != "" && tail == "documents"
}

// MultipartOverhead is room for the part headers, fields and boundaries of
// a multipart upload around a file of the maximum size.
const MultipartOverhead = 64 << 10

// handleUpload takes either a multipart/form-data body (a "file" part, with
// "kind" and optionally "content_type" fields before it) or the raw file
// (kind in the query, the declared type in Content-Type, an optional
// filename in the query).
func (s *Service) handleUpload(w http.ResponseWriter, r *http.Request) {
	p := httpapi.Principal(r)
	q := r.URL.Query()
	in := UploadInput{Kind: Kind(q.Get("kind")), Filename: q.Get("filename"), Size: -1}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		in.DeclaredType, in.DeclaredTypeField, in.Body = r.Header.Get("Content-Type"), "Content-Type", r.Body
		if r.ContentLength >= 0 {
			in.Size = r.ContentLength
		}
		if in.Kind == "" {
			httpapi.Error(w, r, invalid("kind", "required: bol, pod or rate_confirmation"))
			return
		}
		d, err := s.Upload(r.Context(), p, r.PathValue("id"), in)
		httpapi.Respond(w, r, http.StatusCreated, d, err)
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		httpapi.Error(w, r, invalid("Content-Type", "multipart body without a boundary: %v", err))
		return
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			httpapi.Error(w, r, invalid("file", "required: a part named file"))
			return
		}
		if err != nil {
			httpapi.Error(w, r, s.readError(err))
			return
		}
		switch part.FormName() {
		case "kind", "content_type", "filename":
			v, err := io.ReadAll(io.LimitReader(part, 256))
			if err != nil {
				httpapi.Error(w, r, s.readError(err))
				return
			}
			switch part.FormName() {
			case "kind":
				in.Kind = Kind(strings.TrimSpace(string(v)))
			case "content_type":
				in.DeclaredType, in.DeclaredTypeField = strings.TrimSpace(string(v)), "content_type"
			case "filename":
				in.Filename = string(v)
			}
		case "file":
			if in.Kind == "" {
				httpapi.Error(w, r, invalid("kind", "required before the file part, or in the query: bol, pod or rate_confirmation"))
				return
			}
			if in.DeclaredType == "" {
				in.DeclaredType, in.DeclaredTypeField = part.Header.Get("Content-Type"), "file"
			}
			if in.Filename == "" {
				in.Filename = part.FileName()
			}
			in.Body = part
			d, err := s.Upload(r.Context(), p, r.PathValue("id"), in)
			httpapi.Respond(w, r, http.StatusCreated, d, err)
			return
		default:
			httpapi.Error(w, r, invalid(part.FormName(), "unknown field; send kind, content_type, filename and file"))
			return
		}
	}
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request) {
	docs, err := s.List(r.Context(), httpapi.Principal(r), r.PathValue("id"))
	httpapi.Respond(w, r, http.StatusOK, map[string]any{"items": docs}, err)
}

func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) {
	d, err := s.Get(r.Context(), httpapi.Principal(r), r.PathValue("id"))
	httpapi.Respond(w, r, http.StatusOK, d, err)
}

func (s *Service) handleDelete(w http.ResponseWriter, r *http.Request) {
	if err := s.Delete(r.Context(), httpapi.Principal(r), r.PathValue("id")); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleDownload serves the bytes so that no browser runs or renders them
// in the platform's origin: the sniffed type, always as an attachment, no
// type sniffing by the browser, and a content security policy that forbids
// everything, scripts and plugins included.
func (s *Service) handleDownload(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	dl, err := s.Open(r.Context(), httpapi.Principal(r), r.PathValue("id"), q.Get("expires"), q.Get("sig"))
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	defer dl.Body.Close()
	name := dl.ID + extOf(dl.ContentType)
	h := w.Header()
	h.Set("Content-Type", dl.ContentType)
	h.Set("Content-Length", strconv.FormatInt(dl.SizeBytes, 10))
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox; frame-ancestors 'none'")
	h.Set("Cache-Control", "private, no-store")
	h.Set("ETag", `"`+dl.SHA256+`"`)
	h.Set("X-Checksum-SHA256", dl.SHA256)
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := io.Copy(w, dl.Body); err != nil && r.Context().Err() == nil {
		httpapi.LoggerFrom(r.Context()).Warn("document download cut short", "document", dl.ID, "err", err)
	}
}

func extOf(mimeType string) string {
	for _, t := range Types {
		if t.MIME == mimeType {
			return t.Ext
		}
	}
	return ""
}
