package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/install"
	"github.com/lattice-mesh/meshpack/manifests/render"
)

const installRegistry = "registry.internal:5000/mesh"

// TestInstallRender renders real ambient and sidecar bundles built from the
// fixture upstream and checks the files, their order, and that every image
// (workloads, and the image values of ConfigMaps such as istiod's injector
// values) is REGISTRY/…@sha256:<the BOM's digest>.
func TestInstallRender(t *testing.T) {
	e := env(t)
	ambient := e.createBundle(t, "--ingress-gateway")
	sidecar := e.createBundle(t, "--profile", "sidecar", "--cni")
	for _, tc := range []struct {
		name   string
		bundle string
		args   []string
		mode   string
		steps  []string
		prom   string
	}{
		{"ambient", ambient, nil, install.PathKeep,
			[]string{"gateway-api-crds", "base", "istiod", "cni", "ztunnel", "gateway", "prometheus", "kiali-server"}, ""},
		{"ambient flatten", ambient, []string{"--path-mode", "flatten"}, install.PathFlatten,
			[]string{"gateway-api-crds", "base", "istiod", "cni", "ztunnel", "gateway", "prometheus", "kiali-server"}, ""},
		{"sidecar", sidecar, []string{"--prometheus-url", "http://prom.monitoring:9090"}, install.PathKeep,
			[]string{"gateway-api-crds", "base", "istiod", "kiali-server"}, "http://prom.monitoring:9090"},
		{"sidecar cni", sidecar, []string{"--cni"}, install.PathKeep, []string{"gateway-api-crds", "base", "istiod", "cni", "prometheus", "kiali-server"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"install", "--bundle", tc.bundle, "--registry", installRegistry, "--render", dir, "--key", e.pub()}, tc.args...)
			if _, errOut, code := runCLI(t, "", args...); code != 0 {
				t.Fatalf("exit %d\n%s", code, errOut)
			}
			var want []string
			for i, s := range tc.steps {
				want = append(want, fmt.Sprintf("%02d-%s.yaml", i, s))
			}
			want = append(want, fmt.Sprintf("%02d-phase-observability.yaml", len(tc.steps)))
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, en := range entries {
				got = append(got, en.Name())
			}
			if !slices.Equal(got, want) {
				t.Fatalf("files = %v, want %v", got, want)
			}
			pinned := bomPins(t, tc.bundle, tc.mode)
			seen := map[string]bool{}
			for _, f := range got {
				data, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				for _, img := range manifestImages(t, f, data) {
					if img == "auto" && strings.HasSuffix(f, "-gateway.yaml") {
						continue // replaced at injection by global.proxy.image
					}
					name, ok := pinned[stripTag(img)]
					if !ok {
						t.Errorf("%s: image %q is not REGISTRY/…@sha256 of a BOM digest", f, img)
					}
					seen[name] = true
				}
				if prom := tc.prom; strings.HasSuffix(f, "-kiali-server.yaml") {
					if prom == "" {
						prom = install.DefaultPrometheusURL
					}
					if !strings.Contains(string(data), prom) {
						t.Errorf("%s: Prometheus URL %s not rendered", f, prom)
					}
				}
			}
			images := []string{"pilot", "proxyv2", "kiali"}
			if slices.Contains(tc.steps, "cni") {
				images = append(images, "install-cni")
			}
			if slices.Contains(tc.steps, "ztunnel") {
				images = append(images, "ztunnel")
			}
			if slices.Contains(tc.steps, "prometheus") {
				images = append(images, "prometheus", "prometheus-config-reloader")
			}
			for _, w := range images {
				if !seen[w] {
					t.Errorf("no pinned %s image in the render (seen %v)", w, seen)
				}
			}
		})
	}
}

