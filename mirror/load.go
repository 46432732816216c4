package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/progress"
	"github.com/lattice-mesh/meshpack/remote"
	"github.com/lattice-mesh/meshpack/signing"
)

// Path modes of LoadOptions.PathMode.
const (
	// PathKeep maps docker.io/istio/pilot to HOST/PREFIX/istio/pilot.
	PathKeep = "keep"
	// PathFlatten maps docker.io/istio/pilot to HOST/PREFIX/istio-pilot, for
	// registries that limit repository nesting.
	PathFlatten = "flatten"
)

// DefaultLoadConcurrency is how many blobs Load uploads at once by default.
// Measured against the embedded registry and Debian's docker-registry on
// loopback: the registry (hashing, writing) is the bottleneck, and six
// uploads keep it busy while one waits on a round trip.
const DefaultLoadConcurrency = 6

// DefaultChunkSize is the PATCH size used when a registry refuses a
// monolithic upload (HTTP 413, 405, 411 or 501) and ChunkSize is unset.
const DefaultChunkSize = 8 << 20

// LoadOptions configures Load. Key (or an explicit AllowUnsigned or
// SkipVerify) is required: the zero value otherwise refuses with ErrNoKey.
// The rest defaults to pushing over HTTPS with docker config credentials,
// DefaultLoadConcurrency uploads at a time, monolithic uploads with a
// chunked fallback, repository paths kept, no upload journal, blobs of at
// most DefaultMaxBlobSize and no total cap.
type LoadOptions struct {
	// Client talks to the registry (TLS, credentials, plain HTTP, retries of
	// single requests, stall deadlines: remote.Options.StallTimeout and
	// ResponseTimeout); nil means remote.New(remote.Options{}). Load probes
	// the registry once through it (GET /v2/) before any other work.
	Client *remote.Client
	// Key verifies the BOM signature and the signature of every image before
	// anything is pushed.
	Key signing.Verifier
	// AllowUnsigned loads without a Key: blob digests and the bundle's
	// structure are still verified, signatures are not (anyone could have
	// built the bundle). Without Key, AllowUnsigned or SkipVerify, Load
	// refuses with ErrNoKey before reading the bundle.
	AllowUnsigned bool
	// SkipVerify pushes without verifying the bundle first. Blob digests are
	// still checked while they stream (by the bundle reader and by the
	// registry), but a bundle that is not what its signer made is loaded.
	// Callers must warn loudly.
	SkipVerify bool
	// Concurrency is how many blobs are uploaded at once; default
	// DefaultLoadConcurrency.
	Concurrency int
	// PathMode is PathKeep (default) or PathFlatten.
	PathMode string
	// ChunkSize, when positive, uploads every blob in PATCH chunks of this
	// size (OCI chunked upload). Zero uploads each blob in one PUT and
	// switches to chunks of DefaultChunkSize for the rest of the run when
	// the registry refuses that.
	ChunkSize int64
	// StateDir, when set, keeps a journal of in-flight uploads there
	// (load-<hash of the target>.journal, removed after a complete load),
	// so that a re-run after an interruption continues each interrupted
	// upload from the byte the registry already has instead of starting the
	// blob again. Empty: no journal; a re-run still skips every complete
	// blob.
	StateDir string
	// Retries is how often one blob upload is retried after a 5xx, a
	// connection reset or a timeout (continuing from what the registry has
	// when it can); default 5. Single requests are also retried by the
	// client's transport.
	Retries int
	// Backoff is the first pause before a retry; it doubles. Default 500ms.
	// An attempt that stalls (remote.ErrStalled) is tried once more without
	// a pause; a second stall fails the load.
	Backoff time.Duration
	// MaxBlobSize refuses, before anything is pushed, a bundle with a blob
	// larger than this (per the BOM's blob list and the manifests'
	// descriptors). Zero means DefaultMaxBlobSize (64 GiB); negative means
	// no cap.
	MaxBlobSize int64
	// MaxTotalSize, when positive, also refuses a bundle whose blobs
	// together are larger. Zero means no total cap: the bundle's own size
	// bounds it, and MaxBlobSize bounds each blob.
	MaxTotalSize int64
	// Logger receives progress lines; nil discards.
	Logger *slog.Logger
	// Progress, when set, receives load events; it must not block, and it
	// may be called from several goroutines at once. Planned carries Total
	// (each blob once) and Blobs; Bytes, bytes sent; BlobSkipped, a blob
	// the registry already had, with N the bytes not sent (the blob's size,
	// or the part of an interrupted upload the registry kept); BlobDone, a
	// blob complete in every repository; ArtifactDone, an artifact pushed
	// and tagged.
	Progress progress.Func
	// VerifyProgress, when set, receives the verification pass's events
	// (see VerifyOptions.Progress).
	VerifyProgress progress.Func
	// OnExistingTag says what to do with a tag the registry already has on
	// another digest: TagFail ("", the default), TagSkip or TagOverwrite.
	// Every tag is checked after planning and before the first push.
	OnExistingTag string
	// DryRun verifies, plans and asks the registry (HEAD and GET only) what
	// a load would push, mount, skip and retag, and reports it in
	// LoadResult.Plan without writing anything.
	DryRun bool
}

