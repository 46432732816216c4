package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/lattice-mesh/meshpack/bundle"
)

// TestBundleDiff diffs two real bundles of the fixture (the second one
// carries one more image), as bundles, as `inspect --bom` files and as
// `inspect -o json` output.
func TestBundleDiff(t *testing.T) {
	e := env(t)
	base := e.createBundle(t)
	next := e.createBundle(t, "--image", exampleImage)
	dir := t.TempDir()
	save := func(name string, args ...string) string {
		t.Helper()
		out, errOut, code := runCLI(t, "", args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, errOut)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	baseBOM := save("base.bom.json", "bundle", "inspect", base, "--bom")
	nextBOM := save("next.bom.json", "bundle", "inspect", next, "--bom")
	baseInspect := save("base.inspect.json", "bundle", "inspect", base, "-o", "json")

	stored, err := os.ReadFile(baseBOM)
	if err != nil {
		t.Fatal(err)
	}
	r, err := bundle.Open(base)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := r.File(bundle.BOMName)
	r.Close()
	if err != nil || string(raw) != string(stored) {
		t.Fatalf("inspect --bom did not print the BOM as stored (err %v)", err)
	}

	var want *bundle.DiffResult
	for _, tt := range []struct{ name, a, b string }{
		{"bundles", base, next},
		{"BOM files", baseBOM, nextBOM},
		{"inspect JSON and bundle", baseInspect, next},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, "", "bundle", "diff", tt.a, tt.b, "-o", "json")
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, errOut)
			}
			var got diffResult
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			if want == nil {
				checkAddedImage(t, got.DiffResult)
				want = &got.DiffResult
				return
			}
			a, _ := json.Marshal(got.DiffResult)
			b, _ := json.Marshal(want)
			if string(a) != string(b) {
				t.Errorf("diff of %s differs from the diff of the bundles:\n%s\nwant\n%s", tt.name, a, b)
			}
		})
	}

	out, errOut, code := runCLI(t, "", "bundle", "diff", next, base)
	if code != 0 {
		t.Fatalf("diff B A: exit %d\n%s", code, errOut)
	}
	for _, s := range []string{"removed  image", "team/app", "delta from A to B: "} {
		if !strings.Contains(out, s) {
			t.Errorf("text output lacks %q:\n%s", s, out)
		}
	}
}

// checkAddedImage checks the diff from the fixture bundle to the one with
// the example image too.
func checkAddedImage(t *testing.T, d bundle.DiffResult) {
	t.Helper()
	var added []string
	// Signatures are made anew for each bundle, and so is the bundle SBOM
	// every image carries as a referrer.
	for _, a := range d.Added {
		if a.Kind != bundle.KindSignature && a.Kind != bundle.KindReferrer {
			added = append(added, a.Source)
		}
	}
	if len(added) != 1 || !strings.Contains(added[0], "team/app") {
		t.Errorf("added %v, want the example image only", added)
	}
	if len(d.Removed) != 0 {
		t.Errorf("removed %+v, want none", d.Removed)
	}
	for _, c := range d.Changed {
		if c.Kind != bundle.KindSignature && c.Kind != bundle.KindReferrer {
			t.Errorf("changed %+v, want only signatures (signed anew) and SBOM referrers (generated anew)", c)
		}
	}
	if d.Unchanged == 0 || d.DeltaBlobs == 0 || d.DeltaBytes <= 0 || d.DeltaBytes >= d.FullBytes || d.SharedBlobs == 0 {
		t.Errorf("unexpected counts: %+v", d)
	}
	if d.DeltaBlobs+d.SharedBlobs != d.FullBlobs || d.DeltaRatio <= 0 || d.DeltaRatio >= 1 {
		t.Errorf("blob counts do not add up: %+v", d)
	}
}

// TestDiffStructuredAndErrors runs diff on crafted BOM files: camelCase
// JSON and YAML, and the inputs it refuses.
func TestDiffStructuredAndErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := write("a.json", `{"schemaVersion":2,"artifacts":[{"kind":"image","name":"pilot","repository":"istio/pilot","tag":"1","digest":"sha256:1","size":9}],"blobs":[{"digest":"sha256:x","size":5}]}`)
	b := write("b.json", "\n  "+`{"schemaVersion":2,"artifacts":[{"kind":"image","name":"pilot","repository":"istio/pilot","tag":"1","digest":"sha256:2","size":9,"platforms":[{"platform":"linux/amd64","digest":"sha256:p","size":3}]}],"blobs":[{"digest":"sha256:x","size":5},{"digest":"sha256:y","size":15}]}`)
	crafted := writeBOMBundle(t, bundle.BOM{SchemaVersion: bundle.BOMSchemaVersion, Unsigned: "test"})
	tests := []struct {
		name string
		args []string
		code int
		want string // in stdout for code 0, in stderr otherwise
	}{
		{"text", []string{a, b}, 0, "delta from A to B: 1 blobs, 15 B of 20 B (75.0 %)"},
		{"changed row", []string{a, b}, 0, "sha256:1 -> sha256:2"},
		{"platforms", []string{a, b}, 0, "+linux/amd64"},
		{"json", []string{a, b, "-o", "json"}, 0, `"deltaBytes": 15`},
		{"yaml", []string{a, b, "-o", "yaml"}, 0, "deltaBytes: 15"},
		{"bundle and BOM", []string{crafted, b, "-o", "json"}, 0, `"deltaBlobs": 2`},
		{"not a BOM", []string{write("x.txt", "hello"), b}, 1, "x.txt"},
		{"old schema", []string{write("old.json", `{"schemaVersion":1}`), b}, 1, "schemaVersion 1"},
		{"too large", []string{write("big.json", `{"schemaVersion":2,"unsigned":"`+strings.Repeat("x", bundle.MaxBOMSize)+`"}`), b}, 1, "limit"},
		{"missing", []string{filepath.Join(dir, "none.tar.zst"), b}, 1, "none.tar.zst"},
		{"one argument", []string{a}, 2, "accepts 2 arg"},
		{"bad format", []string{a, b, "-o", "xml"}, 2, "--output"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, "", append([]string{"bundle", "diff"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
			got := out
			if code != 0 {
				got = errOut
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, got)
			}
			format := tt.args[len(tt.args)-1]
			if code != 0 || (format != formatJSON && format != formatYAML) {
				return
			}
			data := []byte(out)
			if format == formatYAML {
				var err error
				if data, err = yaml.YAMLToJSON(data); err != nil {
					t.Fatal(err)
				}
			}
			var v any
			if err := json.Unmarshal(data, &v); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			if bad := upperKeys(v, ""); len(bad) > 0 {
				t.Errorf("got field names %v, want camelCase", bad)
			}
		})
	}
	if _, errOut, code := runCLI(t, "", "bundle", "inspect", crafted, "--bom", "-o", "json"); code != 2 {
		t.Errorf("inspect --bom -o json: exit %d, want 2\n%s", code, errOut)
	}
}
