package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"helm.sh/helm/v3/pkg/chart"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/install"
	"github.com/lattice-mesh/meshpack/manifests/render"
	"github.com/lattice-mesh/meshpack/mediatype"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/remote"
)

// maxRegistryArtifact bounds a chart archive, file or manifest read from
// the registry into memory.
const maxRegistryArtifact = 64 << 20

// FromRegistry is an install.Source for a lock whose bundle was loaded into
// registry (HOST[:PORT][/PREFIX]) with path mode mode: charts and files
// come from the registry by the tags bundle load set, each checked against
// the content digest the lock pins; images are pinned by the lock's
// digests. (A bundle made with a platform filter stores other image roots
// than the lock's: install it with its bundle.)
func FromRegistry(c *remote.Client, lock manifests.Lock, registry, mode string) (install.Source, error) {
	arts, err := mirror.LockArtifacts(lock)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(lock)
	if err != nil {
		return nil, err
	}
	return &registrySource{c: c, lock: lock, registry: registry, mode: mode, bom: &bundle.BOM{Lock: raw, Artifacts: arts}}, nil
}

type registrySource struct {
	c        *remote.Client
	lock     manifests.Lock
	registry string
	mode     string
	bom      *bundle.BOM
}

func (s *registrySource) BOM() (*bundle.BOM, error) { return s.bom, nil }

func (s *registrySource) Chart(ctx context.Context, a bundle.Artifact) (*chart.Chart, error) {
	want := ""
	for _, lc := range s.lock.Charts {
		if lc.Name == a.Name {
			want = lc.ContentDigest
		}
	}
	data, err := s.layer(ctx, a, want, func(l ocispec.Descriptor) bool { return l.MediaType == mediatype.HelmChart })
	if err != nil {
		return nil, err
	}
	ch, err := render.LoadChartArchive(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("chart %s from the registry: %w", a.Name, err)
	}
	return ch, nil
}

func (s *registrySource) File(ctx context.Context, a bundle.Artifact) ([]byte, error) {
	want := ""
	for _, lf := range s.lock.Files {
		if lf.Name == a.Name && "files/"+lf.Component == a.Repository {
			want = lf.Digest
		}
	}
	return s.layer(ctx, a, want, func(ocispec.Descriptor) bool { return true })
}

// layer reads the first layer of a's manifest (by its tag) that match
// wants and requires it to be the content the lock pins.
func (s *registrySource) layer(ctx context.Context, a bundle.Artifact, want string, match func(ocispec.Descriptor) bool) ([]byte, error) {
	host, path, err := mirror.TargetPath(s.registry, s.mode, a.Repository)
	if err != nil {
		return nil, err
	}
	ref := host + "/" + path + ":" + a.Tag
	if want == "" {
		return nil, fmt.Errorf("%s %s: the lock pins no content digest", a.Kind, a.Name)
	}
	repo, err := s.c.RepositoryAt(ctx, host, path)
	if err != nil {
		return nil, err
	}
	desc, err := repo.Resolve(ctx, a.Tag)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %s: %w (was the bundle of this lock loaded there, with this path mode?)", a.Kind, a.Name, ref, err)
	}
	raw, err := readVerified(ctx, repo, desc)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %s: %w", a.Kind, a.Name, ref, err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s %s: %s: manifest: %w", a.Kind, a.Name, ref, err)
	}
	for _, l := range m.Layers {
		if !match(l) {
			continue
		}
		if l.Digest.String() != want {
			return nil, fmt.Errorf("%s %s: %s holds %s, but the lock pins %s: refusing content the lock does not name", a.Kind, a.Name, ref, l.Digest, want)
		}
		return readVerified(ctx, repo, l)
	}
	return nil, fmt.Errorf("%s %s: %s has no suitable layer", a.Kind, a.Name, ref)
}

// readVerified reads a small blob or manifest and checks it against desc.
func readVerified(ctx context.Context, repo *remote.Repository, desc ocispec.Descriptor) ([]byte, error) {
	return remote.FetchSmall(ctx, repo, desc, maxRegistryArtifact)
}