// LoadResult summarises a Load. Blob counts are per repository (a layer
// shared by two images is one upload and one mount); bytes are what moved.
type LoadResult struct {
	// Bundle is the loaded bundle's id (BundleID), recorded in the
	// registry's RecordRepository once everything is loaded.
	Bundle string `json:"bundle,omitempty"`
	// Target is HOST[:PORT][/PREFIX] as given.
	Target string `json:"target"`
	// Verified says what was checked before pushing: VerifiedSigned,
	// VerifiedUnsigned or VerifiedSkipped.
	Verified string `json:"verified"`
	// BlobsPushed were uploaded, BlobsSkipped already present, BlobsMounted
	// mounted from another repository of the target.
	BlobsPushed  int `json:"blobsPushed"`
	BlobsSkipped int `json:"blobsSkipped"`
	BlobsMounted int `json:"blobsMounted"`
	// BytesPushed were sent in upload bodies (retries included);
	// BytesSkipped are the sizes of skipped blobs; BytesMounted of mounted
	// ones; BytesResumed were not sent again because the registry kept them
	// from an interrupted upload.
	BytesPushed  int64 `json:"bytesPushed"`
	BytesSkipped int64 `json:"bytesSkipped"`
	BytesMounted int64 `json:"bytesMounted"`
	BytesResumed int64 `json:"bytesResumed"`
	// UploadsResumed counts interrupted uploads continued.
	UploadsResumed int `json:"uploadsResumed"`
	// ManifestsPushed and ManifestsSkipped count manifests and indexes by
	// digest; TagsPushed and TagsSkipped count tags set or already right.
	ManifestsPushed  int `json:"manifestsPushed"`
	ManifestsSkipped int `json:"manifestsSkipped"`
	TagsPushed       int `json:"tagsPushed"`
	TagsSkipped      int `json:"tagsSkipped"`
	// Duration is the wall time, verification included; VerifyDuration the
	// verification alone.
	Duration       time.Duration `json:"durationNanos"`
	VerifyDuration time.Duration `json:"verifyDurationNanos"`
	// Artifacts are every image, chart, file and signature with where it now
	// lives, in BOM order (a tag left elsewhere by TagSkip is not in its
	// Reference).
	Artifacts []LoadedArtifact `json:"artifacts"`
	// TagConflicts are the tags that pointed at other digests, with what
	// was done (LoadOptions.OnExistingTag).
	TagConflicts []TagConflict `json:"tagConflicts,omitempty"`
	// DryRun says nothing was written; Plan is what a load would do.
	DryRun bool             `json:"dryRun,omitempty"`
	Plan   *LoadPlanSummary `json:"plan,omitempty"`
}

// LoadedArtifact is one artifact at the target.
type LoadedArtifact struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Source string `json:"source,omitempty"`
	// Repository is HOST/PREFIX/path, e.g. 127.0.0.1:5000/mesh/istio/pilot.
	Repository string `json:"repository"`
	Tag        string `json:"tag,omitempty"`
	Digest     string `json:"digest"`
	// Reference is Repository:Tag@Digest (Repository@Digest without a tag).
	Reference string `json:"reference"`
	// Platforms are the per-platform manifests of an image.
	Platforms []bundle.Platform `json:"platforms,omitempty"`
	// Subject is the digest a signature signs.
	Subject string `json:"subject,omitempty"`
}

