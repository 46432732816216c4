package mirror_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mediatype"
)

// checkWithTools reads the loaded registry with the real client CLIs: crane
// digest and skopeo inspect --raw for every image (index and per platform),
// helm pull for a chart, cosign verify for a signed image.
func checkWithTools(t *testing.T, host string, f *fixtureBundle) {
	t.Helper()
	home := t.TempDir()
	t.Run("crane", func(t *testing.T) {
		crane := findTool(t, "crane")
		for _, a := range images(f.bom) {
			ref := host + "/mesh/" + a.Repository + ":" + a.Tag
			if got := strings.TrimSpace(runTool(t, home, crane, "digest", "--insecure", ref)); got != a.Digest {
				t.Errorf("crane digest %s: got %s, want %s", ref, got, a.Digest)
			}
			for _, p := range a.Platforms {
				if got := strings.TrimSpace(runTool(t, home, crane, "digest", "--insecure", "--platform", p.Platform, ref)); got != p.Digest {
					t.Errorf("crane digest --platform %s %s: got %s, want %s", p.Platform, ref, got, p.Digest)
				}
			}
		}
	})
	t.Run("skopeo", func(t *testing.T) {
		skopeo := findTool(t, "skopeo")
		for _, a := range images(f.bom) {
			repo := "docker://" + host + "/mesh/" + a.Repository
			refs := map[string]string{repo + ":" + a.Tag: a.Digest}
			for _, p := range a.Platforms {
				refs[repo+"@"+p.Digest] = p.Digest
			}
			for ref, want := range refs {
				raw := runTool(t, home, skopeo, "inspect", "--raw", "--tls-verify=false", ref)
				if got := sha256Of([]byte(raw)); got != want {
					t.Errorf("skopeo inspect --raw %s: content hashes to %s, want %s", ref, got, want)
				}
			}
		}
	})
	t.Run("helm", func(t *testing.T) {
		helm := findTool(t, "helm")
		out := t.TempDir()
		runTool(t, home, helm, "pull", "oci://"+host+"/mesh/charts/istiod", "--version", "1.30.3", "--plain-http", "-d", out)
		tgz, err := os.ReadFile(filepath.Join(out, "istiod-1.30.3.tgz"))
		if err != nil {
			t.Fatalf("helm pull wrote no chart: %v", err)
		}
		if !hasBlob(f.bom, sha256Of(tgz), mediatype.HelmChart) {
			t.Errorf("helm pull: chart archive hashes to %s, which is not the bundle's istiod chart", sha256Of(tgz))
		}
	})
	t.Run("cosign", func(t *testing.T) {
		cosign := findTool(t, "cosign")
		for _, a := range images(f.bom) {
			if a.Repository != "istio/pilot" {
				continue
			}
			for _, d := range []string{a.Digest, a.Platforms[0].Digest} {
				ref := host + "/mesh/istio/pilot@" + d
				out := runCosign(t, home, cosign, "verify", "--key", f.pub, "--insecure-ignore-tlog", "--allow-insecure-registry", "--allow-http-registry", ref)
				if !strings.Contains(out, d) {
					t.Errorf("cosign verify %s: output does not name the digest:\n%s", ref, out)
				}
			}
			return
		}
		t.Fatal("no istio/pilot image in the bundle")
	})
}

func images(bom *bundle.BOM) []bundle.Artifact {
	var out []bundle.Artifact
	for _, a := range bom.Artifacts {
		if a.Kind == bundle.KindImage {
			out = append(out, a)
		}
	}
	return out
}

func hasBlob(bom *bundle.BOM, d, mediaType string) bool {
	for _, b := range bom.Blobs {
		if b.Digest == d && b.MediaType == mediaType {
			return true
		}
	}
	return false
}

func sha256Of(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// runTool runs a CLI with a scratch HOME and returns its stdout.
func runTool(t *testing.T, home, bin string, args ...string) string {
	t.Helper()
	return runEnv(t, bin, []string{"HOME=" + home, "DOCKER_CONFIG=" + filepath.Join(home, "docker"),
		"HELM_CACHE_HOME=" + filepath.Join(home, "helm-cache"), "HELM_CONFIG_HOME=" + filepath.Join(home, "helm-config"),
		"HELM_DATA_HOME=" + filepath.Join(home, "helm-data")}, args...)
}

// runCosign runs cosign offline: no TUF root fetch, no Rekor.
func runCosign(t *testing.T, home, bin string, args ...string) string {
	t.Helper()
	tuf := filepath.Join(home, "tuf")
	if err := os.MkdirAll(tuf, 0o700); err != nil {
		t.Fatal(err)
	}
	return runEnv(t, bin, []string{"HOME=" + home, "DOCKER_CONFIG=" + filepath.Join(home, "docker"), "TUF_ROOT=" + tuf,
		"SIGSTORE_NO_CACHE=1", "SIGSTORE_REKOR_PUBLIC_KEY=/nonexistent"}, args...)
}

func runEnv(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}
