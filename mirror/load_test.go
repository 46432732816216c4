package mirror_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	orasremote "oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/mirror/registry/registrytest"
	"github.com/lattice-mesh/meshpack/progress"
	"github.com/lattice-mesh/meshpack/remote"
)

// TestLoad loads the fixture bundle into the embedded registry and into
// Debian's docker-registry, checks every digest with oras-go and the real
// crane, skopeo, helm and cosign CLIs, and loads it again (nothing sent).
func TestLoad(t *testing.T) {
	f := sharedBundle(t)
	for _, tc := range []struct {
		name  string
		start func(testing.TB) string
	}{
		{"embedded", registrytest.New},
		{"docker-registry", debianRegistry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := tc.start(t)
			target := host + "/mesh"
			ctx := context.Background()
			res, err := mirror.Load(ctx, f.open(t), target, mirror.LoadOptions{Client: plainClient(t, clientOpts()), Key: f.key})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			t.Logf("loaded in %v (verify %v): %d blobs pushed (%d bytes), %d mounted, %d manifests, %d tags",
				res.Duration, res.VerifyDuration, res.BlobsPushed, res.BytesPushed, res.BlobsMounted, res.ManifestsPushed, res.TagsPushed)
			if res.Verified != "digests+signatures" {
				t.Errorf("got Verified %q, want digests+signatures", res.Verified)
			}
			if res.BytesPushed < f.blobs-res.BytesMounted || res.BlobsPushed == 0 || res.ManifestsPushed == 0 {
				t.Errorf("got %d bytes pushed, %d blobs, %d manifests; want every blob (%d bytes) and manifest pushed", res.BytesPushed, res.BlobsPushed, res.ManifestsPushed, f.blobs)
			}
			if res.BlobsMounted == 0 {
				t.Errorf("got no mounts, want shared layers mounted across repositories")
			}
			checkArtifacts(t, host, keepUnder("mesh"), f.bom, res)
			checkWithTools(t, host, f)

			again, err := mirror.Load(ctx, f.open(t), target, mirror.LoadOptions{Client: plainClient(t, clientOpts()), Key: f.key})
			if err != nil {
				t.Fatalf("second Load: %v", err)
			}
			got := [4]int64{int64(again.BlobsPushed), again.BytesPushed, int64(again.ManifestsPushed), int64(again.TagsPushed)}
			if got != [4]int64{} {
				t.Errorf("second load: got blobs/bytes/manifests/tags pushed %v, want nothing pushed", got)
			}
			if again.BlobsSkipped != res.BlobsPushed+res.BlobsMounted {
				t.Errorf("second load: got %d blobs skipped, want %d", again.BlobsSkipped, res.BlobsPushed+res.BlobsMounted)
			}
		})
	}
}

func clientOpts() remote.Options { return remote.Options{} }

// keepUnder maps a BOM repository below prefix, keeping its path.
func keepUnder(prefix string) func(string) string {
	return func(repo string) string { return prefix + "/" + repo }
}

// checkArtifacts checks with oras-go that every artifact's tag resolves to
// the bundle's digest, that its bytes are the bundle's, and that every
// platform manifest is there; repoOf maps a BOM repository to its path at
// the target.
func checkArtifacts(t *testing.T, host string, repoOf func(string) string, bom *bundle.BOM, res *mirror.LoadResult, cred ...auth.Credential) {
	t.Helper()
	ctx := context.Background()
	if len(res.Artifacts) != len(bom.Artifacts) {
		t.Fatalf("got %d artifacts in the result, want %d", len(res.Artifacts), len(bom.Artifacts))
	}
	for i, a := range bom.Artifacts {
		la := res.Artifacts[i]
		wantRepo := host + "/" + repoOf(a.Repository)
		if la.Repository != wantRepo || la.Digest != a.Digest {
			t.Errorf("result artifact %d: got %s@%s, want %s@%s", i, la.Repository, la.Digest, wantRepo, a.Digest)
		}
		repo := orasRepo(t, la.Repository, cred...)
		ref, wantRef := a.Tag, la.Repository+":"+a.Tag+"@"+a.Digest
		if ref == "" { // a referrer, pushed by digest
			ref, wantRef = a.Digest, la.Repository+"@"+a.Digest
			checkReferrer(t, repo, a)
		}
		desc, err := repo.Resolve(ctx, ref)
		if err != nil {
			t.Errorf("%s:%s: resolve: %v", la.Repository, ref, err)
			continue
		}
		if desc.Digest.String() != a.Digest {
			t.Errorf("%s:%s: got digest %s, want %s", la.Repository, ref, desc.Digest, a.Digest)
		}
		if _, err := content.FetchAll(ctx, repo, desc); err != nil {
			t.Errorf("%s@%s: fetch: %v", la.Repository, desc.Digest, err)
		}
		for _, p := range a.Platforms {
			pd, err := repo.Resolve(ctx, p.Digest)
			if err != nil || pd.Digest.String() != p.Digest {
				t.Errorf("%s %s: got %s (%v), want %s", la.Repository, p.Platform, pd.Digest, err, p.Digest)
			}
		}
		if la.Reference != wantRef {
			t.Errorf("got reference %q, want %q", la.Reference, wantRef)
		}
	}
}