// Load copies a bundle into the OCI registry at target, HOST[:PORT] or
// HOST[:PORT]/PREFIX (a target with credentials, user:pw@host, is refused
// with ErrCredentialsInTarget and a message that does not repeat them).
//
// Before anything is pushed, in this order, Load checks every repository
// path and tag against the OCI distribution-spec grammar (ErrInvalidName,
// listing all that fail) and the BOM's blob sizes against MaxBlobSize and
// MaxTotalSize (ErrTooLarge); probes the registry once with GET /v2/,
// failing fast when it is unreachable or silent (within the client's stall
// timeout), wants credentials and none are configured, or refuses them
// (ErrUnauthorized); unless SkipVerify is set, verifies the bundle
// completely with Verify (every blob digest, with Key the BOM and image
// signatures); and plans the push, reading each manifest once and placing
// each manifest and blob once per repository, with the caps applied again
// to the manifests' descriptors.
//
// Blobs stream from the bundle's random-access reader straight into the
// registry, Concurrency at a time, with no extraction and memory bounded by
// a few frames per upload. Before each upload a HEAD asks whether the
// repository has the blob; a blob pushed to another repository in this run
// (or found in one) is mounted instead (POST ?mount=&from=), falling back to
// an upload. A failed upload is retried with backoff and continued from the
// byte the registry reports (GET upload status, PATCH from there) when it
// can, else restarted. Manifests and indexes go after their blobs, children
// first, byte for byte (digests preserved), by digest and then by the tag
// the BOM names; signatures go to their image's repository under
// sha256-<hex>.sig, charts to PREFIX/charts/<name>:<version>, files to
// PREFIX/files/<component>:<tag>. Every manifest and tag is confirmed by a
// GET whose bytes must hash to the digest; a registry that says it has a
// blob (HEAD) and then refuses a manifest for lacking it, or accepts a
// manifest it does not serve back, fails the load with
// ErrRegistryInconsistent instead of a success report.
//
// After planning and before the first write, Load resolves every tag the
// bundle sets (GET by tag): one that points at another digest is a
// conflict, handled by OnExistingTag (by default the load is refused with a
// *TagConflictError listing every conflict) and listed in
// LoadResult.TagConflicts. With DryRun, Load stops there and reports in
// LoadResult.Plan what it would push, mount, skip and retag.
//
// Re-running after any interruption completes the load and sends little
// again: present blobs and manifests are skipped, and with StateDir set,
// interrupted uploads continue. On error the result holds what was done so
// far and the error names the artifact or blob; nothing reported as loaded
// is missing.
func Load(ctx context.Context, r *bundle.Reader, target string, opts LoadOptions) (*LoadResult, error) {
	start := time.Now()
	l, err := newLoader(r, target, opts)
	if err != nil {
		return nil, err
	}
	res := &LoadResult{Target: target}
	bom, err := r.BOM()
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", target, err)
	}
	if err := l.preflight(ctx, bom); err != nil {
		return res, err
	}
	verifyStart := time.Now()
	res.Verified, err = l.verify(ctx)
	res.VerifyDuration = time.Since(verifyStart)
	if err != nil {
		return res, err
	}
	p, err := l.plan(ctx, bom)
	if err == nil {
		err = l.checkPlanSizes(p)
	}
	if err != nil {
		return res, err
	}
	res.Artifacts = p.loaded(l.t)
	if done, err := l.prepush(ctx, p, bom.Base, res); done {
		res.Duration = time.Since(start)
		return res, err
	}
	l.opts.Progress.Emit(progress.Event{Kind: progress.Planned, Total: p.totalBytes, Blobs: len(p.blobs)})
	err = l.run(ctx, p)
	if err == nil {
		err = l.linkReferrers(ctx, bom)
	}
	if err == nil {
		res.Bundle, err = l.record(ctx)
	}
	l.stats.fill(res)
	res.TagConflicts = append(res.TagConflicts, l.late...)
	res.Duration = time.Since(start)
	return res, err
}

// record leaves the record of the bundle (its BOM and signature) in the
// registry, which registry list and bundle unload read.
func (l *loader) record(ctx context.Context) (string, error) {
	bomJSON, err := l.r.File(bundle.BOMName)
	if err != nil {
		return "", err
	}
	sig, _ := l.r.File(bundle.BOMSigName) // absent in an unsigned bundle
	var chunk int64
	if l.chunked.Load() {
		chunk = max(l.chunkSize.Load(), 1)
	}
	return writeRecord(ctx, l.c, l.t, bomJSON, sig, chunk)
}

