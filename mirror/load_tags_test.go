package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	orasremote "oras.land/oras-go/v2/registry/remote"

	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/mirror/registry"
	"github.com/lattice-mesh/meshpack/mirror/registry/registrytest"
	"github.com/lattice-mesh/meshpack/progress"
	"github.com/lattice-mesh/meshpack/remote"
)

// tagBundles are two bundles for the same prefix. A has app/web:1,
// app/api:1 and app/shared:1; B moves app/web:1 and app/api:1 to other
// images, has app/shared:1 byte for byte as A does, and adds app/new:1 and
// app/new2:1, which share a layer.
type tagBundles struct {
	a, b *synth
	// roots are the images' digests by bundle and repository.
	aRoots, bRoots map[string]digest.Digest
	// bOnly are blobs only B has (e.g. its app/web layer).
	bOnly []ocispec.Descriptor
}

func newTagBundles() *tagBundles {
	tb := &tagBundles{a: newSynth(), b: newSynth(), aRoots: map[string]digest.Digest{}, bRoots: map[string]digest.Digest{}}
	add := func(s *synth, roots map[string]digest.Digest, repo string, n int, layer []byte) []ocispec.Descriptor {
		cfg := s.config(n)
		l := s.blob(ocispec.MediaTypeImageLayer, layer)
		m := s.manifest(cfg, l)
		s.image(repo, "1", m)
		roots[repo] = m.Digest
		return []ocispec.Descriptor{cfg, l}
	}
	layer := func(s string, n int) []byte { return bytes.Repeat([]byte(s), n) }
	add(tb.a, tb.aRoots, "app/web", 1, layer("a-web", 300))
	add(tb.a, tb.aRoots, "app/api", 2, layer("a-api", 200))
	add(tb.a, tb.aRoots, "app/shared", 3, layer("shared", 100))
	tb.bOnly = append(tb.bOnly, add(tb.b, tb.bRoots, "app/web", 11, layer("b-web", 300))...)
	tb.bOnly = append(tb.bOnly, add(tb.b, tb.bRoots, "app/api", 12, layer("b-api", 200))...)
	add(tb.b, tb.bRoots, "app/shared", 3, layer("shared", 100))
	add(tb.b, tb.bRoots, "app/new", 14, layer("new", 400))
	add(tb.b, tb.bRoots, "app/new2", 15, layer("new", 400))
	return tb
}

// tagRegistry starts an embedded registry and returns its host and its
// storage directory.
func tagRegistry(t *testing.T) (host, root string) {
	t.Helper()
	root = t.TempDir()
	return registrytest.NewWithConfig(t, registry.Config{Root: root}), root
}

// loadSynth loads s into host/mesh with opts (unsigned, plain HTTP).
func loadSynth(t *testing.T, s *synth, host string, opts mirror.LoadOptions) (*mirror.LoadResult, error) {
	t.Helper()
	opts.Client, opts.AllowUnsigned = plainClient(t, clientOpts()), true
	return mirror.Load(context.Background(), s.open(t), host+"/mesh", opts)
}

