package documents

import (
	"bytes"
	"strconv"
	"testing"
	"time"
)

func TestSniff(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // "" for refused
	}{
		{"%PDF-1.4", "application/pdf"},
		{"\xff\xd8\xff\xe1", "image/jpeg"},
		{"\x89PNG\r\n\x1a\n", "image/png"},
		{"RIFF\x10\x00\x00\x00WEBPVP8L", "image/webp"},
		{"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"},
		{"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1heicmiaf", "image/heic"},
		{"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00mif1avifmiaf", ""}, // AVIF
		{"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1avif", ""},
		{"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00isomiso2", ""}, // MP4 video
		{"<svg xmlns=", ""},
		{"<!DOCTYPE html>", ""},
		{"MZ\x90\x00", ""}, // Windows executable
		{"PK\x03\x04", ""}, // zip, docx
		{"\x7fELF", ""},
		{" %PDF-1.4", ""}, // PDF magic must be first
		{"RIFF\x10\x00\x00\x00WAVEfmt ", ""},
		{"", ""},
	} {
		got, ok := Sniff([]byte(c.in))
		if (c.want == "") == ok || got.MIME != c.want {
			t.Errorf("Sniff(%q) = %q, %v; want %q", c.in, got.MIME, ok, c.want)
		}
	}
}

func TestAgrees(t *testing.T) {
	for _, c := range []struct {
		declared string
		t        Type
		want     bool
	}{
		{"", PDF, true},
		{"application/octet-stream", JPEG, true},
		{"application/pdf", PDF, true},
		{"Application/PDF; charset=binary", PDF, true},
		{"image/jpg", JPEG, true},
		{"image/png", JPEG, false},
		{"text/html", PDF, false},
		{";;;", PDF, false},
	} {
		if got := agrees(c.declared, c.t); got != c.want {
			t.Errorf("agrees(%q, %s) = %v, want %v", c.declared, c.t.MIME, got, c.want)
		}
	}
}

// FuzzSniff checks that Sniff never panics, only returns accepted types,
// decides from the first SniffLen bytes alone, and that the HEIF reader
// never claims a file without an ftyp box.
func FuzzSniff(f *testing.F) {
	for _, s := range []string{"%PDF-1.7", "\xff\xd8\xff", "\x89PNG\r\n\x1a\n", "RIFF\x00\x00\x00\x00WEBP",
		"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1heicmiaf",
		"\xff\xff\xff\xf0ftypmif1", "<html>", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, ok := Sniff(b)
		if !ok {
			if typ != (Type{}) {
				t.Fatalf("refused with type %+v", typ)
			}
			return
		}
		found := false
		for _, x := range Types {
			found = found || x == typ
		}
		if !found {
			t.Fatalf("Sniff returned %+v, not an accepted type", typ)
		}
		if len(b) > SniffLen {
			if t2, ok2 := Sniff(b[:SniffLen]); !ok2 || t2 != typ {
				t.Fatalf("Sniff depends on bytes past SniffLen: %+v vs %+v", typ, t2)
			}
		}
		if typ == HEIC && !bytes.Equal(b[4:8], []byte("ftyp")) {
			t.Fatalf("HEIC without ftyp: %q", b)
		}
	})
}

// FuzzLinkCheck checks that a download link verifies only for the exact
// document, organization and expiry it was signed for, and that no input
// makes Check panic or accept an unsigned link.
func FuzzLinkCheck(f *testing.F) {
	s := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	now := time.Unix(1_800_000_000, 0)
	exp, sig := s.Sign("doc-1", "org-1", now.Add(time.Minute))
	f.Add("doc-1", "org-1", exp, sig)
	f.Add("doc-1", "org-2", exp, sig)
	f.Add("doc-1", "org-1", exp+"0", sig)
	f.Add("", "", "", "")
	f.Add("doc-1", "org-1", "-1", "AAAA")
	f.Add("doc-1\n1800000060", "org-1", "", sig)
	f.Fuzz(func(t *testing.T, id, org, expires, sig string) {
		err := s.Check(id, org, expires, sig, now)
		if err != nil {
			return
		}
		// Accepted: it must be what Sign produces for these inputs.
		e, perr := strconv.ParseInt(expires, 10, 64)
		if perr != nil || e <= now.Unix() {
			t.Fatalf("accepted expires %q at %v", expires, now)
		}
		wantExp, wantSig := s.Sign(id, org, time.Unix(e, 0))
		if wantExp != expires || wantSig != sig {
			t.Fatalf("accepted a link Sign would not make: %q %q %q %q", id, org, expires, sig)
		}
	})
}
