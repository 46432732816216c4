package mirror

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"sigs.k8s.io/yaml"

	"github.com/lattice-mesh/meshpack/mediatype"
)

// maxChartMetadata caps Chart.yaml read from a chart archive.
const maxChartMetadata = 1 << 20

// blobData is a small blob held in memory (manifests, configs, charts).
type blobData struct {
	desc ocispec.Descriptor
	data []byte
}

func newBlob(mediaType string, data []byte) blobData {
	return blobData{desc: ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}, data: data}
}

// chartArtifact wraps a chart .tgz (kept byte for byte: its sha256 is the
// layer digest) into an OCI Helm chart artifact like `helm push` does: the
// config is Chart.yaml as JSON, the manifest carries the standard
// annotations. It returns the manifest and the config; the tgz is the layer.
func chartArtifact(tgz []byte) (manifest, config blobData, err error) {
	meta, err := chartMetadata(tgz)
	if err != nil {
		return blobData{}, blobData{}, err
	}
	cfgJSON, err := json.Marshal(meta)
	if err != nil {
		return blobData{}, blobData{}, err
	}
	config = newBlob(mediatype.HelmConfig, cfgJSON)
	layer := ocispec.Descriptor{MediaType: mediatype.HelmChart, Digest: digest.FromBytes(tgz), Size: int64(len(tgz))}
	ann := map[string]string{}
	for key, field := range map[string]string{
		ocispec.AnnotationTitle:       "name",
		ocispec.AnnotationVersion:     "version",
		ocispec.AnnotationDescription: "description",
	} {
		if v, ok := meta[field].(string); ok && v != "" {
			ann[key] = v
		}
	}
	m := ocispec.Manifest{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		MediaType:   ocispec.MediaTypeImageManifest,
		Config:      config.desc,
		Layers:      []ocispec.Descriptor{layer},
		Annotations: ann,
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return blobData{}, blobData{}, err
	}
	return newBlob(ocispec.MediaTypeImageManifest, raw), config, nil
}

// chartMetadata reads <chart>/Chart.yaml from a chart archive as a generic map.
func chartMetadata(tgz []byte) (map[string]any, error) {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, fmt.Errorf("chart archive: %w", err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, errors.New("chart archive: no <chart>/Chart.yaml")
		}
		if err != nil {
			return nil, fmt.Errorf("chart archive: %w", err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		if strings.Count(name, "/") != 1 || path.Base(name) != "Chart.yaml" {
			continue
		}
		raw, err := io.ReadAll(io.LimitReader(tr, maxChartMetadata))
		if err != nil {
			return nil, fmt.Errorf("chart archive %s: %w", name, err)
		}
		var meta map[string]any
		if err := yaml.Unmarshal(raw, &meta); err != nil {
			return nil, fmt.Errorf("chart archive %s: %w", name, err)
		}
		return meta, nil
	}
}

// fileArtifact wraps a raw file (held as its descriptor; the bytes are the
// single layer) into an OCI artifact with the empty config, like
// `oras push --artifact-type`.
func fileArtifact(name string, layer ocispec.Descriptor, annotations map[string]string) (manifest, config blobData, err error) {
	config = newBlob(ocispec.MediaTypeEmptyJSON, []byte("{}"))
	layer.Annotations = map[string]string{ocispec.AnnotationTitle: name}
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: mediatype.MeshpackFile,
		Config:       config.desc,
		Layers:       []ocispec.Descriptor{layer},
		Annotations:  annotations,
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return blobData{}, blobData{}, err
	}
	return newBlob(ocispec.MediaTypeImageManifest, raw), config, nil
}
