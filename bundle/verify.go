package bundle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/progress"
)

// VerifyOptions configure Verify and VerifyParts. The zero value works.
type VerifyOptions struct {
	// Concurrency is the number of blobs hashed in parallel; 0 means
	// GOMAXPROCS, at most 4. Each worker holds about two frames of memory.
	Concurrency int
	// Progress, if set, receives Bytes and BlobVerified events (Verify) or
	// PartVerified events (VerifyParts), never concurrently; it must not
	// block.
	Progress progress.Func
}

// Verify checks a bundle completely: layout, entry order, that the BOM blob
// list equals the blobs held, that index.json and the BOM artifacts agree,
// that every reachable manifest parses and its blobs are present, and that
// every blob hashes to its digest and size. It returns the report and, when
// a check failed, an error wrapping the first Problem (so errors.Is finds
// ErrDigestMismatch, ErrNotFound, …). It reads the network never.
func Verify(ctx context.Context, r *Reader, opts VerifyOptions) (*Report, error) {
	rep := verify(ctx, r, opts, true)
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	return rep, rep.err("verify bundle")
}

func verify(ctx context.Context, r *Reader, opts VerifyOptions, hashBlobs bool) *Report {
	rep := &Report{}
	layout := checkLayout(r)
	order := newCheck(CheckOrder)
	for _, p := range checkOrder(r.Entries()) {
		order.add(p)
	}
	order.Summary = fmt.Sprintf("%d entries", len(r.entries))
	bomCheck := newCheck(CheckBOM)
	bom, err := r.BOM()
	if err != nil {
		bomCheck.add(&Problem{Entry: BOMName, Offset: entryOffset(r, BOMName), Err: err})
	} else {
		checkBOMBlobs(r, bom, bomCheck)
	}
	structure := newCheck(CheckStructure)
	bombs := checkStructure(r, bom, structure)
	index := newCheck(CheckIndex)
	if bom != nil {
		checkIndexBOM(r.Index(), bom, index)
	} else {
		index.add(&Problem{Entry: IndexName, Offset: -1, Err: errors.New("cannot compare with the BOM, which is unreadable")})
	}
	graph := newCheck(CheckGraph)
	refs := walkGraph(ctx, r, bom, graph)
	rep.Checks = []*Check{layout, order, structure, bomCheck, index, graph}
	if hashBlobs {
		rep.Checks = append(rep.Checks, hashAll(ctx, r, refs, bombs, opts, rep))
	}
	return rep
}

func entryOffset(r *Reader, name string) int64 {
	if e, ok := r.Entry(name); ok {
		return e.Offset
	}
	return -1
}

func checkLayout(r *Reader) *Check {
	c := newCheck(CheckLayout)
	idx := r.Index()
	if idx.SchemaVersion != 2 {
		c.add(&Problem{Entry: IndexName, Offset: entryOffset(r, IndexName), Err: fmt.Errorf("schemaVersion %d, want 2", idx.SchemaVersion)})
	}
	if idx.MediaType != "" && idx.MediaType != ocispec.MediaTypeImageIndex {
		c.add(&Problem{Entry: IndexName, Offset: entryOffset(r, IndexName), Err: fmt.Errorf("mediaType %q, want %q", idx.MediaType, ocispec.MediaTypeImageIndex)})
	}
	for _, m := range idx.Manifests {
		if err := m.Digest.Validate(); err != nil {
			c.add(&Problem{Entry: IndexName, Offset: entryOffset(r, IndexName), Err: fmt.Errorf("manifest %q: %w", m.Digest, err)})
		}
	}
	c.Summary = fmt.Sprintf("%s and %s with %d manifests", OCILayoutName, IndexName, len(idx.Manifests))
	return c
}

