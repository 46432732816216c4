package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mirror/registry/registrytest"
)

// kubeScript is hack/kube-apiserver.sh, found before any test changes the
// working directory.
var kubeScript, _ = filepath.Abs("../../hack/kube-apiserver.sh")

// kubeCache is where hack/kube-apiserver.sh keeps its binaries, fixed
// before any test points HOME or XDG_CACHE_HOME elsewhere.
var kubeCache = func() string {
	if d := os.Getenv("MESHPACK_KAPI_CACHE"); d != "" {
		return d
	}
	d, _ := os.UserCacheDir()
	return filepath.Join(d, "meshpack", "kapi")
}()

// kubeServer starts a fresh kube-apiserver + etcd on loopback with
// hack/kube-apiserver.sh (make test builds the binaries first and sets
// MESHPACK_KUBE_APISERVER=1) and returns its kubeconfig; the pair is stopped
// when the test ends. Each test gets its own server (about 4 s), so no
// test sees another's releases or cluster-scoped objects.
func kubeServer(t *testing.T) string {
	t.Helper()
	dir := hackServer(t, kubeScript, "MESHPACK_KUBE_APISERVER", "kube-apiserver", "MESHPACK_KAPI_CACHE="+kubeCache)
	return filepath.Join(dir, "kubeconfig")
}

// hackServer starts a test server with a hack/ script (SCRIPT up DIR, with
// env added) when envVar is 1 — make test builds the server and sets it;
// otherwise the test is skipped, or fails under MESHPACK_REQUIRE_TOOLS=1 —
// and stops it (SCRIPT down DIR) when the test ends. It returns DIR, where
// the script wrote what to connect with.
func hackServer(t *testing.T, script, envVar, what string, env ...string) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("needs a %s (-short)", what)
	}
	if os.Getenv(envVar) != "1" {
		if os.Getenv("MESHPACK_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s is not 1: run the tests with make test, which builds the %s", envVar, what)
		}
		t.Skipf("no %s: run make test, or build it with bash hack/%s build and set %s=1", what, filepath.Base(script), envVar)
	}
	dir := filepath.Join(t.TempDir(), "server")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	up := exec.CommandContext(ctx, "bash", script, "up", dir)
	up.Env = append(os.Environ(), env...)
	if out, err := up.CombinedOutput(); err != nil {
		t.Fatalf("hack/%s up: %v\n%s", filepath.Base(script), err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("bash", script, "down", dir).CombinedOutput(); err != nil {
			t.Errorf("hack/%s down: %v\n%s", filepath.Base(script), err, out)
		}
	})
	return dir
}

// restConfig is the client configuration of kubeconfig.
func restConfig(t *testing.T, kubeconfig string) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// kubeClient is a typed client for kubeconfig.
func kubeClient(t *testing.T, kubeconfig string) kubernetes.Interface {
	t.Helper()
	c, err := kubernetes.NewForConfig(restConfig(t, kubeconfig))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// loadedBundle is a bundle loaded into a fresh embedded registry.
type loadedBundle struct {
	path     string
	registry string // HOST:PORT/mesh
	bom      *bundle.BOM
}

// loadBundle loads path into a new loopback registry under /mesh.
func (e *e2eEnv) loadBundle(t *testing.T, path string) loadedBundle {
	t.Helper()
	return e.loadBundleInto(t, path, registrytest.New(t)+"/mesh")
}

// loadBundleInto loads path into reg (HOST:PORT/PREFIX).
func (e *e2eEnv) loadBundleInto(t *testing.T, path, reg string) loadedBundle {
	t.Helper()
	if _, errOut, code := runCLI(t, "", "bundle", "load", path, "--registry", reg, "--plain-http", "--state-dir", "none", "--key", e.pub()); code != 0 {
		t.Fatalf("bundle load: exit %d\n%s", code, errOut)
	}
	return loadedBundle{path: path, registry: reg, bom: openBOM(t, path)}
}

// pinnedRefs are the references install may use for b: REGISTRY/REPO@DIGEST
// of every image in the BOM (path mode keep).
func (b loadedBundle) pinnedRefs() map[string]bool {
	out := map[string]bool{}
	for _, a := range b.bom.Artifacts {
		if a.Kind == bundle.KindImage {
			out[b.registry+"/"+a.Repository+"@"+a.Digest] = true
		}
	}
	return out
}

// installArgs are the arguments of an install of b into kubeconfig.
func (e *e2eEnv) installArgs(b loadedBundle, kubeconfig string, extra ...string) []string {
	return append([]string{"install", "--bundle", b.path, "--registry", b.registry, "--plain-http", "--key", e.pub(), "--kubeconfig", kubeconfig}, extra...)
}

// mustInstall installs b into kubeconfig with --wait=false (no kubelet runs
// the pods) and fails the test unless it succeeds.
func (e *e2eEnv) mustInstall(t *testing.T, b loadedBundle, kubeconfig string) {
	t.Helper()
	if _, errOut, code := runCLI(t, "", e.installArgs(b, kubeconfig, "--wait=false")...); code != 0 {
		t.Fatalf("install of %s: exit %d\n%s", b.path, code, errOut)
	}
}

// workloadImages returns "KIND NS/NAME CONTAINER" -> image for every
// container and init container of every Deployment and DaemonSet.
func workloadImages(t *testing.T, c kubernetes.Interface) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	deps, err := c.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deps.Items {
		for _, ct := range append(d.Spec.Template.Spec.InitContainers, d.Spec.Template.Spec.Containers...) {
			out["Deployment "+d.Namespace+"/"+d.Name+" "+ct.Name] = ct.Image
		}
	}
	dss, err := c.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dss.Items {
		for _, ct := range append(d.Spec.Template.Spec.InitContainers, d.Spec.Template.Spec.Containers...) {
			out["DaemonSet "+d.Namespace+"/"+d.Name+" "+ct.Name] = ct.Image
		}
	}
	return out
}

