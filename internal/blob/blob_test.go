package blob_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/iotest"

	"github.com/backhaul/backhaul/internal/blob"
	"github.com/backhaul/backhaul/internal/blob/blobtest"
)

// backends opens every Store implementation afresh for one test.
var backends = map[string]func(t testing.TB) blob.Store{
	"fs": func(t testing.TB) blob.Store {
		s, err := blob.Open(context.Background(), "", t.TempDir(), blob.Credentials{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	},
	"s3": func(t testing.TB) blob.Store {
		s, err := blob.Open(context.Background(), blobtest.S3(t, "docs")+"", "", blob.Credentials{
			AccessKeyID: blobtest.AccessKey, SecretAccessKey: blobtest.SecretKey})
		if err != nil {
			t.Fatal(err)
		}
		return s
	},
	"s3-prefixed": func(t testing.TB) blob.Store {
		u := blobtest.S3(t, "docs")
		u = "s3://docs/tenant-a" + u[len("s3://docs"):]
		s, err := blob.Open(context.Background(), u, "", blob.Credentials{
			AccessKeyID: blobtest.AccessKey, SecretAccessKey: blobtest.SecretKey})
		if err != nil {
			t.Fatal(err)
		}
		return s
	},
}

// each runs the conformance suite's test f against every backend.
func each(t *testing.T, f func(t *testing.T, s blob.Store)) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) { f(t, open(t)) })
	}
}

func get(t *testing.T, s blob.Store, key string) []byte {
	t.Helper()
	rc, info, err := s.Get(blobtest.Ctx(t), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	if info.Size != int64(len(b)) {
		t.Errorf("Get(%q) size = %d, read %d bytes", key, info.Size, len(b))
	}
	return b
}

func TestPutGetRoundTrip(t *testing.T) {
	big := make([]byte, 11<<20+17) // more than two parts of an unknown-size upload
	rand.Read(big)
	cases := []struct {
		name string
		data []byte
		size int64 // -1: unknown
	}{
		{"small known size", []byte("%PDF-1.7 hello"), 14},
		{"small unknown size", []byte("hello"), -1},
		{"empty", []byte{}, 0},
		{"large unknown size", big, -1},
		{"large known size", big, int64(len(big))},
	}
	each(t, func(t *testing.T, s blob.Store) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ctx := blobtest.Ctx(t)
				key := "documents/load-1/" + filepath.Base(t.Name())
				if err := s.Put(ctx, key, bytes.NewReader(c.data), c.size); err != nil {
					t.Fatalf("Put: %v", err)
				}
				if got := get(t, s, key); !bytes.Equal(got, c.data) {
					t.Fatalf("Get returned %d bytes, want the %d put", len(got), len(c.data))
				}
				info, err := s.Stat(ctx, key)
				if err != nil || info.Size != int64(len(c.data)) || info.Key != key || info.Modified.IsZero() {
					t.Errorf("Stat = %+v, %v; want size %d", info, err, len(c.data))
				}
			})
		}
	})
}

func TestPutReplaces(t *testing.T) {
	each(t, func(t *testing.T, s blob.Store) {
		ctx := blobtest.Ctx(t)
		for _, v := range []string{"first version", "second"} {
			if err := s.Put(ctx, "a/b", bytes.NewReader([]byte(v)), -1); err != nil {
				t.Fatal(err)
			}
		}
		if got := string(get(t, s, "a/b")); got != "second" {
			t.Errorf("got %q, want the second version", got)
		}
	})
}

