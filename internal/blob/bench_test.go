package blob_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"testing"
)

// BenchmarkPut and BenchmarkGet measure upload and download throughput of
// each backend for document-sized objects: a phone photo (2 MiB) and a
// large scanned PDF (16 MiB). The S3 backend talks HTTP over loopback to
// the in-process S3 server, so its figures include the protocol, signing
// and checksums but no network.
func BenchmarkPut(b *testing.B) {
	for _, size := range []int{2 << 20, 16 << 20} {
		data := make([]byte, size)
		rand.Read(data)
		for _, name := range []string{"fs", "s3"} {
			b.Run(fmt.Sprintf("%s/%dMiB", name, size>>20), func(b *testing.B) {
				s := backends[name](b)
				b.SetBytes(int64(size))
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					if err := s.Put(context.Background(), fmt.Sprintf("bench/%d", i%8), bytes.NewReader(data), int64(size)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkGet(b *testing.B) {
	for _, size := range []int{2 << 20, 16 << 20} {
		data := make([]byte, size)
		rand.Read(data)
		for _, name := range []string{"fs", "s3"} {
			b.Run(fmt.Sprintf("%s/%dMiB", name, size>>20), func(b *testing.B) {
				s := backends[name](b)
				if err := s.Put(context.Background(), "bench/x", bytes.NewReader(data), int64(size)); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(size))
				b.ResetTimer()
				for b.Loop() {
					rc, _, err := s.Get(context.Background(), "bench/x")
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(io.Discard, rc); err != nil {
						b.Fatal(err)
					}
					rc.Close()
				}
			})
		}
	}
}
