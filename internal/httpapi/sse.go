package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteEvent writes one server-sent event: an optional id line, the event
// name, and v as one line of JSON.
func WriteEvent(w io.Writer, name, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if id != "" {
		if _, err := fmt.Fprintf(w, "id: %s\n", id); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b)
	return err
}