// loader carries one Load call's state.
type loader struct {
	r       *bundle.Reader
	t       target
	opts    LoadOptions
	c       *remote.Client
	log     *slog.Logger
	journal *journal
	stats   loadStats
	// chunked switches every upload to PATCH chunks of chunkSize.
	chunked   atomic.Bool
	chunkSize atomic.Int64
	// repos caches one repository client per path.
	reposMu sync.Mutex
	repos   map[string]*remote.Repository
	// headSaid holds "path@digest" for every blob a HEAD said exists.
	headSaid sync.Map
	// late are tag conflicts found only when setting the tag (TagSkip).
	lateMu sync.Mutex
	late   []TagConflict
}

func newLoader(r *bundle.Reader, target string, opts LoadOptions) (*loader, error) {
	t, err := parseTarget(target, opts.PathMode)
	if err != nil {
		return nil, err
	}
	if opts.Key == nil && !opts.AllowUnsigned && !opts.SkipVerify {
		return nil, fmt.Errorf("load refused, nothing was pushed: %w", ErrNoKey)
	}
	if opts.OnExistingTag, err = checkTagPolicy(opts.OnExistingTag); err != nil {
		return nil, err
	}
	l := &loader{r: r, t: t, opts: opts, c: opts.Client, log: discard(opts.Logger), repos: map[string]*remote.Repository{}}
	if l.c == nil {
		if l.c, err = remote.New(remote.Options{}); err != nil {
			return nil, err
		}
	}
	if l.opts.Concurrency <= 0 {
		l.opts.Concurrency = DefaultLoadConcurrency
	}
	if l.opts.Retries <= 0 {
		l.opts.Retries = remote.DefaultRetries
	}
	if l.opts.Backoff <= 0 {
		l.opts.Backoff = remote.DefaultBackoff
	}
	if opts.ChunkSize < 0 {
		return nil, fmt.Errorf("chunk size %d: want 0 (monolithic uploads) or a positive size", opts.ChunkSize)
	}
	if opts.ChunkSize > 0 {
		l.chunked.Store(true)
		l.chunkSize.Store(opts.ChunkSize)
	} else {
		l.chunkSize.Store(DefaultChunkSize)
	}
	return l, nil
}

// verify runs the offline verification unless it is skipped, and says what
// was checked.
func (l *loader) verify(ctx context.Context) (string, error) {
	if l.opts.SkipVerify {
		l.log.Warn("bundle verification SKIPPED: loading without checking signatures or digests first")
		return VerifiedSkipped, nil
	}
	vo := VerifyOptions{Key: l.opts.Key, AllowUnsigned: l.opts.AllowUnsigned, Progress: l.opts.VerifyProgress}
	if _, err := Verify(ctx, l.r, vo); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if !errors.Is(err, ErrVerify) {
			err = fmt.Errorf("%w: %w", ErrVerify, err)
		}
		return "", fmt.Errorf("load refused, nothing was pushed: %w", err)
	}
	if l.opts.Key == nil {
		return VerifiedUnsigned, nil
	}
	return VerifiedSigned, nil
}

// run pushes every blob, then every manifest and tag.
func (l *loader) run(ctx context.Context, p *loadPlan) error {
	if l.opts.StateDir != "" {
		j, err := openJournal(l.opts.StateDir, l.t.String(), l.log)
		if err != nil {
			return err
		}
		l.journal = j
		defer j.close()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(l.opts.Concurrency)
	for _, b := range p.blobs {
		g.Go(func() error { return l.loadBlob(gctx, b) })
	}
	if err := g.Wait(); err != nil {
		return l.wrapRunErr(ctx, err)
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(l.opts.Concurrency)
	for _, a := range p.artifacts {
		g.Go(func() error { return l.pushArtifact(gctx, a) })
	}
	if err := g.Wait(); err != nil {
		return l.wrapRunErr(ctx, err)
	}
	if l.journal != nil {
		l.journal.finish()
	}
	return nil
}

// wrapRunErr tells the user that a re-run continues where this one stopped.
func (l *loader) wrapRunErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return fmt.Errorf("load into %s interrupted; the registry is incomplete, re-run the same load to finish it: %w", l.t, ctx.Err())
	}
	return fmt.Errorf("load into %s failed; the registry is incomplete, fix the cause and re-run the same load to finish it: %w", l.t, err)
}
