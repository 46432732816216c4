package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lattice-mesh/meshpack/bundle"
)

// istioctlBundle is one signed sidecar bundle of Istio 1.30.3 for
// linux/amd64 carrying istioctl for linux/amd64 and darwin/arm64, shared
// by the extract tests.
var istioctlBundle struct {
	once sync.Once
	path string
	out  string
}

func sharedIstioctlBundle(t *testing.T, e *e2eEnv) string {
	t.Helper()
	istioctlBundle.once.Do(func() {
		dir, err := os.MkdirTemp("", "meshpack-istioctl-")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "mesh.tar.zst")
		_, errOut, code := e.meshpack(t, "bundle", "create", path, "--istio", "1.30.3", "--platform", "linux/amd64",
			"--istioctl=linux/amd64,darwin/arm64", "--key", e.key(), "--upstream-key", "istio-release="+e.istioPub)
		istioctlBundle.out = errOut
		if code == 0 {
			istioctlBundle.path = path
		}
	})
	if istioctlBundle.path == "" {
		t.Fatalf("bundle create --istioctl failed:\n%s", istioctlBundle.out)
	}
	return istioctlBundle.path
}

// upstreamSHA256 reads the .sha256 the fixture publishes beside name.
func upstreamSHA256(t *testing.T, e *e2eEnv, name string) string {
	t.Helper()
	for _, f := range e.u.Files() {
		if f.Name != name {
			continue
		}
		resp, err := http.Get(f.LocalURL + ".sha256")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s.sha256: %d %v", f.LocalURL, resp.StatusCode, err)
		}
		return strings.Fields(string(b))[0]
	}
	t.Fatalf("the fixture publishes no %s", name)
	return ""
}

// TestE2EExtractIstioctl: the istioctl archive travels pinned by Istio's
// .sha256; extract yields exactly that archive (also with -o DIR, as the
// issue spells it), extract --unpack the istioctl program inside (mode
// 0755, runnable), for the platform asked.
func TestE2EExtractIstioctl(t *testing.T) {
	e := env(t)
	path := sharedIstioctlBundle(t, e)
	dir := t.TempDir()

	out, errOut, code := runCLI(t, "", "bundle", "extract", path, "--file", "istioctl", "--platform", "linux/amd64",
		"--dir", dir, "--key", e.pub(), "-o", "json")
	if code != 0 {
		t.Fatalf("extract: exit %d\n%s", code, errOut)
	}
	var res struct{ Path, Digest, Platform string }
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	name := "istioctl-1.30.3-linux-amd64.tar.gz"
	want := upstreamSHA256(t, e, name)
	if res.Path != filepath.Join(dir, name) || res.Platform != "linux/amd64" {
		t.Errorf("result %+v, want %s for linux/amd64", res, name)
	}
	if got := fileSHA256(t, filepath.Join(dir, name)); got != want || res.Digest != "sha256:"+want {
		t.Errorf("extracted archive sha256 %s (reported %s), upstream .sha256 says %s", got, res.Digest, want)
	}
	odir := t.TempDir()
	if _, errOut, code := runCLI(t, "", "bundle", "extract", path, "--file", "istioctl", "--platform", "linux/amd64", "-o", odir, "--key", e.pub()); code != 0 {
		t.Fatalf("extract -o DIR: exit %d\n%s", code, errOut)
	}
	if got := fileSHA256(t, filepath.Join(odir, name)); got != want {
		t.Errorf("extract -o DIR: archive sha256 %s, upstream .sha256 says %s", got, want)
	}

	for _, plat := range []string{"linux/amd64", "darwin/arm64"} {
		t.Run(plat, func(t *testing.T) {
			dir := t.TempDir()
			if _, errOut, code := runCLI(t, "", "bundle", "extract", path, "--file", "istioctl", "--platform", plat, "--unpack", "--dir", dir, "--key", e.pub()); code != 0 {
				t.Fatalf("extract: exit %d\n%s", code, errOut)
			}
			prog := filepath.Join(dir, "istioctl")
			st, err := os.Stat(prog)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o755 {
				t.Errorf("istioctl mode %v, want 0755", st.Mode().Perm())
			}
			got, err := exec.Command(prog).CombinedOutput()
			if err != nil || !strings.Contains(string(got), "client version: 1.30.3") || !strings.Contains(string(got), "platform: "+plat) {
				t.Errorf("running the extracted istioctl: %v\n%s", err, got)
			}
		})
	}

	// Any other file artifact, by name, written as it is.
	if _, errOut, code := runCLI(t, "", "bundle", "extract", path, "--file", "standard-install.yaml", "--dir", dir, "--key", e.pub()); code != 0 {
		t.Fatalf("extract standard-install.yaml: exit %d\n%s", code, errOut)
	}
	for _, f := range e.u.Files() {
		if f.Name == "standard-install.yaml" && f.Version == "v1.5.1" {
			if got := fileSHA256(t, filepath.Join(dir, f.Name)); "sha256:"+got != f.Digest.String() {
				t.Errorf("standard-install.yaml: sha256 %s, published %s", got, f.Digest)
			}
		}
	}
}