// checkOrder checks the entry order rule: metadata (oci-layout, index.json,
// meshpack/… in rank order) first, then blobs/, blobs/sha256/ and the blobs;
// every directory before its children; every name once.
func checkOrder(entries []Entry) []*Problem {
	var probs []*Problem
	names := make(map[string]bool, len(entries))
	rank, inBlobs := -1, false
	for _, e := range entries {
		bad := func(format string, args ...any) {
			probs = append(probs, &Problem{Check: CheckOrder, Entry: e.Name, Offset: e.Header, Err: fmt.Errorf(format, args...)})
		}
		if names[e.Name] {
			bad("entry appears twice")
			continue
		}
		names[e.Name] = true
		if parent := path.Dir(strings.TrimSuffix(e.Name, "/")); parent != "." && !names[parent+"/"] {
			bad("comes before its directory %s/", parent)
		}
		switch {
		case e.Name == "blobs/":
			inBlobs = true
		case e.Name == "blobs/sha256/" || isBlobName(e.Name):
		case e.Dir && strings.HasPrefix(e.Name, "meshpack/"):
			if inBlobs {
				bad("metadata directory after the blobs; metadata must come first")
			}
		case metadataRank(e.Name) < 0 || e.Dir:
			bad("unexpected entry; a bundle holds %s, %s, meshpack/* and blobs/sha256/<hex>", OCILayoutName, IndexName)
		case inBlobs:
			bad("metadata entry after the blobs; metadata must come first")
		case metadataRank(e.Name) < rank:
			bad("out of order; metadata comes as %s, %s, %s, %s, %s, other meshpack/*", OCILayoutName, IndexName, BOMName, BOMSigName, LockName)
		default:
			rank = metadataRank(e.Name)
		}
	}
	return probs
}

// checkBOMBlobs checks that the BOM blob list equals the blobs held.
func checkBOMBlobs(r *Reader, bom *BOM, c *Check) {
	held := make(map[digest.Digest]Entry)
	for _, e := range r.entries {
		if isBlobName(e.Name) {
			held[digest.NewDigestFromEncoded(digest.SHA256, path.Base(e.Name))] = e
		}
	}
	listed := make(map[digest.Digest]bool, len(bom.Blobs))
	for _, b := range bom.Blobs {
		d := digest.Digest(b.Digest)
		e, ok := held[d]
		switch {
		case listed[d]:
			c.add(&Problem{Digest: d, Offset: -1, Err: errors.New("listed twice in the BOM")})
		case !ok:
			c.add(&Problem{Digest: d, Offset: -1, Err: fmt.Errorf("listed in the BOM but not in the bundle: %w", ErrNotFound)})
		case e.Size != b.Size:
			c.add(&Problem{Digest: d, Entry: e.Name, Offset: e.Offset, Err: fmt.Errorf("BOM says %d bytes, bundle holds %d", b.Size, e.Size)})
		}
		listed[d] = true
	}
	for _, e := range r.entries {
		if d := digest.NewDigestFromEncoded(digest.SHA256, path.Base(e.Name)); isBlobName(e.Name) && !listed[d] {
			c.add(&Problem{Digest: d, Entry: e.Name, Offset: e.Offset, Err: errors.New("in the bundle but not listed in the BOM")})
		}
	}
	c.Summary = fmt.Sprintf("%d blobs listed, %d held", len(bom.Blobs), len(held))
}

// checkIndexBOM checks that index.json entries and BOM artifacts match.
func checkIndexBOM(idx ocispec.Index, bom *BOM, c *Check) {
	inIndex := make(map[string]bool)
	labels := rootLabels(idx, bom)
	byDigest := artifactsByDigest(bom)
	for i, m := range idx.Manifests {
		inIndex[m.Digest.String()] = true
		found := byDigest[m.Digest.String()]
		switch {
		case found == nil:
			c.add(&Problem{Digest: m.Digest, Offset: -1, Artifacts: []string{labels[i]}, Err: fmt.Errorf("%s entry has no BOM artifact", IndexName)})
		case found.Size != m.Size || found.MediaType != m.MediaType:
			c.add(&Problem{Digest: m.Digest, Offset: -1, Artifacts: []string{labels[i]}, Err: fmt.Errorf("BOM says %s of %d bytes, %s says %s of %d", found.MediaType, found.Size, IndexName, m.MediaType, m.Size)})
		}
	}
	for _, a := range bom.Artifacts {
		if !inIndex[a.Digest] {
			c.add(&Problem{Digest: digest.Digest(a.Digest), Offset: -1, Artifacts: []string{artifactLabel(a)}, Err: fmt.Errorf("BOM artifact is not in %s", IndexName)})
		}
	}
	c.Summary = fmt.Sprintf("%d index entries, %d BOM artifacts", len(idx.Manifests), len(bom.Artifacts))
}