// tagDigest is what host/mesh/repo:tag points at ("" when absent).
func tagDigest(t *testing.T, host, repo, tag string) digest.Digest {
	t.Helper()
	rc, err := plainClient(t, clientOpts()).RepositoryAt(context.Background(), host, "mesh/"+repo)
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := rc.ManifestDigest(context.Background(), tag, digest.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// has reports whether host/mesh/repo has blob or manifest desc.
func has(t *testing.T, host, repo string, desc ocispec.Descriptor) bool {
	t.Helper()
	rc, err := plainClient(t, clientOpts()).RepositoryAt(context.Background(), host, "mesh/"+repo)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := rc.Exists(context.Background(), desc)
	if err != nil && !errors.Is(err, remote.ErrNotFound) {
		t.Fatal(err)
	}
	return ok
}

func TestLoadOnExistingTag(t *testing.T) {
	for _, tc := range []struct {
		name    string
		policy  string
		wantErr bool
		// moved: the conflicting tags point at B's digests afterwards.
		moved  bool
		action string
	}{
		{"default fails", "", true, false, mirror.TagFail},
		{"fail", mirror.TagFail, true, false, mirror.TagFail},
		{"skip", mirror.TagSkip, false, false, mirror.TagSkip},
		{"overwrite", mirror.TagOverwrite, false, true, mirror.TagOverwrite},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := newTagBundles()
			host, _ := tagRegistry(t)
			if _, err := loadSynth(t, tb.a, host, mirror.LoadOptions{}); err != nil {
				t.Fatalf("load A: %v", err)
			}
			res, err := loadSynth(t, tb.b, host, mirror.LoadOptions{OnExistingTag: tc.policy})
			if got := err != nil; got != tc.wantErr {
				t.Fatalf("load B: got error %v, want error %v", err, tc.wantErr)
			}
			conflicts := map[string]mirror.TagConflict{}
			for _, c := range res.TagConflicts {
				conflicts[c.Reference] = c
			}
			if len(conflicts) != 2 {
				t.Errorf("got conflicts %+v, want app/web:1 and app/api:1", res.TagConflicts)
			}
			for _, repo := range []string{"app/web", "app/api"} {
				ref := host + "/mesh/" + repo + ":1"
				c := conflicts[ref]
				want := mirror.TagConflict{Reference: ref, RegistryDigest: tb.aRoots[repo].String(), BundleDigest: tb.bRoots[repo].String(), Action: tc.action}
				if c != want {
					t.Errorf("conflict %s: got %+v, want %+v", ref, c, want)
				}
				if err != nil && !strings.Contains(err.Error(), ref+": registry "+want.RegistryDigest+", bundle "+want.BundleDigest) {
					t.Errorf("error does not list %s: %v", ref, err)
				}
				wantTag := tb.aRoots[repo]
				if tc.moved {
					wantTag = tb.bRoots[repo]
				}
				if got := tagDigest(t, host, repo, "1"); got != wantTag {
					t.Errorf("%s:1 points at %s, want %s", repo, got, wantTag)
				}
				byDigest := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: tb.bRoots[repo]}
				if got := has(t, host, repo, byDigest); got == tc.wantErr {
					t.Errorf("%s@%s present: %v, want %v", repo, tb.bRoots[repo], got, !tc.wantErr)
				}
			}
			if tc.wantErr {
				var tce *mirror.TagConflictError
				if !errors.Is(err, mirror.ErrTagConflict) || !errors.As(err, &tce) || len(tce.Conflicts) != 2 {
					t.Errorf("got %v, want a *TagConflictError with 2 conflicts", err)
				}
				if !strings.Contains(err.Error(), "LoadOptions.OnExistingTag") || !strings.Contains(err.Error(), "nothing was pushed") {
					t.Errorf("error does not name the option: %v", err)
				}
				for _, b := range tb.bOnly {
					if has(t, host, "app/web", b) || has(t, host, "app/api", b) {
						t.Errorf("blob %s of B was pushed before the conflict check", b.Digest)
					}
				}
				return
			}
			if got := tagDigest(t, host, "app/new", "1"); got != tb.bRoots["app/new"] {
				t.Errorf("app/new:1 points at %s, want %s", got, tb.bRoots["app/new"])
			}
			for _, a := range res.Artifacts {
				skipped := tc.policy == mirror.TagSkip && (strings.HasSuffix(a.Repository, "/app/web") || strings.HasSuffix(a.Repository, "/app/api"))
				if got := strings.Contains(a.Reference, ":1@"); got == skipped {
					t.Errorf("artifact reference %s: tag shown %v, want %v", a.Reference, got, !skipped)
				}
			}
		})
	}
}

func TestLoadSameDigestTagIsNoConflict(t *testing.T) {
	tb := newTagBundles()
	host, _ := tagRegistry(t)
	for i := range 2 {
		res, err := loadSynth(t, tb.a, host, mirror.LoadOptions{})
		if err != nil || len(res.TagConflicts) != 0 {
			t.Fatalf("load %d: %v, conflicts %+v", i+1, err, res.TagConflicts)
		}
		if i == 1 && res.TagsSkipped != 3 {
			t.Errorf("second load: %d tags already right, want 3", res.TagsSkipped)
		}
	}
}

