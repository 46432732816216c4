package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lattice-mesh/meshpack/bundle"
)

// seaweedScript is hack/seaweedfs.sh, found before any test changes the
// working directory; seaweedCache is where it keeps its build, fixed before
// any test points HOME or XDG_CACHE_HOME elsewhere.
var (
	seaweedScript, _ = filepath.Abs("../../hack/seaweedfs.sh")
	seaweedCache     = func() string {
		if d := os.Getenv("MESHPACK_SEAWEEDFS_CACHE"); d != "" {
			return d
		}
		d, _ := os.UserCacheDir()
		return filepath.Join(d, "meshpack", "seaweed")
	}()
)

// seaweedFS starts a SeaweedFS S3 server on loopback with
// hack/seaweedfs.sh (make test builds it first and sets
// MESHPACK_SEAWEEDFS=1) and returns its S3_* settings; it is stopped when
// the test ends.
func seaweedFS(t *testing.T) map[string]string {
	t.Helper()
	dir := hackServer(t, seaweedScript, "MESHPACK_SEAWEEDFS", "SeaweedFS", "MESHPACK_SEAWEEDFS_CACHE="+seaweedCache)
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
