package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/backhaul/backhaul/internal/freight"
)

// MaxBody is the default limit of a JSON request body.
const MaxBody = 1 << 20

// Decode reads a JSON body into v strictly: unknown fields, wrong types,
// trailing data and bodies over limit bytes are errors that name the field.
func Decode(r *http.Request, v any, limit int64) error {
	if limit <= 0 {
		limit = MaxBody
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return freight.Errorf(freight.EINVALID, "Content-Type must be application/json")
		}
	}
	if r.ContentLength > limit {
		return freight.Errorf(freight.ETOOLARGE, "request body larger than %d bytes", limit)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return freight.Errorf(freight.ETOOLARGE, "request body larger than %d bytes", mbe.Limit)
		}
		return freight.Errorf(freight.EINVALID, "reading request body: %v", err)
	}
	if int64(len(body)) > limit {
		return freight.Errorf(freight.ETOOLARGE, "request body larger than %d bytes", limit)
	}
	return DecodeBytes(body, v)
}

// DecodeBytes decodes one JSON value strictly into v.
func DecodeBytes(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return freight.Errorf(freight.EINVALID, "request body is empty; want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, body)
	}
	if dec.More() {
		return freight.Errorf(freight.EINVALID, "unexpected data after the JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return freight.Errorf(freight.EINVALID, "unexpected data after the JSON value")
	}
	return nil
}

func decodeError(err error, body []byte) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		line, col := position(body, syn.Offset)
		return freight.Errorf(freight.EINVALID, "malformed JSON at line %d, column %d: %v", line, col, syn)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return freight.Errorf(freight.EINVALID, "malformed JSON: unexpected end of input")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		return &freight.Error{Code: freight.EINVALID, Message: "invalid input",
			Fields: []freight.FieldError{{Field: field, Detail: fmt.Sprintf("want %s, got JSON %s", typ.Type, typ.Value)}}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &freight.Error{Code: freight.EINVALID, Message: "invalid input",
			Fields: []freight.FieldError{{Field: name, Detail: "unknown field"}}}
	}
	// Errors from a field's own UnmarshalJSON (times, money) name the value
	// but not the field; json wraps them without a path, so report the text.
	return freight.Errorf(freight.EINVALID, "invalid JSON value: %v", strings.TrimPrefix(err.Error(), "json: "))
}

func position(body []byte, offset int64) (line, col int) {
	line, col = 1, 1
	for i := int64(0); i < offset && i < int64(len(body)); i++ {
		if body[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}
