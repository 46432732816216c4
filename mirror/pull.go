package mirror

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/progress"
	"github.com/lattice-mesh/meshpack/remote"
	"github.com/lattice-mesh/meshpack/signing"
)

// PullResult summarises a Pull.
type PullResult struct {
	// Artifacts counts images, charts, files and signatures.
	Artifacts int
	// Blobs and Bytes count what was written (each blob once).
	Blobs int
	Bytes int64
	// BOM is what was written to meshpack/bom.json.
	BOM *bundle.BOM
	// CachedBlobs and CachedBytes came from PullOptions.Cache instead of
	// the network.
	CachedBlobs int
	CachedBytes int64
}

// puller carries one Pull call's state.
type puller struct {
	opts      PullOptions
	c         *remote.Client
	log       *slog.Logger
	platforms []string
	policy    string
	// lookups bounds the referrer lookups in flight over all images
	// (2 × Concurrency): each is one small round trip.
	lookups chan struct{}
}

// Pull copies everything lock pins from upstream into w: it first fetches
// every manifest by the digest the lock pins, verifies upstream signatures
// per policy and signs every image manifest (all in memory, small), writes
// the metadata (oci-layout, index.json, BOM, its signature, the lock), then
// streams every config, layer and file straight into the bundle, with
// Concurrency requests at once filling a fixed set of chunk buffers in
// bundle order (large blobs as parallel byte ranges; see prefetch). It does
// not close w.
func Pull(ctx context.Context, lock *manifests.Lock, w *bundle.Writer, opts PullOptions) (*PullResult, error) {
	pl, err := newPuller(lock, opts)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	p, err := pl.plan(ctx, lock)
	if err != nil {
		return nil, err
	}
	pl.log.Debug("planned", "artifacts", len(p.artifacts), "inMemoryBlobs", len(p.small), "streamedBlobs", len(p.streamed), "streamedBytes", p.streamedBytes(), "elapsed", time.Since(start))
	cached, cachedBytes := pl.useCache(p)
	bom, err := pl.writeMetadata(ctx, w, lock, p)
	if err != nil {
		return nil, err
	}
	if err := pl.writeBlobs(ctx, w, p); err != nil {
		return nil, err
	}
	pl.log.Debug("blobs written", "elapsed", time.Since(start))
	res := &PullResult{Artifacts: len(p.artifacts), Blobs: len(bom.Blobs), BOM: bom, CachedBlobs: cached, CachedBytes: cachedBytes}
	for _, b := range bom.Blobs {
		res.Bytes += b.Size
	}
	return res, nil
}

// useCache points every streamed blob the cache holds at its cached copy
// and has the others saved there as they download.
func (pl *puller) useCache(p *plan) (int, int64) {
	c := pl.opts.Cache
	if c == nil {
		return 0, 0
	}
	var n int
	var size int64
	for i, it := range p.streamed {
		if open, ok := c.lookup(it.desc); ok {
			p.streamed[i].open, p.streamed[i].openRange = open, nil
			n++
			size += it.desc.Size
			continue
		}
		p.streamed[i].cache = c
	}
	pl.log.Debug("blob cache", "dir", c.Dir, "hits", n, "bytes", size)
	return n, size
}

func newPuller(lock *manifests.Lock, opts PullOptions) (*puller, error) {
	if opts.Signer == nil && !opts.AllowUnsigned {
		return nil, ErrNoSigner
	}
	pl := &puller{opts: opts, c: opts.Client, log: discard(opts.Logger), platforms: opts.Platforms, policy: opts.VerifyUpstream}
	switch pl.policy {
	case "":
		pl.policy = VerifyRequired
	case VerifyRequired, VerifyIfSigned, VerifyOff:
	default:
		return nil, fmt.Errorf("upstream verification policy %q: want %s, %s or %s", pl.policy, VerifyRequired, VerifyIfSigned, VerifyOff)
	}
	if pl.platforms == nil {
		pl.platforms = lock.Spec.Platforms
	}
	if pl.c == nil {
		c, err := remote.New(remote.Options{})
		if err != nil {
			return nil, err
		}
		pl.c = c
	}
	if pl.opts.Concurrency <= 0 {
		pl.opts.Concurrency = DefaultPullConcurrency
	}
	pl.lookups = make(chan struct{}, 2*pl.opts.Concurrency)
	return pl, nil
}

