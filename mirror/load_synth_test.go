package mirror_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/bundle"
)

// synth builds small crafted bundles: blobs, manifests, indexes and BOM
// artifacts exactly as given, duplicates and hostile names included.
type synth struct {
	blobs []synthBlob
	have  map[digest.Digest]bool
	arts  []bundle.Artifact
	// roots are the index.json entries; rootCopies repeats each that often.
	roots      []ocispec.Descriptor
	rootCopies int
}

type synthBlob struct {
	desc ocispec.Descriptor
	data []byte
}

func newSynth() *synth { return &synth{have: map[digest.Digest]bool{}, rootCopies: 1} }

// blob adds data as a blob (once per digest) and returns its descriptor.
func (s *synth) blob(mt string, data []byte) ocispec.Descriptor {
	d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(data), Size: int64(len(data))}
	if !s.have[d.Digest] {
		s.have[d.Digest] = true
		s.blobs = append(s.blobs, synthBlob{desc: d, data: data})
	}
	return d
}

// config adds a distinct image config (n makes it unique).
func (s *synth) config(n int) ocispec.Descriptor {
	return s.blob(ocispec.MediaTypeImageConfig, fmt.Appendf(nil, `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"n":%d}`, n))
}

// manifest adds an image manifest of config and layers (repeats allowed).
func (s *synth) manifest(config ocispec.Descriptor, layers ...ocispec.Descriptor) ocispec.Descriptor {
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: config, Layers: layers}
	raw, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return s.blob(ocispec.MediaTypeImageManifest, raw)
}

// index adds an image index of manifests (repeats allowed).
func (s *synth) index(manifests ...ocispec.Descriptor) ocispec.Descriptor {
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: manifests}
	raw, err := json.Marshal(idx)
	if err != nil {
		panic(err)
	}
	return s.blob(ocispec.MediaTypeImageIndex, raw)
}

// image adds root as a BOM image artifact in repo:tag and to index.json.
func (s *synth) image(repo, tag string, root ocispec.Descriptor) {
	s.arts = append(s.arts, bundle.Artifact{
		Kind: bundle.KindImage, Name: repo, Source: "example.com/" + repo + ":" + tag, Repository: repo, Tag: tag,
		Digest: root.Digest.String(), MediaType: root.MediaType, Size: root.Size,
	})
	s.roots = append(s.roots, root)
}

// write writes the bundle into dir and returns its path.
func (s *synth) write(t testing.TB, dir string) string {
	t.Helper()
	var entries []ocispec.Descriptor
	for _, r := range s.roots {
		for range s.rootCopies {
			entries = append(entries, r)
		}
	}
	index, err := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: entries})
	if err != nil {
		t.Fatal(err)
	}
	bom := bundle.BOM{SchemaVersion: bundle.BOMSchemaVersion, Unsigned: "test", Artifacts: s.arts}
	for _, b := range s.blobs {
		bom.Blobs = append(bom.Blobs, bundle.Blob{Digest: b.desc.Digest.String(), Size: b.desc.Size, MediaType: b.desc.MediaType})
	}
	bom.Files = []bundle.MetadataFile{bundle.MetadataOf(bundle.OCILayoutName, []byte(bundle.OCILayoutJSON)), bundle.MetadataOf(bundle.IndexName, index)}
	bomJSON, err := json.Marshal(bom)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "synth.tar.zst")
	out, err := bundle.Create(path, bundle.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Abort()
	w := out.Writer()
	for _, f := range []struct {
		name string
		data []byte
	}{{bundle.OCILayoutName, []byte(bundle.OCILayoutJSON)}, {bundle.IndexName, index}, {bundle.BOMName, bomJSON}} {
		if err := w.AddFile(f.name, f.data); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range s.blobs {
		if err := w.Push(context.Background(), b.desc, bytes.NewReader(b.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := out.Commit(); err != nil {
		t.Fatal(err)
	}
	return path
}

// open writes the bundle and opens it for one test.
func (s *synth) open(t testing.TB) *bundle.Reader {
	t.Helper()
	r, err := bundle.Open(s.write(t, t.TempDir()))
	if err != nil {
		t.Fatalf("open crafted bundle: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// simpleImage is a one-image bundle (config + one layer of layerSize bytes)
// in repo:tag.
func simpleImage(repo, tag string, layerSize int) *synth {
	s := newSynth()
	layer := bytes.Repeat([]byte("meshpack"), layerSize/8+1)[:layerSize]
	s.image(repo, tag, s.manifest(s.config(0), s.blob(ocispec.MediaTypeImageLayer, layer)))
	return s
}
