// Package resolve turns a MeshBundle spec into a lock: it picks the exact,
// mutually compatible Istio + Kiali + Gateway API set from the catalog,
// downloads the charts, discovers every image by rendering them (plus the
// images istiod injects at run time), cross-checks the catalog, and pins
// every image to its digests, every chart and file to its sha256.
package resolve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/render"
	"github.com/lattice-mesh/meshpack/progress"
	"github.com/lattice-mesh/meshpack/remote"
)

// Options configures Resolve. The zero value uses the embedded catalog and
// talks to the real upstream locations.
type Options struct {
	// Catalog is the version catalog; nil means manifests.DefaultCatalog.
	Catalog *manifests.Catalog
	// Client fetches from upstream (mirrors, credentials, TLS); nil means a
	// client with default options and the spec's mirrors. A given Client is
	// used as is: the spec's mirrors are not added to it.
	Client *remote.Client
	// AllowUnsupported turns compatibility violations into notes, and lets
	// an Istio minor the catalog does not know resolve with the rules of
	// the nearest known minor (the lock is marked unsupported).
	AllowUnsupported bool
	// Discover resolves a bare Istio minor ("1.30") to the newest patch
	// upstream publishes completely — in the minor's chart index and with
	// every needed image tag — instead of the catalog's newest patch; the
	// minor's catalog rules still apply. An exact version stays exact.
	// The zero value keeps the catalog's choice, which is reproducible.
	// Either way the lock records where the choice came from
	// (ResolvedSet.ResolvedFrom).
	Discover bool
	// Concurrency bounds parallel registry requests; default 8.
	Concurrency int
	// Logger receives progress lines; nil discards.
	Logger *slog.Logger
	// Progress, when set, receives a progress.Pinned event for each pinned
	// artifact: ArtifactKind "chart", "image" or "file"; Name the chart name
	// and version, image reference or file URL; Descriptor.Digest what it
	// was pinned to. It must not block, and it may be called from several
	// goroutines at once.
	Progress progress.Func
}

// ErrIncompatible is matched by errors about a version set that breaks the
// catalog's compatibility rules.
var ErrIncompatible = errors.New("incompatible version set")

// IncompatibleError lists every broken rule; each message names both versions.
type IncompatibleError struct {
	Violations []manifests.Violation
	// EndOfLife, when set, says the Istio minor is past its end of life.
	EndOfLife string
}

// Error lists every broken rule and names the option that overrides them.
func (e *IncompatibleError) Error() string {
	msgs := make([]string, 0, len(e.Violations))
	for _, v := range e.Violations {
		msgs = append(msgs, v.Message)
	}
	eol := ""
	if e.EndOfLife != "" {
		eol = "; " + e.EndOfLife + ", so a newer minor is the better fix"
	}
	return "incompatible version set: " + strings.Join(msgs, "; ") + eol + " (the catalog's compatibility rules; Options.AllowUnsupported overrides them)"
}

// Unwrap makes errors.Is(err, ErrIncompatible) work.
func (e *IncompatibleError) Unwrap() error { return ErrIncompatible }

// resolver carries one Resolve call's state.
type resolver struct {
	opts   Options
	cat    *manifests.Catalog
	c      *remote.Client
	log    *slog.Logger
	lock   *manifests.Lock
	images map[string]*imageRequest // by canonical reference
	index  indexCache               // chart repository indexes, each read once
}

// Resolve pins spec to a lock. It contacts upstream (through the client's
// mirrors) for chart indexes, charts, files and image digests.
func Resolve(ctx context.Context, spec manifests.Spec, opts Options) (*manifests.Lock, error) {
	s := spec
	s.Normalize()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	r, err := newResolver(opts, s.Mirrors)
	if err != nil {
		return nil, err
	}
	s.Mirrors = nil // a lock names canonical sources only
	r.lock = &manifests.Lock{APIVersion: manifests.APIVersion, Kind: manifests.LockKind, Spec: s}
	plan, err := r.pickSet(ctx, &s)
	if err != nil {
		return nil, err
	}
	if err := r.pinMesh(ctx, &s, plan); err != nil {
		return nil, err
	}
	if err := r.pinUserContent(ctx, &s); err != nil {
		return nil, err
	}
	for _, ref := range s.ExtraImages {
		if err := r.addExtraImage(ref); err != nil {
			return nil, err
		}
	}
	if err := r.pinImages(ctx, s.Platforms); err != nil {
		return nil, err
	}
	r.lock.Sort()
	if err := r.lock.Validate(); err != nil {
		return nil, fmt.Errorf("resolved lock is invalid (a meshpack bug; please report it): %w", err)
	}
	return r.lock, nil
}