// TestInstallMissingDigest builds a bundle from a lock without the ztunnel
// image: install must fail naming it, writing nothing.
func TestInstallMissingDigest(t *testing.T) {
	e := env(t)
	dir := t.TempDir()
	lockPath := filepath.Join(dir, "mesh.lock.yaml")
	if _, errOut, code := e.meshpack(t, "resolve", lockPath, "--istio", "1.30.3", "--profile", "ambient", "--kiali"); code != 0 {
		t.Fatalf("resolve: exit %d\n%s", code, errOut)
	}
	f, err := os.Open(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	lock, err := manifests.LoadLock(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	lock.Images = slices.DeleteFunc(lock.Images, func(i manifests.LockedImage) bool { return i.Name == "ztunnel" })
	data, err := lock.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lockPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "mesh.tar.zst")
	if _, errOut, code := e.meshpack(t, "bundle", "create", out, "--lock", lockPath, "--key", e.key(), "--upstream-key", "istio-release="+e.istioPub); code != 0 {
		t.Fatalf("bundle create: exit %d\n%s", code, errOut)
	}
	render := mkdir(filepath.Join(dir, "render"))
	_, errOut, code := runCLI(t, "", "install", "--bundle", out, "--registry", installRegistry, "--render", render, "--key", e.pub())
	if code != 1 || !strings.Contains(errOut, "docker.io/istio/ztunnel:1.30.3-distroless") {
		t.Fatalf("exit %d, want 1 naming the ztunnel image:\n%s", code, errOut)
	}
	if entries, _ := os.ReadDir(render); len(entries) != 0 {
		t.Errorf("a failed install wrote %d files", len(entries))
	}
}

// TestInstallUsage checks the usage errors (exit 2) before any bundle is read.
func TestInstallUsage(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"preflight-only with render", []string{"--bundle", "b", "--registry", "r:5000", "--allow-unsigned", "--preflight-only", "--render", dir}, "--preflight-only checks a cluster"},
		{"kubernetes-version without render", []string{"--bundle", "b", "--registry", "r:5000", "--allow-unsigned", "--kubernetes-version", "1.33"}, "--kubernetes-version applies to --render only"},
		{"zero timeout", []string{"--bundle", "b", "--registry", "r:5000", "--allow-unsigned", "--timeout", "0s"}, "--timeout 0s: want a positive duration"},
		{"password without user", []string{"--bundle", "b", "--registry", "r:5000", "--allow-unsigned", "--password-stdin"}, "--password-stdin needs --username"},
		{"no bundle", []string{"--registry", "r:5000", "--render", dir}, "--bundle FILE is required"},
		{"no registry", []string{"--bundle", "b", "--render", dir}, "--registry HOST[:PORT][/PREFIX] is required"},
		{"bad registry", []string{"--bundle", "b", "--registry", "https://r", "--render", dir}, "--registry"},
		{"path mode", []string{"--bundle", "b", "--registry", "r", "--path-mode", "flat", "--render", dir}, "--path-mode"},
		{"prometheus url", []string{"--bundle", "b", "--registry", "r", "--prometheus-url", "prometheus:9090", "--render", dir}, "--prometheus-url: \"prometheus:9090\" is not an http(s) URL"},
		{"render not a dir", []string{"--bundle", "b", "--registry", "r", "--render", file}, "not a directory"},
		{"no key", []string{"--bundle", "b", "--registry", "r", "--render", dir}, "no --key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := runCLI(t, "", append([]string{"install"}, tc.args...)...)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, want 2 with %q:\n%s", code, tc.want, errOut)
			}
		})
	}
}

// bomPins maps REGISTRY/<repository as bundle load maps it>@<digest> of
// every image of the bundle's BOM to the image's name.
func bomPins(t *testing.T, path, mode string) map[string]string {
	t.Helper()
	r, err := bundle.OpenWith(path, bundle.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	bom, err := r.BOM()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, a := range bom.Artifacts {
		if a.Kind != bundle.KindImage {
			continue
		}
		repo := a.Repository
		if mode == install.PathFlatten {
			repo = strings.ReplaceAll(repo, "/", "-")
		}
		out[installRegistry+"/"+repo+"@"+a.Digest] = a.Name
	}
	return out
}

// manifestImages returns every container image and every "image" value in
// JSON ConfigMap data of a rendered file.
func manifestImages(t *testing.T, name string, data []byte) []string {
	t.Helper()
	objs, err := render.Rendered{name: string(data)}.Objects()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.Images()...)
		if o.Kind() != "ConfigMap" {
			continue
		}
		d, _ := o.Data["data"].(map[string]any)
		for _, v := range d {
			var vals map[string]any
			if s, _ := v.(string); json.Unmarshal([]byte(s), &vals) == nil {
				out = append(out, install.ImageValues(vals)...)
			}
		}
	}
	return out
}

