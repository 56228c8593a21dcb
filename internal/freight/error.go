package freight

import (
	"errors"
	"fmt"
	"strings"
)

// Error codes, mapped to HTTP status in exactly one place (internal/httpapi).
const (
	EINVALID      = "invalid"      // the request is malformed or a field is out of range
	ENOTFOUND     = "not_found"    // no such object, or not visible to the caller
	ECONFLICT     = "conflict"     // the object's state forbids the change
	EUNAUTHORIZED = "unauthorized" // no valid credentials
	EFORBIDDEN    = "forbidden"    // valid credentials, insufficient role
	ETOOLARGE     = "too_large"    // the body exceeds its limit
	ERATELIMIT    = "rate_limited" // too many requests
	EUNAVAILABLE  = "unavailable"  // a dependency is down
	EINTERNAL     = "internal"     // a bug or an unexpected failure
)

// FieldError names one offending field, as a JSON pointer-like path
// ("origin.lat", "stops[2].window").
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// Error is an application error with a code and, for invalid input, the
// fields at fault.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Detail
	}
	return e.Message + " (" + strings.Join(parts, "; ") + ")"
}

// Errorf returns an *Error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// Fields collects field errors while validating input.
type Fields []FieldError

// Add records a problem with field.
func (fs *Fields) Add(field, format string, args ...any) {
	*fs = append(*fs, FieldError{Field: field, Detail: fmt.Sprintf(format, args...)})
}

// Err returns an EINVALID *Error listing every field, or nil when there is none.
func (fs Fields) Err() error {
	if len(fs) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: "invalid input", Fields: fs}
}

// NotFound is the error for an object that does not exist or that the caller
// may not see: the two are indistinguishable on purpose, so that IDs of other
// tenants' objects leak nothing.
func NotFound(kind string) *Error {
	return Errorf(ENOTFOUND, "%s not found", kind)
}
