package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"unicode"

	"sigs.k8s.io/yaml"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/manifests"
)

// TestStructuredOutputIsCamelCase checks that every structured output,
// JSON and YAML, uses camelCase field names.
func TestStructuredOutputIsCamelCase(t *testing.T) {
	crafted := writeBOMBundle(t, bundle.BOM{SchemaVersion: bundle.BOMSchemaVersion, Unsigned: "test"})
	tests := [][]string{
		{"version", "-o", "json"},
		{"version", "-o", "yaml"},
		{"versions", "-o", "json"},
		{"versions", "-o", "yaml"},
		{"bundle", "inspect", crafted, "-o", "json"},
		{"bundle", "inspect", crafted, "-o", "yaml"},
		{"bundle", "verify", crafted, "--allow-unsigned", "-o", "json"},
		{"bundle", "verify", crafted, "--allow-unsigned", "-o", "yaml"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, errOut, code := runCLI(t, "", args...)
			if code == 2 {
				t.Fatalf("usage error: %s", errOut)
			}
			data := []byte(out)
			if args[len(args)-1] == "yaml" {
				var err error
				if data, err = yaml.YAMLToJSON(data); err != nil {
					t.Fatalf("not YAML: %v\n%s", err, out)
				}
			}
			var v any
			if err := json.Unmarshal(data, &v); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			if bad := upperKeys(v, ""); len(bad) > 0 {
				t.Errorf("got field names %v, want camelCase", bad)
			}
			if args[1] == "verify" && !strings.Contains(string(data), `"error":`) {
				t.Errorf("the report of a failed verify has no problem with its error message:\n%s", out)
			}
		})
	}
}

// upperKeys lists the object keys in v that start with an upper-case
// letter. Free-form maps (BOM set, annotations) hold lower-case keys too.
func upperKeys(v any, at string) []string {
	var bad []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if k != "" && unicode.IsUpper([]rune(k)[0]) {
				bad = append(bad, at+"."+k)
			}
			bad = append(bad, upperKeys(e, at+"."+k)...)
		}
	case []any:
		for _, e := range x {
			bad = append(bad, upperKeys(e, at+"[]")...)
		}
	}
	return bad
}

// TestChecksBeforeNetwork runs commands with a bad output path, a bad
// version or a missing upstream key against an upstream that counts
// requests: each fails with a usage error naming the input and the next
// step, and nothing is requested.
func TestChecksBeforeNetwork(t *testing.T) {
	e := env(t)
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		http.NotFound(w, nil)
	}))
	defer srv.Close()
	var mirrors []string
	for _, m := range e.mirrors {
		if origin, _, ok := strings.Cut(m, "="); ok {
			mirrors = append(mirrors, "--mirror", origin+"="+srv.URL+"/m")
		}
	}
	dir := t.TempDir()
	isDir := filepath.Join(dir, "taken")
	if err := os.MkdirAll(filepath.Join(dir, "split.tar.zst.000"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(isDir, 0o755); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "no", "such", "dir")
	lock, err := filepath.Abs("../../manifests/testdata/lock.golden.yaml")
	if err != nil {
		t.Fatal(err)
	}
	create := []string{"bundle", "create", "--key", e.key()}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"resolve into a missing directory", []string{"resolve", filepath.Join(missing, "mesh.lock.yaml"), "--istio", "1.30"}, []string{"directory " + missing + " does not exist; create it first"}},
		{"resolve onto a directory", []string{"resolve", isDir, "--istio", "1.30"}, []string{isDir + " is a directory"}},
		{"legacy -o into a missing directory", []string{"resolve", "--istio", "1.30", "-o", filepath.Join(missing, "mesh.lock.yaml")}, []string{"WARNING: -o FILE is deprecated", "does not exist"}},
		{"create into a missing directory", append(create, filepath.Join(missing, "mesh.tar.zst"), "--istio", "1.30"), []string{"directory " + missing + " does not exist"}},
		{"create onto a directory", append(create, isDir, "--istio", "1.30"), []string{isDir + " is a directory"}},
		{"split part onto a directory", append(create, filepath.Join(dir, "split.tar.zst"), "--istio", "1.30", "--split", "1GiB"), []string{"split.tar.zst.000 is a directory"}},
		{"version with a variant", append(create, filepath.Join(dir, "v.tar.zst"), "--istio", "1.30.3-distroless"), []string{"use --istio 1.30.3 --variant distroless"}},
		{"no upstream key", append(create, filepath.Join(dir, "k.tar.zst"), "--istio", "1.30", "--profile", "ambient"), []string{
			"image docker.io/istio/", `key "istio-release" (published at https://istio.io/misc/istio-key.pub)`, "--upstream-key istio-release=FILE"}},
		{"no upstream key for a lock", append(create, filepath.Join(dir, "l.tar.zst"), "--lock", lock), []string{
			"image docker.io/istio/install-cni:1.30.3-distroless", "https://istio.io/misc/istio-key.pub", "--upstream-key istio-release=FILE"}},
		{"unknown upstream key", append(create, filepath.Join(dir, "u.tar.zst"), "--istio", "1.30", "--upstream-key", "nope="+e.istioPub), []string{`"nope"`, "known keys: istio-release"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("COSIGN_PASSWORD", testPassword)
			before := requests.Load()
			_, errOut, code := runCLI(t, "", append(tt.args, mirrors...)...)
			if code != 2 {
				t.Errorf("got exit %d, want 2 (usage)", code)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if n := requests.Load() - before; n != 0 {
				t.Errorf("got %d upstream requests, want none before the check", n)
			}
			if strings.Contains(errOut, ".partial") {
				t.Errorf("the error names an internal .partial file:\n%s", errOut)
			}
		})
	}
}

// TestE2EOutputConventions: `resolve -o json` prints the lock as JSON,
// `-o PATH` still writes the file with a deprecation warning, and a split
// that yields one part names the files that exist.
func TestE2EOutputConventions(t *testing.T) {
	e := env(t)
	dir := t.TempDir()
	out, errOut, code := e.meshpack(t, "resolve", "--istio", "1.30.3", "-o", "json")
	if code != 0 {
		t.Fatalf("resolve -o json: exit %d\n%s", code, errOut)
	}
	if l, err := manifests.LoadLock(strings.NewReader(out)); err != nil || !strings.HasPrefix(strings.TrimSpace(out), "{") || len(l.Images) == 0 {
		t.Errorf("resolve -o json: got %v, want a JSON lock that loads back:\n%.300s", err, out)
	}
	legacy := filepath.Join(dir, "mesh.lock.yaml")
	if _, errOut, code := e.meshpack(t, "resolve", "--istio", "1.30.3", "-o", legacy); code != 0 || !strings.Contains(errOut, "deprecated") || !fileExists(legacy) {
		t.Errorf("resolve -o PATH: exit %d, file written %v, stderr:\n%s\nwant exit 0, the file and a deprecation warning", code, fileExists(legacy), errOut)
	}
	base := filepath.Join(dir, "one.tar.zst")
	_, errOut, code = e.meshpack(t, "bundle", "create", base, "--lock", legacy, "--key", e.key(),
		"--upstream-key", "istio-release="+e.istioPub, "--split", "4GiB")
	if code != 0 {
		t.Fatalf("create --split: exit %d\n%s", code, errOut)
	}
	want := "wrote " + base + ".000 (1 part; checksums in " + base + ".sha256)"
	if !strings.Contains(errOut, want) || !fileExists(base+".000") || !fileExists(base+".sha256") || fileExists(base) {
		t.Errorf("create --split with one part: want %q and exactly those files, got:\n%s", want, errOut)
	}
}