// stripTag drops the tag of a tag-plus-digest reference.
func stripTag(ref string) string {
	name, d, ok := strings.Cut(ref, "@")
	if !ok {
		return ref
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	return name + "@" + d
}

// TestInstallUserValues: --set and --values reach the charts, a value that
// changes a pinned image warns and fails the render, bad forms are usage
// errors before the bundle is read.
func TestInstallUserValues(t *testing.T) {
	e := env(t)
	b := e.createBundle(t)
	vals := filepath.Join(t.TempDir(), "istiod.yaml")
	if err := os.WriteFile(vals, []byte("pilot:\n  env:\n    PILOT_TRACE_SAMPLING: \"7\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"install", "--bundle", b, "--registry", installRegistry, "--key", e.pub()}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"values and pull secret", []string{"--values", "istiod=" + vals, "--image-pull-secret", "enclave-pull"}, 0, "rendered Istio 1.30.3"},
		{"unpinned image", []string{"--set", "istiod.image=docker.io/istio/pilot:1.30.3"}, 1, "warning: istiod: user values change image from " + installRegistry},
		{"unknown chart", []string{"--set", "pilot.image=x"}, 2, `chart "pilot": want one of`},
		{"bad values form", []string{"--values", vals}, 2, "want CHART=FILE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			_, errOut, code := runCLI(t, "", append(append(base, "--render", dir), tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("exit %d, want %d with %q\n%s", code, tc.code, tc.stderr, errOut)
			}
			if code != 0 {
				return
			}
			istiod, err := os.ReadFile(filepath.Join(dir, "02-istiod.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"PILOT_TRACE_SAMPLING", "- name: enclave-pull"} {
				if !strings.Contains(string(istiod), want) {
					t.Errorf("02-istiod.yaml lacks %q", want)
				}
			}
		})
	}
}

// TestInstallFromLock: --lock reads the charts and the CRD file from the
// registry the bundle was loaded into and renders what --bundle renders; a
// lock pinning other chart content is refused.
func TestInstallFromLock(t *testing.T) {
	e := env(t)
	b := e.loadBundle(t, e.createBundle(t))
	dir := t.TempDir()
	lockFile := filepath.Join(dir, "lock.json")
	if err := os.WriteFile(lockFile, b.bom.Lock, 0o600); err != nil {
		t.Fatal(err)
	}
	fromBundle, fromLock := filepath.Join(dir, "bundle"), filepath.Join(dir, "lock")
	if _, errOut, code := runCLI(t, "", "install", "--bundle", b.path, "--key", e.pub(), "--registry", b.registry, "--render", fromBundle); code != 0 {
		t.Fatalf("install --bundle --render: exit %d\n%s", code, errOut)
	}
	if _, errOut, code := runCLI(t, "", "install", "--lock", lockFile, "--registry", b.registry, "--plain-http", "--render", fromLock); code != 0 {
		t.Fatalf("install --lock --render: exit %d\n%s", code, errOut)
	}
	files, _ := filepath.Glob(filepath.Join(fromBundle, "*.yaml"))
	if len(files) < 5 {
		t.Fatalf("render wrote %d files", len(files))
	}
	for _, f := range files {
		a, _ := os.ReadFile(f)
		c, err := os.ReadFile(filepath.Join(fromLock, filepath.Base(f)))
		if err != nil {
			t.Fatal(err)
		}
		got, want := objectSet(t, string(c)), objectSet(t, string(a))
		if len(got) != len(want) {
			t.Errorf("%s: %d objects from the lock, %d from the bundle", filepath.Base(f), len(got), len(want))
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s differs between --lock and --bundle", filepath.Base(f), k)
			}
		}
	}
	var lock map[string]any
	if err := json.Unmarshal(b.bom.Lock, &lock); err != nil {
		t.Fatal(err)
	}
	charts := lock["charts"].([]any)
	charts[0].(map[string]any)["contentDigest"] = "sha256:" + strings.Repeat("ab", 32)
	bad, _ := json.Marshal(lock)
	if err := os.WriteFile(lockFile, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runCLI(t, "", "install", "--lock", lockFile, "--registry", b.registry, "--plain-http", "--render", filepath.Join(dir, "bad"))
	if code != 1 || !strings.Contains(errOut, "refusing content the lock does not name") {
		t.Fatalf("install --lock with another chart digest: exit %d\n%s", code, errOut)
	}
}

// TestRenderCanaryAndPhase: upgrade --canary --render writes istiod as its
// revision (release istiod-1-30-3, Deployment istiod-1-30-3); phase set
// --render writes the phase's resources without a cluster.
func TestRenderCanaryAndPhase(t *testing.T) {
	e := env(t)
	b := e.createBundle(t, "--profile", "sidecar")
	dir := filepath.Join(t.TempDir(), "canary")
	if _, errOut, code := runCLI(t, "", "upgrade", "--bundle", b, "--registry", installRegistry, "--key", e.pub(), "--canary", "--render", dir, "--phase", "traffic"); code != 0 {
		t.Fatalf("upgrade --canary --render: exit %d\n%s", code, errOut)
	}
	istiod, err := os.ReadFile(filepath.Join(dir, "02-istiod.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"name: istiod-1-30-3\n", `istio.io/rev: "1-30-3"`} {
		if !strings.Contains(string(istiod), want) {
			t.Errorf("canary render of istiod lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "05-phase-traffic.yaml")); err != nil { // after crds, base, istiod, prometheus, kiali-server
		t.Errorf("the render lacks the traffic phase: %v", err)
	}
	pdir := filepath.Join(t.TempDir(), "phases")
	if _, errOut, code := runCLI(t, "", "phase", "set", "authz", "--render", pdir, "--enrolled", "team-a"); code != 0 {
		t.Fatalf("phase set --render: exit %d\n%s", code, errOut)
	}
	data, err := os.ReadFile(filepath.Join(pdir, "phase-authz.yaml"))
	if err != nil || !strings.Contains(string(data), "name: meshpack-allow-same-namespace\n  namespace: team-a") {
		t.Errorf("phase-authz.yaml: %v\n%s", err, data)
	}
}
