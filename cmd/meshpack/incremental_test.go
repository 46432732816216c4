package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mediatype"
	"github.com/lattice-mesh/meshpack/mirror/registry/registrytest"
)

// TestIncrementalBundle: a delta from the 1.30.3 bundle (or its BOM) to
// 1.30.4 carries exactly the blobs 1.30.3 lacks (bundle diff's delta); an
// inventory of a registry loaded with 1.30.3 gives the same delta; the
// delta loads over 1.30.3 and every 1.30.4 digest then pulls; into an empty
// registry it is refused before any push, naming missing blobs.
func TestIncrementalBundle(t *testing.T) {
	e := env(t)
	base := e.createBundleOf(t, "1.30.3")
	full := e.createBundleOf(t, "1.30.4")
	dir := t.TempDir()
	bomFile := filepath.Join(dir, "base.bom.json")
	out, _, code := runCLI(t, "", "bundle", "inspect", "--bom", base)
	if code != 0 || os.WriteFile(bomFile, []byte(out), 0o600) != nil {
		t.Fatal("bundle inspect --bom")
	}
	out, errOut, code := runCLI(t, "", "bundle", "diff", base, full, "-o", "json")
	var diff struct {
		DeltaBytes int64 `json:"deltaBytes"`
		FullBytes  int64 `json:"fullBytes"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &diff) != nil {
		t.Fatalf("bundle diff: exit %d\n%s%s", code, out, errOut)
	}
	delta := func(name, since string, extra ...string) (string, *bundle.BOM) {
		path := filepath.Join(dir, name)
		args := append([]string{"bundle", "create", path, "--istio", "1.30.4", "--profile", "ambient", "--kiali",
			"--key", e.key(), "--upstream-key", "istio-release=" + e.istioPub, "--since", since}, extra...)
		if _, errOut, code := e.meshpack(t, args...); code != 0 {
			t.Fatalf("bundle create --since %s: exit %d\n%s", since, code, errOut)
		}
		return path, openBOM(t, path)
	}
	fromBundle, bomA := delta("delta-bundle.tar.zst", base)
	_, bomB := delta("delta-bom.tar.zst", bomFile)
	baseID := bundleID(t, base)
	if bomA.Base != baseID || bomB.Base != baseID {
		t.Errorf("delta BOM base %q / %q, want the base bundle's id %s", bomA.Base, bomB.Base, baseID)
	}
	var got int64
	for _, b := range bomA.Blobs {
		got += b.Size
	}
	if diff.DeltaBytes == 0 || got > diff.DeltaBytes*102/100 {
		t.Errorf("the delta carries %d blob bytes; bundle diff says %d are new", got, diff.DeltaBytes)
	}
	t.Logf("delta %d blob bytes of %d in the full next patch (%.1f%%)", got, diff.FullBytes, 100*float64(got)/float64(diff.FullBytes))
	if got*100 > diff.FullBytes*12 {
		t.Errorf("the delta is %.1f%% of the full next patch, want at most 12%% (the fixture's next patch changes ~10%% of layer bytes)", 100*float64(got)/float64(diff.FullBytes))
	}
	if a, b := blobSet(bomA), blobSet(bomB); a != b {
		t.Error("deltas from the bundle and from its BOM differ")
	}

	reg := registrytest.New(t) + "/mesh"
	e.loadBundleInto(t, base, reg)
	out, errOut, code = runCLI(t, "", "registry", "inventory", "--registry", reg)
	inv := filepath.Join(dir, "inventory.json")
	if code != 0 || os.WriteFile(inv, []byte(out), 0o600) != nil {
		t.Fatalf("registry inventory: exit %d\n%s", code, errOut)
	}
	fromInv, bomI := delta("delta-inventory.tar.zst", inv)

	// A signed inventory: verified when used; a tampered one is refused.
	signed := filepath.Join(dir, "signed-inventory.json")
	t.Setenv("COSIGN_PASSWORD", testPassword)
	if _, errOut, code := runCLI(t, "", "registry", "inventory", signed, "--registry", reg, "--key", e.key()); code != 0 {
		t.Fatalf("registry inventory --key: exit %d\n%s", code, errOut)
	}
	runTool(t, "cosign", "verify-blob", "--key", e.pub(), "--signature", signed+".sig", "--insecure-ignore-tlog", signed)
	_, bomS := delta("delta-signed.tar.zst", signed, "--since-key", e.pub())
	if blobSet(bomS) != blobSet(bomA) {
		t.Error("the delta from the signed inventory differs")
	}
	data, _ := os.ReadFile(signed)
	if err := os.WriteFile(signed, []byte(strings.Replace(string(data), `"repositories"`, `"repositories" `, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"bundle", "create", filepath.Join(dir, "refused.tar.zst"), "--istio", "1.30.4", "--profile", "ambient", "--kiali",
		"--key", e.key(), "--upstream-key", "istio-release=" + e.istioPub, "--since", signed, "--since-key", e.pub()}
	if _, errOut, code := e.meshpack(t, args...); code != 1 || !strings.Contains(errOut, "does not verify") {
		t.Fatalf("create --since a tampered signed inventory: exit %d\n%s", code, errOut)
	}
	if blobSet(bomI) != blobSet(bomA) {
		t.Error("the delta from the inventory differs from the delta from the bundle")
	}
	next := e.loadBundleInto(t, fromInv, reg)
	for ref := range next.pinnedRefs() {
		runTool(t, "crane", "manifest", ref, "--insecure")
	}
	// Base + delta serve what the full bundle serves: every tag of the next
	// patch at the same digest, and every blob of every layer.
	fullReg := registrytest.New(t) + "/mesh"
	e.loadBundleInto(t, full, fullReg)
	bomFull := openBOM(t, full)
	for _, a := range bomFull.Artifacts {
		if a.Kind == bundle.KindSignature || a.Tag == "" {
			continue // signatures are made anew by each create
		}
		viaDelta := runTool(t, "crane", "digest", reg+"/"+a.Repository+":"+a.Tag, "--insecure")
		viaFull := runTool(t, "crane", "digest", fullReg+"/"+a.Repository+":"+a.Tag, "--insecure")
		if viaDelta != viaFull {
			t.Errorf("%s:%s is %s after base + delta, %s after the full bundle", a.Repository, a.Tag, strings.TrimSpace(viaDelta), strings.TrimSpace(viaFull))
		}
	}
	for _, b := range bomFull.Blobs {
		if b.MediaType == "" || strings.Contains(b.MediaType, "manifest") || strings.Contains(b.MediaType, "index") {
			continue
		}
		found := false
		for _, a := range bomFull.Artifacts {
			if a.Kind != bundle.KindImage {
				continue
			}
			if exec.Command(tool(t, "crane"), "blob", reg+"/"+a.Repository+"@"+b.Digest, "--insecure").Run() == nil {
				found = true
				break
			}
		}
		if !found && strings.Contains(b.MediaType, "layer") {
			t.Errorf("layer %s of the full bundle is not served after base + delta", b.Digest)
		}
	}

	empty := registrytest.New(t)
	_, errOut, code = runCLI(t, "", "bundle", "load", fromBundle, "--registry", empty+"/mesh", "--plain-http", "--state-dir", "none", "--key", e.pub())
	if code != 1 || !strings.Contains(errOut, "nothing was pushed") || !strings.Contains(errOut, baseID) {
		t.Fatalf("loading a delta without its base: exit %d\n%s", code, errOut)
	}
	if repos := registrytest.Catalog(t, empty); len(repos) != 0 {
		t.Errorf("a refused delta load pushed %v", repos)
	}
}

func openBOM(t *testing.T, path string) *bundle.BOM {
	t.Helper()
	r, err := bundle.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	bom, err := r.BOM()
	if err != nil {
		t.Fatal(err)
	}
	return bom
}

func bundleID(t *testing.T, path string) string {
	t.Helper()
	out, _, code := runCLI(t, "", "bundle", "inspect", path, "-o", "json")
	var r struct{ ID string }
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("bundle inspect %s", path)
	}
	return r.ID
}

func blobSet(bom *bundle.BOM) string {
	var s []string
	for _, b := range bom.Blobs {
		// The bundle SBOM is generated for each bundle (it names its
		// creation time), like the manifests that attach it.
		if !strings.HasPrefix(b.MediaType, "application/vnd.oci.image.manifest") && !strings.Contains(b.MediaType, "manifest") && !strings.Contains(b.MediaType, "index") && b.MediaType != mediatype.CycloneDXJSON {
			s = append(s, b.Digest)
		}
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}
