package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/hack/upstream"
	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/resolve"
	"github.com/lattice-mesh/meshpack/sbom/sbomtest"
)

// TestUserContentBundle is issue 13's acceptance for user content: a spec
// with an extra HTTP chart, an OCI chart, a file and a manifest (a path
// relative to the spec) resolves — the charts' images found by rendering
// them, the manifest's by parsing it —, creates, verifies and loads; the
// charts land as OCI charts (helm pull works), the images by digest, and
// the file and manifest as file artifacts that bundle extract writes back
// byte for byte.
func TestUserContentBundle(t *testing.T) {
	e := env(t)
	dir := t.TempDir()
	manifest, err := os.ReadFile(filepath.Join("testdata", "team-app.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "team-app.yaml"), manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	spec := `apiVersion: meshpack.lattice.dev/v1alpha1
kind: MeshBundle
istio: {version: "1.30.3"}
platforms: [linux/amd64]
extraCharts:
- ` + upstream.UserChartRepo + `/webapp@0.3.0
- oci://` + upstream.UserOCICharts + `/webapp@0.4.0
extraFiles: [` + upstream.UserFileURL + `]
extraManifests: [team-app.yaml]
`
	specPath := filepath.Join(dir, "mesh.yaml")
	if err := os.WriteFile(specPath, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	lockPath := filepath.Join(dir, "mesh.lock.yaml")
	if _, errOut, code := e.meshpack(t, "resolve", lockPath, "-f", specPath); code != 0 {
		t.Fatalf("resolve: exit %d\n%s", code, errOut)
	}
	fh, err := os.Open(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	lock, err := manifests.LoadLock(fh)
	fh.Close()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{} // user image -> component
	for _, img := range lock.Images {
		for _, c := range img.Components {
			if strings.HasPrefix(c, "chart:") || strings.HasPrefix(c, "manifest:") {
				found[img.Reference] = c
			}
		}
	}
	want := map[string]string{
		upstream.UserChartImage("0.3.0"): "chart:webapp",
		upstream.UserChartImage("0.4.0"): "chart:webapp",
		upstream.UserWorkerImage:         "manifest:team-app.yaml",
		"docker.io/library/app:1":        "manifest:team-app.yaml", // "app:1" in the CronJob
	}
	if len(found) != len(want) {
		t.Errorf("user images in the lock %v, want %v", found, want)
	}
	for ref, c := range want {
		if found[ref] != c {
			t.Errorf("lock image %s: component %q, want %q", ref, found[ref], c)
		}
	}
	if src := "file://" + filepath.Join(dir, "team-app.yaml"); !slices.ContainsFunc(lock.Files, func(f manifests.LockedFile) bool { return f.Source == src }) {
		t.Errorf("lock files %+v: none from %s (the spec's path is relative to the spec)", lock.Files, src)
	}

	out := filepath.Join(dir, "mesh.tar.zst")
	if _, errOut, code := e.meshpack(t, "bundle", "create", out, "--lock", lockPath, "--key", e.key(), "--upstream-key", "istio-release="+e.istioPub); code != 0 {
		t.Fatalf("bundle create: exit %d\n%s", code, errOut)
	}
	if _, errOut, code := runCLI(t, "", "bundle", "verify", out, "--key", e.pub()); code != 0 {
		t.Fatalf("bundle verify: exit %d\n%s", code, errOut)
	}
	b := e.loadBundle(t, out)
	host, prefix, _ := strings.Cut(b.registry, "/")
	arts := map[string]bundle.Artifact{}
	for _, a := range b.bom.Artifacts {
		arts[a.Repository+":"+a.Tag] = a
	}
	for _, key := range []string{"charts/webapp:0.3.0", "charts/webapp:0.4.0", "files/extra:mesh-dashboard", "files/manifests:team-app"} {
		if _, ok := arts[key]; !ok {
			t.Errorf("the BOM has no artifact %s", key)
			continue
		}
		repo, tag, _ := strings.Cut(key, ":")
		headManifest(t, "http://"+host+"/v2/"+prefix+"/"+repo+"/manifests/"+tag)
	}
	for ref := range want {
		i := slices.IndexFunc(b.bom.Artifacts, func(a bundle.Artifact) bool { return a.Kind == bundle.KindImage && a.Source == ref })
		if i < 0 {
			t.Errorf("the BOM has no image %s", ref)
			continue
		}
		a := b.bom.Artifacts[i]
		headManifest(t, "http://"+host+"/v2/"+prefix+"/"+a.Repository+"/manifests/"+a.Digest)
	}

	t.Run("bundle extract", func(t *testing.T) {
		xdir := t.TempDir()
		for _, name := range []string{"mesh-dashboard.json", "team-app.yaml"} {
			if _, errOut, code := runCLI(t, "", "bundle", "extract", out, "--file", name, "--dir", xdir, "--key", e.pub()); code != 0 {
				t.Fatalf("bundle extract --file %s: exit %d\n%s", name, code, errOut)
			}
		}
		got, err := os.ReadFile(filepath.Join(xdir, "team-app.yaml"))
		if err != nil || !bytes.Equal(got, manifest) {
			t.Errorf("extracted team-app.yaml differs from testdata (%v)", err)
		}
		resp, err := http.Get(e.u.BaseURL() + "/downloads.example.com/files/mesh-dashboard.json")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var served bytes.Buffer
		_, _ = served.ReadFrom(resp.Body)
		if got, err := os.ReadFile(filepath.Join(xdir, "mesh-dashboard.json")); err != nil || !bytes.Equal(got, served.Bytes()) {
			t.Errorf("extracted mesh-dashboard.json differs from what upstream serves (%v)", err)
		}
	})
	t.Run("sbom", func(t *testing.T) {
		doc, errOut, code := runCLI(t, "", "bundle", "sbom", out, "--key", e.pub())
		if code != 0 {
			t.Fatalf("bundle sbom: exit %d\n%s", code, errOut)
		}
		if err := sbomtest.Validate([]byte(doc)); err != nil {
			t.Errorf("the SBOM of a bundle with user content does not validate: %v", err)
		}
		for _, s := range []string{upstream.UserFileURL, "file://" + filepath.Join(dir, "team-app.yaml"), upstream.UserChartImage("0.3.0")} {
			if !strings.Contains(doc, s) {
				t.Errorf("the SBOM does not name %s", s)
			}
		}
	})
	t.Run("helm pull", func(t *testing.T) {
		helm := tool(t, "helm")
		pulled := t.TempDir()
		for _, v := range []string{"0.3.0", "0.4.0"} { // from the HTTP repository, from the OCI chart
			runTool(t, helm, "pull", "oci://"+b.registry+"/charts/webapp", "--version", v, "--plain-http", "-d", pulled)
			if !fileExists(filepath.Join(pulled, "webapp-"+v+".tgz")) {
				t.Errorf("helm pull wrote no webapp-%s.tgz", v)
			}
		}
	})
}

// headManifest fails the test unless the registry serves url (a manifest
// by tag or digest).
func headManifest(t *testing.T, url string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodHead, url, nil)
	req.Header.Set("Accept", strings.Join([]string{"application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v2+json"}, ", "))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD %s after bundle load: HTTP %d", url, resp.StatusCode)
	}
}

// TestUserContentFlags: the user-content flags are checked before any
// request; a wrong form is a usage error (exit 2) naming the flag, the
// value and the form wanted.
func TestUserContentFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{name: "chart without version", args: []string{"--chart", "https://charts.example.com/app"}, want: []string{"--chart ", "has no @VERSION", "REPO_URL/NAME@VERSION"}},
		{name: "chart bad scheme", args: []string{"--chart", "charts.example.com/app@1.0.0"}, want: []string{"--chart ", "not an https://, http:// or oci:// location"}},
		{name: "chart bad version", args: []string{"--chart", "oci://ghcr.io/x/app@latest"}, want: []string{"--chart ", `version "latest"`}},
		{name: "file not a URL", args: []string{"--extra-file", "./tool.tar.gz"}, want: []string{"--extra-file ", "not an http(s) URL", "URL#sha256="}},
		{name: "file bad sha", args: []string{"--extra-file", "https://example.com/a.json#sha256=123"}, want: []string{"--extra-file ", `"#sha256=123" is not sha256=<64 hex digits>`}},
		{name: "manifest bad scheme", args: []string{"--manifest", "s3://bucket/app.yaml"}, want: []string{"--manifest ", "only http(s) URLs and local paths"}},
		{name: "values without chart", args: []string{"--chart-values", "webapp=values.yaml"}, want: []string{"--chart-values webapp=values.yaml: no extra chart is named webapp"}},
		{name: "values bad form", args: []string{"--chart", "https://c.example.com/webapp@1.0.0", "--chart-values", "values.yaml"}, want: []string{"--chart-values ", "want CHART=FILE"}},
		{name: "spec flag given a URL", args: []string{"-f", "https://example.com/tool.tar.gz"}, want: []string{"-f names the spec file", "--extra-file URL"}},
	} {
		for _, cmd := range [][]string{{"resolve"}, {"bundle", "create", filepath.Join(t.TempDir(), "b.tar.zst"), "--allow-unsigned"}} {
			t.Run(tc.name+"/"+cmd[0], func(t *testing.T) {
				args := append(append(slices.Clone(cmd), "--istio", "none"), tc.args...)
				_, errOut, code := runCLI(t, "", args...)
				if code != 2 {
					t.Fatalf("exit %d, want 2 (usage)\n%s", code, errOut)
				}
				for _, w := range tc.want {
					if !strings.Contains(errOut, w) {
						t.Errorf("stderr does not say %q:\n%s", w, errOut)
					}
				}
			})
		}
	}
}

// TestUserContentHints: a chart that does not render with its default
// values names the flag that gives it values, and stays a failure (exit 1).
func TestUserContentHints(t *testing.T) {
	err := flagHints(fmt.Errorf("extra chart https://c.example.com/app@1.0.0: %w: render: image.repository is required", resolve.ErrChartRender))
	if !errors.Is(err, resolve.ErrChartRender) || !strings.Contains(err.Error(), "--chart-values NAME=FILE") || exitCode(err) != 1 {
		t.Errorf("hint %q (exit %d), want ErrChartRender kept, --chart-values named, exit 1", err, exitCode(err))
	}
}
