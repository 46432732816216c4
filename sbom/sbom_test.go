package sbom_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/sbom"
	"github.com/lattice-mesh/meshpack/sbom/sbomtest"
)

// doc is the part of a CycloneDX document the tests read.
type doc struct {
	BOMFormat    string `json:"bomFormat"`
	SpecVersion  string `json:"specVersion"`
	SerialNumber string `json:"serialNumber"`
	Metadata     struct {
		Timestamp  string     `json:"timestamp"`
		Properties []property `json:"properties"`
	} `json:"metadata"`
	Components []comp `json:"components"`
}

type comp struct {
	Type       string     `json:"type"`
	BOMRef     string     `json:"bom-ref"`
	Name       string     `json:"name"`
	Version    string     `json:"version"`
	PURL       string     `json:"purl"`
	Hashes     []hash     `json:"hashes"`
	Properties []property `json:"properties"`
	Components []comp     `json:"components"`
	ExtRefs    []struct {
		Type string `json:"type"`
		URL  string `json:"url"`
	} `json:"externalReferences"`
}

type hash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

type property struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func (c comp) prop(name string) []string {
	var out []string
	for _, p := range c.Properties {
		if p.Name == name {
			out = append(out, p.Value)
		}
	}
	return out
}

func d(s string) string { return digest.FromString(s).String() }

// manifests holds single-layer chart and file manifests by digest.
type manifests map[string][]byte

func (m manifests) add(layer string) string {
	raw := fmt.Appendf(nil, `{"schemaVersion":2,"layers":[{"digest":%q,"size":3}]}`, layer)
	dg := digest.FromBytes(raw).String()
	m[string(dg)] = raw
	return dg
}

func (m manifests) read(dg string) ([]byte, error) {
	if raw, ok := m[dg]; ok {
		return raw, nil
	}
	return nil, errors.New("not in the bundle")
}

// fullBOM is a BOM with one of every artifact kind.
func fullBOM(m manifests) *bundle.BOM {
	return &bundle.BOM{
		SchemaVersion: bundle.BOMSchemaVersion, Tool: bundle.Tool{Name: "meshpack", Version: "v0.9.0", Commit: "abc"},
		Created: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC), Set: map[string]string{"istio": "1.30.3", "profile": "ambient"},
		Platforms: []string{"linux/amd64", "linux/arm64"}, Signed: true,
		Artifacts: []bundle.Artifact{
			{Kind: bundle.KindImage, Name: "pilot", Source: "docker.io/istio/pilot:1.30.3", Repository: "istio/pilot", Tag: "1.30.3",
				Digest: d("pilot"), UpstreamDigest: d("pilot-upstream"), Checks: []string{"digest:lock", "cosign:istio-release"},
				Platforms: []bundle.Platform{{Platform: "linux/amd64", Digest: d("pilot-amd64")}, {Platform: "linux/arm64/v8", Digest: d("pilot-arm64")}}},
			{Kind: bundle.KindSignature, Name: "pilot", Source: "docker.io/istio/pilot:1.30.3", Repository: "istio/pilot",
				Tag: "sha256-" + strings.TrimPrefix(d("pilot"), "sha256:") + ".sig", Digest: d("sig"), Subject: d("pilot"), Checks: []string{"signed:bundle-key"}},
			{Kind: bundle.KindReferrer, Name: "kiali", Source: "quay.io/kiali/kiali:v2.26.0", Repository: "kiali/kiali", Digest: d("upstream-sbom"),
				Subject: d("kiali"), ArtifactType: "application/spdx+json", Checks: []string{"upstream-referrer:unverified"}},
			{Kind: bundle.KindChart, Name: "istiod", Source: "https://istio-release.storage.googleapis.com/charts/istiod-1.30.3.tgz",
				Repository: "charts/istiod", Tag: "1.30.3", Digest: m.add(d("istiod.tgz")), Checks: []string{"sha256:catalog"}},
			{Kind: bundle.KindChart, Name: "base", Source: "oci://gcr.io/istio-release/charts/base:1.30.3",
				Repository: "charts/base", Tag: "1.30.3", Digest: m.add(d("base.tgz")), Checks: []string{"sha256:resolved"}},
			{Kind: bundle.KindFile, Name: "standard-install.yaml", Source: "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.5.1/standard-install.yaml",
				Repository: "files/gateway-api", Tag: "v1.5.1-standard-install", Digest: m.add(d("crds")), Checks: []string{"sha256:catalog"}},
		},
	}
}

