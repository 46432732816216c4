// Package sbom writes the CycloneDX software bill of materials of a bundle
// (meshpack/sbom.cdx.json) from its BOM: every image with its platform
// manifests, chart, file, signature and referrer, with package URLs, SHA-256
// hashes, upstream sources and what each passed at create. It is the only
// importer of github.com/CycloneDX/cyclonedx-go and knows nothing of the
// network or of signing: the caller signs and stores what Generate returns.
package sbom

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/lattice-mesh/meshpack/bundle"
)

// Where the SBOM and its signature live inside a bundle (after the lock,
// among the other meshpack/* metadata files the BOM lists).
const (
	FileName    = "meshpack/sbom.cdx.json"
	SigFileName = "meshpack/sbom.cdx.json.sig"
)

// SpecVersion is the CycloneDX specification version Generate writes.
const SpecVersion = "1.6"

// Property names (CycloneDX properties, "meshpack:" namespace).
const (
	PropKind           = "meshpack:kind"
	PropDigest         = "meshpack:digest"
	PropUpstreamDigest = "meshpack:upstreamDigest"
	PropRepository     = "meshpack:repository"
	PropTag            = "meshpack:tag"
	PropSource         = "meshpack:source"
	PropSubject        = "meshpack:subject"
	PropArtifactType   = "meshpack:artifactType"
	PropPlatform       = "meshpack:platform"
	PropCheck          = "meshpack:check"
	PropSigned         = "meshpack:signed"
	PropUnsigned       = "meshpack:unsigned"
	PropBase           = "meshpack:base"
	PropPlatforms      = "meshpack:platforms"
	PropSetPrefix      = "meshpack:set:"
)

// Options configures Generate.
type Options struct {
	// Manifest returns the bytes of a manifest the bundle holds, by digest.
	// Generate reads chart and file manifests through it to hash their
	// content (the chart .tgz, the file) rather than the OCI wrapper. Nil:
	// charts and files are hashed by their manifest digest only.
	Manifest func(digest string) ([]byte, error)
}

// Generate returns the CycloneDX 1.6 JSON document describing bom. The
// output depends only on bom and the manifests read: the serial number is
// derived from the BOM, the timestamp is bom.Created.
func Generate(bom *bundle.BOM, opts Options) ([]byte, error) {
	if bom == nil {
		return nil, fmt.Errorf("generate SBOM: no BOM")
	}
	raw, err := json.Marshal(bom)
	if err != nil {
		return nil, fmt.Errorf("generate SBOM: %w", err)
	}
	doc := cdx.NewBOM()
	doc.SerialNumber = serial(raw)
	doc.Metadata = metadata(bom)
	refs := map[string]int{}
	var comps []cdx.Component
	var top []string
	for _, a := range bom.Artifacts {
		c, err := component(a, opts, refs)
		if err != nil {
			return nil, fmt.Errorf("generate SBOM: %s %s (%s): %w", a.Kind, a.Name, a.Digest, err)
		}
		comps = append(comps, c)
		top = append(top, c.BOMRef)
	}
	doc.Components = &comps
	doc.Dependencies = &[]cdx.Dependency{{Ref: doc.Metadata.Component.BOMRef, Dependencies: &top}}
	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON).SetPretty(true).SetEscapeHTML(false)
	if err := enc.EncodeVersion(doc, cdx.SpecVersion1_6); err != nil {
		return nil, fmt.Errorf("generate SBOM: encode CycloneDX %s: %w", SpecVersion, err)
	}
	return buf.Bytes(), nil
}

