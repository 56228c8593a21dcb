package httpapi

import (
	"strings"
	"testing"
)

func TestWriteEvent(t *testing.T) {
	var b strings.Builder
	if err := WriteEvent(&b, "progress", "7", map[string]any{"n": 1, "s": "a\nb"}); err != nil {
		t.Fatal(err)
	}
	if err := WriteEvent(&b, "done", "", []int{1}); err != nil {
		t.Fatal(err)
	}
	want := "id: 7\nevent: progress\ndata: {\"n\":1,\"s\":\"a\\nb\"}\n\nevent: done\ndata: [1]\n\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
	if err := WriteEvent(&b, "bad", "", func() {}); err == nil {
		t.Error("an unencodable value was written")
	}
}
