// Package mediatype names every media type meshpack defines or reads
// besides the OCI image-spec ones (which come from
// github.com/opencontainers/image-spec/specs-go/v1): the Docker schema 2
// manifest types images may still use, the Helm chart artifact types, and
// meshpack's own file artifact type. It is a leaf that imports nothing of
// meshpack, so that the format, data, signing and network packages can all
// share one definition.
package mediatype

import ocispec "github.com/opencontainers/image-spec/specs-go/v1"

// Docker schema 2 manifest types, which registries and images still use
// beside the OCI ones.
const (
	// DockerManifestList is a Docker manifest list: a multi-platform index.
	DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	// DockerManifest is a Docker image manifest.
	DockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
)

// Helm chart artifact types, as `helm push` writes them.
const (
	// HelmConfig is the config of an OCI Helm chart: Chart.yaml as JSON.
	HelmConfig = "application/vnd.cncf.helm.config.v1+json"
	// HelmChart is the chart archive layer: the unchanged .tgz.
	HelmChart = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
)

// MeshpackFile is the artifactType of a raw file (such as the Gateway API
// CRDs) carried as an OCI artifact with one layer.
const MeshpackFile = "application/vnd.lattice.meshpack.file.v1"

// IsIndex reports whether mt is an image index (OCI or Docker manifest list).
func IsIndex(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == DockerManifestList
}

// IsManifest reports whether mt is an image manifest (OCI or Docker).
func IsManifest(mt string) bool {
	return mt == ocispec.MediaTypeImageManifest || mt == DockerManifest
}

// Accept lists every manifest type, for the Accept header of a manifest
// GET: a registry then serves the stored bytes unconverted.
const Accept = ocispec.MediaTypeImageIndex + ", " + ocispec.MediaTypeImageManifest + ", " + DockerManifestList + ", " + DockerManifest

// Media types of the record bundle load leaves in the registry (the bundle
// it loaded, by its BOM): the artifact type and its BOM and BOM signature
// layers.
const (
	MeshpackBundleRecord = "application/vnd.lattice.meshpack.bundle.v1"
	MeshpackBOM          = "application/vnd.lattice.meshpack.bom.v1+json"
	MeshpackBOMSignature = "application/vnd.lattice.meshpack.bom.signature.v1"
)
