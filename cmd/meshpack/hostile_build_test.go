//go:build linux

package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/bundle/bundletest"
)

// Sizes of the amplification and wide-index cases.
const (
	amplify   = 10_000 // index entries of one manifest, layers of one blob
	wideIndex = 78_000 // index entries
)

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func readIndex(t *testing.T, b *bundletest.Bundle) ocispec.Index {
	t.Helper()
	data, err := b.File(bundle.IndexName)
	must(t, err)
	var idx ocispec.Index
	must(t, json.Unmarshal(data, &idx))
	if len(idx.Manifests) == 0 {
		t.Fatal("the real bundle's index.json lists nothing")
	}
	if idx.Manifests[0].Annotations == nil {
		idx.Manifests[0].Annotations = map[string]string{}
	}
	return idx
}

func readBOM(t *testing.T, b *bundletest.Bundle) bundle.BOM {
	t.Helper()
	data, err := b.File(bundle.BOMName)
	must(t, err)
	var bom bundle.BOM
	must(t, json.Unmarshal(data, &bom))
	return bom
}

// editBOM rewrites meshpack/bom.json through edit, then records the
// current content of every metadata file it lists (a creator who does not
// hold the key can do all this; only the signature then fails).
func editBOM(t *testing.T, b *bundletest.Bundle, edit func(*bundle.BOM)) {
	t.Helper()
	bom := readBOM(t, b)
	edit(&bom)
	for i, f := range bom.Files {
		data, err := b.File(f.Name)
		must(t, err)
		bom.Files[i] = bundle.MetadataOf(f.Name, data)
	}
	must(t, b.ReplaceFile(bundle.BOMName, mustMarshal(t, bom)))
}

// unsign makes the bundle an unsigned one whose BOM says so, the kind
// --allow-unsigned accepts, with edit applied to its BOM.
func unsign(t *testing.T, b *bundletest.Bundle, edit func(*bundle.BOM)) {
	t.Helper()
	must(t, b.Remove(bundle.BOMSigName, bundletest.TOCList))
	editBOM(t, b, func(bom *bundle.BOM) {
		bom.Signed, bom.Unsigned = false, "hostile test"
		edit(bom)
	})
}

func descOf(mediaType string, data []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
}

func blobEntry(data []byte) []byte {
	return bundletest.TarFile("blobs/sha256/"+digest.FromBytes(data).Encoded(), data)
}

// gzipLayer is a gzip-compressed tar layer holding one file.
func gzipLayer(t *testing.T, name, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	must(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(content))}))
	_, err := tw.Write([]byte(content))
	must(t, err)
	must(t, tw.Close())
	must(t, zw.Close())
	return buf.Bytes()
}

// image is a one-config image: its config and manifest blobs and the index
// descriptor of the manifest.
type image struct {
	config, manifest []byte
	desc             ocispec.Descriptor
}

// newImage builds an image whose manifest lists layers, tagged ref.
func newImage(t *testing.T, ref string, layers ...ocispec.Descriptor) image {
	t.Helper()
	cfg := ocispec.Image{Platform: ocispec.Platform{Architecture: "amd64", OS: "linux"}, RootFS: ocispec.RootFS{Type: "layers"}}
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.Digest)
	}
	img := image{config: mustMarshal(t, cfg)}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: descOf(ocispec.MediaTypeImageConfig, img.config), Layers: layers}
	m.SchemaVersion = 2
	img.manifest = mustMarshal(t, m)
	img.desc = descOf(ocispec.MediaTypeImageManifest, img.manifest)
	img.desc.Annotations = map[string]string{ocispec.AnnotationRefName: ref}
	return img
}

// artifact is the BOM record of img, tagged repo:1.
func (img image) artifact(repo string) bundle.Artifact {
	return bundle.Artifact{Kind: bundle.KindImage, Name: repo, Source: "docker.io/" + repo + ":1", Repository: repo, Tag: "1",
		Digest: img.desc.Digest.String(), MediaType: img.desc.MediaType, Size: img.desc.Size}
}

func blobRecord(data []byte) bundle.Blob {
	return bundle.Blob{Digest: digest.FromBytes(data).String(), Size: int64(len(data))}
}

// hideImage inserts a whole extra image (config, layer, manifest) and an
// index.json that lists it before the last blob, hidden in that blob's
// header blocks as far as the TOC is concerned.
func hideImage(t *testing.T, b *bundletest.Bundle, d caseDirs) string {
	layer := gzipLayer(t, "usr/bin/backdoor", "#!/bin/sh\necho owned\n")
	img := newImage(t, "docker.io/library/backdoor:1", descOf(ocispec.MediaTypeImageLayerGzip, layer))
	idx := readIndex(t, b)
	idx.Manifests = append(idx.Manifests, img.desc)
	var hidden []byte
	for _, blob := range [][]byte{img.config, layer, img.manifest} {
		hidden = append(hidden, blobEntry(blob)...)
	}
	hidden = append(hidden, bundletest.TarFile(bundle.IndexName, mustMarshal(t, idx))...)
	if len(hidden) > 60<<10 {
		t.Fatalf("hidden image takes %d bytes, more than the 64 KiB of header a TOC entry may claim", len(hidden))
	}
	must(t, b.InsertBefore(lastBlob(t, b).Name, hidden, bundletest.TOCHide))
	return writeBundle(t, b, d, bundletest.EncodeOptions{})
}

