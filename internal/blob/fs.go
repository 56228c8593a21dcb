package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// tmpDir holds objects being written, inside the store's directory so that
// the final rename never crosses a file system.
const tmpDir = ".tmp"

// staleTemp is the age past which a temporary file is the leftover of a
// process that died while writing, and NewFS removes it.
const staleTemp = time.Hour

// FS keeps each object as a file under a directory, the key being its path.
// A Put writes a temporary file, syncs it, renames it into place and syncs
// the directory, so after a crash the key holds the old object, the new one,
// or nothing: never a torn file.
type FS struct {
	dir string
}

// NewFS returns a store under dir, creating it, and removes temporary files
// left by a process that died while writing.
func NewFS(dir string) (*FS, error) {
	if err := os.MkdirAll(filepath.Join(dir, tmpDir), 0o750); err != nil {
		return nil, fmt.Errorf("blob dir: %w", err)
	}
	f := &FS{dir: dir}
	entries, err := os.ReadDir(filepath.Join(dir, tmpDir))
	if err != nil {
		return nil, fmt.Errorf("blob dir: %w", err)
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleTemp {
			_ = os.Remove(filepath.Join(dir, tmpDir, e.Name()))
		}
	}
	return f, nil
}

func (f *FS) path(key string) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", err
	}
	return filepath.Join(f.dir, filepath.FromSlash(key)), nil
}

// Put writes the object atomically.
func (f *FS) Put(ctx context.Context, key string, r io.Reader, size int64) (err error) {
	final, err := f.path(key)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Join(f.dir, tmpDir), "put-*")
	if err != nil {
		return fmt.Errorf("blob put %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, ctxReader{ctx, r})
	if err != nil {
		return fmt.Errorf("blob put %s: %w", key, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("blob put %s: wrote %d bytes, want %d", key, n, size)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("blob put %s: sync: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("blob put %s: %w", key, err)
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o750); err != nil {
		return fmt.Errorf("blob put %s: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return fmt.Errorf("blob put %s: %w", key, err)
	}
	// The rename is durable only once the directory entry is.
	if err := syncDir(filepath.Dir(final)); err != nil {
		return fmt.Errorf("blob put %s: sync dir: %w", key, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Get opens the object's file.
func (f *FS) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	p, err := f.path(key)
	if err != nil {
		return nil, Info{}, err
	}
	file, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Info{}, fmt.Errorf("blob get %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, Info{}, fmt.Errorf("blob get %s: %w", key, err)
	}
	st, err := file.Stat()
	if err != nil || st.IsDir() {
		file.Close()
		return nil, Info{}, fmt.Errorf("blob get %s: %w", key, ErrNotFound)
	}
	return file, Info{Key: key, Size: st.Size(), Modified: st.ModTime()}, nil
}

// Stat describes the object's file.
func (f *FS) Stat(ctx context.Context, key string) (Info, error) {
	p, err := f.path(key)
	if err != nil {
		return Info{}, err
	}
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) || err == nil && st.IsDir() {
		return Info{}, fmt.Errorf("blob stat %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return Info{}, fmt.Errorf("blob stat %s: %w", key, err)
	}
	return Info{Key: key, Size: st.Size(), Modified: st.ModTime()}, nil
}

// Delete removes the object's file.
func (f *FS) Delete(ctx context.Context, key string) error {
	p, err := f.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob delete %s: %w", key, err)
	}
	return nil
}

// List walks the directory. Temporary files are not objects.
func (f *FS) List(ctx context.Context, prefix string, fn func(Info) error) error {
	err := filepath.WalkDir(f.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, rerr := filepath.Rel(f.dir, p)
		if rerr != nil {
			return rerr
		}
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			if key == tmpDir || key != "." && !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(key, prefix) || ValidKey(key) != nil {
			return nil
		}
		info, ierr := d.Info()
		if errors.Is(ierr, fs.ErrNotExist) {
			return nil
		}
		if ierr != nil {
			return ierr
		}
		return fn(Info{Key: key, Size: info.Size(), Modified: info.ModTime()})
	})
	if err != nil {
		return fmt.Errorf("blob list %s: %w", prefix, err)
	}
	return nil
}

// ctxReader stops a copy when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
