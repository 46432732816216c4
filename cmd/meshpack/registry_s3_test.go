package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lattice-mesh/meshpack/bundle"
)

// seaweedScript starts and stops SeaweedFS for the object-storage tests.
var seaweedScript = filepath.Join("..", "..", "hack", "seaweedfs.sh")

// seaweedFS starts a SeaweedFS S3 server on loopback with
// hack/seaweedfs.sh (make test builds it first and sets
// MESHPACK_SEAWEEDFS=1) and returns its S3_* settings; it is stopped when
// the test ends.
func seaweedFS(t *testing.T) map[string]string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs SeaweedFS (-short)")
	}
	if os.Getenv("MESHPACK_SEAWEEDFS") != "1" {
		if os.Getenv("MESHPACK_REQUIRE_TOOLS") == "1" {
			t.Fatal("MESHPACK_SEAWEEDFS is not 1: run the tests with make test, which builds SeaweedFS")
		}
		t.Skip("no SeaweedFS: run make test, or build it with bash hack/seaweedfs.sh build and set MESHPACK_SEAWEEDFS=1")
	}
	dir := filepath.Join(t.TempDir(), "seaweed")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", seaweedScript, "up", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("hack/seaweedfs.sh up: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("bash", seaweedScript, "down", dir).CombinedOutput(); err != nil {
			t.Errorf("hack/seaweedfs.sh down: %v\n%s", err, out)
		}
	})
	f, err := os.Open(filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	return env
}

// TestRegistryServeS3Replicas runs two `registry serve --config` replicas
// on one SeaweedFS bucket (Distribution's s3 driver, the secret key given
// through REGISTRY_STORAGE_S3_SECRETKEY, not the file), loads a bundle
// through the first and pulls every image (crane, every platform, every
// layer digest checked) and every chart (helm) through the second.
func TestRegistryServeS3Replicas(t *testing.T) {
	s3 := seaweedFS(t)
	e := env(t)
	cfg := filepath.Join(t.TempDir(), "registry-s3.yaml")
	writeFile(t, cfg, `version: 0.1
http:
  secret: meshpack-test-replicas-share-this
storage:
  s3:
    accesskey: `+s3["S3_ACCESS_KEY"]+`
    region: us-east-1
    regionendpoint: `+s3["S3_ENDPOINT"]+`
    bucket: `+s3["S3_BUCKET"]+`
    forcepathstyle: true
    secure: false
    rootdirectory: /registry
  cache:
    blobdescriptor: inmemory
`)
	t.Setenv("REGISTRY_STORAGE_S3_SECRETKEY", s3["S3_SECRET_KEY"])
	one := serveRegistryWith(t, "--config", cfg)
	two := serveRegistryWith(t, "--config", cfg)

	b := e.loadBundleInto(t, e.createBundle(t), one+"/mesh")
	var images, charts int
	for _, a := range b.bom.Artifacts {
		switch a.Kind {
		case bundle.KindImage:
			ref := two + "/mesh/" + a.Repository + "@" + a.Digest
			runTool(t, "crane", "pull", "--insecure", "--format", "oci", "--platform", "all", ref, filepath.Join(t.TempDir(), "layout"))
			if got := strings.TrimSpace(runTool(t, "crane", "digest", two+"/mesh/"+a.Repository+":"+a.Tag, "--insecure")); got != a.Digest {
				t.Errorf("%s:%s through the second replica is %s, want %s", a.Repository, a.Tag, got, a.Digest)
			}
			images++
		case bundle.KindChart:
			runTool(t, "helm", "pull", "oci://"+two+"/mesh/"+a.Repository, "--version", a.Tag, "--plain-http", "-d", t.TempDir())
			charts++
		}
	}
	if images == 0 || charts == 0 {
		t.Fatalf("pulled %d images and %d charts: the bundle should hold both", images, charts)
	}
	t.Logf("pulled %d images (every platform) and %d charts through the second replica", images, charts)
}

// TestRegistryServeConfigErrors checks the usage errors of --config.
func TestRegistryServeConfigErrors(t *testing.T) {
	dir := t.TempDir()
	two := filepath.Join(dir, "two-drivers.yaml")
	writeFile(t, two, "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: "+dir+"/a\n  inmemory: {}\n")
	gcs := filepath.Join(dir, "gcs.yaml")
	writeFile(t, gcs, "version: 0.1\nstorage:\n  gcs:\n    bucket: x\n")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"neither root nor config", nil, 2, "--root DIR or --config FILE is required"},
		{"both", []string{"--root", dir, "--config", two}, 2, "--root and --config exclude each other"},
		{"missing file", []string{"--config", filepath.Join(dir, "nope.yaml")}, 1, "nope.yaml: no such file"},
		{"two drivers", []string{"--config", two}, 1, "must provide exactly one storage type"},
		{"driver not built in", []string{"--config", gcs}, 1, `storage driver "gcs" is not built in; use one of filesystem, inmemory, s3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := runCLI(t, "", append([]string{"registry", "serve"}, tt.args...)...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, tt.code, tt.want)
			}
		})
	}
}

// writeFile writes a test file or fails the test.
func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