// TestE2EExtractErrors: every refusal names what to do and writes nothing.
func TestE2EExtractErrors(t *testing.T) {
	e := env(t)
	path := sharedIstioctlBundle(t, e)
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"unknown file", []string{"--file", "kubectl", "--key", e.pub()}, 2,
			[]string{`--file: no such file in the bundle: "kubectl"`, "istioctl-1.30.3-linux-amd64.tar.gz (istioctl, linux/amd64)", "standard-install.yaml (gateway-api)"}},
		{"platform not carried", []string{"--file", "istioctl", "--platform", "linux/arm64", "--key", e.pub()}, 2,
			[]string{"--platform:", "istioctl is carried for darwin/arm64, linux/amd64, not for linux/arm64"}},
		{"platform needed", []string{"--file", "istioctl", "--key", e.pub()}, 2,
			[]string{"--platform:", "carried for darwin/arm64, linux/amd64; name one platform"}},
		{"bad platform", []string{"--file", "istioctl", "--platform", "amd64", "--key", e.pub()}, 2, []string{"--platform: platform \"amd64\""}},
		{"no file", []string{"--key", e.pub()}, 2, []string{"--file: name the file"}},
		{"no key", []string{"--file", "istioctl", "--platform", "linux/amd64"}, 2, []string{"no --key", "--allow-unsigned"}},
		{"wrong key", []string{"--file", "istioctl", "--platform", "linux/amd64", "--key", e.otherPub}, 1,
			[]string{"does not verify", "nothing was extracted"}},
		{"no such dir", []string{"--file", "istioctl", "--platform", "linux/amd64", "--dir", filepath.Join(filepath.Dir(notDir), "missing"), "--key", e.pub()}, 2, []string{"does not exist"}},
		{"dir is a file", []string{"--file", "istioctl", "--platform", "linux/amd64", "--dir", notDir, "--key", e.pub()}, 2, []string{"is not a directory"}},
		// /proc takes no new files, even from root.
		{"dir not writable", []string{"--file", "istioctl", "--platform", "linux/amd64", "--dir", "/proc", "--key", e.pub()}, 2, []string{"--dir /proc is not writable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"bundle", "extract", path}, tt.args...)
			if !strings.Contains(strings.Join(tt.args, " "), "--dir") {
				args = append(args, "--dir", dir)
			}
			_, errOut, code := runCLI(t, "", args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", code, tt.code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if left, _ := os.ReadDir(dir); len(left) > 0 {
				t.Errorf("a refused extract left %v in the directory", left)
			}
		})
	}
}

// TestE2EIncludeSelf: with --include-self the running binary travels at
// meshpack/bin/<os>-<arch>/meshpack; the real tar extracts it executable,
// and its sha256 is the one the BOM records (and the running binary's).
func TestE2EIncludeSelf(t *testing.T) {
	e := env(t)
	tar := tool(t, "tar")
	tool(t, "zstd") // tar --zstd runs it
	path := filepath.Join(t.TempDir(), "apps.tar.zst")
	if _, errOut, code := e.meshpack(t, "bundle", "create", path, "--istio", "none", "--image", "docker.io/library/app:1",
		"--include-self", "--key", e.key()); code != 0 {
		t.Fatalf("bundle create --include-self: exit %d\n%s", code, errOut)
	}
	if _, errOut, code := runCLI(t, "", "bundle", "verify", path, "--key", e.pub()); code != 0 {
		t.Fatalf("bundle verify: exit %d\n%s", code, errOut)
	}
	entry := selfEntry()
	var recorded string
	for _, f := range openBOM(t, path).Files {
		if f.Name == entry {
			recorded = f.Digest
		}
	}
	if recorded == "" {
		t.Fatalf("the BOM's files do not list %s", entry)
	}
	dir := t.TempDir()
	runTool(t, tar, "--zstd", "-xf", path, "-C", dir, entry)
	got := filepath.Join(dir, filepath.FromSlash(entry))
	st, err := os.Stat(got)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o755 {
		t.Errorf("tar extracted %s with mode %v, want 0755", entry, st.Mode().Perm())
	}
	sum := "sha256:" + fileSHA256(t, got)
	if sum != recorded {
		t.Errorf("extracted %s has %s, the BOM records %s", entry, sum, recorded)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if want := "sha256:" + fileSHA256(t, self); sum != want {
		t.Errorf("extracted %s has %s, the running binary %s", entry, sum, want)
	}
	if !strings.HasPrefix(entry, bundle.ExecutablePrefix) {
		t.Errorf("entry %s is not below %s", entry, bundle.ExecutablePrefix)
	}
}
