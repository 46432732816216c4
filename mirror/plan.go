package mirror

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/lattice-mesh/meshpack/bundle"
)

// plan is everything a bundle will hold, gathered before the first byte is
// written: in-memory blobs (manifests, chart archives, signature blobs) and
// the blobs to stream (configs, layers, files), each once.
type plan struct {
	artifacts []bundle.Artifact
	index     []ocispec.Descriptor
	small     []blobData
	streamed  []fetchItem
	seen      map[digest.Digest]bool
}

func newPlan() *plan { return &plan{seen: map[digest.Digest]bool{}} }

// addSmall records an in-memory blob unless it is already planned.
func (p *plan) addSmall(b blobData) {
	if p.seen[b.desc.Digest] {
		return
	}
	p.seen[b.desc.Digest] = true
	p.small = append(p.small, b)
}

// addStreamed records a blob fetched from f at write time.
func (p *plan) addStreamed(f content.Fetcher, desc ocispec.Descriptor, label string) {
	if p.seen[desc.Digest] {
		return
	}
	p.seen[desc.Digest] = true
	d := ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}
	it := fetchItem{
		desc:  d,
		label: label,
		open:  func(ctx context.Context) (io.ReadCloser, error) { return f.Fetch(ctx, d) },
	}
	if rf, ok := f.(rangeFetcher); ok {
		it.openRange = func(ctx context.Context, off, n int64) (io.ReadCloser, error) { return rf.FetchRange(ctx, d, off, n) }
		it.rangeKey = rf.RangeKey()
	}
	p.streamed = append(p.streamed, it)
}

// rangeFetcher is a source that serves byte ranges of its blobs
// (remote.Repository).
type rangeFetcher interface {
	FetchRange(ctx context.Context, desc ocispec.Descriptor, off, n int64) (io.ReadCloser, error)
	RangeKey() string
}

// addRoot lists an artifact in index.json and the BOM.
func (p *plan) addRoot(a bundle.Artifact, desc ocispec.Descriptor, refName string) {
	d := ocispec.Descriptor{
		MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size,
		Annotations: map[string]string{ocispec.AnnotationRefName: refName},
	}
	if desc.ArtifactType != "" {
		d.ArtifactType = desc.ArtifactType
	}
	p.index = append(p.index, d)
	a.Digest, a.MediaType, a.Size = desc.Digest.String(), desc.MediaType, desc.Size
	p.artifacts = append(p.artifacts, a)
}

// blobs lists every blob in write order: in-memory ones first, then streamed.
func (p *plan) blobs() []bundle.Blob {
	out := make([]bundle.Blob, 0, len(p.small)+len(p.streamed))
	for _, b := range p.small {
		out = append(out, bundle.Blob{Digest: b.desc.Digest.String(), Size: b.desc.Size, MediaType: b.desc.MediaType})
	}
	for _, it := range p.streamed {
		out = append(out, bundle.Blob{Digest: it.desc.Digest.String(), Size: it.desc.Size, MediaType: it.desc.MediaType})
	}
	return out
}

// streamedBytes is the total size of the blobs to stream.
func (p *plan) streamedBytes() int64 {
	var n int64
	for _, it := range p.streamed {
		n += it.desc.Size
	}
	return n
}

// repoPath splits a canonical reference "docker.io/istio/pilot:1.30.3" into
// the repository path below the registry ("istio/pilot") and the tag.
func repoPath(ref string) (path, tag string, err error) {
	name := ref
	if i := strings.Index(name, "@"); i >= 0 {
		name = name[:i]
	}
	slash := strings.Index(name, "/")
	if slash < 0 {
		return "", "", fmt.Errorf("reference %q has no registry host", ref)
	}
	path = name[slash+1:]
	if c := strings.LastIndex(path, ":"); c > strings.LastIndex(path, "/") {
		path, tag = path[:c], path[c+1:]
	}
	return path, tag, nil
}