// plan fetches every manifest (Concurrency images at once), checks and signs, and lays out
// the bundle content in a stable order: images, charts, files.
func (pl *puller) plan(ctx context.Context, lock *manifests.Lock) (*plan, error) {
	imgs := make([]*pulledImage, len(lock.Images))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(pl.opts.Concurrency)
	for i, li := range lock.Images {
		g.Go(func() error {
			img, err := pl.planImage(gctx, li)
			imgs[i] = img
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	p := newPlan()
	for _, img := range imgs {
		if err := pl.addImage(ctx, p, img); err != nil {
			return nil, err
		}
	}
	for _, lc := range lock.Charts {
		if err := pl.planChart(ctx, p, lc); err != nil {
			return nil, err
		}
	}
	for _, lf := range lock.Files {
		if err := pl.planFile(p, lf); err != nil {
			return nil, err
		}
	}
	if base := pl.opts.Base; base != nil {
		kept := p.streamed[:0]
		for _, it := range p.streamed {
			if !base.Blobs[it.desc.Digest.String()] {
				kept = append(kept, it)
			}
		}
		pl.log.Debug("incremental", "base", base.ID, "leftToBase", len(p.streamed)-len(kept))
		p.streamed = kept
	}
	var total int64
	for _, b := range p.blobs() {
		total += b.Size
	}
	pl.opts.Progress.Emit(progress.Event{Kind: progress.Planned, Total: total, Blobs: len(p.small) + len(p.streamed)})
	return p, nil
}

// writeMetadata writes oci-layout, index.json, the BOM (+ signature) and the lock.
func (pl *puller) writeMetadata(ctx context.Context, w *bundle.Writer, lock *manifests.Lock, p *plan) (*bundle.BOM, error) {
	sbomFiles, err := pl.addSBOM(ctx, lock, p) // before index.json: it adds the SBOM referrers
	if err != nil {
		return nil, err
	}
	specJSON, err := json.Marshal(lock.Spec)
	if err != nil {
		return nil, err
	}
	lockJSON, err := json.Marshal(lock)
	if err != nil {
		return nil, err
	}
	lockYAML, err := lock.Marshal()
	if err != nil {
		return nil, err
	}
	created := pl.opts.Created
	if created.IsZero() {
		created = time.Now().UTC().Truncate(time.Second)
	}
	index := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: p.index}
	index.SchemaVersion = 2
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return nil, err
	}
	layoutJSON := []byte(bundle.OCILayoutJSON)
	progs, err := hashPrograms(pl.opts.Programs)
	if err != nil {
		return nil, err
	}
	bom := &bundle.BOM{
		SchemaVersion: bundle.BOMSchemaVersion, Tool: pl.opts.Tool, Created: created,
		Spec: specJSON, Lock: lockJSON, Set: setSummary(lock.Set), Platforms: pl.platforms,
		Signed: pl.opts.Signer != nil, Artifacts: p.artifacts, Blobs: p.blobs(),
		Files: []bundle.MetadataFile{
			bundle.MetadataOf(bundle.OCILayoutName, layoutJSON),
			bundle.MetadataOf(bundle.IndexName, indexJSON),
			bundle.MetadataOf(bundle.LockName, lockYAML),
		},
	}
	bom.Files = append(bom.Files, programFiles(progs)...)
	bom.Files = append(bom.Files, sbomFiles.records()...)
	if !bom.Signed {
		bom.Unsigned = UnsignedAllowed
	}
	if pl.opts.Base != nil {
		bom.Base = pl.opts.Base.ID
	}
	bomJSON, err := json.MarshalIndent(bom, "", "  ")
	if err != nil {
		return nil, err
	}
	type entry struct {
		name string
		data []byte
	}
	files := []entry{
		{bundle.OCILayoutName, layoutJSON},
		{bundle.IndexName, indexJSON},
		{bundle.BOMName, bomJSON},
	}
	if pl.opts.Signer != nil {
		sig, err := signing.SignBlob(ctx, pl.opts.Signer, bomJSON)
		if err != nil {
			return nil, fmt.Errorf("sign %s: %w", bundle.BOMName, err)
		}
		files = append(files, entry{bundle.BOMSigName, sig})
	}
	files = append(files, entry{bundle.LockName, lockYAML})
	for _, f := range sbomFiles {
		files = append(files, entry{f.name, f.data})
	}
	for _, f := range files {
		if err := w.AddFile(f.name, f.data); err != nil {
			return nil, err
		}
	}
	if err := writePrograms(ctx, w, progs); err != nil {
		return nil, err
	}
	return bom, nil
}

// writeBlobs writes the in-memory blobs, then streams the rest.
func (pl *puller) writeBlobs(ctx context.Context, w *bundle.Writer, p *plan) error {
	for _, b := range p.small {
		if err := w.Push(ctx, b.desc, bytes.NewReader(b.data)); err != nil {
			return fmt.Errorf("write %s: %w", b.desc.Digest, err)
		}
		pl.opts.Progress.Emit(progress.Event{Kind: progress.Bytes, N: b.desc.Size, Descriptor: b.desc})
		pl.opts.Progress.Emit(progress.Event{Kind: progress.BlobDone, Descriptor: b.desc})
	}
	ctx, cancel := context.WithCancel(ctx)
	streams := prefetch(ctx, p.streamed, prefetchOptions{Conns: pl.opts.Concurrency, Retries: 4})
	defer func() {
		// Stop the downloads and close what was not consumed, so cache
		// copies are settled (kept for a re-run) and their locks dropped.
		cancel()
		for s := range streams {
			s.r.Close()
		}
	}()
	for s := range streams {
		r := &countingReader{r: s.r, desc: s.item.desc, report: pl.opts.Progress}
		err := w.Push(ctx, s.item.desc, r)
		s.r.Close()
		if err != nil {
			return fmt.Errorf("%s (%s): %w", s.item.label, s.item.desc.Digest, err)
		}
		r.flush()
		pl.opts.Progress.Emit(progress.Event{Kind: progress.BlobDone, Name: s.item.label, Descriptor: s.item.desc})
	}
	return ctx.Err()
}

// countingReader reports progress in steps of about 1 MiB.
type countingReader struct {
	r       io.Reader
	desc    ocispec.Descriptor
	report  progress.Func
	pending int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.pending += int64(n)
	if c.pending >= 1<<20 {
		c.flush()
	}
	return n, err
}

func (c *countingReader) flush() {
	if c.pending > 0 {
		c.report.Emit(progress.Event{Kind: progress.Bytes, N: c.pending, Descriptor: c.desc})
		c.pending = 0
	}
}

func setSummary(s manifests.ResolvedSet) map[string]string {
	m := map[string]string{}
	add := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	add("istio", s.Istio)
	add("profile", s.Profile)
	for i, v := range s.Variants {
		if i == 0 {
			m["variants"] = v
		} else {
			m["variants"] += "," + v
		}
	}
	add("kiali", s.Kiali)
	add("gatewayAPI", s.GatewayAPI)
	add("gatewayAPIChannel", s.GatewayAPIChannel)
	if s.Kubernetes.Min != "" {
		m["kubernetes"] = s.Kubernetes.Min + "-" + s.Kubernetes.Max
	}
	if s.Unsupported {
		m["unsupported"] = "true"
	}
	return m
}
