package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	orasremote "oras.land/oras-go/v2/registry/remote"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/hack/upstream"
	"github.com/lattice-mesh/meshpack/mediatype"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/mirror/registry/registrytest"
	"github.com/lattice-mesh/meshpack/sbom"
	"github.com/lattice-mesh/meshpack/sbom/sbomtest"
)

// TestBundleSBOM follows the bundle SBOM from create to the registry: the
// SBOM `bundle sbom` prints validates against the official CycloneDX
// schema and lists every artifact with the BOM's digests, the real cosign
// verify-blob accepts its signature, bundle verify refuses a changed one,
// and after load every image's referrers list it, and the Kiali image's
// also lists the SBOM upstream attached.
func TestBundleSBOM(t *testing.T) {
	e := env(t)
	path := e.createBundle(t)
	bom := openBOM(t, path)
	dir := t.TempDir()

	out, errOut, code := runCLI(t, "", "bundle", "sbom", path)
	if code != 0 {
		t.Fatalf("bundle sbom: exit %d\n%s", code, errOut)
	}
	if err := sbomtest.Validate([]byte(out)); err != nil {
		t.Fatal(err)
	}
	checkSBOMListsBOM(t, []byte(out), bom)

	// Saved with its signature, checked by --key and by the real cosign.
	doc, sig := filepath.Join(dir, "sbom.cdx.json"), filepath.Join(dir, "sbom.cdx.json.sig")
	if _, errOut, code := runCLI(t, "", "bundle", "sbom", path, doc, "--signature", sig, "--key", e.pub()); code != 0 {
		t.Fatalf("bundle sbom FILE --signature --key: exit %d\n%s", code, errOut)
	}
	if saved, _ := os.ReadFile(doc); string(saved) != out {
		t.Error("the saved SBOM differs from the printed one")
	}
	cosign := tool(t, "cosign")
	runTool(t, cosign, "verify-blob", "--key", e.pub(), "--signature", sig, "--insecure-ignore-tlog", doc)
	if _, errOut, code := runCLI(t, "", "bundle", "sbom", path, "--key", e.otherPub); code == 0 || !strings.Contains(errOut, sbom.SigFileName) {
		t.Errorf("bundle sbom --key OTHER: exit %d, want a failure naming %s\n%s", code, sbom.SigFileName, errOut)
	}

	t.Run("verify refuses a changed SBOM", func(t *testing.T) { checkSBOMTamper(t, e, path) })

	reg := registrytest.New(t)
	e.loadBundleInto(t, path, reg+"/mesh")
	sbomDigest := digest.FromString(out)
	images, upstreamSBOMs := 0, 0
	for _, a := range bom.Artifacts {
		if a.Kind != bundle.KindImage {
			continue
		}
		images++
		refs := referrersOf(t, reg, "mesh/"+a.Repository, a.Digest)
		var ours, theirs bool
		for _, r := range refs {
			switch {
			case r.ArtifactType == mediatype.CycloneDXJSON && sbomLayer(t, reg, "mesh/"+a.Repository, r) == sbomDigest:
				ours = true
			case r.ArtifactType == upstream.SBOMArtifactType:
				info, ok := e.u.Image(a.Source)
				theirs = ok && r.Digest == info.SBOMReferrer
			}
		}
		if !ours {
			t.Errorf("%s: the registry's referrers of %s do not list the bundle SBOM: %+v", a.Source, a.Digest, refs)
		}
		if info, _ := e.u.Image(a.Source); info.SBOMReferrer != "" {
			upstreamSBOMs++
			if !theirs {
				t.Errorf("%s: the SBOM upstream attached (%s) did not arrive: referrers %+v", a.Source, info.SBOMReferrer, refs)
			}
		}
	}
	if images == 0 || upstreamSBOMs == 0 {
		t.Fatalf("%d images, %d with an upstream SBOM: want both (the fixture attaches one to Kiali)", images, upstreamSBOMs)
	}
}