// checkReferrer requires referrer a to be listed among its subject's
// referrers, as an OCI client finds them (the referrers API, or the
// referrers tag where the registry has no API).
func checkReferrer(t *testing.T, repo *orasremote.Repository, a bundle.Artifact) {
	t.Helper()
	found := false
	err := repo.Referrers(context.Background(), ocispec.Descriptor{Digest: digest.Digest(a.Subject)}, "", func(page []ocispec.Descriptor) error {
		for _, d := range page {
			found = found || (d.Digest.String() == a.Digest && d.ArtifactType == a.ArtifactType)
		}
		return nil
	})
	if err != nil || !found {
		t.Errorf("%s@%s: referrer %s (%s) not listed (%v)", repo.Reference.Repository, a.Subject, a.Digest, a.ArtifactType, err)
	}
}

func orasRepo(t *testing.T, ref string, cred ...auth.Credential) *orasremote.Repository {
	t.Helper()
	repo, err := orasremote.NewRepository(ref)
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	if len(cred) > 0 {
		repo.Client = &auth.Client{Credential: auth.StaticCredential(repo.Reference.Registry, cred[0])}
	}
	return repo
}

// TestLoadCorruptBundle flips one byte inside a layer stored raw in the
// bundle file: Load must refuse before pushing anything.
func TestLoadCorruptBundle(t *testing.T) {
	f := sharedBundle(t)
	bad := corruptCopy(t, f)
	host := registrytest.New(t)
	r, err := bundle.Open(bad)
	if err != nil {
		t.Fatalf("open corrupted bundle: %v", err)
	}
	defer r.Close()
	_, err = mirror.Load(context.Background(), r, host+"/mesh", mirror.LoadOptions{Client: plainClient(t, clientOpts()), Key: f.key})
	if !errors.Is(err, mirror.ErrVerify) {
		t.Fatalf("got error %v, want one matching ErrVerify", err)
	}
	if !strings.Contains(err.Error(), "nothing was pushed") {
		t.Errorf("got error %q, want it to say nothing was pushed", err)
	}
	if got := registrytest.Catalog(t, host); len(got) != 0 {
		t.Errorf("got catalog %v after a refused load, want it empty", got)
	}
	// The same registry lists repositories once the intact bundle is loaded,
	// so the empty catalog above means nothing was pushed.
	if _, err := mirror.Load(context.Background(), f.open(t), host+"/mesh", mirror.LoadOptions{Client: plainClient(t, clientOpts()), Key: f.key}); err != nil {
		t.Fatalf("Load of the intact bundle: %v", err)
	}
	if got := registrytest.Catalog(t, host); len(got) == 0 {
		t.Error("got an empty catalog after loading the intact bundle; the catalog check above proves nothing")
	}
}

// corruptCopy copies the fixture bundle and flips a byte in the middle of
// its largest layer, which the bundle stores raw (the bytes appear as they
// are in the file).
func corruptCopy(t *testing.T, f *fixtureBundle) string {
	t.Helper()
	data, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	var layer bundle.Blob
	for _, b := range f.bom.Blobs {
		if strings.HasSuffix(b.MediaType, "tar+gzip") && b.Size > layer.Size {
			layer = b
		}
	}
	r := f.open(t)
	rc, err := r.Fetch(context.Background(), descOf(layer))
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 4096)
	if _, err := rc.Read(head); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	i := strings.Index(string(data), string(head[1024:1088]))
	if i < 0 {
		t.Fatalf("layer %s is not stored raw in the bundle; cannot corrupt it in place", layer.Digest)
	}
	data[i+32] ^= 0xff
	bad := filepath.Join(t.TempDir(), "bad.tar.zst")
	if err := os.WriteFile(bad, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return bad
}

// TestLoadResume cancels a load after about half of the bytes, re-runs it
// and counts the bytes sent twice: with the upload journal an interrupted
// upload continues where the registry stopped; without it, each blob that
// was in flight is sent again.
func TestLoadResume(t *testing.T) {
	f := sharedBundle(t)
	for _, tc := range []struct {
		name    string
		journal bool
		maxFrac float64
	}{
		{"journal", true, 0.05},
		// Without the journal the re-sent bytes are the part already sent of
		// each blob in flight (up to Concurrency of them), 10-30% of this
		// bundle; see TestLoadLarge for larger ones.
		{"blob-level", false, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frac := interruptAndResume(t, f, tc.journal, 4<<20)
			if frac > tc.maxFrac {
				t.Errorf("re-sent %.1f%% of the bytes, want at most %.0f%%", 100*frac, 100*tc.maxFrac)
			}
		})
	}
}

