package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/bundle"
)

const blobPrefix = "blobs/sha256/"

// runRead opens a bundle and reads its first or last blob (in tar order,
// of at least -min-bytes) through bundle.Reader.Fetch, which checks the
// digest. It prints:
//
//	which=last digest=sha256:… bytes=N offset=N open=S ttfb=S total=S
//
// offset is where the blob's data starts in the tar stream; open is the
// time bundle.Open took (footer, seek table, TOC, index.json); ttfb is from
// Fetch to the first byte and total from Fetch to the verified end, in
// seconds.
func runRead(ctx context.Context, args []string, out io.Writer) error {
	fset := flag.NewFlagSet("read", flag.ContinueOnError)
	which := fset.String("which", "last", "first or last blob in tar order")
	minBytes := fset.Int64("min-bytes", 0, "only consider blobs of at least this many bytes")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if fset.NArg() != 1 || (*which != "first" && *which != "last") {
		return fmt.Errorf("read: want -which first|last and one bundle\n%w", errUsage)
	}
	path := fset.Arg(0)

	began := time.Now()
	r, err := bundle.Open(path)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	defer r.Close()
	opened := time.Since(began)

	e, err := pickBlob(r.Entries(), *which, *minBytes)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	desc := ocispec.Descriptor{
		Digest: digest.NewDigestFromEncoded(digest.SHA256, strings.TrimPrefix(e.Name, blobPrefix)),
		Size:   e.Size,
	}
	began = time.Now()
	rc, err := r.Fetch(ctx, desc)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer rc.Close()
	buf := make([]byte, 32<<10)
	n, err := io.ReadAtLeast(rc, buf, int(min(1, e.Size)))
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read %s: blob %s: %w", path, desc.Digest, err)
	}
	ttfb := time.Since(began)
	m, err := io.CopyBuffer(io.Discard, rc, buf)
	if err != nil {
		return fmt.Errorf("read %s: blob %s: %w", path, desc.Digest, err)
	}
	total := time.Since(began)
	if got := int64(n) + m; got != e.Size {
		return fmt.Errorf("read %s: blob %s: got %d bytes, want %d", path, desc.Digest, got, e.Size)
	}
	fmt.Fprintf(out, "which=%s digest=%s bytes=%d offset=%d open=%.6f ttfb=%.6f total=%.6f\n",
		*which, desc.Digest, e.Size, e.Offset, opened.Seconds(), ttfb.Seconds(), total.Seconds())
	return nil
}

// pickBlob returns the first or last blob entry of at least minBytes.
func pickBlob(entries []bundle.Entry, which string, minBytes int64) (bundle.Entry, error) {
	var blobs []bundle.Entry
	for _, e := range entries {
		if !e.Dir && strings.HasPrefix(e.Name, blobPrefix) && e.Size >= minBytes {
			blobs = append(blobs, e)
		}
	}
	if len(blobs) == 0 {
		return bundle.Entry{}, fmt.Errorf("bundle holds no blob of at least %d bytes", minBytes)
	}
	if which == "first" {
		return blobs[0], nil
	}
	return blobs[len(blobs)-1], nil
}

// runBlobs prints count=N bytes=N for the blobs of a bundle, or of an OCI
// layout directory (every regular file under blobs/).
func runBlobs(args []string, out io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("blobs: want one bundle or layout directory\n%w", errUsage)
	}
	path := args[0]
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("blobs: %w", err)
	}
	var count, size int64
	if st.IsDir() {
		err = filepath.WalkDir(filepath.Join(path, "blobs"), func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			count, size = count+1, size+info.Size()
			return nil
		})
		if err != nil {
			return fmt.Errorf("blobs %s: %w", path, err)
		}
	} else {
		r, err := bundle.Open(path)
		if err != nil {
			return fmt.Errorf("blobs: %w", err)
		}
		s := r.Stats()
		r.Close()
		count, size = int64(s.Blobs), s.BlobBytes
	}
	fmt.Fprintf(out, "count=%d bytes=%d\n", count, size)
	return nil
}
