package mirror_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/mirror/registry/registrytest"
)

// TestLoadIncremental loads a bundle that leaves its largest layer to a base
// bundle: refused with nothing pushed into an empty registry, complete once
// the base is loaded.
func TestLoadIncremental(t *testing.T) {
	f := sharedBundle(t)
	inc, left := dropLargestLayer(t, f)
	host := registrytest.New(t)
	opts := mirror.LoadOptions{Client: plainClient(t, clientOpts()), SkipVerify: true}

	r, err := bundle.Open(inc)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = mirror.Load(context.Background(), r, host+"/mesh", opts)
	if !errors.Is(err, mirror.ErrBaseMissing) || !strings.Contains(err.Error(), left) {
		t.Fatalf("got error %v, want ErrBaseMissing naming %s", err, left)
	}
	if got := registrytest.Catalog(t, host); len(got) != 0 {
		t.Errorf("got catalog %v after a refused load, want it empty", got)
	}

	if _, err := mirror.Load(context.Background(), f.open(t), host+"/mesh", opts); err != nil {
		t.Fatalf("load the base: %v", err)
	}
	res, err := mirror.Load(context.Background(), r, host+"/mesh", opts)
	if err != nil {
		t.Fatalf("load the incremental bundle after its base: %v", err)
	}
	checkArtifacts(t, host, keepUnder("mesh"), f.bom, res)
}

// dropLargestLayer rewrites the fixture bundle without its largest layer,
// as an incremental bundle whose base holds it, and returns its path and
// the digest left out.
func dropLargestLayer(t *testing.T, f *fixtureBundle) (string, string) {
	t.Helper()
	ctx := context.Background()
	var drop bundle.Blob
	for _, b := range f.bom.Blobs {
		if b.Size > drop.Size {
			drop = b
		}
	}
	r := f.open(t)
	path := filepath.Join(t.TempDir(), "inc.tar.zst")
	out, err := bundle.Create(path, bundle.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Abort()
	w := out.Writer()
	for _, e := range r.Entries() {
		switch {
		case e.Dir || e.Name == bundle.BOMSigName:
		case !strings.HasPrefix(e.Name, "blobs/"):
			data, err := r.File(e.Name)
			if err != nil {
				t.Fatal(err)
			}
			if e.Name == bundle.BOMName {
				data = incrementalBOM(t, data, drop.Digest)
			}
			if err := w.AddFile(e.Name, data); err != nil {
				t.Fatal(err)
			}
		case e.Name != "blobs/sha256/"+strings.TrimPrefix(drop.Digest, "sha256:"):
			b := blobOf(f.bom, "sha256:"+filepath.Base(e.Name))
			rc, err := r.Fetch(ctx, descOf(b))
			if err != nil {
				t.Fatal(err)
			}
			err = w.Push(ctx, descOf(b), rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := out.Commit(); err != nil {
		t.Fatal(err)
	}
	return path, drop.Digest
}

// incrementalBOM marks a BOM as incremental and drops a blob from it.
func incrementalBOM(t *testing.T, data []byte, drop string) []byte {
	t.Helper()
	var bom bundle.BOM
	if err := json.Unmarshal(data, &bom); err != nil {
		t.Fatal(err)
	}
	bom.Base, bom.Signed, bom.Unsigned = sha256Of(data), false, "test"
	var kept []bundle.Blob
	for _, b := range bom.Blobs {
		if b.Digest != drop {
			kept = append(kept, b)
		}
	}
	bom.Blobs = kept
	out, err := json.Marshal(bom)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func blobOf(bom *bundle.BOM, d string) bundle.Blob {
	for _, b := range bom.Blobs {
		if b.Digest == d {
			return b
		}
	}
	return bundle.Blob{Digest: d}
}