// TestGenerateValidates checks every SBOM shape against the official
// CycloneDX 1.6 schema.
func TestGenerateValidates(t *testing.T) {
	tests := []struct {
		name string
		bom  func(m manifests) *bundle.BOM
		opts func(m manifests) sbom.Options
	}{
		{"every kind", fullBOM, func(m manifests) sbom.Options { return sbom.Options{Manifest: m.read} }},
		{"no manifest reader", fullBOM, func(manifests) sbom.Options { return sbom.Options{} }},
		{"unsigned incremental", func(m manifests) *bundle.BOM {
			b := fullBOM(m)
			b.Signed, b.Unsigned, b.Base = false, "no signing key; unsigned explicitly allowed", d("base-bom")
			return b
		}, func(m manifests) sbom.Options { return sbom.Options{Manifest: m.read} }},
		{"empty", func(manifests) *bundle.BOM { return &bundle.BOM{SchemaVersion: bundle.BOMSchemaVersion} }, func(manifests) sbom.Options { return sbom.Options{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := manifests{}
			out, err := sbom.Generate(tt.bom(m), tt.opts(m))
			if err != nil {
				t.Fatal(err)
			}
			if err := sbomtest.Validate(out); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var got doc
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if got.BOMFormat != "CycloneDX" || got.SpecVersion != sbom.SpecVersion || !strings.HasPrefix(got.SerialNumber, "urn:uuid:") {
				t.Errorf("header: format %q, spec %q, serial %q", got.BOMFormat, got.SpecVersion, got.SerialNumber)
			}
		})
	}
}

// TestValidateRejects proves the schema check can fail.
func TestValidateRejects(t *testing.T) {
	m := manifests{}
	good, err := sbom.Generate(fullBOM(m), sbom.Options{Manifest: m.read})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, from, to string }{
		{"wrong format", `"bomFormat": "CycloneDX"`, `"bomFormat": "SPDX"`},
		{"bad hash", `"alg": "SHA-256"`, `"alg": "SHA-257"`},
		{"bad component type", `"type": "container"`, `"type": "helm-chart"`},
		{"bad serial", `"serialNumber": "urn:uuid:`, `"serialNumber": "uuid:`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := strings.Replace(string(good), tt.from, tt.to, 1)
			if bad == string(good) {
				t.Fatalf("%q not in the SBOM", tt.from)
			}
			if err := sbomtest.Validate([]byte(bad)); err == nil {
				t.Error("the schema accepted a broken SBOM")
			}
		})
	}
}