// zeroBombCase adds an image whose one layer is 8 GiB of zeros (its true
// digest), listed in index.json and the BOM of an unsigned bundle, written
// with opts. Compressed it is a few hundred KiB.
func zeroBombCase(opts bundletest.EncodeOptions) func(*testing.T, *bundletest.Bundle, caseDirs) string {
	return func(t *testing.T, b *bundletest.Bundle, d caseDirs) string {
		layer := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: zeroBombDigest, Size: zeroBomb}
		img := newImage(t, "docker.io/library/zeros:1", layer)
		must(t, b.Insert(b.End(), append(blobEntry(img.config), blobEntry(img.manifest)...), bundletest.TOCList))
		must(t, b.InsertZeros(b.End(), "blobs/sha256/"+layer.Digest.Encoded(), zeroBomb, bundletest.TOCList))
		idx := readIndex(t, b)
		idx.Manifests = append(idx.Manifests, img.desc)
		must(t, b.ReplaceFile(bundle.IndexName, mustMarshal(t, idx)))
		unsign(t, b, func(bom *bundle.BOM) {
			bom.Artifacts = append(bom.Artifacts, img.artifact("library/zeros"))
			bom.Blobs = append(bom.Blobs, blobRecord(img.config), blobRecord(img.manifest),
				bundle.Blob{Digest: zeroBombDigest, Size: zeroBomb, MediaType: layer.MediaType})
		})
		return writeBundle(t, b, d, opts)
	}
}

// amplification builds a tiny unsigned bundle from the real one's
// metadata: an index listing one manifest 10,000 times, and that manifest
// listing one layer 10,000 times.
func amplification(t *testing.T, real *bundletest.Bundle, d caseDirs) string {
	layer := gzipLayer(t, "hello", "hello\n")
	layerDesc := descOf(ocispec.MediaTypeImageLayerGzip, layer)
	layers := make([]ocispec.Descriptor, amplify)
	for i := range layers {
		layers[i] = layerDesc
	}
	img := newImage(t, "docker.io/library/amp:1", layers...)
	index := bundletest.IndexJSON(nil, mustMarshal(t, img.desc), amplify)
	layout, err := real.File(bundle.OCILayoutName)
	must(t, err)
	bom := readBOM(t, real)
	bom.Spec, bom.Lock, bom.Set, bom.Platforms = nil, nil, nil, nil
	bom.Signed, bom.Unsigned = false, "hostile test"
	bom.Artifacts = []bundle.Artifact{img.artifact("library/amp")}
	bom.Blobs = []bundle.Blob{blobRecord(img.config), blobRecord(layer), blobRecord(img.manifest)}
	bom.Files = []bundle.MetadataFile{bundle.MetadataOf(bundle.OCILayoutName, layout), bundle.MetadataOf(bundle.IndexName, index)}
	nb := bundletest.New(
		bundletest.TarFile(bundle.OCILayoutName, layout), bundletest.TarFile(bundle.IndexName, index),
		bundletest.TarFile("meshpack/", nil), bundletest.TarFile(bundle.BOMName, mustMarshal(t, bom)),
		bundletest.TarFile("blobs/", nil), bundletest.TarFile("blobs/sha256/", nil),
		blobEntry(img.config), blobEntry(layer), blobEntry(img.manifest))
	path := writeBundle(t, nb, d, bundletest.EncodeOptions{Compress: true})
	t.Logf("amplification bundle: %d bytes", fileSize(t, path))
	return path
}

// wideIndexRepeated lists the real index's first manifest 78,000 more
// times (without annotations, to stay under meshpack's metadata size
// limit) in an unsigned bundle.
func wideIndexRepeated(t *testing.T, b *bundletest.Bundle, d caseDirs) string {
	data, err := b.File(bundle.IndexName)
	must(t, err)
	var idx struct{ Manifests []json.RawMessage }
	must(t, json.Unmarshal(data, &idx))
	one := readIndex(t, b).Manifests[0]
	one.Annotations = nil
	must(t, b.ReplaceFile(bundle.IndexName, bundletest.IndexJSON(idx.Manifests, mustMarshal(t, one), wideIndex)))
	unsign(t, b, func(*bundle.BOM) {})
	return writeBundle(t, b, d, bundletest.EncodeOptions{})
}

// wideIndexDistinct adds 78,000 distinct manifests (one shared config and
// layer) to the blobs, index.json and the BOM's blob list of an unsigned
// bundle. The BOM cannot also name each as an artifact within meshpack's
// metadata size limit, so verify has problems to report; what is checked is
// that it reports them within bounds.
func wideIndexDistinct(t *testing.T, b *bundletest.Bundle, d caseDirs) string {
	layer := gzipLayer(t, "wide", "wide\n")
	base := newImage(t, "docker.io/library/wide:1", descOf(ocispec.MediaTypeImageLayerGzip, layer))
	blobs := append(blobEntry(base.config), blobEntry(layer)...)
	records := []bundle.Blob{blobRecord(base.config), blobRecord(layer)}
	idx := readIndex(t, b)
	var m ocispec.Manifest
	must(t, json.Unmarshal(base.manifest, &m))
	for i := range wideIndex {
		m.Annotations = map[string]string{"n": fmt.Sprint(i)}
		data := mustMarshal(t, m)
		blobs = append(blobs, blobEntry(data)...)
		records = append(records, blobRecord(data))
		idx.Manifests = append(idx.Manifests, descOf(ocispec.MediaTypeImageManifest, data))
	}
	must(t, b.Insert(b.End(), blobs, bundletest.TOCList))
	must(t, b.ReplaceFile(bundle.IndexName, mustMarshal(t, idx)))
	unsign(t, b, func(bom *bundle.BOM) { bom.Blobs = append(bom.Blobs, records...) })
	return writeBundle(t, b, d, bundletest.EncodeOptions{})
}
