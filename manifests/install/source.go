package install

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"helm.sh/helm/v3/pkg/chart"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/render"
	"github.com/lattice-mesh/meshpack/mediatype"
)

// Source is where a plan's content comes from: the BOM (images with their
// digests, the lock the bundle was built from) and the chart and file
// artifacts it lists. FromBundle reads a bundle file; tests may supply their
// own.
type Source interface {
	// BOM returns the bill of materials of the bundle.
	BOM() (*bundle.BOM, error)
	// Chart loads the chart of chart artifact a.
	Chart(ctx context.Context, a bundle.Artifact) (*chart.Chart, error)
	// File returns the content of file artifact a.
	File(ctx context.Context, a bundle.Artifact) ([]byte, error)
}

// maxArtifactSize bounds what is read into memory from a bundle: a chart
// archive or a CRD file (the real ones are well below 2 MiB).
const maxArtifactSize = 64 << 20

// FromBundle returns a Source reading straight from an opened bundle. The
// bundle should be verified first (mirror.VerifyFile); the blobs read here
// are checked against their digests again.
func FromBundle(r *bundle.Reader) Source { return bundleSource{r} }

type bundleSource struct{ r *bundle.Reader }

func (s bundleSource) BOM() (*bundle.BOM, error) { return s.r.BOM() }

// BundleID is "sha256:" + the hex sha256 of the bundle's meshpack/bom.json,
// the identity every command reports.
func (s bundleSource) BundleID() (string, error) {
	data, err := s.r.File(bundle.BOMName)
	if err != nil {
		return "", err
	}
	return digest.FromBytes(data).String(), nil
}

// Chart reads the OCI Helm chart artifact a (config = Chart.yaml as JSON,
// one layer = the chart .tgz) and loads its archive.
func (s bundleSource) Chart(ctx context.Context, a bundle.Artifact) (*chart.Chart, error) {
	data, err := s.layer(ctx, a, func(l ocispec.Descriptor) bool { return l.MediaType == mediatype.HelmChart })
	if err != nil {
		return nil, err
	}
	ch, err := render.LoadChartArchive(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("chart %s in the bundle: %w", a.Name, err)
	}
	return ch, nil
}

// File reads file artifact a (one layer, titled with the file name).
func (s bundleSource) File(ctx context.Context, a bundle.Artifact) ([]byte, error) {
	return s.layer(ctx, a, func(ocispec.Descriptor) bool { return true })
}

// layer returns the bytes of the first layer of artifact a that match wants,
// checked against its digest.
func (s bundleSource) layer(ctx context.Context, a bundle.Artifact, want func(ocispec.Descriptor) bool) ([]byte, error) {
	d, err := digest.Parse(a.Digest)
	if err != nil {
		return nil, fmt.Errorf("%s %s: BOM digest %q: %w", a.Kind, a.Name, a.Digest, err)
	}
	raw, err := s.read(ctx, ocispec.Descriptor{MediaType: a.MediaType, Digest: d, Size: a.Size})
	if err != nil {
		return nil, fmt.Errorf("%s %s: manifest: %w", a.Kind, a.Name, err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s %s: manifest %s: %w", a.Kind, a.Name, d, err)
	}
	for _, l := range m.Layers {
		if want(l) {
			data, err := s.read(ctx, l)
			if err != nil {
				return nil, fmt.Errorf("%s %s: layer: %w", a.Kind, a.Name, err)
			}
			return data, nil
		}
	}
	return nil, fmt.Errorf("%s %s: manifest %s has no suitable layer", a.Kind, a.Name, d)
}

func (s bundleSource) read(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) {
	if desc.Size < 0 || desc.Size > maxArtifactSize {
		return nil, fmt.Errorf("blob %s: size %d is outside 0..%d", desc.Digest, desc.Size, maxArtifactSize)
	}
	rc, err := s.r.Fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, desc.Size+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != desc.Size || desc.Digest.Validate() != nil || digest.FromBytes(data) != desc.Digest {
		return nil, fmt.Errorf("blob %s: content does not match its digest and size", desc.Digest)
	}
	return data, nil
}

// contents is what a plan needs from a BOM.
type contents struct {
	lock    manifests.Lock
	digests map[string]string // normalized image source -> digest as stored
	repos   map[string]string // normalized image source -> repository below the prefix
	charts  map[string]bundle.Artifact
	files   []bundle.Artifact
}

func readContents(bom *bundle.BOM) (*contents, error) {
	c := &contents{digests: map[string]string{}, repos: map[string]string{}, charts: map[string]bundle.Artifact{}}
	if len(bom.Lock) == 0 {
		return nil, fmt.Errorf("the bundle's BOM records no lock: it was not built from a mesh spec")
	}
	if err := json.Unmarshal(bom.Lock, &c.lock); err != nil {
		return nil, fmt.Errorf("the bundle's BOM lock: %w", err)
	}
	for _, a := range bom.Artifacts {
		switch a.Kind {
		case bundle.KindImage:
			norm, err := manifests.NormalizeImage(a.Source)
			if err != nil {
				return nil, fmt.Errorf("BOM image %s: %w", a.Name, err)
			}
			c.digests[norm], c.repos[norm] = a.Digest, a.Repository
		case bundle.KindChart:
			c.charts[a.Name] = a
		case bundle.KindFile:
			c.files = append(c.files, a)
		}
	}
	return c, nil
}

// hub returns the image hub of the bundle's Istio images ("docker.io/istio"),
// read from the pilot image the lock carries.
func (c *contents) hub() (string, error) {
	for _, img := range c.lock.Images {
		if img.Name == "pilot" {
			norm, err := manifests.NormalizeImage(img.Reference)
			if err != nil {
				return "", err
			}
			if i := strings.LastIndex(norm, "/"); i > 0 {
				return norm[:i], nil
			}
		}
	}
	return "", fmt.Errorf("the bundle carries no pilot image: it cannot install Istio")
}

// crdFile returns the Gateway API CRD file artifact: the one of component
// gateway-api, preferring "<channel>-install.yaml" when there are several.
func (c *contents) crdFile() (bundle.Artifact, bool) {
	var found []bundle.Artifact
	for _, a := range c.files {
		if a.Repository == "files/gateway-api" {
			found = append(found, a)
		}
	}
	for _, a := range found {
		if len(found) == 1 || a.Name == c.lock.Set.GatewayAPIChannel+"-install.yaml" {
			return a, true
		}
	}
	return bundle.Artifact{}, false
}
