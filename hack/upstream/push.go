package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"
)

// seeder pushes planned content into the fixture registry with oras-go:
// blobs before manifests, children before indexes.
type seeder struct {
	host    string // 127.0.0.1:port of the fixture registry
	seed    int64
	tempDir string
	sign    func(ctx context.Context, repo string, desc ocispec.Descriptor) error

	mu    sync.Mutex
	repos map[string]*remote.Repository
}

// repo returns the client for repository name (a path such as
// "docker.io/istio/pilot") on the fixture registry.
func (s *seeder) repo(name string) (*remote.Repository, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.repos[name]; ok {
		return r, nil
	}
	r, err := remote.NewRepository(s.host + "/" + name)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", name, err)
	}
	r.PlainHTTP = true
	if s.repos == nil {
		s.repos = map[string]*remote.Repository{}
	}
	s.repos[name] = r
	return r, nil
}

// pushLayers generates and uploads every layer, as many at a time as there
// are CPUs (gzip is the bottleneck).
func (s *seeder) pushLayers(ctx context.Context, layers []*layerSpec) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, l := range layers {
		g.Go(func() error { return s.pushLayer(ctx, l) })
	}
	return g.Wait()
}

// pushLayer builds l into a temporary file, uploads it to its first
// repository and mounts it into the others.
func (s *seeder) pushLayer(ctx context.Context, l *layerSpec) error {
	path, err := l.build(s.seed, s.tempDir)
	if err != nil {
		return err
	}
	defer os.Remove(path)

	first, err := s.repo(l.repos[0])
	if err != nil {
		return err
	}
	ok, err := first.Exists(ctx, l.desc)
	if err != nil {
		return fmt.Errorf("layer %s: %s: check %s: %w", l.key, l.repos[0], l.desc.Digest, err)
	}
	if !ok {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("layer %s: %w", l.key, err)
		}
		err = first.Push(ctx, l.desc, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("layer %s: %s: push %s: %w", l.key, l.repos[0], l.desc.Digest, err)
		}
	}
	for _, name := range l.repos[1:] {
		r, err := s.repo(name)
		if err != nil {
			return err
		}
		getContent := func() (io.ReadCloser, error) { return os.Open(path) }
		if err := r.Mount(ctx, l.desc, l.repos[0], getContent); err != nil {
			return fmt.Errorf("layer %s: %s: mount %s from %s: %w", l.key, name, l.desc.Digest, l.repos[0], err)
		}
	}
	return nil
}

// pushBytes uploads b (a config or manifest) to r and returns its
// descriptor.
func pushBytes(ctx context.Context, r *remote.Repository, mediaType string, b []byte, tag string) (ocispec.Descriptor, error) {
	desc := content.NewDescriptorFromBytes(mediaType, b)
	var err error
	if tag != "" {
		err = r.PushReference(ctx, desc, bytes.NewReader(b), tag)
	} else {
		err = r.Push(ctx, desc, bytes.NewReader(b))
	}
	if err != nil {
		return desc, fmt.Errorf("%s: push %s %s: %w", r.Reference.Repository, mediaType, desc.Digest, err)
	}
	return desc, nil
}

// builtImage is an image's serialized configs, manifests and index.
type builtImage struct {
	configs   [][]byte
	manifests [][]byte
	children  []ocispec.Descriptor
	index     []byte
	indexDesc ocispec.Descriptor
}

// build serializes ip; its layers must have been generated.
func (ip *imagePlan) build() (*builtImage, error) {
	b := &builtImage{}
	for _, pp := range ip.platforms {
		cfg := ocispec.Image{
			Created:  &epoch,
			Platform: pp.platform,
			Config: ocispec.ImageConfig{
				Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
				Entrypoint: ip.entry,
			},
			RootFS: ocispec.RootFS{Type: "layers"},
		}
		m := ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2},
			MediaType: ocispec.MediaTypeImageManifest,
		}
		for _, l := range pp.layers {
			cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.diffID)
			cfg.History = append(cfg.History, ocispec.History{Created: &epoch, CreatedBy: "meshpack fixture layer " + l.key})
			m.Layers = append(m.Layers, l.desc)
		}
		cb, err := json.Marshal(cfg)
		if err != nil {
			return nil, fmt.Errorf("image %s: config: %w", ip.repos[0], err)
		}
		m.Config = content.NewDescriptorFromBytes(ocispec.MediaTypeImageConfig, cb)
		mb, err := json.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("image %s: manifest: %w", ip.repos[0], err)
		}
		child := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, mb)
		child.Platform = &pp.platform
		b.configs = append(b.configs, cb)
		b.manifests = append(b.manifests, mb)
		b.children = append(b.children, child)
	}
	idx := ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: b.children,
	}
	ib, err := json.Marshal(idx)
	if err != nil {
		return nil, fmt.Errorf("image %s: index: %w", ip.repos[0], err)
	}
	b.index = ib
	b.indexDesc = content.NewDescriptorFromBytes(ocispec.MediaTypeImageIndex, ib)
	return b, nil
}

// pushImage pushes ip to each of its repositories, tags it and calls the
// Sign hook for signed images. It returns one ImageInfo per reference.
func (s *seeder) pushImage(ctx context.Context, ip *imagePlan) ([]ImageInfo, error) {
	b, err := ip.build()
	if err != nil {
		return nil, err
	}
	var infos []ImageInfo
	for _, name := range ip.repos {
		r, err := s.repo(name)
		if err != nil {
			return nil, err
		}
		for i := range b.children {
			if _, err := pushBytes(ctx, r, ocispec.MediaTypeImageConfig, b.configs[i], ""); err != nil {
				return nil, err
			}
			if _, err := pushBytes(ctx, r, ocispec.MediaTypeImageManifest, b.manifests[i], ""); err != nil {
				return nil, err
			}
		}
		if _, err := pushBytes(ctx, r, ocispec.MediaTypeImageIndex, b.index, ip.tags[0]); err != nil {
			return nil, err
		}
		for _, tag := range ip.tags[1:] {
			if err := r.Tag(ctx, b.indexDesc, tag); err != nil {
				return nil, fmt.Errorf("%s: tag %s as %s: %w", name, b.indexDesc.Digest, tag, err)
			}
		}
		if ip.signed && s.sign != nil {
			for _, d := range append([]ocispec.Descriptor{b.indexDesc}, b.children...) {
				if err := s.sign(ctx, s.host+"/"+name, d); err != nil {
					return nil, fmt.Errorf("%s@%s: sign: %w", name, d.Digest, err)
				}
			}
		}
		for _, tag := range ip.tags {
			info := ImageInfo{
				Reference:  name + ":" + tag,
				Repository: name,
				Tag:        tag,
				MediaType:  b.indexDesc.MediaType,
				Digest:     b.indexDesc.Digest,
				Size:       b.indexDesc.Size,
				Signed:     ip.signed,
			}
			for _, c := range b.children {
				info.Platforms = append(info.Platforms, PlatformManifest{
					Platform: platformString(*c.Platform),
					Digest:   c.Digest,
					Size:     c.Size,
				})
			}
			infos = append(infos, info)
		}
	}
	return infos, nil
}
