package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/hack/upstream"
	"github.com/lattice-mesh/meshpack/manifests"
)

func TestE2EResolve(t *testing.T) {
	e := env(t)
	tests := []struct {
		name      string
		args      []string
		want      []string
		notWant   []string
		wantChart []string
		wantFiles []string
	}{
		{"ambient with kiali", []string{"--istio", "1.30.3", "--profile", "ambient", "--kiali"},
			[]string{"docker.io/istio/pilot:1.30.3-distroless", "docker.io/istio/proxyv2:1.30.3-distroless",
				"docker.io/istio/install-cni:1.30.3-distroless", "docker.io/istio/ztunnel:1.30.3-distroless", "quay.io/kiali/kiali:v2.26.0",
				"docker.io/prom/prometheus:v3.10.0", "ghcr.io/prometheus-operator/prometheus-config-reloader:v0.89.0"},
			nil, []string{"base", "istiod", "cni", "ztunnel", "kiali-server"}, []string{"prometheus.yaml", "standard-install.yaml"}},
		{"sidecar", []string{"--istio", "1.30.3", "--profile", "sidecar"},
			[]string{"docker.io/istio/pilot:1.30.3", "docker.io/istio/proxyv2:1.30.3"},
			[]string{"ztunnel", "install-cni", "kiali", "prometheus"}, []string{"base", "istiod"}, []string{"standard-install.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "mesh.lock.yaml")
			if _, errOut, code := e.meshpack(t, append([]string{"resolve", out}, tt.args...)...); code != 0 {
				t.Fatalf("resolve: exit %d\n%s", code, errOut)
			}
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			lock, err := manifests.LoadLock(f)
			if err != nil {
				t.Fatalf("the lock does not load back: %v", err)
			}
			refs := map[string]string{}
			for _, img := range lock.Images {
				refs[img.Reference] = img.Digest
				if !manifests.ValidDigest(img.Digest) || len(img.Platforms) != 2 && !strings.Contains(img.Reference, "kiali") {
					t.Errorf("%s: digest %q, %d platforms", img.Reference, img.Digest, len(img.Platforms))
				}
			}
			for _, w := range tt.want {
				if _, ok := refs[w]; !ok {
					t.Errorf("lock lacks %s; has %v", w, keys(refs))
				}
				if info, ok := e.u.Image(w); ok && info.Digest.String() != refs[w] {
					t.Errorf("%s: lock digest %s, upstream published %s", w, refs[w], info.Digest)
				}
			}
			for _, nw := range tt.notWant {
				for r := range refs {
					if strings.Contains(r, nw) {
						t.Errorf("lock has %s, want no %s", r, nw)
					}
				}
			}
			var charts []string
			for _, c := range lock.Charts {
				charts = append(charts, c.Name)
				if !manifests.ValidDigest(c.Digest) {
					t.Errorf("chart %s: digest %q", c.Name, c.Digest)
				}
			}
			for _, wc := range tt.wantChart {
				if !strings.Contains(strings.Join(charts, " "), wc) {
					t.Errorf("lock charts %v lack %s", charts, wc)
				}
			}
			var files []string
			for _, f := range lock.Files {
				files = append(files, f.Name)
				if !manifests.ValidDigest(f.Digest) {
					t.Errorf("file %s: digest %q", f.Name, f.Digest)
				}
			}
			if strings.Join(files, " ") != strings.Join(tt.wantFiles, " ") {
				t.Errorf("lock files = %v, want %v, pinned", files, tt.wantFiles)
			}
		})
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestE2ECreateReadableByTools(t *testing.T) {
	e := env(t)
	path := e.createBundle(t, "--split", "4MiB")
	dir := filepath.Dir(path)
	zstd, tar, skopeo := tool(t, "zstd"), tool(t, "tar"), tool(t, "skopeo")

	// cat FILE.* > FILE, exactly as the issue says (the glob includes FILE.sha256).
	runTool(t, "sh", "-c", "cat "+path+".* > "+path)
	runTool(t, zstd, "-t", path)
	list := runTool(t, tar, "--zstd", "-tf", path)
	for _, want := range []string{"oci-layout", "index.json", "meshpack/bom.json", "meshpack/bom.json.sig", "meshpack/lock.yaml", "blobs/sha256/"} {
		if !strings.Contains(list, want+"\n") {
			t.Errorf("tar --zstd -tf lacks %s", want)
		}
	}
	// Each blob once.
	seen := map[string]bool{}
	for _, l := range strings.Split(list, "\n") {
		if strings.HasPrefix(l, "blobs/sha256/") && len(l) > len("blobs/sha256/") {
			if seen[l] {
				t.Errorf("%s stored twice", l)
			}
			seen[l] = true
		}
	}
	if _, errOut, code := runCLI(t, "", "bundle", "verify", "--key", e.pub(), path); code != 0 {
		t.Errorf("verify of the cat-joined file: exit %d\n%s", code, errOut)
	}
	if _, errOut, code := runCLI(t, "", "bundle", "verify", "--key", e.pub(), path+".000"); code != 0 {
		t.Errorf("verify of the parts: exit %d\n%s", code, errOut)
	}
	layout := filepath.Join(dir, "layout")
	runTool(t, "mkdir", "-p", layout)
	runTool(t, tar, "--zstd", "-xf", path, "-C", layout)
	out := runTool(t, skopeo, "inspect", "--raw", "oci:"+layout+":docker.io/istio/pilot:1.30.3-distroless")
	if !strings.Contains(out, ocispec.MediaTypeImageIndex) {
		t.Errorf("skopeo inspect --raw: got %s, want the image index", out)
	}
	runTool(t, skopeo, "inspect", "--override-arch", "arm64", "oci:"+layout+":docker.io/istio/pilot:1.30.3-distroless")
}

func TestE2ESharedLayerStoredOnce(t *testing.T) {
	e := env(t)
	path := e.createBundle(t)
	r, err := bundle.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	layersOf := func(ref string) map[string]bool {
		desc, err := r.Resolve(ctx, ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		var idx ocispec.Index
		mustJSON(t, r, desc, &idx)
		var m ocispec.Manifest
		mustJSON(t, r, idx.Manifests[0], &m)
		out := map[string]bool{}
		for _, l := range m.Layers {
			out[l.Digest.String()] = true
		}
		return out
	}
	pilot, proxy := layersOf("docker.io/istio/pilot:1.30.3-distroless"), layersOf("docker.io/istio/proxyv2:1.30.3-distroless")
	shared := ""
	for d := range pilot {
		if proxy[d] {
			shared = d
		}
	}
	if shared == "" {
		t.Fatal("the fixture's pilot and proxyv2 share no layer")
	}
	n := 0
	for _, e := range r.Entries() {
		if e.Name == "blobs/sha256/"+strings.TrimPrefix(shared, "sha256:") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("shared layer %s stored %d times, want 1", shared, n)
	}
}

func mustJSON(t *testing.T, r *bundle.Reader, desc ocispec.Descriptor, v any) {
	t.Helper()
	b, err := content.FetchAll(context.Background(), r, desc)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func TestE2EVerifyDetectsTampering(t *testing.T) {
	e := env(t)
	good := e.createBundle(t)
	tests := []struct {
		name    string
		make    func(t *testing.T, dst string)
		key     string
		wantErr string
	}{
		{"untouched", func(t *testing.T, dst string) { copyFile(t, good, dst) }, e.pub(), ""},
		{"wrong public key", func(t *testing.T, dst string) { copyFile(t, good, dst) }, e.otherPub, "BOM signature does not verify with this key"},
		{"tampered BOM", func(t *testing.T, dst string) {
			rewriteBundle(t, good, dst, func(name string, data []byte) []byte {
				if name == bundle.BOMName {
					return bytes.Replace(data, []byte(`"istio": "1.30.3"`), []byte(`"istio": "1.30.4"`), 1)
				}
				return data
			}, false)
		}, e.pub(), "BOM signature does not verify"},
		{"swapped image signature", func(t *testing.T, dst string) { swapSignatures(t, good, dst) }, e.pub(), "signature does not verify with this key"},
		{"changed blob", func(t *testing.T, dst string) { copyFile(t, good, dst); flipLayerByte(t, dst) }, e.pub(), "blobs: sha256:"},
		{"truncated", func(t *testing.T, dst string) { copyFile(t, good, dst); truncate(t, dst, 4096) }, "", "invalid bundle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "b.tar.zst")
			tt.make(t, dst)
			args := []string{"bundle", "verify", dst, "--allow-unsigned"}
			if tt.key != "" {
				args = []string{"bundle", "verify", dst, "--key", tt.key}
			}
			out, errOut, code := runCLI(t, "", args...)
			if tt.wantErr == "" {
				if code != 0 {
					t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
				}
				return
			}
			if code == 0 || !strings.Contains(out+errOut, tt.wantErr) {
				t.Errorf("verify: got exit %d and\n%s%s\nwant non-zero exit naming %q", code, out, errOut, tt.wantErr)
			}
		})
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func truncate(t *testing.T, path string, n int64) {
	t.Helper()
	if err := os.Truncate(path, n); err != nil {
		t.Fatal(err)
	}
}

// flipLayerByte flips one byte inside the largest (raw-stored) layer: its
// bytes appear verbatim in the file.
func flipLayerByte(t *testing.T, path string) {
	t.Helper()
	r, err := bundle.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var big bundle.Entry
	for _, e := range r.Entries() {
		if strings.HasPrefix(e.Name, "blobs/") && e.Size > big.Size {
			big = e
		}
	}
	data, err := r.File(big.Name)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	needle := data[len(data)/2 : len(data)/2+64]
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(file, needle)
	if i < 0 {
		t.Fatal("layer bytes not found verbatim in the bundle")
	}
	file[i+10] ^= 0xff
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
}

// swapSignatures exchanges the signature images of two images in the BOM and
// index.json, then re-signs the BOM: every layout check passes, only the
// image signature check can catch it.
func swapSignatures(t *testing.T, src, dst string) {
	t.Helper()
	r, err := bundle.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	bom, err := r.BOM()
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	var a, b *bundle.Artifact
	for i := range bom.Artifacts {
		art := &bom.Artifacts[i]
		switch {
		case art.Kind != bundle.KindSignature:
		case a == nil:
			a = art
		case b == nil && art.Repository != a.Repository:
			b = art
		}
	}
	if a == nil || b == nil {
		t.Fatal("need two signature artifacts in different repositories")
	}
	swap := map[string]bundle.Artifact{a.Digest: *b, b.Digest: *a}
	var newIndex []byte // index.json comes before the BOM, which records its sha256
	rewriteBundle(t, src, dst, func(name string, data []byte) []byte {
		switch name {
		case bundle.BOMName:
			a.Digest, b.Digest, a.Size, b.Size = b.Digest, a.Digest, b.Size, a.Size
			for i, f := range bom.Files {
				if f.Name == bundle.IndexName {
					bom.Files[i] = bundle.MetadataOf(bundle.IndexName, newIndex)
				}
			}
			out, err := json.MarshalIndent(bom, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			return out
		case bundle.IndexName:
			var idx ocispec.Index
			if err := json.Unmarshal(data, &idx); err != nil {
				t.Fatal(err)
			}
			for i, m := range idx.Manifests {
				if o, ok := swap[m.Digest.String()]; ok {
					idx.Manifests[i].Digest, idx.Manifests[i].Size = digestOf(t, o.Digest), o.Size
				}
			}
			out, err := json.Marshal(idx)
			if err != nil {
				t.Fatal(err)
			}
			newIndex = out
			return out
		}
		return data
	}, true)
}

func TestE2EUpstreamSignaturePolicy(t *testing.T) {
	e := env(t)
	base := []string{"bundle", "create", "--istio", "1.30.3", "--profile", "ambient", "--key", e.key()}
	tests := []struct {
		name      string
		args      []string
		wantErr   string
		wantCheck string
	}{
		{"signed by the catalog key", []string{"--upstream-key", "istio-release=" + e.istioPub}, "", "cosign:istio-release"},
		{"wrong upstream key", []string{"--upstream-key", "istio-release=" + e.otherPub}, `upstream signature does not verify with key "istio-release"`, ""},
		{"no key configured", nil, `(published at https://istio.io/misc/istio-key.pub), but no public key given for it; fetch that key, check it, and pass --upstream-key istio-release=FILE`, ""},
		{"verification off", []string{"--verify-upstream=off"}, "", "upstream-signature:skipped(verify-upstream=off)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "b.tar.zst")
			_, errOut, code := e.meshpack(t, append(append(base, out), tt.args...)...)
			if tt.wantErr != "" {
				if code == 0 || !strings.Contains(errOut, tt.wantErr) || !strings.Contains(errOut, "docker.io/istio/") {
					t.Fatalf("create: got exit %d and %s, want an error naming the image and %q", code, errOut, tt.wantErr)
				}
				if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("a failed create left %s behind", out)
				}
				return
			}
			if code != 0 {
				t.Fatalf("create: exit %d\n%s", code, errOut)
			}
			js, _, _ := runCLI(t, "", "bundle", "inspect", out, "-o", "json")
			if !strings.Contains(js, tt.wantCheck) {
				t.Errorf("BOM checks lack %q:\n%s", tt.wantCheck, js)
			}
		})
	}
}

func TestE2EVerifyMakesNoNetworkConnection(t *testing.T) {
	e := env(t)
	path := e.createBundle(t)
	var dials atomic.Int32
	fail := func(context.Context, string, string) (net.Conn, error) {
		dials.Add(1)
		return nil, errors.New("network is forbidden in this test")
	}
	oldT, oldR := http.DefaultTransport, net.DefaultResolver
	http.DefaultTransport = &http.Transport{DialContext: fail}
	net.DefaultResolver = &net.Resolver{PreferGo: true, Dial: fail}
	defer func() { http.DefaultTransport, net.DefaultResolver = oldT, oldR }()
	if _, errOut, code := runCLI(t, "", "bundle", "verify", "--key", e.pub(), path); code != 0 {
		t.Fatalf("verify: exit %d\n%s", code, errOut)
	}
	if n := dials.Load(); n != 0 {
		t.Errorf("verify attempted %d network connections, want 0", n)
	}
}

// TestE2EUnsignedUpstream publishes the Istio images WITHOUT signatures: the
// default policy refuses them naming the image and the key, if-signed and
// off let them through and the BOM says which check each image passed.
func TestE2EUnsignedUpstream(t *testing.T) {
	e := env(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	u, err := upstream.Start(ctx, upstream.Options{Testdata: testdataDir()})
	if err != nil {
		t.Fatalf("unsigned fixture upstream: %v", err)
	}
	defer u.Close()
	var mirrors []string
	for _, m := range u.Mirrors() {
		mirrors = append(mirrors, "--mirror", m)
	}
	t.Setenv("COSIGN_PASSWORD", testPassword)
	tests := []struct {
		name      string
		policy    string
		wantErr   string
		wantCheck string
	}{
		{"required (default)", "", `no upstream cosign signature`, ""},
		{"if-signed", "if-signed", "", "upstream-signature:absent"},
		{"off", "off", "", "upstream-signature:skipped(verify-upstream=off)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "b.tar.zst")
			args := []string{"bundle", "create", out, "--istio", "1.30.3", "--profile", "ambient", "--key", e.key(),
				"--upstream-key", "istio-release=" + e.istioPub}
			if tt.policy != "" {
				args = append(args, "--verify-upstream", tt.policy)
			}
			_, errOut, code := runCLI(t, "", append(args, mirrors...)...)
			if tt.wantErr != "" {
				if code == 0 || !strings.Contains(errOut, tt.wantErr) || !strings.Contains(errOut, "docker.io/istio/") || !strings.Contains(errOut, `"istio-release"`) {
					t.Fatalf("create: got exit %d and %s, want an error naming the image, the key and %q", code, errOut, tt.wantErr)
				}
				return
			}
			if code != 0 {
				t.Fatalf("create: exit %d\n%s", code, errOut)
			}
			js, _, _ := runCLI(t, "", "bundle", "inspect", out, "-o", "json")
			if !strings.Contains(js, tt.wantCheck) {
				t.Errorf("BOM checks lack %q", tt.wantCheck)
			}
		})
	}
}