// serial is an RFC 4122 version 5-style UUID URN derived from the BOM, so
// the same BOM always yields the same document.
func serial(bomJSON []byte) string {
	h := sha256.Sum256(append([]byte("meshpack sbom serial\x00"), bomJSON...))
	u := h[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// metadata describes the bundle itself and the tool that wrote it.
func metadata(bom *bundle.BOM) *cdx.Metadata {
	tool := cdx.Component{Type: cdx.ComponentTypeApplication, Name: orDefault(bom.Tool.Name, "meshpack"), Version: bom.Tool.Version}
	if bom.Tool.Commit != "" {
		tool.Properties = &[]cdx.Property{{Name: "meshpack:commit", Value: bom.Tool.Commit}}
	}
	var props []cdx.Property
	add := func(name, value string) {
		if value != "" {
			props = append(props, cdx.Property{Name: name, Value: value})
		}
	}
	add(PropSigned, fmt.Sprint(bom.Signed))
	add(PropUnsigned, bom.Unsigned)
	add(PropBase, bom.Base)
	add(PropPlatforms, strings.Join(bom.Platforms, ","))
	keys := make([]string, 0, len(bom.Set))
	for k := range bom.Set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		add(PropSetPrefix+k, bom.Set[k])
	}
	m := &cdx.Metadata{
		Lifecycles: &[]cdx.Lifecycle{{Phase: cdx.LifecyclePhaseBuild}},
		Tools:      &cdx.ToolsChoice{Components: &[]cdx.Component{tool}},
		Component: &cdx.Component{
			Type: cdx.ComponentTypeFile, BOMRef: "meshpack-bundle", Name: "meshpack bundle",
			Version:     bom.Set["istio"],
			Description: "a meshpack bundle: the service mesh images, charts and files carried into an air-gapped enclave",
		},
		Properties: &props,
	}
	if !bom.Created.IsZero() {
		m.Timestamp = bom.Created.UTC().Format(time.RFC3339)
	}
	return m
}

// component describes one BOM artifact.
func component(a bundle.Artifact, opts Options, refs map[string]int) (cdx.Component, error) {
	repo, tag := splitRef(a.Source)
	hexDigest, err := sha256Hex(a.Digest)
	if err != nil {
		return cdx.Component{}, err
	}
	c := cdx.Component{Name: a.Name, Hashes: &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: hexDigest}}}
	switch a.Kind {
	case bundle.KindImage:
		c.Type, c.Name, c.Version = cdx.ComponentTypeContainer, orDefault(repo, a.Name), tag
		c.PackageURL = ociPURL(repo, a.Name, a.Digest, tag, "")
		c.Components = platforms(a, repo, tag, refs)
	case bundle.KindChart:
		c.Type, c.Version = cdx.ComponentTypeApplication, strings.ReplaceAll(a.Tag, "_", "+")
		c.PackageURL, err = contentPURL(&c, a, opts)
	case bundle.KindFile:
		c.Type = cdx.ComponentTypeFile
		c.PackageURL, err = contentPURL(&c, a, opts)
	default: // signatures, referrers: OCI artifacts next to their image
		c.Type = cdx.ComponentTypeData
		c.Description = describe(a)
		c.PackageURL = ociPURL(repo, a.Name, a.Digest, a.Tag, "")
	}
	if err != nil {
		return cdx.Component{}, err
	}
	if isURL(a.Source) {
		c.ExternalReferences = &[]cdx.ExternalReference{{Type: cdx.ERTypeDistribution, URL: a.Source}}
	}
	c.BOMRef = uniqueRef(refs, c.PackageURL)
	c.Properties = artifactProperties(a)
	return c, nil
}

// platforms lists an image's platform manifests as nested components.
func platforms(a bundle.Artifact, repo, tag string, refs map[string]int) *[]cdx.Component {
	var out []cdx.Component
	for _, p := range a.Platforms {
		hexDigest, err := sha256Hex(p.Digest)
		if err != nil || p.Digest == a.Digest {
			continue
		}
		arch := ""
		if parts := strings.Split(p.Platform, "/"); len(parts) > 1 {
			arch = parts[1]
		}
		u := ociPURL(repo, a.Name, p.Digest, tag, arch)
		out = append(out, cdx.Component{
			Type: cdx.ComponentTypeContainer, BOMRef: uniqueRef(refs, u), Name: orDefault(repo, a.Name), Version: tag,
			PackageURL: u, Hashes: &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: hexDigest}},
			Properties: &[]cdx.Property{{Name: PropPlatform, Value: p.Platform}, {Name: PropDigest, Value: p.Digest}},
		})
	}
	if len(out) == 0 {
		return nil
	}
	return &out
}