// A Put whose reader fails leaves nothing under the key, and the old object
// if there was one.
func TestFailedPutLeavesNothing(t *testing.T) {
	boom := errors.New("client went away")
	each(t, func(t *testing.T, s blob.Store) {
		ctx := blobtest.Ctx(t)
		bad := io.MultiReader(bytes.NewReader(make([]byte, 1000)), iotest.ErrReader(boom))
		if err := s.Put(ctx, "x/new", bad, -1); err == nil {
			t.Fatal("Put with a failing reader succeeded")
		}
		if _, err := s.Stat(ctx, "x/new"); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("after a failed Put, Stat = %v, want ErrNotFound", err)
		}
		if err := s.Put(ctx, "x/old", bytes.NewReader([]byte("keep me")), 7); err != nil {
			t.Fatal(err)
		}
		bad = io.MultiReader(bytes.NewReader(make([]byte, 1000)), iotest.ErrReader(boom))
		if err := s.Put(ctx, "x/old", bad, -1); err == nil {
			t.Fatal("Put with a failing reader succeeded")
		}
		if got := string(get(t, s, "x/old")); got != "keep me" {
			t.Errorf("after a failed replace, got %q, want the old object", got)
		}
		var keys []string
		if err := s.List(ctx, "", func(i blob.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(keys, []string{"x/old"}) {
			t.Errorf("List = %v, want only x/old", keys)
		}
	})
}

func TestMissingAndDelete(t *testing.T) {
	each(t, func(t *testing.T, s blob.Store) {
		ctx := blobtest.Ctx(t)
		if _, _, err := s.Get(ctx, "no/such"); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Get missing = %v, want ErrNotFound", err)
		}
		if _, err := s.Stat(ctx, "no/such"); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Stat missing = %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, "no/such"); err != nil {
			t.Errorf("Delete missing = %v, want nil", err)
		}
		if err := s.Put(ctx, "d/1", bytes.NewReader([]byte("x")), 1); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "d/1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stat(ctx, "d/1"); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Stat after Delete = %v, want ErrNotFound", err)
		}
	})
}

func TestList(t *testing.T) {
	each(t, func(t *testing.T, s blob.Store) {
		ctx := blobtest.Ctx(t)
		for _, k := range []string{"documents/l1/a", "documents/l1/b", "documents/l12/c", "other/d"} {
			if err := s.Put(ctx, k, bytes.NewReader([]byte(k)), int64(len(k))); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []struct {
			prefix string
			want   []string
		}{
			{"", []string{"documents/l1/a", "documents/l1/b", "documents/l12/c", "other/d"}},
			{"documents/", []string{"documents/l1/a", "documents/l1/b", "documents/l12/c"}},
			{"documents/l1/", []string{"documents/l1/a", "documents/l1/b"}},
			{"documents/l1", []string{"documents/l1/a", "documents/l1/b", "documents/l12/c"}},
			{"nothing/", nil},
		} {
			var got []string
			err := s.List(ctx, c.prefix, func(i blob.Info) error {
				if i.Size != int64(len(i.Key)) {
					t.Errorf("List %q: %s size %d, want %d", c.prefix, i.Key, i.Size, len(i.Key))
				}
				got = append(got, i.Key)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Errorf("List(%q) = %v, want %v", c.prefix, got, c.want)
			}
		}
		stop := errors.New("stop")
		n := 0
		if err := s.List(ctx, "", func(blob.Info) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
			t.Errorf("List stopped by fn = %v after %d calls, want stop after 1", err, n)
		}
	})
}

func TestInvalidKeys(t *testing.T) {
	bad := []string{"", "/abs", "a//b", "../up", "a/../b", "a/./b", "a/", "sp ace", "a\\b", "ü"}
	each(t, func(t *testing.T, s blob.Store) {
		ctx := blobtest.Ctx(t)
		for _, k := range bad {
			if err := s.Put(ctx, k, bytes.NewReader(nil), 0); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("Put(%q) = %v, want ErrInvalidKey", k, err)
			}
			if _, _, err := s.Get(ctx, k); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("Get(%q) = %v, want ErrInvalidKey", k, err)
			}
		}
	})
}

// A temporary file left by a process that died mid-write is removed when
// the store opens again; a recent one (a write in progress) is kept.
func TestFSRemovesStaleTempFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := blob.NewFS(dir); err != nil {
		t.Fatal(err)
	}
	stale, fresh := filepath.Join(dir, ".tmp", "put-1"), filepath.Join(dir, ".tmp", "put-2")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := mustTime(t, "2020-01-01T00:00:00Z")
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	s, err := blob.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temp file still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temp file removed: %v", err)
	}
	n := 0
	_ = s.List(context.Background(), "", func(blob.Info) error { n++; return nil })
	if n != 0 {
		t.Errorf("List saw %d objects, want temp files hidden", n)
	}
}

func TestOpenURLs(t *testing.T) {
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"file:///tmp/x", true},
		{"file://relative", false},
		{"s3://", false},
		{"s3://b?endpoint=127.0.0.1:1&bogus=1", false},
		{"s3://b?endpoint=127.0.0.1:1&insecure=maybe", false},
		{"ftp://x", false},
	} {
		_, err := blob.Open(context.Background(), c.url, t.TempDir(), blob.Credentials{})
		if (err == nil) != c.ok {
			t.Errorf("Open(%q) = %v, want ok=%v", c.url, err, c.ok)
		}
	}
}
