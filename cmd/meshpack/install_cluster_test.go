package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/lattice-mesh/meshpack/cluster"
	"github.com/lattice-mesh/meshpack/manifests/install"
)

// TestInstallCluster installs real bundles into a real kube-apiserver
// (--wait=false: no kubelet runs their pods) and checks what the cluster
// holds: the Helm releases in the documented order (read with the helm
// CLI), the Gateway API CRDs, every container and init container image of
// every Deployment and DaemonSet, and the injector's proxy images — all
// REGISTRY/…@sha256:<the bundle's digest>. Then what --render writes for
// the same cluster version equals what the releases applied, audit passes,
// and uninstall removes every release and keeps the CRDs.
func TestInstallCluster(t *testing.T) {
	e := env(t)
	for _, tc := range []struct {
		name     string
		create   []string
		install  []string
		releases []string // in install order
	}{
		{"ambient", []string{"--ingress-gateway"}, nil,
			[]string{"istio-base", "istiod", "istio-cni", "ztunnel", "istio-ingressgateway", "prometheus", "kiali-server"}},
		{"sidecar", []string{"--profile", "sidecar"}, nil,
			[]string{"istio-base", "istiod", "prometheus", "kiali-server"}},
		{"sidecar cni", []string{"--profile", "sidecar", "--cni"}, []string{"--cni"},
			[]string{"istio-base", "istiod", "istio-cni", "prometheus", "kiali-server"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kc := kubeServer(t)
			b := e.loadBundle(t, e.createBundle(t, tc.create...))
			out, errOut, code := runCLI(t, "", e.installArgs(b, kc, append([]string{"--wait=false", "-o", "json"}, tc.install...)...)...)
			if code != 0 {
				t.Fatalf("install: exit %d\n%s\n%s", code, out, errOut)
			}
			var res cluster.Result
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("install -o json: %v\n%s", err, out)
			}
			checkReleaseOrder(t, kc, tc.releases)
			kube := kubeClient(t, kc)
			checkPinnedWorkloads(t, kube, b)
			checkInjector(t, kube, b)
			checkRenderEqualsInstall(t, e, b, kc, tc.releases, tc.install)

			if out, errOut, code := runCLI(t, "", "audit", "--kubeconfig", kc); code != 0 {
				t.Fatalf("audit after install: exit %d\n%s%s", code, out, errOut)
			}
			out, errOut, code = runCLI(t, "", "uninstall", "--kubeconfig", kc)
			if code != 0 {
				t.Fatalf("uninstall: exit %d\n%s", code, errOut)
			}
			if left := helmList(t, kc); len(left) != 0 {
				t.Errorf("releases left after uninstall: %+v", left)
			}
			for _, crd := range []string{"gateways.gateway.networking.k8s.io", "virtualservices.networking.istio.io"} {
				if _, err := kubeCRD(t, kc, crd); err != nil {
					t.Errorf("CRD %s after uninstall (kept without --purge-crds): %v", crd, err)
				}
			}
		})
	}
}

// checkReleaseOrder checks that the releases exist, deployed, and were
// installed in order (their update times increase).
func checkReleaseOrder(t *testing.T, kubeconfig string, want []string) {
	t.Helper()
	rels := helmList(t, kubeconfig)
	byName := map[string]helmRelease{}
	for _, r := range rels {
		byName[r.Name] = r
	}
	var prev time.Time
	for _, name := range want {
		r, ok := byName[name]
		if !ok {
			t.Errorf("release %s missing; helm list: %+v", name, rels)
			continue
		}
		if r.Status != "deployed" {
			t.Errorf("release %s is %s, want deployed", name, r.Status)
		}
		at, err := time.Parse("2006-01-02 15:04:05.999999999 -0700 MST", r.Updated)
		if err != nil {
			t.Fatalf("helm list updated %q: %v", r.Updated, err)
		}
		if !at.After(prev) {
			t.Errorf("release %s (updated %s) was not installed after the one before it (%s)", name, at, prev)
		}
		prev = at
	}
	if len(rels) != len(want) {
		t.Errorf("got %d releases, want %d (%v): %+v", len(rels), len(want), want, rels)
	}
}

// checkPinnedWorkloads checks every container image of every Deployment
// and DaemonSet.
func checkPinnedWorkloads(t *testing.T, kube kubernetes.Interface, b loadedBundle) {
	t.Helper()
	imgs := workloadImages(t, kube)
	if len(imgs) == 0 {
		t.Fatal("no Deployment or DaemonSet containers in the cluster")
	}
	pinned := b.pinnedRefs()
	for where, img := range imgs {
		if !pinned[install.DigestOnly(img)] {
			t.Errorf("%s runs %s, not REGISTRY/…@<a bundle digest> (%s)", where, img, b.registry)
		}
	}
}

