package mirror_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/mirror/registry"
	"github.com/lattice-mesh/meshpack/remote"
)

func ExampleLoad() {
	ctx := context.Background()
	// An embedded registry on 127.0.0.1 (plain HTTP, in memory).
	reg, err := registry.New(ctx, registry.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reg.Close()
	srv := httptest.NewServer(reg.Handler())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	r, err := bundle.NewReader(tinyBundle())
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := remote.New(remote.Options{PlainHTTP: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := mirror.Load(ctx, r, host+"/mesh", mirror.LoadOptions{Client: c, AllowUnsigned: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("verified:", res.Verified)
	fmt.Println("blobs pushed:", res.BlobsPushed, "manifests:", res.ManifestsPushed, "tags:", res.TagsPushed)
	fmt.Println(strings.TrimPrefix(res.Artifacts[0].Reference, host+"/")[:len("mesh/library/hello:1@sha256:")])

	// A second load finds everything in place.
	res, _ = mirror.Load(ctx, r, host+"/mesh", mirror.LoadOptions{Client: c, AllowUnsigned: true})
	fmt.Println("second load: pushed", res.BlobsPushed, "skipped", res.BlobsSkipped)
	// Output:
	// verified: digests only (unsigned allowed)
	// blobs pushed: 2 manifests: 1 tags: 1
	// mesh/library/hello:1@sha256:
	// second load: pushed 0 skipped 2
}

// tinyBundle writes a one-image bundle in memory.
func tinyBundle() (*bytes.Reader, int64) {
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layer := []byte("not really a tar")
	desc := func(mt string, b []byte) ocispec.Descriptor {
		return ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
	}
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: desc(ocispec.MediaTypeImageConfig, config), Layers: []ocispec.Descriptor{desc(ocispec.MediaTypeImageLayer, layer)}}
	manifest, _ := json.Marshal(m)
	md := desc(ocispec.MediaTypeImageManifest, manifest)
	md.Annotations = map[string]string{ocispec.AnnotationRefName: "docker.io/library/hello:1"}
	index, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{md}})
	blobs := []ocispec.Descriptor{m.Config, m.Layers[0], desc(ocispec.MediaTypeImageManifest, manifest)}
	bom := bundle.BOM{SchemaVersion: bundle.BOMSchemaVersion, Unsigned: "example", Artifacts: []bundle.Artifact{{
		Kind: bundle.KindImage, Name: "hello", Source: "docker.io/library/hello:1", Repository: "library/hello", Tag: "1",
		Digest: md.Digest.String(), MediaType: md.MediaType, Size: md.Size,
	}}}
	for _, b := range blobs {
		bom.Blobs = append(bom.Blobs, bundle.Blob{Digest: b.Digest.String(), Size: b.Size, MediaType: b.MediaType})
	}
	bom.Files = []bundle.MetadataFile{bundle.MetadataOf(bundle.OCILayoutName, []byte(bundle.OCILayoutJSON)), bundle.MetadataOf(bundle.IndexName, index)}
	bomJSON, _ := json.Marshal(bom)

	var buf bytes.Buffer
	w := bundle.NewWriter(&buf, bundle.WriterOptions{})
	w.AddFile(bundle.OCILayoutName, []byte(bundle.OCILayoutJSON))
	w.AddFile(bundle.IndexName, index)
	w.AddFile(bundle.BOMName, bomJSON)
	for i, data := range [][]byte{config, layer, manifest} {
		w.Push(context.Background(), blobs[i], bytes.NewReader(data))
	}
	w.Close()
	return bytes.NewReader(buf.Bytes()), int64(buf.Len())
}