// contentPURL names a chart or file by its upstream location and the sha256
// of its content, and hashes the component by that content when the
// manifest can be read.
func contentPURL(c *cdx.Component, a bundle.Artifact, opts Options) (string, error) {
	content := ""
	if opts.Manifest != nil {
		d, err := contentDigest(opts.Manifest, a.Digest)
		if err != nil {
			return "", err
		}
		content = d
		hexDigest, err := sha256Hex(d)
		if err != nil {
			return "", err
		}
		*c.Hashes = []cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: hexDigest}}
	}
	if ref, ok := strings.CutPrefix(a.Source, "oci://"); ok {
		repo, tag := splitRef(ref)
		return ociPURL(repo, a.Name, a.Digest, tag, ""), nil
	}
	return purl("generic", a.Name, c.Version, map[string]string{"download_url": a.Source, "checksum": content}), nil
}

// contentDigest reads a single-layer artifact manifest and returns its
// layer's digest.
func contentDigest(read func(string) ([]byte, error), manifestDigest string) (string, error) {
	raw, err := read(manifestDigest)
	if err != nil {
		return "", fmt.Errorf("read manifest: %w", err)
	}
	var m struct {
		Layers []struct {
			Digest string `json:"digest"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", fmt.Errorf("parse manifest: %w", err)
	}
	if len(m.Layers) != 1 {
		return "", fmt.Errorf("manifest has %d layers, want the one content layer of a chart or file artifact", len(m.Layers))
	}
	return m.Layers[0].Digest, nil
}

func artifactProperties(a bundle.Artifact) *[]cdx.Property {
	var props []cdx.Property
	add := func(name, value string) {
		if value != "" {
			props = append(props, cdx.Property{Name: name, Value: value})
		}
	}
	add(PropKind, a.Kind)
	add(PropDigest, a.Digest)
	if a.UpstreamDigest != a.Digest {
		add(PropUpstreamDigest, a.UpstreamDigest)
	}
	add(PropSource, a.Source)
	add(PropRepository, a.Repository)
	add(PropTag, a.Tag)
	add(PropSubject, a.Subject)
	add(PropArtifactType, a.ArtifactType)
	for _, ch := range a.Checks {
		add(PropCheck, ch)
	}
	return &props
}

func describe(a bundle.Artifact) string {
	switch a.Kind {
	case bundle.KindSignature:
		return "cosign signature of " + a.Source + "@" + a.Subject
	case bundle.KindReferrer:
		return "referrer (" + orDefault(a.ArtifactType, "unknown artifactType") + ") of " + a.Source + "@" + a.Subject
	}
	return a.Kind + " " + a.Name
}

// ociPURL is pkg:oci/NAME@DIGEST?arch=…&repository_url=REPO&tag=TAG, NAME
// being the last path element of the repository, lower case.
func ociPURL(repo, fallbackName, digest, tag, arch string) string {
	name := fallbackName
	if i := strings.LastIndex(repo, "/"); i >= 0 {
		name = repo[i+1:]
	}
	return purl("oci", strings.ToLower(name), digest, map[string]string{"repository_url": repo, "tag": tag, "arch": arch})
}

// splitRef splits "host/path:tag@digest" into "host/path" and "tag".
func splitRef(ref string) (repo, tag string) {
	if isURL(ref) {
		return "", ""
	}
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if c := strings.LastIndex(ref, ":"); c > strings.LastIndex(ref, "/") {
		return ref[:c], ref[c+1:]
	}
	return ref, ""
}

func sha256Hex(d string) (string, error) {
	hexDigest, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(hexDigest) != 64 {
		return "", fmt.Errorf("digest %q is not a sha256 digest", d)
	}
	return hexDigest, nil
}

// uniqueRef returns ref, or ref#N when it was used before.
func uniqueRef(refs map[string]int, ref string) string {
	n := refs[ref]
	refs[ref] = n + 1
	if n == 0 {
		return ref
	}
	return fmt.Sprintf("%s#%d", ref, n)
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "oci://")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
