package mirror_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/lattice-mesh/meshpack/hack/upstream"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/mirror/registry"
	"github.com/lattice-mesh/meshpack/mirror/registry/registrytest"
)

// TestLoadLarge measures a load of a big fixture bundle: wall time against
// raw parallel uploads of the same blobs (POST + PUT from extracted files,
// the registry's ceiling), and the bytes sent twice when a load is
// cancelled half way and re-run, with and without the upload journal. It
// runs only with MESHPACK_LOAD_SIZE set (e.g. 1GiB); building the fixture
// takes minutes.
func TestLoadLarge(t *testing.T) {
	size := os.Getenv("MESHPACK_LOAD_SIZE")
	if size == "" {
		t.Skip("set MESHPACK_LOAD_SIZE=1GiB to measure a large load")
	}
	n, err := upstream.ParseSize(size)
	if err != nil {
		t.Fatal(err)
	}
	conc, _ := strconv.Atoi(os.Getenv("MESHPACK_LOAD_CONCURRENCY"))
	dir := t.TempDir()
	f, err := buildBundle(dir, upstream.Options{TotalSize: n, RegistryRoot: filepath.Join(dir, "upstream-registry"), Platforms: []string{"linux/amd64", "linux/arm64"}})
	if err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(dir, "upstream-registry"))
	st, _ := os.Stat(f.path)
	t.Logf("bundle: %d bytes of blobs, %d bytes on disk, built in %v", f.blobs, st.Size(), f.create)

	t.Run("throughput", func(t *testing.T) {
		host := registrytest.NewWithConfig(t, registry.Config{Root: t.TempDir()})
		var ms runtime.MemStats
		res, err := mirror.Load(context.Background(), f.open(t), host+"/mesh", mirror.LoadOptions{Client: plainClient(t, clientOpts()), Key: f.key, Concurrency: conc})
		if err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&ms)
		t.Logf("load: %v (verify %v), %d bytes pushed, %.1f MiB/s; Go heap sys %d MiB",
			res.Duration, res.VerifyDuration, res.BytesPushed, float64(res.BytesPushed)/res.Duration.Seconds()/(1<<20), ms.HeapSys>>20)
		raw := rawUpload(t, f, max(conc, 4))
		t.Logf("raw parallel POST+PUT of the same blobs: %v; load / raw = %.2f", raw, res.Duration.Seconds()/raw.Seconds())
	})
	for _, journal := range []bool{true, false} {
		t.Run(fmt.Sprintf("resume/journal=%v", journal), func(t *testing.T) {
			frac := interruptAndResume(t, f, journal, 0)
			t.Logf("re-sent %.2f%%", 100*frac)
		})
	}
}

// rawUpload extracts every blob of f to a file and times uploading them,
// conc at a time, with one POST and one PUT each into a fresh registry.
func rawUpload(t *testing.T, f *fixtureBundle, conc int) time.Duration {
	t.Helper()
	r := f.open(t)
	dir := t.TempDir()
	for _, b := range f.bom.Blobs {
		rc, err := r.Fetch(context.Background(), descOf(b))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dir, b.Digest[7:]))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		out.Close()
	}
	host := registrytest.NewWithConfig(t, registry.Config{Root: t.TempDir()})
	start := time.Now()
	var g errgroup.Group
	g.SetLimit(conc)
	for _, b := range f.bom.Blobs {
		g.Go(func() error {
			resp, err := http.Post("http://"+host+"/v2/raw/blobs/uploads/", "", nil)
			if err != nil {
				return err
			}
			resp.Body.Close()
			loc, err := resp.Location()
			if err != nil {
				return err
			}
			fh, err := os.Open(filepath.Join(dir, b.Digest[7:]))
			if err != nil {
				return err
			}
			defer fh.Close()
			q := loc.Query()
			q.Set("digest", b.Digest)
			loc.RawQuery = q.Encode()
			req, _ := http.NewRequest(http.MethodPut, loc.String(), fh)
			req.ContentLength = b.Size
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				return fmt.Errorf("PUT %s: %s", b.Digest, resp.Status)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}