// hashAll hashes every blob with parallel workers and records failures in
// bundle order.
func hashAll(ctx context.Context, r *Reader, refs map[digest.Digest][]string, skip map[string]bool, opts VerifyOptions, rep *Report) *Check {
	c := newCheck(CheckBlobs)
	var blobs []Entry
	for _, e := range r.entries {
		if isBlobName(e.Name) && !skip[e.Name] {
			blobs = append(blobs, e)
		}
	}
	workers := opts.Concurrency
	if workers <= 0 {
		workers = min(runtime.GOMAXPROCS(0), 4)
	}
	var mu sync.Mutex // serialises Progress
	report := func(ev progress.Event) {
		if opts.Progress != nil {
			mu.Lock()
			defer mu.Unlock()
			opts.Progress(ev)
		}
	}
	var errs []error
	if r.frames == nil {
		// No seek table: every Fetch would decode from the start, so hash
		// all blobs in one sequential pass instead.
		errs = hashSequential(r, blobs, report)
	} else {
		errs = hashParallel(ctx, r, blobs, workers, report)
	}
	for i, e := range blobs {
		d := digest.NewDigestFromEncoded(digest.SHA256, path.Base(e.Name))
		if errs[i] != nil {
			c.add(&Problem{Digest: d, Entry: e.Name, Offset: e.Offset, Artifacts: refs[d], Err: errs[i]})
		}
		rep.Blobs++
		rep.Bytes += e.Size
	}
	c.Summary = fmt.Sprintf("%d blobs, %d bytes", rep.Blobs, rep.Bytes)
	return c
}

func hashParallel(ctx context.Context, r *Reader, blobs []Entry, workers int, report progress.Func) []error {
	errs := make([]error, len(blobs))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				errs[i] = hashBlob(ctx, r, blobs[i], report)
			}
		})
	}
	for i := range blobs {
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return errs
}

// hashSequential hashes blobs in one pass over the tar stream.
func hashSequential(r *Reader, blobs []Entry, report progress.Func) []error {
	errs := make([]error, len(blobs))
	pos := make(map[string]int, len(blobs))
	for i, e := range blobs {
		pos[e.Name] = i
		errs[i] = fmt.Errorf("not reached by the sequential scan: %w", ErrNotFound)
	}
	rr, err := r.openRange(0, -1)
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	defer rr.Close()
	_, _, err = scanEntries(rr, func(e Entry, data io.Reader) error {
		i, ok := pos[e.Name]
		if !ok {
			return nil
		}
		desc := ocispec.Descriptor{Digest: digest.NewDigestFromEncoded(digest.SHA256, path.Base(e.Name)), Size: e.Size}
		pw := &progressWriter{ev: progress.Event{Kind: progress.Bytes, Name: e.Name, Descriptor: desc, Total: e.Size}, fn: report}
		errs[i] = checkBlobData(e, io.TeeReader(data, pw))
		report(progress.Event{Kind: progress.BlobVerified, Name: e.Name, Descriptor: desc, Done: e.Size, Total: e.Size, Err: errs[i]})
		return nil
	})
	if err != nil {
		for i, e := range blobs {
			if errs[i] != nil && errors.Is(errs[i], ErrNotFound) {
				errs[i] = fmt.Errorf("%s: %w", e.Name, err)
			}
		}
	}
	return errs
}

// hashBlob reads blob entry e with its tar header and padding
// (Reader.readEntry proves they are what the TOC says) and hashes its data.
func hashBlob(ctx context.Context, r *Reader, e Entry, report progress.Func) error {
	desc := ocispec.Descriptor{Digest: digest.NewDigestFromEncoded(digest.SHA256, path.Base(e.Name)), Size: e.Size}
	err := ctx.Err()
	if err == nil {
		err = r.readEntry(e, func(data io.Reader) error {
			pw := &progressWriter{ev: progress.Event{Kind: progress.Bytes, Name: e.Name, Descriptor: desc, Total: e.Size}, fn: report}
			return checkBlobData(e, io.TeeReader(&ctxReader{ctx: ctx, r: data}, pw))
		})
	}
	var fe *FormatError
	if errors.As(err, &fe) {
		err = fe // the problem already names the blob
	}
	report(progress.Event{Kind: progress.BlobVerified, Name: e.Name, Descriptor: desc, Done: e.Size, Total: e.Size, Err: err})
	return err
}

// progressWriter discards bytes and reports how many went by.
type progressWriter struct {
	ev progress.Event
	fn progress.Func
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.ev.N = int64(len(b))
	p.ev.Done += p.ev.N
	p.fn(p.ev)
	return len(b), nil
}

// ctxReader stops a long read when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
