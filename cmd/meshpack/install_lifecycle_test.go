package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/lattice-mesh/meshpack/cluster"
)

// TestInstallWait: with --wait (the default) install returns once the test,
// playing the controllers, marks each step's workloads rolled out; without
// anyone rolling them out it times out naming the workload and what it lacks.
func TestInstallWait(t *testing.T) {
	e := env(t)
	b := e.loadBundle(t, e.createBundle(t, "--profile", "sidecar"))
	t.Run("rolled out", func(t *testing.T) {
		kc := kubeServer(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go playController(ctx, kubeClient(t, kc))
		if out, errOut, code := runCLI(t, "", e.installArgs(b, kc, "--timeout", "60s")...); code != 0 {
			t.Fatalf("install --wait: exit %d\n%s%s", code, out, errOut)
		} else if !strings.Contains(errOut, "istiod: 1 workloads rolled out") {
			t.Errorf("install --wait did not report the rollout:\n%s", errOut)
		}
	})
	t.Run("times out", func(t *testing.T) {
		kc := kubeServer(t)
		_, errOut, code := runCLI(t, "", e.installArgs(b, kc, "--timeout", "3s")...)
		if code != 1 || !strings.Contains(errOut, "not rolled out after 3s") || !strings.Contains(errOut, "Deployment istio-system/istiod: generation 1 not observed yet") {
			t.Fatalf("install without a rollout: exit %d, want 1 naming istiod\n%s", code, errOut)
		}
	})
}

// TestInstallPreflight: a registry without the bundle's images and a
// Kubernetes version outside the set's range fail before any change, naming
// each missing digest and both versions.
func TestInstallPreflight(t *testing.T) {
	e := env(t)
	kc := kubeServer(t)
	b := e.loadBundle(t, e.createBundle(t))
	empty := b
	empty.registry = strings.Replace(b.registry, "/mesh", "/empty", 1)
	out, errOut, code := runCLI(t, "", e.installArgs(empty, kc, "--wait=false")...)
	if code != 1 || !strings.Contains(errOut, "preflight failed, nothing was changed") {
		t.Fatalf("install from a registry without the images: exit %d\n%s%s", code, out, errOut)
	}
	for ref := range empty.pinnedRefs() {
		if !strings.Contains(errOut, "image "+ref+" is not in the registry") {
			t.Errorf("preflight does not name missing %s:\n%s", ref, errOut)
		}
	}
	if rels := helmList(t, kc); len(rels) != 0 {
		t.Errorf("a failed preflight left releases: %+v", rels)
	}
	if _, err := kubeCRD(t, kc, "gateways.gateway.networking.k8s.io"); err == nil {
		t.Error("a failed preflight applied the Gateway API CRDs")
	}

	old := versionProxy(t, kc, "v1.31.4")
	out, errOut, code = runCLI(t, "", e.installArgs(b, old, "--preflight-only", "-o", "json")...)
	if code != 1 || !strings.Contains(errOut, "Kubernetes v1.31.4") || !strings.Contains(errOut, "Istio 1.30.3 supports Kubernetes 1.32 to 1.36") {
		t.Fatalf("preflight against Kubernetes 1.31: exit %d\n%s%s", code, out, errOut)
	}
	var res cluster.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Preflight.Server != "v1.31.4" {
		t.Errorf("preflight -o json: %v\n%s", err, out)
	}
	out, errOut, code = runCLI(t, "", e.installArgs(b, kc, "--preflight-only")...)
	if code != 0 || !strings.Contains(out, "preflight passed; nothing was changed") || !strings.Contains(out, "release istiod") {
		t.Fatalf("preflight-only: exit %d\n%s%s", code, out, errOut)
	}
}

// versionProxy serves the API server of kubeconfig through a loopback proxy
// whose /version reports version, and returns a kubeconfig for it: the real
// server behind it, as a cluster of another Kubernetes version.
func versionProxy(t *testing.T, kubeconfig, version string) string {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(cfg.Host)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = rt
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/version" {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"major": "1", "minor": strings.Split(version, ".")[1], "gitVersion": version, "platform": "linux/amd64"})
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	kc := "apiVersion: v1\nkind: Config\nclusters:\n- name: p\n  cluster:\n    server: " + srv.URL + "\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user: {}\ncontexts:\n- name: p\n  context: {cluster: p, user: u}\ncurrent-context: p\n"
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestInstallUpgrade installs the 1.30.3 ambient bundle, loads the 1.30.4
// one into the same registry and installs it: every release is upgraded in
// install order and every workload image moves to a 1.30.4 digest. Going
// back to 1.30.3 is refused as a downgrade; uninstall leaves no release and
// keeps the CRDs.
func TestInstallUpgrade(t *testing.T) {
	e := env(t)
	kc := kubeServer(t)
	old := e.loadBundle(t, e.createBundleOf(t, "1.30.3", "--ingress-gateway"))
	next := e.loadBundleInto(t, e.createBundleOf(t, "1.30.4", "--ingress-gateway"), old.registry)
	releases := []string{"istio-base", "istiod", "istio-cni", "ztunnel", "istio-ingressgateway", "prometheus", "kiali-server"}
	e.mustInstall(t, old, kc)
	kube := kubeClient(t, kc)
	before := workloadImages(t, kube)

	out, errOut, code := runCLI(t, "", e.installArgs(next, kc, "--wait=false", "-o", "json")...)
	if code != 0 {
		t.Fatalf("install 1.30.4 over 1.30.3: exit %d\n%s", code, errOut)
	}
	var res cluster.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, s := range res.Steps {
		steps = append(steps, s.Release)
		if s.Release != "" && s.Release != "kiali-server" && (s.Action != cluster.ActionUpgrade || s.Revision != 2 || s.Chart != "1.30.4") {
			t.Errorf("step %s: action %s revision %d chart %s, want upgrade to revision 2, chart 1.30.4", s.Step, s.Action, s.Revision, s.Chart)
		}
	}
	if got, want := strings.Join(steps, ","), ","+strings.Join(releases, ","); got != want {
		t.Errorf("steps in order %s, want %s", got, want)
	}
	checkReleaseOrder(t, kc, releases)
	checkPinnedWorkloads(t, kube, next)
	after := workloadImages(t, kube)
	for where, img := range after {
		if strings.Contains(where, "kiali") || strings.Contains(where, "prometheus") {
			continue // same Kiali and Prometheus images in both sets
		}
		if digestPart(img) == digestPart(before[where]) {
			t.Errorf("%s still runs %s after the upgrade", where, img)
		}
	}
	checkInjector(t, kube, next)

	_, errOut, code = runCLI(t, "", e.installArgs(old, kc, "--wait=false")...)
	if code != 1 || !strings.Contains(errOut, "runs chart 1.30.4, newer than this bundle's 1.30.3: a downgrade is refused") {
		t.Fatalf("install 1.30.3 over 1.30.4: exit %d, want a refused downgrade\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "--force") {
		t.Errorf("the refused downgrade does not say how to force it:\n%s", errOut)
	}
	if _, errOut, code := runCLI(t, "", "uninstall", "--kubeconfig", kc); code != 0 {
		t.Fatalf("uninstall: exit %d\n%s", code, errOut)
	}
	if left := helmList(t, kc); len(left) != 0 {
		t.Errorf("releases left after uninstall: %+v", left)
	}
	if _, err := kubeCRD(t, kc, "httproutes.gateway.networking.k8s.io"); err != nil {
		t.Errorf("uninstall removed the Gateway API CRDs: %v", err)
	}
	// A second uninstall with --purge-crds removes the CRDs meshpack brought.
	if out, errOut, code := runCLI(t, "", "uninstall", "--kubeconfig", kc, "--purge-crds", "-o", "json"); code != 0 {
		t.Fatalf("uninstall --purge-crds: exit %d\n%s%s", code, out, errOut)
	}
	for _, crd := range []string{"httproutes.gateway.networking.k8s.io", "virtualservices.networking.istio.io"} {
		// The API server finishes deleting a CRD in the background.
		deadline := time.Now().Add(30 * time.Second)
		for _, err := kubeCRD(t, kc, crd); err == nil; _, err = kubeCRD(t, kc, crd) {
			if time.Now().After(deadline) {
				t.Errorf("CRD %s still there 30 s after uninstall --purge-crds", crd)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}
