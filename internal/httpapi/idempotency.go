package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"

	"github.com/backhaul/backhaul/internal/freight"
)

// StoredResponse is the answer first given to an idempotent request.
type StoredResponse struct {
	Status      int
	ContentType string
	Body        []byte
}

// IdempotencyStore keeps the first answer to each (principal, key).
type IdempotencyStore interface {
	// BeginIdempotent claims the key. It returns (nil, nil) when the caller
	// should run the request, the stored response when it already ran, or
	// an ECONFLICT error when it is running or the key was used for another
	// request.
	BeginIdempotent(ctx context.Context, principal, key, method, path, hash string) (*StoredResponse, error)
	// FinishIdempotent stores the answer.
	FinishIdempotent(ctx context.Context, principal, key string, res StoredResponse) error
	// AbandonIdempotent releases the key so that a retry runs again.
	AbandonIdempotent(ctx context.Context, principal, key string)
}

// recorder keeps a copy of the response it passes on.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// Idempotent makes POST requests that carry an Idempotency-Key safe to
// retry: the first answer (success or client error) is stored and replayed
// for the same caller and key; a server error releases the key.
func Idempotent(next http.Handler, s IdempotencyStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if r.Method != http.MethodPost || key == "" {
			next.ServeHTTP(w, r)
			return
		}
		if len(key) > 255 {
			Error(w, r, &freight.Error{Code: freight.EINVALID, Message: "invalid input",
				Fields: []freight.FieldError{{Field: "Idempotency-Key", Detail: "at most 255 characters"}}})
			return
		}
		p, _ := PrincipalFrom(r.Context())
		body, err := io.ReadAll(r.Body)
		if err != nil {
			Error(w, r, freight.Errorf(freight.ETOOLARGE, "request body too large"))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h := sha256.New()
		h.Write([]byte(r.Method + " " + r.URL.RequestURI() + "\n"))
		h.Write(body)
		hash := hex.EncodeToString(h.Sum(nil))
		stored, err := s.BeginIdempotent(r.Context(), p.Subject(), key, r.Method, r.URL.Path, hash)
		if err != nil {
			Error(w, r, err)
			return
		}
		if stored != nil {
			w.Header().Set("Idempotent-Replayed", "true")
			if stored.ContentType != "" {
				w.Header().Set("Content-Type", stored.ContentType)
			}
			w.WriteHeader(stored.Status)
			_, _ = w.Write(stored.Body)
			return
		}
		rec := &recorder{ResponseWriter: w}
		defer func() {
			// A detached context: the answer must be recorded even when the
			// client has gone away.
			ctx := context.WithoutCancel(r.Context())
			if rec.status == 0 || rec.status >= 500 {
				s.AbandonIdempotent(ctx, p.Subject(), key)
				return
			}
			res := StoredResponse{Status: rec.status, ContentType: w.Header().Get("Content-Type"), Body: rec.body.Bytes()}
			if err := s.FinishIdempotent(ctx, p.Subject(), key, res); err != nil {
				LoggerFrom(ctx).Warn("store idempotent response", "err", err)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}