func newResolver(opts Options, mirrors manifests.Mirrors) (*resolver, error) {
	r := &resolver{opts: opts, cat: opts.Catalog, c: opts.Client, log: opts.Logger, images: map[string]*imageRequest{}, index: indexCache{}}
	if r.cat == nil {
		cat, err := manifests.DefaultCatalog()
		if err != nil {
			return nil, err
		}
		r.cat = cat
	}
	if r.c == nil {
		c, err := remote.New(remote.Options{Mirrors: mirrors, Logger: opts.Logger})
		if err != nil {
			return nil, err
		}
		r.c = c
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.opts.Concurrency <= 0 {
		r.opts.Concurrency = 8
	}
	return r, nil
}

// pinMesh fetches and renders the Istio and Kiali charts, collects their
// images and pins the Gateway API file.
func (r *resolver) pinMesh(ctx context.Context, s *manifests.Spec, plan setPlan) error {
	cache := r.index
	if plan.istio.Release != nil {
		if err := r.pinIstio(ctx, s, plan.istio, cache); err != nil {
			return err
		}
	}
	if plan.kiali != nil {
		if err := r.pinKiali(ctx, *plan.kiali, cache); err != nil {
			return err
		}
		if err := r.pinPrometheus(ctx, s, r.lock.Set.Istio); err != nil {
			return err
		}
	}
	if plan.istio.Release != nil {
		if err := r.pinIstioctl(ctx, plan.istio.Version, s.Istio.Istioctl); err != nil {
			return err
		}
	}
	if plan.gateway != nil {
		return r.pinGatewayAPI(ctx, *plan.gateway)
	}
	return nil
}

func (r *resolver) pinKiali(ctx context.Context, kr manifests.KialiResolution, cache indexCache) error {
	fc, err := fetchHTTPChart(ctx, r.c, cache, kr.ChartRepo, kr.Chart, kr.Version, kr.ChartDigest)
	if err != nil {
		return err
	}
	r.addChart(fc.locked)
	ch, err := render.LoadChartArchive(bytes.NewReader(fc.tgz))
	if err != nil {
		return fmt.Errorf("chart %s %s from %s: %w", kr.Chart, kr.Version, fc.locked.Source, err)
	}
	imgs, err := render.DiscoverKialiImages(ch, kr.Version)
	if err != nil {
		return err
	}
	for _, img := range imgs {
		r.addImage("kiali", img.Reference, img.Components, "")
	}
	if !r.hasImage(kr.Image) {
		r.note(fmt.Sprintf("kiali-server %s renders %s, not the catalog's %s; the rendered image is carried", kr.Version, imageNames(imgs), kr.Image))
	}
	return nil
}

func (r *resolver) pinGatewayAPI(ctx context.Context, gr manifests.GatewayAPIResolution) error {
	data, sum, err := download(ctx, r.c, gr.URL, maxFileBytes)
	if err != nil {
		return fmt.Errorf("gateway-api %s %s: %w", gr.Version, gr.Name, err)
	}
	pinned := manifests.PinnedResolved
	if gr.Digest != "" {
		if !strings.EqualFold(strings.TrimPrefix(gr.Digest, "sha256:"), sum) {
			return fmt.Errorf("gateway-api %s %s: %s has sha256 %s but the catalog pins %s", gr.Version, gr.Name, gr.URL, sum, gr.Digest)
		}
		pinned = manifests.PinnedCatalog
	}
	lf := manifests.LockedFile{
		Name: gr.Name, Component: "gateway-api", Version: gr.Version, Source: gr.URL,
		Digest: "sha256:" + sum, Size: int64(len(data)), MediaType: "application/yaml", Pinned: pinned,
	}
	r.lock.Files = append(r.lock.Files, lf)
	r.pinned("file", gr.URL, ocispec.Descriptor{MediaType: lf.MediaType, Digest: digest.Digest(lf.Digest), Size: lf.Size})
	return nil
}

func (r *resolver) addChart(lc manifests.LockedChart) {
	r.lock.Charts = append(r.lock.Charts, lc)
	r.pinned("chart", lc.Name+" "+lc.Version, ocispec.Descriptor{Digest: digest.Digest(lc.Digest)})
}

// pinned reports artifact name of kind kind ("file", "chart", "image")
// pinned to desc.
func (r *resolver) pinned(kind, name string, desc ocispec.Descriptor) {
	r.opts.Progress.Emit(progress.Event{Kind: progress.Pinned, ArtifactKind: kind, Name: name, Descriptor: desc})
}

// pinImages resolves every collected image in parallel.
func (r *resolver) pinImages(ctx context.Context, platforms []string) error {
	reqs := make([]*imageRequest, 0, len(r.images))
	for _, req := range r.images {
		reqs = append(reqs, req)
	}
	out := make([]manifests.LockedImage, len(reqs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opts.Concurrency)
	for i, req := range reqs {
		g.Go(func() error {
			li, err := resolveImage(gctx, r.c, *req, platforms)
			if err != nil {
				return err
			}
			out[i] = li
			r.pinned("image", li.Reference, ocispec.Descriptor{MediaType: li.MediaType, Digest: digest.Digest(li.Digest), Size: li.Size})
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	r.lock.Images = append(r.lock.Images, out...)
	return nil
}

func (r *resolver) note(notes ...string) {
	for _, n := range notes {
		r.log.Info("note", "detail", n)
		r.lock.Notes = append(r.lock.Notes, n)
	}
}