// checkSBOMListsBOM checks that every artifact of the BOM but the SBOM's
// own referrers is a component of doc with the same digest, and every
// platform manifest a nested one.
func checkSBOMListsBOM(t *testing.T, doc []byte, bom *bundle.BOM) {
	t.Helper()
	type component struct {
		Properties []struct{ Name, Value string } `json:"properties"`
		Hashes     []struct {
			Content string `json:"content"`
		} `json:"hashes"`
		Components []json.RawMessage `json:"components"`
	}
	var parsed struct {
		Components []component `json:"components"`
	}
	if err := json.Unmarshal(doc, &parsed); err != nil {
		t.Fatal(err)
	}
	listed := map[string]component{}
	for _, c := range parsed.Components {
		for _, p := range c.Properties {
			if p.Name == sbom.PropDigest {
				listed[p.Value] = c
			}
		}
	}
	kinds := map[string]int{}
	for _, a := range bom.Artifacts {
		if a.Kind == bundle.KindReferrer && strings.Contains(strings.Join(a.Checks, ","), mirror.CheckBundleSBOM) {
			continue
		}
		kinds[a.Kind]++
		c, ok := listed[a.Digest]
		if !ok {
			t.Errorf("%s %s (%s) is not in the SBOM", a.Kind, a.Name, a.Digest)
			continue
		}
		if a.Kind == bundle.KindImage && len(c.Components) != len(a.Platforms) {
			t.Errorf("image %s: %d platform components, the BOM has %d platforms", a.Source, len(c.Components), len(a.Platforms))
		}
		if a.Kind != bundle.KindChart && a.Kind != bundle.KindFile && (len(c.Hashes) != 1 || "sha256:"+c.Hashes[0].Content != a.Digest) {
			t.Errorf("%s %s: hash %v, the BOM says %s", a.Kind, a.Name, c.Hashes, a.Digest)
		}
	}
	if len(listed) != len(parsed.Components) || kinds[bundle.KindImage] == 0 || kinds[bundle.KindChart] == 0 || kinds[bundle.KindFile] == 0 || kinds[bundle.KindReferrer] == 0 {
		t.Errorf("SBOM components %d (%d with a digest); BOM kinds %v: want images, charts, files and the upstream referrer", len(parsed.Components), len(listed), kinds)
	}
}

// checkSBOMTamper changes the SBOM inside the bundle: as a stranger would
// (the BOM's record of it no longer matches) and as a creator holding the
// key would (BOM re-signed, SBOM signature left); verify refuses both.
func checkSBOMTamper(t *testing.T, e *e2eEnv, path string) {
	r, err := bundle.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := r.File(sbom.FileName)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	changed := []byte(strings.Replace(string(orig), `"specVersion": "1.6"`, `"specVersion": "1.6" `, 1))
	before, after := bundle.MetadataOf(sbom.FileName, orig), bundle.MetadataOf(sbom.FileName, changed)
	tests := []struct {
		name   string
		resign bool
		want   string
	}{
		{"stranger", false, sbom.FileName},
		{"key holder", true, sbom.SigFileName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "tampered.tar.zst")
			rewriteBundle(t, path, dst, func(name string, data []byte) []byte {
				switch {
				case name == sbom.FileName:
					return changed
				case name == bundle.BOMName && tt.resign: // record the changed SBOM
					var b bundle.BOM
					if err := json.Unmarshal(data, &b); err != nil {
						t.Fatal(err)
					}
					for i, f := range b.Files {
						if f == before {
							b.Files[i] = after
						}
					}
					out, err := json.MarshalIndent(&b, "", "  ")
					if err != nil {
						t.Fatal(err)
					}
					return out
				}
				return data
			}, tt.resign)
			out, _, code := runCLI(t, "", "bundle", "verify", dst, "--key", e.pub())
			if code == 0 || !strings.Contains(out, tt.want) {
				t.Errorf("verify of a bundle with a changed SBOM: exit %d, want a failure naming %s\n%s", code, tt.want, out)
			}
		})
	}
}

// referrersOf lists the referrers of digest in repo on the plain-HTTP
// registry at host as any OCI client finds them: oras-go asks the referrers
// API and, where the registry has none (Distribution), reads the referrers
// tag sha256-<hex>.
func referrersOf(t *testing.T, host, repo, dg string) []ocispec.Descriptor {
	t.Helper()
	r, err := orasremote.NewRepository(host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	r.PlainHTTP = true
	var out []ocispec.Descriptor
	err = r.Referrers(context.Background(), ocispec.Descriptor{Digest: digest.Digest(dg)}, "", func(page []ocispec.Descriptor) error {
		out = append(out, page...)
		return nil
	})
	if err != nil {
		t.Fatalf("referrers of %s@%s: %v", repo, dg, err)
	}
	return out
}

// sbomLayer returns the digest of the one layer of referrer manifest desc.
func sbomLayer(t *testing.T, host, repo string, desc ocispec.Descriptor) digest.Digest {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/v2/"+repo+"/manifests/"+desc.Digest.String(), nil)
	req.Header.Set("Accept", ocispec.MediaTypeImageManifest)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m ocispec.Manifest
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || len(m.Layers) != 1 {
		t.Fatalf("referrer %s in %s: %v, %d layers", desc.Digest, repo, err, len(m.Layers))
	}
	if m.Subject == nil {
		t.Errorf("referrer %s in %s has no subject", desc.Digest, repo)
	}
	return m.Layers[0].Digest
}
