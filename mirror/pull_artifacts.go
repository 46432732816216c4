package mirror

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/mediatype"
)

// maxChartArchive caps a chart archive read into memory.
const maxChartArchive = 64 << 20

// planChart adds a chart as an OCI Helm chart artifact at charts/<name>:<version>.
func (pl *puller) planChart(ctx context.Context, p *plan, lc manifests.LockedChart) error {
	checks := []string{"sha256:" + orDefault(lc.Pinned, manifests.PinnedResolved)}
	a := bundle.Artifact{Kind: bundle.KindChart, Name: lc.Name, Source: lc.Source, Repository: "charts/" + lc.Name, Tag: helmTag(lc.Version), Checks: checks}
	refName := "charts/" + lc.Name + ":" + helmTag(lc.Version)
	if strings.HasPrefix(lc.Source, "oci://") {
		return pl.planOCIChart(ctx, p, lc, a, refName)
	}
	want, err := digest.Parse(lc.Digest)
	if err != nil {
		return fmt.Errorf("chart %s %s: lock digest %q: %w", lc.Name, lc.Version, lc.Digest, err)
	}
	body, _, err := pl.c.Get(ctx, lc.Source)
	if err != nil {
		return fmt.Errorf("chart %s %s: %w", lc.Name, lc.Version, err)
	}
	defer body.Close()
	tgz, err := io.ReadAll(io.LimitReader(body, maxChartArchive+1))
	if err != nil {
		return fmt.Errorf("chart %s %s: GET %s: %w", lc.Name, lc.Version, lc.Source, err)
	}
	if got := digest.FromBytes(tgz); got != want {
		return fmt.Errorf("chart %s %s: %s has digest %s, the lock pins %s (upstream changed the archive; re-run resolve to accept it)", lc.Name, lc.Version, lc.Source, got, want)
	}
	manifest, config, err := chartArtifact(tgz)
	if err != nil {
		return fmt.Errorf("chart %s %s: %w", lc.Name, lc.Version, err)
	}
	p.addSmall(config)
	p.addSmall(blobData{desc: ocispec.Descriptor{MediaType: mediatype.HelmChart, Digest: want, Size: int64(len(tgz))}, data: tgz})
	p.addSmall(manifest)
	p.addRoot(a, manifest.desc, refName)
	return nil
}

// planOCIChart copies an OCI chart artifact as upstream serves it.
func (pl *puller) planOCIChart(ctx context.Context, p *plan, lc manifests.LockedChart, a bundle.Artifact, refName string) error {
	ref := strings.TrimPrefix(lc.Source, "oci://")
	repo, target, err := pl.c.Repository(ctx, ref)
	if err != nil {
		return fmt.Errorf("chart %s %s: %w", lc.Name, lc.Version, err)
	}
	d, err := digest.Parse(lc.Digest)
	if err != nil {
		return fmt.Errorf("chart %s %s: lock digest %q: %w", lc.Name, lc.Version, lc.Digest, err)
	}
	root, err := repo.Resolve(ctx, d.String())
	if err != nil {
		return fmt.Errorf("chart %s %s: resolve %s at %s: %w", lc.Name, lc.Version, d, target, err)
	}
	g, err := fetchImageGraph(ctx, repo, root, nil)
	if err != nil {
		return fmt.Errorf("chart %s %s from %s: %w", lc.Name, lc.Version, target, err)
	}
	p.addSmall(g.root)
	for _, b := range g.blobs {
		p.addStreamed(repo, b, lc.Source)
	}
	p.addRoot(a, g.root.desc, refName)
	return nil
}

// planFile adds a raw file as an OCI artifact at files/<component>:<version>-<name>.
func (pl *puller) planFile(p *plan, lf manifests.LockedFile) error {
	d, err := digest.Parse(lf.Digest)
	if err != nil {
		return fmt.Errorf("file %s: lock digest %q: %w", lf.Source, lf.Digest, err)
	}
	mt := orDefault(lf.MediaType, "application/octet-stream")
	layer := ocispec.Descriptor{MediaType: mt, Digest: d, Size: lf.Size}
	component := orDefault(lf.Component, "misc")
	tag := fileTag(lf)
	annotations := map[string]string{ocispec.AnnotationSource: lf.Source, ocispec.AnnotationVersion: lf.Version}
	if lf.Platform != "" {
		annotations[AnnotationFilePlatform] = lf.Platform
	}
	if lf.Executable != "" {
		annotations[AnnotationFileExecutable] = lf.Executable
	}
	manifest, config, err := fileArtifact(lf.Name, layer, annotations)
	if err != nil {
		return err
	}
	p.addSmall(config)
	src := lf.Source
	if !p.seen[d] {
		p.seen[d] = true
		p.streamed = append(p.streamed, fetchItem{desc: layer, label: src, open: func(ctx context.Context) (io.ReadCloser, error) {
			return pl.openFileSource(ctx, src)
		}})
	}
	p.addSmall(manifest)
	manifest.desc.ArtifactType = mediatype.MeshpackFile
	a := bundle.Artifact{
		Kind: bundle.KindFile, Name: lf.Name, Source: lf.Source, Repository: "files/" + component, Tag: tag,
		Checks: []string{"sha256:" + orDefault(lf.Pinned, manifests.PinnedResolved)},
	}
	if lf.Platform != "" {
		// A platform-specific file is its own platform's one manifest.
		a.Platforms = []bundle.Platform{{Platform: lf.Platform, Digest: manifest.desc.Digest.String(), Size: manifest.desc.Size}}
	}
	p.addRoot(a, manifest.desc, "files/"+component+":"+tag)
	return nil
}

// Annotations of a file artifact's manifest beyond the OCI source and
// version: the platform a platform-specific file is for, and the path of
// the program inside an archive that `bundle extract` writes out.
const (
	AnnotationFilePlatform   = "meshpack.lattice.dev/platform"
	AnnotationFileExecutable = "meshpack.lattice.dev/executable"
)

// fileTag is "<version>-<name without extension>", e.g. "v1.5.1-standard-install".
func fileTag(lf manifests.LockedFile) string {
	name := lf.Name
	if i := strings.LastIndex(name, "."); i > 0 {
		name = name[:i]
	}
	if lf.Version == "" {
		return sanitizeTag(name)
	}
	return sanitizeTag(lf.Version + "-" + name)
}

// helmTag is the OCI tag Helm uses for a chart version ("+" is not allowed).
func helmTag(v string) string { return strings.ReplaceAll(v, "+", "_") }

// sanitizeTag keeps [A-Za-z0-9_.-], at most 128 characters.
func sanitizeTag(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := b.String()
	if len(out) > 128 {
		out = out[:128]
	}
	return out
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