// helmReleases lists the releases with the real helm CLI: name -> (status,
// chart, updated time).
type helmRelease struct {
	Name, Namespace, Status, Chart, Updated, AppVersion string
	Revision                                            string
}

func helmList(t *testing.T, kubeconfig string) []helmRelease {
	t.Helper()
	out := runTool(t, "helm", "list", "-A", "-a", "-o", "json", "--kubeconfig", kubeconfig)
	var rels []struct {
		Name       string `json:"name"`
		Namespace  string `json:"namespace"`
		Revision   string `json:"revision"`
		Updated    string `json:"updated"`
		Status     string `json:"status"`
		Chart      string `json:"chart"`
		AppVersion string `json:"app_version"`
	}
	if err := json.Unmarshal([]byte(out), &rels); err != nil {
		t.Fatalf("helm list -o json: %v\n%s", err, out)
	}
	var res []helmRelease
	for _, r := range rels {
		res = append(res, helmRelease{Name: r.Name, Namespace: r.Namespace, Status: r.Status, Chart: r.Chart, Updated: r.Updated, Revision: r.Revision, AppVersion: r.AppVersion})
	}
	return res
}

// digestOf returns the digest part of an image reference.
func digestPart(ref string) string {
	_, d, _ := strings.Cut(ref, "@")
	return d
}

// kubeCRD reads a CRD with the dynamic client.
func kubeCRD(t *testing.T, kubeconfig, name string) (*unstructured.Unstructured, error) {
	t.Helper()
	d := dynClient(t, kubeconfig)
	gvr := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	return d.Resource(gvr).Get(context.Background(), name, metav1.GetOptions{})
}

// kubeVersionOf is the server's version ("v1.34.4").
func kubeVersionOf(t *testing.T, kubeconfig string) string {
	t.Helper()
	v, err := kubeClient(t, kubeconfig).Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	return v.GitVersion
}

// playController stands in for the controllers and kubelets the test
// server lacks: until ctx ends it marks every Deployment and DaemonSet it
// finds rolled out, through the status subresource (observed generation,
// every replica updated and available; DaemonSets on one node).
func playController(ctx context.Context, kube kubernetes.Interface) {
	for ctx.Err() == nil {
		if deps, err := kube.AppsV1().Deployments("").List(ctx, metav1.ListOptions{}); err == nil {
			for _, d := range deps.Items {
				want := int32(1)
				if d.Spec.Replicas != nil {
					want = *d.Spec.Replicas
				}
				s := &d.Status
				if s.ObservedGeneration == d.Generation && s.AvailableReplicas == want && s.UpdatedReplicas == want {
					continue
				}
				s.ObservedGeneration, s.Replicas, s.UpdatedReplicas, s.ReadyReplicas, s.AvailableReplicas = d.Generation, want, want, want, want
				_, _ = kube.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, &d, metav1.UpdateOptions{})
			}
		}
		if dss, err := kube.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{}); err == nil {
			for _, d := range dss.Items {
				s := &d.Status
				if s.ObservedGeneration == d.Generation && s.NumberAvailable == 1 {
					continue
				}
				s.ObservedGeneration, s.DesiredNumberScheduled, s.CurrentNumberScheduled, s.UpdatedNumberScheduled, s.NumberReady, s.NumberAvailable = d.Generation, 1, 1, 1, 1, 1
				_, _ = kube.AppsV1().DaemonSets(d.Namespace).UpdateStatus(ctx, &d, metav1.UpdateOptions{})
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}