// checkInjector checks the proxy images istiod injects at run time, from
// the istio-sidecar-injector ConfigMap's values.
func checkInjector(t *testing.T, kube kubernetes.Interface, b loadedBundle) {
	t.Helper()
	cm, err := kube.CoreV1().ConfigMaps("istio-system").Get(context.Background(), "istio-sidecar-injector", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var vals struct {
		Global struct {
			Proxy     struct{ Image string } `json:"proxy"`
			ProxyInit struct{ Image string } `json:"proxy_init"`
		} `json:"global"`
	}
	if err := json.Unmarshal([]byte(cm.Data["values"]), &vals); err != nil {
		t.Fatalf("injector values: %v", err)
	}
	pinned := b.pinnedRefs()
	for key, img := range map[string]string{"global.proxy.image": vals.Global.Proxy.Image, "global.proxy_init.image": vals.Global.ProxyInit.Image} {
		if !pinned[img] || !strings.Contains(img, "/istio/proxyv2@") {
			t.Errorf("injector %s = %q, want the bundle's proxyv2 by digest in %s", key, img, b.registry)
		}
	}
}

// checkRenderEqualsInstall renders the same bundle for the cluster's
// version and compares each file with the manifest its release applied
// (helm get manifest), object by object.
func checkRenderEqualsInstall(t *testing.T, e *e2eEnv, b loadedBundle, kubeconfig string, releases, extra []string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "render")
	args := []string{"install", "--bundle", b.path, "--registry", b.registry, "--key", e.pub(), "--render", dir, "--kubernetes-version", kubeVersionOf(t, kubeconfig)}
	if _, errOut, code := runCLI(t, "", append(args, extra...)...); code != 0 {
		t.Fatalf("install --render: exit %d\n%s", code, errOut)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	sort.Strings(files)
	if len(files) != len(releases)+2 {
		t.Fatalf("render wrote %d files, want the CRD file, %d releases and the phase", len(files), len(releases))
	}
	for i, rel := range releases {
		ns := "istio-system"
		if rel == "istio-ingressgateway" {
			ns = "istio-ingress"
		}
		rendered, err := os.ReadFile(files[i+1])
		if err != nil {
			t.Fatal(err)
		}
		applied := runTool(t, "helm", "get", "manifest", rel, "-n", ns, "--kubeconfig", kubeconfig)
		got, want := objectSet(t, string(rendered)), objectSet(t, applied)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s differs between --render (%s) and what release %s applied", rel, k, filepath.Base(files[i+1]), rel)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%s: --render writes %s, which release %s did not apply", rel, k, rel)
			}
		}
	}
}

// objectSet maps "KIND NAMESPACE/NAME" to the canonical JSON of each object
// of a multi-document manifest.
func objectSet(t *testing.T, manifest string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, doc := range strings.Split("\n"+manifest, "\n---") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("manifest: %v", err)
		}
		if len(m) == 0 {
			continue
		}
		md, _ := m["metadata"].(map[string]any)
		key := fmt.Sprintf("%v %v/%v", m["kind"], md["namespace"], md["name"])
		unrandomize(m)
		j, _ := json.Marshal(m)
		out[key] = string(j)
	}
	return out
}

// kialiSigningKey matches the login-token signing key Kiali's chart draws
// at random on every render (randAlphaNum 32) unless login_token.signing_key
// is set.
var kialiSigningKey = regexp.MustCompile(`signing_key: \S+`)

// unrandomize blanks what Kiali's chart makes random on each render: its
// signing key and the config checksum annotation derived from it.
func unrandomize(m map[string]any) {
	if data, ok := m["data"].(map[string]any); ok {
		for k, v := range data {
			if s, ok := v.(string); ok {
				data[k] = kialiSigningKey.ReplaceAllString(s, "signing_key: RANDOM")
			}
		}
	}
	if spec, ok := m["spec"].(map[string]any); ok {
		if tpl, ok := spec["template"].(map[string]any); ok {
			if md, ok := tpl["metadata"].(map[string]any); ok {
				if a, ok := md["annotations"].(map[string]any); ok {
					delete(a, "checksum/config")
				}
			}
		}
	}
}

// TestAuditFindsUnpinned installs the sidecar bundle, then creates a Pod
// with an injected-looking proxy from docker.io in a team namespace: audit
// exits 1 naming it, in text and JSON.
func TestAuditFindsUnpinned(t *testing.T) {
	e := env(t)
	kc := kubeServer(t)
	b := e.loadBundle(t, e.createBundle(t, "--profile", "sidecar"))
	e.mustInstall(t, b, kc)
	kube := kubeClient(t, kc)
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app-1", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "app", Image: "registry.example.com/team/app:1.4"},
			{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.30.3"},
		}},
	}
	if _, err := kube.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out, _, code := runCLI(t, "", "audit", "--kubeconfig", kc)
	if code != 1 || !strings.Contains(out, "Pod default/app-1 container istio-proxy: docker.io/istio/proxyv2:1.30.3") {
		t.Fatalf("audit: exit %d, want 1 naming the pod's proxy\n%s", code, out)
	}
	if strings.Contains(out, "team/app") {
		t.Errorf("audit counts a team's own container outside the mesh's namespaces:\n%s", out)
	}
	out, _, code = runCLI(t, "", "audit", "--kubeconfig", kc, "-o", "json")
	var rep cluster.AuditReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || len(rep.Offenders) != 1 || rep.Offenders[0].Name != "app-1" {
		t.Fatalf("audit -o json: exit %d, %v\n%s", code, err, out)
	}
}
