package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/backhaul/backhaul/internal/freight"
)

// Page is a cursor-paginated list.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// EncodeCursor packs the sort key of the last item of a page. Cursors are
// opaque to clients; they are not signed because they only select rows the
// caller may see anyway.
func EncodeCursor(keys ...string) string {
	b, _ := json.Marshal(keys)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor unpacks a cursor made by EncodeCursor with n keys.
func DecodeCursor(s string, n int) ([]string, error) {
	bad := &freight.Error{Code: freight.EINVALID, Message: "invalid input",
		Fields: []freight.FieldError{{Field: "cursor", Detail: "malformed cursor; pass next_cursor from the previous page unchanged"}}}
	if len(s) > 1024 {
		return nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	var keys []string
	if err := json.Unmarshal(b, &keys); err != nil || len(keys) != n {
		return nil, bad
	}
	return keys, nil
}

// Limit reads the "limit" query parameter: def when absent, at most max.
func Limit(r *http.Request, def, max int) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, &freight.Error{Code: freight.EINVALID, Message: "invalid input",
			Fields: []freight.FieldError{{Field: "limit", Detail: "must be an integer between 1 and " + strconv.Itoa(max)}}}
	}
	return n, nil
}
