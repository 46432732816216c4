package bundle

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/lattice-mesh/meshpack/progress"
)

// TestVerifyProgress checks Verify's events with one worker and several:
// for each blob hashed, Bytes events whose N add up to its size (Done
// counting along), then one BlobVerified; one BlobVerified per blob the
// report counts; and never two calls at once.
func TestVerifyProgress(t *testing.T) {
	data := newFixture(t).writeBytes(t, WriterOptions{FrameSize: 16 << 10})
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			var inside atomic.Int32
			hashed := map[digest.Digest]int64{}
			verified := map[digest.Digest]int{}
			rep, err := Verify(context.Background(), r, VerifyOptions{Concurrency: workers, Progress: func(e progress.Event) {
				if inside.Add(1) != 1 {
					t.Error("Progress called concurrently")
				}
				defer inside.Add(-1)
				d := e.Descriptor.Digest
				switch e.Kind {
				case progress.Bytes:
					hashed[d] += e.N
					if e.Done != hashed[d] || e.Total != e.Descriptor.Size || e.Name != blobName(d) {
						t.Errorf("Bytes event %+v: want Done %d (the sum of N), Total %d, Name %s", e, hashed[d], e.Descriptor.Size, blobName(d))
					}
				case progress.BlobVerified:
					verified[d]++
					if e.Err != nil || hashed[d] != e.Descriptor.Size || e.Done != e.Total || e.Total != e.Descriptor.Size {
						t.Errorf("BlobVerified event %+v after %d bytes hashed: want no error, the whole blob", e, hashed[d])
					}
				default:
					t.Errorf("event %+v: Verify reports only Bytes and BlobVerified", e)
				}
			}})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if len(verified) != rep.Blobs || len(verified) == 0 {
				t.Errorf("%d blobs verified by events, report counts %d", len(verified), rep.Blobs)
			}
			for d, n := range verified {
				if n != 1 {
					t.Errorf("blob %s verified %d times, want once", d, n)
				}
			}
		})
	}
}