// storage lists the registry's files with their sizes.
func storage(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprint(path, " ", info.Size(), " ", info.ModTime().UnixNano()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func TestLoadDryRun(t *testing.T) {
	o := mirror.TagOverwrite
	for _, tc := range []struct {
		name    string
		policy  string
		wantErr error
		want    mirror.LoadPlanSummary
	}{
		{"overwrite", o, nil, mirror.LoadPlanSummary{
			BlobsToPush: 7, BlobsToMount: 1, BlobsToSkip: 2, ManifestsToPush: 4, ManifestsPresent: 1,
			TagsToSet: 2, TagsRight: 1, TagsToRetag: 2}},
		{"skip", mirror.TagSkip, nil, mirror.LoadPlanSummary{
			BlobsToPush: 7, BlobsToMount: 1, BlobsToSkip: 2, ManifestsToPush: 4, ManifestsPresent: 1,
			TagsToSet: 2, TagsRight: 1, TagsToSkip: 2}},
		{"fail reports the plan and the conflicts", mirror.TagFail, mirror.ErrTagConflict, mirror.LoadPlanSummary{
			BlobsToPush: 7, BlobsToMount: 1, BlobsToSkip: 2, ManifestsToPush: 4, ManifestsPresent: 1,
			TagsToSet: 2, TagsRight: 1, TagsConflicting: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := newTagBundles()
			host, root := tagRegistry(t)
			if _, err := loadSynth(t, tb.a, host, mirror.LoadOptions{}); err != nil {
				t.Fatalf("load A: %v", err)
			}
			before := storage(t, root)
			res, err := loadSynth(t, tb.b, host, mirror.LoadOptions{OnExistingTag: tc.policy, DryRun: true})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("got error %v, want %v", err, tc.wantErr)
			}
			if after := storage(t, root); !slices.Equal(before, after) {
				t.Errorf("dry run changed the registry storage:\nbefore %q\nafter  %q", before, after)
			}
			if !res.DryRun || res.Plan == nil {
				t.Fatalf("result %+v: want DryRun and a Plan", res)
			}
			got := *res.Plan
			got.BytesToPush, got.BytesToMount, got.BytesToSkip = 0, 0, 0
			if got != tc.want {
				t.Errorf("plan\n got %+v\nwant %+v", got, tc.want)
			}
			if res.Plan.BytesToMount != 1200 || res.Plan.BytesToSkip <= 600 || res.Plan.BytesToPush <= 1500+1000+1200 {
				t.Errorf("plan bytes: %+v", res.Plan)
			}
			if len(res.TagConflicts) != 2 || res.BlobsPushed+res.ManifestsPushed+res.TagsPushed != 0 {
				t.Errorf("conflicts %+v, pushed %d blobs %d manifests %d tags", res.TagConflicts, res.BlobsPushed, res.ManifestsPushed, res.TagsPushed)
			}
		})
	}
}

func TestLoadOnExistingTagInvalid(t *testing.T) {
	host, _ := tagRegistry(t)
	_, err := loadSynth(t, simpleImage("app/web", "1", 100), host, mirror.LoadOptions{OnExistingTag: "replace"})
	if err == nil || !strings.Contains(err.Error(), "LoadOptions.OnExistingTag") {
		t.Fatalf("got %v, want an error naming LoadOptions.OnExistingTag", err)
	}
}

// squat points host/mesh/repo:tag at a tiny image of its own and returns
// its digest.
func squat(t *testing.T, host, repo, tag string) digest.Digest {
	t.Helper()
	ctx := context.Background()
	r, err := orasremote.NewRepository(host + "/mesh/" + repo)
	if err != nil {
		t.Error(err)
		return ""
	}
	r.PlainHTTP = true
	s := newSynth()
	m := s.manifest(s.config(99))
	for _, b := range s.blobs {
		ref := ""
		if b.desc.Digest == m.Digest {
			ref = tag
		}
		if ref == "" {
			err = r.Push(ctx, b.desc, bytes.NewReader(b.data))
		} else {
			err = r.PushReference(ctx, b.desc, bytes.NewReader(b.data), ref)
		}
		if err != nil {
			t.Error(err)
		}
	}
	return m.Digest
}

// TestLoadTagMovedDuringLoad moves a tag after the check and before the
// push (when Load reports Planned): fail refuses to move it back, skip
// leaves it and lists it, overwrite moves it.
func TestLoadTagMovedDuringLoad(t *testing.T) {
	for _, tc := range []struct {
		policy    string
		wantErr   error
		conflicts int
		moved     bool
	}{
		{mirror.TagFail, mirror.ErrTagConflict, 0, false},
		{mirror.TagSkip, nil, 1, false},
		{mirror.TagOverwrite, nil, 0, true},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			t.Parallel()
			tb := newTagBundles()
			host, _ := tagRegistry(t)
			var squatted digest.Digest
			opts := mirror.LoadOptions{OnExistingTag: tc.policy, Concurrency: 1, Progress: func(e progress.Event) {
				if e.Kind == progress.Planned {
					squatted = squat(t, host, "app/new", "1")
				}
			}}
			res, err := loadSynth(t, tb.b, host, opts)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("got error %v, want %v", err, tc.wantErr)
			}
			if len(res.TagConflicts) != tc.conflicts {
				t.Errorf("conflicts %+v, want %d", res.TagConflicts, tc.conflicts)
			}
			want := squatted
			if tc.moved {
				want = tb.bRoots["app/new"]
			}
			if got := tagDigest(t, host, "app/new", "1"); got != want {
				t.Errorf("app/new:1 points at %s, want %s", got, want)
			}
		})
	}
}