// interruptAndResume loads f over a link of limited speed (rate bytes per
// second per upload, so that the uploads in flight are part-way when it
// stops; 0 is unlimited), cancels at half of its bytes, re-runs, checks the
// result and returns the fraction of bytes sent twice.
func interruptAndResume(t *testing.T, f *fixtureBundle, journal bool, rate int64) float64 {
	t.Helper()
	host := registrytest.New(t)
	copts := clientOpts()
	if rate > 0 {
		copts.Transport = &slowTransport{base: http.DefaultTransport.(*http.Transport).Clone(), rate: rate}
	}
	target := host + "/mesh"
	opts := mirror.LoadOptions{Client: plainClient(t, copts), Key: f.key, Logger: testLogger()}
	if journal {
		opts.StateDir = t.TempDir()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sent1, total atomic.Int64
	first := opts
	first.Progress = func(e progress.Event) {
		switch e.Kind {
		case progress.Planned:
			total.Store(e.Total)
		case progress.Bytes:
			if sent1.Add(e.N) >= total.Load()/2 {
				cancel()
			}
		}
	}
	res1, err := mirror.Load(ctx, f.open(t), target, first)
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted Load: got error %v, want context.Canceled", err)
	}
	if !strings.Contains(err.Error(), "re-run") {
		t.Errorf("got error %q, want it to say re-run", err)
	}
	res2, err := mirror.Load(context.Background(), f.open(t), target, opts)
	if err != nil {
		t.Fatalf("re-run Load: %v", err)
	}
	checkArtifacts(t, host, keepUnder("mesh"), f.bom, res2)
	resent := res1.BytesPushed + res2.BytesPushed - total.Load()
	frac := float64(resent) / float64(total.Load())
	t.Logf("total %d bytes; first run sent %d, re-run sent %d (resumed %d uploads, %d bytes kept by the registry): %d bytes (%.2f%%) sent twice",
		total.Load(), res1.BytesPushed, res2.BytesPushed, res2.UploadsResumed, res2.BytesResumed, resent, 100*frac)
	if journal && res2.UploadsResumed == 0 {
		t.Errorf("got no resumed uploads with the journal, want the interrupted ones continued")
	}
	return frac
}

func descOf(b bundle.Blob) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: b.MediaType, Digest: digest.Digest(b.Digest), Size: b.Size}
}

// TestLoadPaths loads into targets with no prefix, a deep prefix, and with
// flattened repository paths.
func TestLoadPaths(t *testing.T) {
	f := sharedBundle(t)
	flat := func(prefix string) func(string) string {
		return func(repo string) string { return prefix + "/" + strings.ReplaceAll(repo, "/", "-") }
	}
	for _, tc := range []struct {
		name   string
		prefix string
		mode   string
		repoOf func(string) string
	}{
		{"no prefix", "", "", func(repo string) string { return repo }},
		{"deep prefix", "org/team/mesh", mirror.PathKeep, keepUnder("org/team/mesh")},
		{"flatten", "mesh", mirror.PathFlatten, flat("mesh")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := registrytest.New(t)
			target := host
			if tc.prefix != "" {
				target += "/" + tc.prefix
			}
			res, err := mirror.Load(context.Background(), f.open(t), target, mirror.LoadOptions{Client: plainClient(t, clientOpts()), PathMode: tc.mode, SkipVerify: true})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if res.Verified != "skipped" {
				t.Errorf("got Verified %q, want skipped", res.Verified)
			}
			checkArtifacts(t, host, tc.repoOf, f.bom, res)
			repos := registrytest.Catalog(t, host)
			if len(repos) == 0 {
				t.Fatal("empty catalog after a load")
			}
			for _, repo := range repos {
				if tc.mode == mirror.PathFlatten && strings.Count(repo, "/") != 1 {
					t.Errorf("flatten: got repository %s, want exactly PREFIX/NAME", repo)
				}
			}
		})
	}
}

// TestLoadBadTarget checks that malformed targets and options fail before
// any request.
func TestLoadBadTarget(t *testing.T) {
	f := sharedBundle(t)
	for _, tc := range []struct {
		name, target, mode, want string
	}{
		{"scheme", "http://127.0.0.1:1/mesh", "", "without a scheme"},
		{"empty", "", "", "want HOST[:PORT][/PREFIX]"},
		{"uppercase prefix", "127.0.0.1:1/Mesh", "", "not a valid repository path"},
		{"path mode", "127.0.0.1:1/mesh", "deep", "want keep or flatten"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mirror.Load(context.Background(), f.open(t), tc.target, mirror.LoadOptions{PathMode: tc.mode, SkipVerify: true})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// slowTransport sends request bodies at about rate bytes per second.
type slowTransport struct {
	base http.RoundTripper
	rate int64
}

func (s *slowTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.ContentLength > 0 {
		req = req.Clone(req.Context())
		req.Body = &slowReader{r: req.Body, rate: s.rate}
	}
	return s.base.RoundTrip(req)
}
