package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config locates a bucket in an S3-compatible store.
type S3Config struct {
	Endpoint    string // host[:port]; empty is AWS S3
	Bucket      string
	Prefix      string // prepended to every key, e.g. "backhaul/"
	Region      string
	Insecure    bool // plain HTTP
	PathStyle   bool // bucket in the path, not the host name
	Credentials Credentials
	Transport   http.RoundTripper // nil: the client's default
}

// ParseS3URL reads s3://bucket[/prefix]?endpoint=&region=&insecure=&path_style=.
func ParseS3URL(u *url.URL) (S3Config, error) {
	cfg := S3Config{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/"), Endpoint: "s3.amazonaws.com"}
	if u.Scheme != "s3" {
		return cfg, fmt.Errorf("blob url %q: want the s3 scheme", u.Redacted())
	}
	if cfg.Bucket == "" {
		return cfg, fmt.Errorf("blob url %q: no bucket", u.Redacted())
	}
	if cfg.Prefix != "" {
		cfg.Prefix += "/"
	}
	q := u.Query()
	for k := range q {
		switch k {
		case "endpoint", "region", "insecure", "path_style":
		default:
			return cfg, fmt.Errorf("blob url %q: unknown parameter %q", u.Redacted(), k)
		}
	}
	if e := q.Get("endpoint"); e != "" {
		switch {
		case strings.HasPrefix(e, "http://"):
			cfg.Endpoint, cfg.Insecure = strings.TrimPrefix(e, "http://"), true
		case strings.HasPrefix(e, "https://"):
			cfg.Endpoint = strings.TrimPrefix(e, "https://")
		default:
			cfg.Endpoint = e
		}
		cfg.Endpoint = strings.TrimSuffix(cfg.Endpoint, "/")
		// host or host:port, nothing else.
		if h, err := url.Parse("//" + cfg.Endpoint); err != nil || h.Host != cfg.Endpoint || h.Host == "" || h.User != nil {
			return cfg, fmt.Errorf("blob url %q: endpoint: want host:port", u.Redacted())
		}
	}
	cfg.Region = q.Get("region")
	for name, dst := range map[string]*bool{"insecure": &cfg.Insecure, "path_style": &cfg.PathStyle} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return cfg, fmt.Errorf("blob url %q: %s: want true or false", u.Redacted(), name)
			}
			*dst = b
		}
	}
	return cfg, nil
}

// S3 keeps objects in a bucket of an S3-compatible store (AWS S3, MinIO,
// Ceph, R2, ...). S3 itself makes each PUT atomic.
type S3 struct {
	client   *minio.Client
	bucket   string
	prefix   string
	insecure bool
}

// partSize is what a Put of unknown size buffers per part: S3's minimum, so
// an upload of unknown length holds at most this much memory.
const partSize = 5 << 20

// NewS3 connects to the bucket and checks that it exists.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.Static{Value: credentials.Value{AccessKeyID: cfg.Credentials.AccessKeyID,
			SecretAccessKey: cfg.Credentials.SecretAccessKey, SessionToken: cfg.Credentials.SessionToken, SignerType: credentials.SignatureV4}},
		&credentials.EnvAWS{},
	})
	opts := &minio.Options{Creds: creds, Secure: !cfg.Insecure, Region: cfg.Region, Transport: cfg.Transport}
	if cfg.PathStyle {
		opts.BucketLookup = minio.BucketLookupPath
	}
	client, err := minio.New(cfg.Endpoint, opts)
	if err != nil {
		return nil, fmt.Errorf("blob s3 %s: %w", cfg.Endpoint, err)
	}
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("blob s3 %s: bucket %s: %w", cfg.Endpoint, cfg.Bucket, err)
	}
	if !ok {
		return nil, fmt.Errorf("blob s3 %s: bucket %s does not exist", cfg.Endpoint, cfg.Bucket)
	}
	return &S3{client: client, bucket: cfg.Bucket, prefix: cfg.Prefix, insecure: cfg.Insecure}, nil
}

func (s *S3) object(key string) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", err
	}
	return s.prefix + key, nil
}

// Put uploads the object in one request when its size is known, else in
// parts of partSize.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	// Over plain HTTP the client would sign the body in aws-chunked
	// encoding, which not every S3-compatible server decodes; it sends an
	// unsigned payload with a Content-MD5 instead, which every server checks.
	_, err = s.client.PutObject(ctx, s.bucket, name, r, size, minio.PutObjectOptions{
		ContentType: "application/octet-stream", PartSize: partSize,
		DisableContentSha256: s.insecure, SendContentMd5: s.insecure})
	if err != nil {
		return fmt.Errorf("blob put %s: %w", key, err)
	}
	return nil
}

// Get opens the object. Its first bytes are read at once, so a missing key
// is reported here and not by the first Read.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	name, err := s.object(key)
	if err != nil {
		return nil, Info{}, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, name, minio.GetObjectOptions{})
	if err != nil {
		return nil, Info{}, fmt.Errorf("blob get %s: %w", key, mapErr(err))
	}
	st, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, Info{}, fmt.Errorf("blob get %s: %w", key, mapErr(err))
	}
	return obj, Info{Key: key, Size: st.Size, Modified: st.LastModified}, nil
}

// Stat asks the store for the object's size and time.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	name, err := s.object(key)
	if err != nil {
		return Info{}, err
	}
	st, err := s.client.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, fmt.Errorf("blob stat %s: %w", key, mapErr(err))
	}
	return Info{Key: key, Size: st.Size, Modified: st.LastModified}, nil
}

// Delete removes the object; S3 answers success for an absent key.
func (s *S3) Delete(ctx context.Context, key string) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{}); err != nil {
		if errors.Is(mapErr(err), ErrNotFound) {
			return nil
		}
		return fmt.Errorf("blob delete %s: %w", key, err)
	}
	return nil
}

// List pages through the bucket under the store's prefix.
func (s *S3) List(ctx context.Context, prefix string, fn func(Info) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the listing goroutine when fn stops early
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if obj.Err != nil {
			return fmt.Errorf("blob list %s: %w", prefix, obj.Err)
		}
		key := strings.TrimPrefix(obj.Key, s.prefix)
		if ValidKey(key) != nil {
			continue // not written by this package
		}
		if err := fn(Info{Key: key, Size: obj.Size, Modified: obj.LastModified}); err != nil {
			return err
		}
	}
	return nil
}

func mapErr(err error) error {
	switch minio.ToErrorResponse(err).Code {
	case minio.NoSuchKey, "NotFound":
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}
