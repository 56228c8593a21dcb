package documents

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
)

// Signer mints and checks download links. A link is the document ID, an
// expiry and an HMAC-SHA256 over both and the organization it was minted
// for, so it works only before its expiry and only for a caller of that
// organization, who must still be a party of the load.
type Signer struct{ key []byte }

// NewSigner returns a signer. The key is derived from the given secret so
// the same secret can serve other purposes without its MACs being
// interchangeable.
func NewSigner(secret []byte) *Signer {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("backhaul document download links v1"))
	return &Signer{key: m.Sum(nil)}
}

func (s *Signer) mac(id, orgID, expires string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(id + "\n" + expires + "\n" + orgID))
	return m.Sum(nil)
}

// Sign returns the expiry (Unix seconds) and signature of a link.
func (s *Signer) Sign(id, orgID string, exp time.Time) (expires, sig string) {
	expires = strconv.FormatInt(exp.Unix(), 10)
	return expires, base64.RawURLEncoding.EncodeToString(s.mac(id, orgID, expires))
}

// URL returns the API path of a signed link.
func (s *Signer) URL(id, orgID string, exp time.Time) string {
	expires, sig := s.Sign(id, orgID, exp)
	return "/api/v1/documents/" + url.PathEscape(id) + "/download?" + url.Values{"expires": {expires}, "sig": {sig}}.Encode()
}

// Check verifies a link for orgID at now. Every failure is the same
// forbidden answer with a reason, and never depends on how much of the
// signature matched.
func (s *Signer) Check(id, orgID, expires, sig string, now time.Time) error {
	if expires == "" || sig == "" {
		return freight.Errorf(freight.EFORBIDDEN, "download links carry expires and sig; get one from the document's record")
	}
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil {
		return freight.Errorf(freight.EFORBIDDEN, "invalid download link")
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(id, orgID, expires)) {
		return freight.Errorf(freight.EFORBIDDEN, "invalid download link")
	}
	if now.Unix() >= exp {
		return freight.Errorf(freight.EFORBIDDEN, "download link expired; get a new one from the document's record")
	}
	return nil
}
