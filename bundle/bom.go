package bundle

import (
	"encoding/json"
	"time"

	"github.com/opencontainers/go-digest"
)

// BOMSchemaVersion is the schema version of meshpack/bom.json written by this
// package. Version 2 added Files, so that the BOM signature covers every
// byte of the bundle; version 1 bundles are refused.
const BOMSchemaVersion = 2

// Well-known entry names inside a bundle.
const (
	OCILayoutName = "oci-layout"
	IndexName     = "index.json"
	BOMName       = "meshpack/bom.json"
	BOMSigName    = "meshpack/bom.json.sig"
	LockName      = "meshpack/lock.yaml"
)

// OCILayoutJSON is the content of the oci-layout entry (written by AddFile
// when the caller does not add it first), for the caller's BOM.Files.
const OCILayoutJSON = `{"imageLayoutVersion":"1.0.0"}`

// Artifact kinds recorded in a BOM.
const (
	KindImage     = "image"
	KindChart     = "chart"
	KindFile      = "file"
	KindSignature = "signature"
	// KindReferrer is an OCI referrer of an image (a manifest whose subject
	// is the image): the bundle SBOM meshpack attaches, or an SBOM or
	// attestation upstream published for a carried digest.
	KindReferrer = "referrer"
)

// BOM is meshpack/bom.json: the bill of materials of a bundle. It names every
// artifact with its source, digest, size and platforms, and lists every blob
// the bundle holds. It is written before any blob and is what the bundle
// signature covers.
type BOM struct {
	SchemaVersion int       `json:"schemaVersion"`
	Tool          Tool      `json:"tool"`
	Created       time.Time `json:"created"`
	// Spec and Lock are the spec and lock the bundle was built from, as JSON.
	Spec json.RawMessage `json:"spec,omitempty"`
	Lock json.RawMessage `json:"lock,omitempty"`
	// Set summarises the version set (free-form key/values such as
	// "istio": "1.30.3", "profile": "ambient") for inspect.
	Set map[string]string `json:"set,omitempty"`
	// Platforms is the platform filter applied at create; empty means all.
	Platforms []string `json:"platforms,omitempty"`
	// Signed is true when meshpack/bom.json.sig is present; Unsigned records
	// why not (the explicit flag that allowed it).
	Signed   bool   `json:"signed"`
	Unsigned string `json:"unsigned,omitempty"`
	// Base is the digest of the base bundle's meshpack/bom.json when this is
	// an incremental bundle (create --since); empty for a full bundle. Blobs
	// that manifests reference but the bundle lacks are expected in the base.
	Base string `json:"base,omitempty"`
	// Artifacts are the images, charts, files and signatures, in index order.
	Artifacts []Artifact `json:"artifacts"`
	// Blobs is every blob in blobs/sha256, each once, in bundle order.
	Blobs []Blob `json:"blobs"`
	// Files is every other regular file of the bundle but the BOM and its
	// signature: oci-layout, index.json, meshpack/lock.yaml and any other
	// meshpack/* file, with its sha256. With Blobs it makes the BOM (and so
	// its signature) cover every entry: Verify refuses any file it does not
	// list or whose bytes differ.
	Files []MetadataFile `json:"files"`
}

// MetadataFile is one metadata file of a bundle, as listed in BOM.Files.
type MetadataFile struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// MetadataOf returns the BOM record of the metadata file name holding data.
func MetadataOf(name string, data []byte) MetadataFile {
	return MetadataFile{Name: name, Digest: digest.FromBytes(data).String(), Size: int64(len(data))}
}

// Tool identifies the program that wrote a bundle.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty"`
}

// Artifact is one top-level thing in a bundle: an image, chart, raw file or
// signature, reachable from index.json.
type Artifact struct {
	Kind string `json:"kind"`
	// Name is a short name ("pilot", "istiod", "standard-install.yaml").
	Name string `json:"name"`
	// Source is the upstream reference or URL it came from.
	Source string `json:"source"`
	// Repository is the repository path below the target registry prefix
	// ("istio/pilot", "charts/istiod", "files/gateway-api"); Tag its tag.
	Repository string `json:"repository"`
	Tag        string `json:"tag,omitempty"`
	// Digest, MediaType and Size describe the root manifest or index as stored.
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType"`
	Size      int64  `json:"size"`
	// UpstreamDigest is the digest upstream serves for Source; it differs
	// from Digest when a platform filter rewrote the index.
	UpstreamDigest string `json:"upstreamDigest,omitempty"`
	// Platforms are the platform manifests stored, for images; for a
	// platform-specific file (an istioctl archive) its one platform, whose
	// digest is the artifact's own manifest.
	Platforms []Platform `json:"platforms,omitempty"`
	// Subject is the digest a signature artifact signs or a referrer refers to.
	Subject string `json:"subject,omitempty"`
	// ArtifactType is the artifactType of a referrer (or of any artifact
	// manifest that declares one), e.g. application/vnd.cyclonedx+json.
	ArtifactType string `json:"artifactType,omitempty"`
	// Checks lists what this artifact passed at create, e.g.
	// "digest:lock", "cosign:istio-release", "sha256:catalog", "upstream-verify:off".
	Checks []string `json:"checks,omitempty"`
}

// Platform is one platform manifest of an image artifact.
type Platform struct {
	Platform string `json:"platform"`
	Digest   string `json:"digest"`
	Size     int64  `json:"size"`
}

// Blob is one blob of the layout.
type Blob struct {
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	MediaType string `json:"mediaType,omitempty"`
}
