package main

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/lattice-mesh/meshpack/cluster"
	"github.com/lattice-mesh/meshpack/manifests/install"
)

// TestCanaryUpgrade runs Istio's revision-based upgrade from the 1.30.3
// fixture bundle to 1.30.4 against a real API server: the canary adds a
// second istiod revision; promote moves the default tag (the revision-less
// injector gives way to the istio-revision-tag-default webhook); finish
// refuses while a pod runs the old proxy; rollback restores the tag; after
// the pod is gone finish removes the old revision. Every image stays pinned
// to the internal registry throughout, and status reports the revisions.
func TestCanaryUpgrade(t *testing.T) {
	for _, profile := range []string{"sidecar", "ambient"} {
		t.Run(profile, func(t *testing.T) { canaryUpgrade(t, profile) })
	}
}

func canaryUpgrade(t *testing.T, profile string) {
	e := env(t)
	kc := kubeServer(t)
	old := e.loadBundle(t, e.createBundleOf(t, "1.30.3", "--profile", profile))
	next := e.loadBundleInto(t, e.createBundleOf(t, "1.30.4", "--profile", profile), old.registry)
	e.mustInstall(t, old, kc)
	kube := kubeClient(t, kc)
	ctx := context.Background()
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	oldProxy := refOf(t, old, "proxyv2")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "cart", Namespace: "shop"}, Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "app", Image: "registry.example.com/team/app:1.4"}, {Name: "istio-proxy", Image: oldProxy}}}}
	if _, err := kube.CoreV1().Pods("shop").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	upgrade := append([]string{"upgrade"}, e.installArgs(next, kc, "--canary", "--wait=false")[1:]...)
	if _, errOut, code := runCLI(t, "", upgrade...); code != 0 {
		vw, _ := kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().List(ctx, metav1.ListOptions{})
		for _, v := range vw.Items {
			for _, w := range v.Webhooks {
				t.Logf("ValidatingWebhookConfiguration %s: webhook %s, failurePolicy %v", v.Name, w.Name, *w.FailurePolicy)
			}
		}
		t.Fatalf("upgrade --canary: exit %d\n%s", code, errOut)
	}
	if got := istiods(t, kube); got != "istiod,istiod-1-30-4" {
		t.Fatalf("istiod Deployments after the canary: %s", got)
	}
	both := old.pinnedRefs()
	for r := range next.pinnedRefs() {
		both[r] = true
	}
	checkPinned(t, kube, both, old.registry)
	if _, errOut, code := runCLI(t, "", "audit", "--kubeconfig", kc); code != 0 {
		t.Fatalf("audit during the canary: exit %d\n%s", code, errOut)
	}
	if profile == "sidecar" {
		webhooks(t, kube, "istio-sidecar-injector", true)
	}

	out, errOut, code := runCLI(t, "", "upgrade", "promote", "--kubeconfig", kc, "-o", "json")
	var res cluster.CanaryResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || strings.Join(res.OldProxies, ",") != "shop/cart" || res.Target != "1-30-4" {
		t.Fatalf("upgrade promote: exit %d, %+v\n%s%s", code, res, out, errOut)
	}
	webhooks(t, kube, "istio-sidecar-injector", false)
	webhooks(t, kube, "istio-revision-tag-default", true)

	_, errOut, code = runCLI(t, "", "upgrade", "finish", "--kubeconfig", kc)
	if code != 1 || !strings.Contains(errOut, "shop/cart") || !strings.Contains(errOut, "nothing removed") {
		t.Fatalf("upgrade finish with a pod on the old proxy: exit %d, want 1 naming it\n%s", code, errOut)
	}
	if _, errOut, code := runCLI(t, "", "upgrade", "rollback", "--kubeconfig", kc); code != 0 {
		t.Fatalf("upgrade rollback: exit %d\n%s", code, errOut)
	}
	webhooks(t, kube, "istio-sidecar-injector", true)
	webhooks(t, kube, "istio-revision-tag-default", false)
	if _, errOut, code := runCLI(t, "", "upgrade", "promote", "--kubeconfig", kc); code != 0 {
		t.Fatalf("upgrade promote again: exit %d\n%s", code, errOut)
	}
	if err := kube.CoreV1().Pods("shop").Delete(ctx, "cart", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := runCLI(t, "", "upgrade", "finish", "--kubeconfig", kc); code != 0 || !strings.Contains(out, "removed release istio-system/istiod") {
		t.Fatalf("upgrade finish: exit %d\n%s%s", code, out, errOut)
	}
	if got := istiods(t, kube); got != "istiod-1-30-4" {
		t.Fatalf("istiod Deployments after finish: %s", got)
	}
	checkPinned(t, kube, next.pinnedRefs(), old.registry)
	st := status(t, kc)
	if strings.Join(st.Revisions, ",") != "1-30-4" || len(st.Drift) != 0 {
		t.Errorf("status after finish: revisions %v, drift %v", st.Revisions, st.Drift)
	}
	// An in-place re-install keeps the revision and its default tag.
	e.mustInstall(t, next, kc)
	webhooks(t, kube, "istio-revision-tag-default", true)
	if got := istiods(t, kube); got != "istiod-1-30-4" {
		t.Fatalf("istiod Deployments after re-install: %s", got)
	}
}

// refOf is the pinned reference of one of b's images, by name.
func refOf(t *testing.T, b loadedBundle, name string) string {
	t.Helper()
	for _, a := range b.bom.Artifacts {
		if a.Name == name && a.Digest != "" && a.Subject == "" {
			return b.registry + "/" + a.Repository + "@" + a.Digest
		}
	}
	t.Fatalf("no image %s in the bundle", name)
	return ""
}

// istiods lists the istiod Deployments, sorted and comma-joined.
func istiods(t *testing.T, kube kubernetes.Interface) string {
	t.Helper()
	deps, err := kube.AppsV1().Deployments("istio-system").List(context.Background(), metav1.ListOptions{LabelSelector: "app=istiod"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range deps.Items {
		names = append(names, d.Name)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// webhooks checks whether a MutatingWebhookConfiguration exists.
func webhooks(t *testing.T, kube kubernetes.Interface, name string, want bool) {
	t.Helper()
	_, err := kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(context.Background(), name, metav1.GetOptions{})
	if got := err == nil; got != want {
		t.Errorf("MutatingWebhookConfiguration %s exists: %v, want %v (%v)", name, got, want, err)
	}
}

// checkPinned checks every workload image against refs.
func checkPinned(t *testing.T, kube kubernetes.Interface, refs map[string]bool, registry string) {
	t.Helper()
	for where, img := range workloadImages(t, kube) {
		if !refs[install.DigestOnly(img)] {
			t.Errorf("%s runs %s, not a pinned digest in %s", where, img, registry)
		}
	}
}
