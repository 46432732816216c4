package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/mirror/registry"
	"github.com/lattice-mesh/meshpack/mirror/registry/registrytest"
)

// TestUnloadAndGC loads two bundles (Istio 1.30.3, then 1.30.4) into one
// embedded registry: registry list names the bundle of every tag; bundle
// unload of the second removes its tags and the manifests only it needs;
// registry gc then returns the storage to within 1 % of its size before
// the second load, and every digest of the first still pulls (crane).
func TestUnloadAndGC(t *testing.T) {
	e := env(t)
	root := t.TempDir()
	host := registrytest.NewWithConfig(t, registry.Config{Root: root, AllowDelete: true})
	reg := host + "/mesh"
	first := e.loadBundleInto(t, e.createBundleOf(t, "1.30.3"), reg)
	gc := func(dry bool) registry.GCResult {
		args := []string{"registry", "gc", "--root", root, "-o", "json"}
		if dry {
			args = append(args, "--dry-run")
		}
		out, errOut, code := runCLI(t, "", args...)
		var res registry.GCResult
		if code != 0 || json.Unmarshal([]byte(out), &res) != nil {
			t.Fatalf("registry gc: exit %d\n%s%s", code, out, errOut)
		}
		return res
	}
	before := gc(true).BytesAfter
	second := e.loadBundleInto(t, e.createBundleOf(t, "1.30.4"), reg)

	out, errOut, code := runCLI(t, "", "registry", "list", "--registry", reg, "-o", "json")
	var list struct {
		Bundles []struct{ ID string }
		Tags    []mirror.ListedTag
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list.Bundles) != 2 {
		t.Fatalf("registry list: exit %d\n%s%s", code, out, errOut)
	}
	ids := map[string]string{}
	for _, tg := range list.Tags {
		if tg.Repository == "mesh/istio/pilot" {
			ids[tg.Tag] = tg.Bundle
		}
	}
	if ids["1.30.3-distroless"] == "" || ids["1.30.4-distroless"] == "" || ids["1.30.3-distroless"] == ids["1.30.4-distroless"] {
		t.Fatalf("registry list: pilot tags by bundle %v, want each version from its own bundle\n%s", ids, out)
	}

	out, errOut, code = runCLI(t, "", "bundle", "unload", second.path, "--registry", reg, "--dry-run", "-o", "json")
	var dry mirror.UnloadResult
	if code != 0 || json.Unmarshal([]byte(out), &dry) != nil || len(dry.Deleted) == 0 || !dry.DryRun {
		t.Fatalf("bundle unload --dry-run: exit %d\n%s%s", code, out, errOut)
	}
	if gc(true).BytesAfter <= before {
		t.Fatal("a dry-run unload freed space")
	}
	out, errOut, code = runCLI(t, "", "bundle", "unload", second.path, "--registry", reg, "-o", "json")
	var res mirror.UnloadResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("bundle unload: exit %d\n%s%s", code, out, errOut)
	}
	if len(res.Kept) == 0 {
		t.Errorf("unload kept nothing for the first bundle, yet both carry Kiali 2.26.0: %+v", res)
	}
	if len(res.ReferrerTags) == 0 || len(dry.ReferrerTags) != len(res.ReferrerTags) {
		t.Errorf("unload pruned referrers indexes %v (dry run: %v); want the SBOM referrers tags of the second bundle's images", res.ReferrerTags, dry.ReferrerTags)
	}
	for _, rt := range res.ReferrerTags {
		checkReferrersTag(t, host+"/"+rt)
	}
	after := gc(false)
	if after.BytesAfter > before+before/100 || after.BytesAfter < before-before/100 {
		t.Errorf("storage after unload + gc: %d bytes, want within 1%% of %d before the second load", after.BytesAfter, before)
	}
	for ref := range first.pinnedRefs() {
		runTool(t, "crane", "manifest", ref, "--insecure")
	}
	for ref := range second.pinnedRefs() {
		if strings.Contains(ref, "kiali") || strings.Contains(ref, "prometheus") {
			continue // shared with the first bundle (Kiali, Istio's Prometheus addon), kept
		}
		if err := exec.Command(tool(t, "crane"), "manifest", ref, "--insecure").Run(); err == nil {
			t.Errorf("%s still pulls after unload", ref)
		}
	}
	out, _, _ = runCLI(t, "", "registry", "list", "--registry", reg, "-o", "json")
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Bundles) != 1 {
		t.Errorf("registry list after unload: %v\n%s", err, out)
	}
}

// checkReferrersTag checks a referrers index an unload pruned (the OCI
// referrers tag schema): gone, or listing only manifests that still pull.
func checkReferrersTag(t *testing.T, ref string) {
	t.Helper()
	raw, err := exec.Command(tool(t, "crane"), "manifest", ref, "--insecure").Output()
	if err != nil {
		return // deleted: nothing was left in it
	}
	var idx struct{ Manifests []struct{ Digest string } }
	if err := json.Unmarshal(raw, &idx); err != nil || len(idx.Manifests) == 0 {
		t.Errorf("%s after unload: %v, %d manifests: want it deleted or listing the referrers still there\n%s", ref, err, len(idx.Manifests), raw)
		return
	}
	repo := ref[:strings.LastIndex(ref, ":")]
	for _, m := range idx.Manifests {
		if err := exec.Command(tool(t, "crane"), "manifest", repo+"@"+m.Digest, "--insecure").Run(); err != nil {
			t.Errorf("%s lists %s, which unload deleted", ref, m.Digest)
		}
	}
}
