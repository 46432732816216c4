package bundle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/bundle"
)

// Example writes a bundle holding one blob to memory and reads the blob back
// by random access.
func Example() {
	ctx := context.Background()
	layer := []byte("hello, enclave")
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(layer), Size: int64(len(layer))}
	index, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, Manifests: []ocispec.Descriptor{}})

	var buf bytes.Buffer
	w := bundle.NewWriter(&buf, bundle.WriterOptions{})
	if err := w.AddFile(bundle.IndexName, index); err != nil {
		log.Fatal(err)
	}
	if err := w.Push(ctx, desc, bytes.NewReader(layer)); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	r, err := bundle.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for _, e := range r.Entries() {
		fmt.Println(e.Name, e.Size)
	}
	rc, err := r.Fetch(ctx, desc)
	if err != nil {
		log.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s (seekable: %v)\n", got, r.Stats().Seekable)
	// Output:
	// oci-layout 30
	// index.json 34
	// blobs/ 0
	// blobs/sha256/ 0
	// blobs/sha256/1c5ad69ddf2de044280ad511c15a50923258470d5e541227f0984bafda3ee416 14
	// hello, enclave (seekable: true)
}

// ExampleCreate writes a bundle split into parts, opens it by its base name
// and verifies it.
func ExampleCreate() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "bundle-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "mesh.tar.zst")

	f, err := bundle.Create(path, bundle.CreateOptions{SplitSize: 512})
	if err != nil {
		log.Fatal(err)
	}
	defer f.Abort()
	w := f.Writer()
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	cfgDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))}
	manifest, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfgDesc, Layers: []ocispec.Descriptor{}})
	mDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(manifest), Size: int64(len(manifest)),
		Annotations: map[string]string{ocispec.AnnotationRefName: "example/app:1.0"}}
	index, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, Manifests: []ocispec.Descriptor{mDesc}})
	bom, _ := json.Marshal(bundle.BOM{
		SchemaVersion: bundle.BOMSchemaVersion,
		Artifacts:     []bundle.Artifact{{Kind: bundle.KindImage, Repository: "example/app", Tag: "1.0", Digest: mDesc.Digest.String(), MediaType: mDesc.MediaType, Size: mDesc.Size}},
		Blobs:         []bundle.Blob{{Digest: cfgDesc.Digest.String(), Size: cfgDesc.Size}, {Digest: mDesc.Digest.String(), Size: mDesc.Size}},
		Files:         []bundle.MetadataFile{bundle.MetadataOf(bundle.OCILayoutName, []byte(bundle.OCILayoutJSON)), bundle.MetadataOf(bundle.IndexName, index)},
	})
	for _, step := range []error{
		w.AddFile(bundle.IndexName, index),
		w.AddFile(bundle.BOMName, bom),
		w.Push(ctx, cfgDesc, bytes.NewReader(cfg)),
		w.Push(ctx, mDesc, bytes.NewReader(manifest)),
		f.Commit(),
	} {
		if step != nil {
			log.Fatal(step)
		}
	}
	fmt.Println("parts:", len(f.Parts()) > 1)

	r, err := bundle.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	root, err := r.Resolve(ctx, "example/app:1.0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("resolved:", root.Digest == mDesc.Digest)
	report, err := bundle.Verify(ctx, r, bundle.VerifyOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range report.Checks {
		fmt.Println(c.Name, c.OK)
	}
	// Output:
	// parts: true
	// resolved: true
	// layout true
	// order true
	// structure true
	// bom true
	// index true
	// graph true
	// blobs true
}
