// Package httpapi is the HTTP plumbing every service shares: RFC 9457
// problem responses, strict JSON decoding, cursors, the principal in the
// request context, and middleware for request IDs, logs, metrics and panics.
// Application error codes become HTTP statuses here and nowhere else.
package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/backhaul/backhaul/internal/freight"
)

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type      string               `json:"type"`
	Title     string               `json:"title"`
	Status    int                  `json:"status"`
	Detail    string               `json:"detail,omitempty"`
	Instance  string               `json:"instance,omitempty"`
	Code      string               `json:"code"`
	RequestID string               `json:"request_id,omitempty"`
	Errors    []freight.FieldError `json:"errors,omitempty"`
}

// ProblemType is the base of problem type URIs; the code is appended as the
// last path segment and documented in the API reference.
const ProblemType = "https://backhaul.dev/problems/"

// Status maps an application error code to an HTTP status.
func Status(err error) int {
	var e *freight.Error
	if !errors.As(err, &e) {
		return http.StatusInternalServerError
	}
	switch e.Code {
	case freight.EINVALID:
		if len(e.Fields) > 0 {
			return http.StatusUnprocessableEntity
		}
		return http.StatusBadRequest
	case freight.ENOTFOUND:
		return http.StatusNotFound
	case freight.ECONFLICT:
		return http.StatusConflict
	case freight.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case freight.EFORBIDDEN:
		return http.StatusForbidden
	case freight.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case freight.ERATELIMIT:
		return http.StatusTooManyRequests
	case freight.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Error writes err as a problem. Internal errors are logged with the request
// ID and shown to the client without their details.
func Error(w http.ResponseWriter, r *http.Request, err error) {
	status := Status(err)
	p := Problem{
		Type:      ProblemType + freight.EINTERNAL,
		Title:     http.StatusText(status),
		Status:    status,
		Instance:  r.URL.Path,
		Code:      freight.EINTERNAL,
		RequestID: RequestID(r.Context()),
	}
	var e *freight.Error
	if errors.As(err, &e) && status != http.StatusInternalServerError {
		p.Type, p.Code, p.Detail, p.Errors = ProblemType+e.Code, e.Code, e.Message, e.Fields
	} else {
		p.Detail = "an unexpected error occurred; quote the request ID when reporting it"
		LoggerFrom(r.Context()).Error("request failed", "err", err, "path", r.URL.Path)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="backhaul"`)
	}
	WriteProblem(w, p)
}

// WriteProblem writes p with its status.
func WriteProblem(w http.ResponseWriter, p Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// RateLimited writes a 429 problem with Retry-After in whole seconds.
func RateLimited(w http.ResponseWriter, r *http.Request, retryAfterSeconds int) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, retryAfterSeconds)))
	Error(w, r, freight.Errorf(freight.ERATELIMIT, "rate limit exceeded; retry after %d s", max(1, retryAfterSeconds)))
}

// JSON writes v as JSON with status.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("write response", "err", err)
	}
}

// Respond writes v with status, or err as a problem when err is not nil.
func Respond(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, status, v)
}
