// Package blob stores immutable byte objects under string keys: files in a
// directory (FS, the embedded default) or any S3-compatible object store
// (S3, for production). Both implement Store, and one conformance suite runs
// against both.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// ErrNotFound is returned for a key that holds no object.
var ErrNotFound = errors.New("blob: not found")

// ErrInvalidKey is returned for a key Store refuses (see ValidKey).
var ErrInvalidKey = errors.New("blob: invalid key")

// Info describes a stored object.
type Info struct {
	Key      string
	Size     int64
	Modified time.Time
}

// Store holds objects. An object is written whole or not at all: a reader
// never sees a partial object, and a Put that fails leaves nothing under its
// key.
type Store interface {
	// Put stores the bytes of r under key, replacing any object there.
	// size is the length of r if known, or -1.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Get opens the object under key; the caller closes it.
	Get(ctx context.Context, key string) (io.ReadCloser, Info, error)
	// Stat describes the object under key.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes the object under key; an absent key is not an error.
	Delete(ctx context.Context, key string) error
	// List calls fn for every object whose key starts with prefix, in no
	// particular order, until fn returns an error.
	List(ctx context.Context, prefix string, fn func(Info) error) error
}

// maxKeyLen is well under S3's 1024 bytes and every file system's path
// limit.
const maxKeyLen = 512

// ValidKey reports whether key is acceptable to every Store: non-empty
// segments of letters, digits, '-', '_' and '.', separated by '/', none of
// them "." or "..". Keys are chosen by the platform, never by clients, so the
// rule is strict.
func ValidKey(key string) error {
	if key == "" || len(key) > maxKeyLen {
		return fmt.Errorf("%w %q: want 1 to %d bytes", ErrInvalidKey, key, maxKeyLen)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w %q: empty, . or .. segment", ErrInvalidKey, key)
		}
		for _, r := range seg {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
				return fmt.Errorf("%w %q: character %q", ErrInvalidKey, key, r)
			}
		}
	}
	return nil
}

// Credentials sign requests to an S3-compatible store. Empty fields fall
// back to the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment
// variables.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// Open returns the store rawURL names:
//
//   - "" : files under dataDir/blobs
//   - file:///absolute/dir : files under that directory
//   - s3://bucket[/prefix]?endpoint=host:port&region=us-east-1&insecure=true&path_style=true
//     : an S3-compatible store; endpoint defaults to AWS S3, insecure
//     selects plain HTTP (for a store on the loopback or inside a cluster).
func Open(ctx context.Context, rawURL, dataDir string, creds Credentials) (Store, error) {
	if rawURL == "" {
		return NewFS(filepath.Join(dataDir, "blobs"))
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("blob url: %w", err)
	}
	switch u.Scheme {
	case "file":
		if u.Path == "" || !filepath.IsAbs(u.Path) {
			return nil, fmt.Errorf("blob url %q: want file:///absolute/path", rawURL)
		}
		return NewFS(u.Path)
	case "s3":
		cfg, err := ParseS3URL(u)
		if err != nil {
			return nil, err
		}
		cfg.Credentials = creds
		return NewS3(ctx, cfg)
	}
	return nil, fmt.Errorf("blob url %q: want s3://bucket?endpoint=... or file:///dir", rawURL)
}
