package mirror

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mediatype"
	"github.com/lattice-mesh/meshpack/remote"
)

// RecordRepository is the repository below the prefix where bundle load
// records each bundle it loaded: one manifest per bundle, tagged bom-<hex
// of the bundle id>, holding the bundle's BOM (and its signature).
const RecordRepository = "meshpack/bundles"

// AnnotationBundle names the bundle a record is for ("sha256:<hex>").
const AnnotationBundle = "dev.lattice.meshpack.bundle"

// BundleID is the identity of a bundle everywhere (inspect, list, unload,
// install): "sha256:" + the hex sha256 of its meshpack/bom.json.
func BundleID(bomJSON []byte) string { return digest.FromBytes(bomJSON).String() }

func recordTag(id string) string { return "bom-" + strings.TrimPrefix(id, "sha256:") }

// BundleRecord is one bundle recorded in a registry.
type BundleRecord struct {
	ID     string      `json:"id"`
	Loaded string      `json:"loaded,omitempty"`
	BOM    *bundle.BOM `json:"-"`
	// RawBOM is the BOM's bytes, whose sha256 is ID.
	RawBOM []byte `json:"-"`
}

// writeRecord pushes the record of the bundle just loaded: its BOM (and
// signature, if any) as layers of an OCI artifact in RecordRepository.
// chunk, when positive, sends each blob in PATCH requests of that size
// (the load found the registry refuses whole-blob PUTs).
func writeRecord(ctx context.Context, c *remote.Client, t target, bomJSON, sig []byte, chunk int64) (string, error) {
	id := BundleID(bomJSON)
	rc, err := c.RepositoryAt(ctx, t.host, t.repo(RecordRepository))
	if err != nil {
		return id, err
	}
	empty := []byte("{}")
	blobs := [][]byte{empty, bomJSON}
	layers := []ocispec.Descriptor{{MediaType: mediatype.MeshpackBOM, Digest: digest.FromBytes(bomJSON), Size: int64(len(bomJSON)),
		Annotations: map[string]string{ocispec.AnnotationTitle: bundle.BOMName}}}
	if len(sig) > 0 {
		blobs = append(blobs, sig)
		layers = append(layers, ocispec.Descriptor{MediaType: mediatype.MeshpackBOMSignature, Digest: digest.FromBytes(sig), Size: int64(len(sig)),
			Annotations: map[string]string{ocispec.AnnotationTitle: bundle.BOMSigName}})
	}
	for _, b := range blobs {
		desc := ocispec.Descriptor{Digest: digest.FromBytes(b), Size: int64(len(b))}
		if ok, err := rc.BlobExists(ctx, desc); err == nil && ok {
			continue
		}
		data := b
		open := func(off int64) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data[off:])), nil }
		// One PUT, else (a registry or proxy that refuses them) a PATCH and
		// a closing PUT, as the blob uploads of the load itself fall back.
		var uerr error
		tries := []int64{0, 1 << 20}
		if chunk > 0 {
			tries = []int64{chunk}
		}
		for _, size := range tries {
			s, err := rc.StartUpload(ctx)
			if err != nil {
				return id, fmt.Errorf("bundle record: %w", err)
			}
			if _, uerr = rc.UploadBlob(ctx, desc, open, remote.UploadOptions{Session: s, ChunkSize: size}); uerr == nil {
				break
			}
		}
		if uerr != nil {
			return id, fmt.Errorf("bundle record: blob %s: %w", desc.Digest, uerr)
		}
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, ArtifactType: mediatype.MeshpackBundleRecord,
		Config: ocispec.DescriptorEmptyJSON, Layers: layers,
		Annotations: map[string]string{AnnotationBundle: id, ocispec.AnnotationCreated: time.Now().UTC().Format(time.RFC3339)},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return id, err
	}
	desc := ocispec.Descriptor{MediaType: m.MediaType, Digest: digest.FromBytes(raw), Size: int64(len(raw))}
	if _, err := rc.PushManifest(ctx, desc, raw, remote.PushOptions{}); err != nil {
		return id, fmt.Errorf("bundle record %s: %w", id, err)
	}
	if _, err := rc.PushManifest(ctx, desc, raw, remote.PushOptions{Tag: recordTag(id)}); err != nil {
		return id, fmt.Errorf("bundle record %s: tag: %w", id, err)
	}
	return id, nil
}

// ReadRecords lists the bundles recorded in registry (HOST[:PORT][/PREFIX],
// path mode mode), oldest first, each with its BOM (checked against the
// record's digest).
func ReadRecords(ctx context.Context, c *remote.Client, registry, mode string) ([]BundleRecord, error) {
	t, err := parseTarget(registry, mode)
	if err != nil {
		return nil, err
	}
	rc, err := c.RepositoryAt(ctx, t.host, t.repo(RecordRepository))
	if err != nil {
		return nil, err
	}
	tags, err := rc.Tags(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing bundle records in %s/%s: %w", t.host, t.repo(RecordRepository), err)
	}
	var out []BundleRecord
	for _, tag := range tags {
		if !strings.HasPrefix(tag, "bom-") {
			continue
		}
		desc, err := rc.Resolve(ctx, tag)
		if err != nil {
			return nil, fmt.Errorf("bundle record %s: %w", tag, err)
		}
		raw, err := remote.FetchManifest(ctx, rc, desc)
		if err != nil {
			return nil, fmt.Errorf("bundle record %s: %w", tag, err)
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(raw, &m); err != nil || len(m.Layers) == 0 || m.Layers[0].MediaType != mediatype.MeshpackBOM {
			return nil, fmt.Errorf("bundle record %s: not a meshpack bundle record", tag)
		}
		bomJSON, err := remote.FetchSmall(ctx, rc, m.Layers[0], 64<<20)
		if err != nil {
			return nil, fmt.Errorf("bundle record %s: BOM: %w", tag, err)
		}
		bom, err := bundle.ParseBOM(bomJSON)
		if err != nil {
			return nil, fmt.Errorf("bundle record %s: %w", tag, err)
		}
		out = append(out, BundleRecord{ID: BundleID(bomJSON), Loaded: m.Annotations[ocispec.AnnotationCreated], BOM: bom, RawBOM: bomJSON})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Loaded < out[j].Loaded })
	return out, nil
}