// TestGenerateListsEveryArtifact checks that each BOM artifact is a
// component carrying the BOM's digest, with its content hash, purl, source
// and checks.
func TestGenerateListsEveryArtifact(t *testing.T) {
	m := manifests{}
	bom := fullBOM(m)
	out, err := sbom.Generate(bom, sbom.Options{Manifest: m.read})
	if err != nil {
		t.Fatal(err)
	}
	var got doc
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Components) != len(bom.Artifacts) {
		t.Fatalf("%d components for %d artifacts", len(got.Components), len(bom.Artifacts))
	}
	wantHash := map[string]string{ // content the component hash names
		"istiod": d("istiod.tgz"), "base": d("base.tgz"), "standard-install.yaml": d("crds"),
	}
	wantPURL := map[string]string{
		"pilot":                 "pkg:oci/pilot@sha256%3A" + strings.TrimPrefix(d("pilot"), "sha256:") + "?repository_url=docker.io/istio/pilot&tag=1.30.3",
		"istiod":                "pkg:generic/istiod@1.30.3?checksum=" + d("istiod.tgz") + "&download_url=https://istio-release.storage.googleapis.com/charts/istiod-1.30.3.tgz",
		"base":                  "pkg:oci/base@sha256%3A",
		"standard-install.yaml": "pkg:generic/standard-install.yaml?checksum=" + d("crds") + "&download_url=https://github.com/",
		"kiali":                 "pkg:oci/kiali@sha256%3A" + strings.TrimPrefix(d("upstream-sbom"), "sha256:") + "?repository_url=quay.io/kiali/kiali",
	}
	for i, a := range bom.Artifacts {
		c := got.Components[i]
		if dg := c.prop(sbom.PropDigest); len(dg) != 1 || dg[0] != a.Digest {
			t.Errorf("%s %s: digest property %v, BOM says %s", a.Kind, a.Name, dg, a.Digest)
		}
		want := a.Digest
		if h, ok := wantHash[a.Name]; ok {
			want = h
		}
		if len(c.Hashes) != 1 || "sha256:"+c.Hashes[0].Content != want {
			t.Errorf("%s %s: hashes %v, want %s", a.Kind, a.Name, c.Hashes, want)
		}
		if p, ok := wantPURL[a.Name]; ok && a.Kind != bundle.KindSignature && !strings.HasPrefix(c.PURL, p) {
			t.Errorf("%s %s: purl %s, want %s…", a.Kind, a.Name, c.PURL, p)
		}
		if checks := c.prop(sbom.PropCheck); strings.Join(checks, ",") != strings.Join(a.Checks, ",") {
			t.Errorf("%s %s: checks %v, BOM says %v", a.Kind, a.Name, checks, a.Checks)
		}
		if src := c.prop(sbom.PropSource); len(src) != 1 || src[0] != a.Source {
			t.Errorf("%s %s: source %v, BOM says %s", a.Kind, a.Name, src, a.Source)
		}
	}
	pilot := got.Components[0]
	if len(pilot.Components) != 2 || pilot.Components[1].prop(sbom.PropPlatform)[0] != "linux/arm64/v8" ||
		!strings.Contains(pilot.Components[1].PURL, "arch=arm64") || "sha256:"+pilot.Components[1].Hashes[0].Content != d("pilot-arm64") {
		t.Errorf("pilot platforms: %+v", pilot.Components)
	}
	if up := pilot.prop(sbom.PropUpstreamDigest); len(up) != 1 || up[0] != d("pilot-upstream") {
		t.Errorf("pilot upstream digest %v", up)
	}
	if got.Metadata.Timestamp != "2026-11-01T12:00:00Z" {
		t.Errorf("timestamp %q", got.Metadata.Timestamp)
	}
	meta := comp{Properties: got.Metadata.Properties}
	if s := meta.prop(sbom.PropSigned); len(s) != 1 || s[0] != "true" {
		t.Errorf("signed property %v", s)
	}
	if s := meta.prop(sbom.PropSetPrefix + "profile"); len(s) != 1 || s[0] != "ambient" {
		t.Errorf("set property %v", s)
	}
}

// TestGenerateDeterministic: the same BOM gives the same bytes; another BOM
// another serial number.
func TestGenerateDeterministic(t *testing.T) {
	m := manifests{}
	a, err := sbom.Generate(fullBOM(m), sbom.Options{Manifest: m.read})
	if err != nil {
		t.Fatal(err)
	}
	b, err := sbom.Generate(fullBOM(m), sbom.Options{Manifest: m.read})
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Error("two SBOMs of one BOM differ")
	}
	other := fullBOM(m)
	other.Set["istio"] = "1.30.4"
	c, err := sbom.Generate(other, sbom.Options{Manifest: m.read})
	if err != nil {
		t.Fatal(err)
	}
	var da, dc doc
	if err := json.Unmarshal(a, &da); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(c, &dc); err != nil {
		t.Fatal(err)
	}
	if da.SerialNumber == dc.SerialNumber {
		t.Errorf("two BOMs share serial %s", da.SerialNumber)
	}
}

// TestGenerateErrors names the artifact that could not be described.
func TestGenerateErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(*bundle.BOM)
		want string
	}{
		{"bad digest", func(b *bundle.BOM) { b.Artifacts[0].Digest = "md5:abc" }, "image pilot (md5:abc)"},
		{"manifest missing", func(b *bundle.BOM) { b.Artifacts[3].Digest = d("gone") }, "chart istiod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := manifests{}
			b := fullBOM(m)
			tt.edit(b)
			_, err := sbom.Generate(b, sbom.Options{Manifest: m.read})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error naming %q", err, tt.want)
			}
		})
	}
}
