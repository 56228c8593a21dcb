package documents

import (
	"bytes"
	"mime"
	"path"
	"strings"
)

// Type is a file type the platform accepts, identified by its magic bytes.
type Type struct {
	MIME string // served as Content-Type
	Ext  string // file name extension of downloads
}

// Accepted types. Anything else, whatever its name or declared type, is
// refused: scripts, HTML, SVG, archives and executables never get stored.
var (
	PDF  = Type{"application/pdf", ".pdf"}
	JPEG = Type{"image/jpeg", ".jpg"}
	PNG  = Type{"image/png", ".png"}
	WebP = Type{"image/webp", ".webp"}
	HEIC = Type{"image/heic", ".heic"}
)

// Types lists the accepted types.
var Types = []Type{PDF, JPEG, PNG, WebP, HEIC}

// SniffLen is how many leading bytes Sniff needs at most.
const SniffLen = 64

// heifBrands are the ISO base media file brands of HEIF images from
// phones: HEVC-coded stills and sequences, and the generic HEIF brands.
var heifBrands = []string{"heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs"}

// Sniff returns the type of a file from its first bytes, or false when it is
// none of the accepted types. Only the content decides: names and declared
// types are checked against the result, never trusted.
func Sniff(b []byte) (Type, bool) {
	switch {
	case bytes.HasPrefix(b, []byte("%PDF-")):
		return PDF, true
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return JPEG, true
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return PNG, true
	case len(b) >= 12 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return WebP, true
	case isHEIF(b):
		return HEIC, true
	}
	return Type{}, false
}

// isHEIF reads the leading ftyp box: a 4-byte big-endian size, "ftyp", the
// major brand, a minor version, then compatible brands. The generic mif1 and
// msf1 brands count only with an HEVC brand among the compatible ones, since
// AVIF files carry them too.
func isHEIF(b []byte) bool {
	if len(b) < 16 || string(b[4:8]) != "ftyp" {
		return false
	}
	size := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	if size < 16 || size%4 != 0 {
		return false
	}
	major := string(b[8:12])
	if containsBrand(heifBrands, major) {
		return true
	}
	if major != "mif1" && major != "msf1" {
		return false
	}
	end := min(size, len(b))
	for i := 16; i+4 <= end; i += 4 {
		if containsBrand(heifBrands, string(b[i:i+4])) {
			return true
		}
	}
	return false
}

func containsBrand(brands []string, b string) bool {
	for _, x := range brands {
		if x == b {
			return true
		}
	}
	return false
}

// declaredAliases maps declared media types that name an accepted type in
// another spelling.
var declaredAliases = map[string]string{
	"image/jpg":           "image/jpeg",
	"image/pjpeg":         "image/jpeg",
	"image/heif":          "image/heic",
	"image/heic-sequence": "image/heic",
	"image/heif-sequence": "image/heic",
	"application/x-pdf":   "application/pdf",
}

// agrees reports whether a declared media type is consistent with the
// sniffed type. An empty or generic declaration (application/octet-stream)
// says nothing and agrees with everything.
func agrees(declared string, t Type) bool {
	if declared == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(declared)
	if err != nil {
		return false
	}
	if mt == "application/octet-stream" || mt == "binary/octet-stream" {
		return true
	}
	if a, ok := declaredAliases[mt]; ok {
		mt = a
	}
	return mt == t.MIME
}

// extensions maps file name extensions to the type they claim.
var extensions = map[string]Type{
	".pdf": PDF, ".jpg": JPEG, ".jpeg": JPEG, ".jpe": JPEG, ".png": PNG, ".webp": WebP, ".heic": HEIC, ".heif": HEIC,
}

// nameAgrees reports whether a file name's extension is consistent with the
// sniffed type. A name without an extension claims nothing; any other
// extension, "invoice.pdf.exe" or "scan.html" included, must name the type.
func nameAgrees(name string, t Type) bool {
	ext := strings.ToLower(path.Ext(name))
	if ext == "" {
		return true
	}
	claimed, ok := extensions[ext]
	return ok && claimed == t
}
