package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	orasremote "oras.land/oras-go/v2/registry/remote"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mirror"
)

// TestHintTagConflict checks that a tag conflict names --on-existing-tag
// and --dry-run, keeps the error and exits 1.
func TestHintTagConflict(t *testing.T) {
	err := flagHints(&mirror.TagConflictError{Target: "r/mesh", Conflicts: []mirror.TagConflict{
		{Reference: "r/mesh/app/web:1", RegistryDigest: "sha256:aa", BundleDigest: "sha256:bb", Action: mirror.TagFail}}})
	var tce *mirror.TagConflictError
	if !errors.Is(err, mirror.ErrTagConflict) || !errors.As(err, &tce) {
		t.Fatalf("flagHints lost the conflict: %v", err)
	}
	for _, w := range []string{"r/mesh/app/web:1: registry sha256:aa, bundle sha256:bb", "--on-existing-tag skip", "--on-existing-tag overwrite", "--dry-run"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("hinted error does not say %q: %v", w, err)
		}
	}
	if c := exitCode(err); c != 1 {
		t.Errorf("exit %d, want 1", c)
	}
}

// squatTag points mesh/REPO:TAG of registry addr at a tiny image that is
// not the bundle's, and returns that image's digest.
func squatTag(t *testing.T, addr, repo, tag string) digest.Digest {
	t.Helper()
	ctx := context.Background()
	r, err := orasremote.NewRepository(addr + "/mesh/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	r.PlainHTTP = true
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"squat":true}`)
	cd := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))}
	if err := r.Push(ctx, cd, bytes.NewReader(cfg)); err != nil {
		t.Fatal(err)
	}
	man, err := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cd, Layers: []ocispec.Descriptor{}})
	if err != nil {
		t.Fatal(err)
	}
	md := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(man), Size: int64(len(man))}
	if err := r.PushReference(ctx, md, bytes.NewReader(man), tag); err != nil {
		t.Fatal(err)
	}
	return md.Digest
}

// resolveTag is the digest mesh/REPO:TAG of addr points at.
func resolveTag(t *testing.T, addr, repo, tag string) digest.Digest {
	t.Helper()
	r, err := orasremote.NewRepository(addr + "/mesh/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	r.PlainHTTP = true
	d, err := r.Resolve(context.Background(), tag)
	if err != nil {
		t.Fatal(err)
	}
	return d.Digest
}

// TestLoadOnExistingTagCLI loads a bundle into a registry where one of its
// tags already points at another image: refused by default (exit 1, the
// conflict and the flags listed), planned by --dry-run, kept by skip and
// moved by overwrite; a bad policy is a usage error.
func TestLoadOnExistingTagCLI(t *testing.T) {
	e := env(t)
	path := e.createBundle(t)
	r, err := bundle.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	bom, err := r.BOM()
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	var img bundle.Artifact
	for _, a := range bom.Artifacts {
		if a.Kind == bundle.KindImage && a.Tag != "" {
			img = a
			break
		}
	}
	addr := serveRegistry(t)
	squat := squatTag(t, addr, img.Repository, img.Tag)
	ref := addr + "/mesh/" + img.Repository + ":" + img.Tag
	load := []string{"bundle", "load", path, "--registry", addr + "/mesh", "--plain-http", "--state-dir", "none", "--key", e.pub()}
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  []string
		wantTag  digest.Digest
	}{
		{"bad policy", []string{"--on-existing-tag", "replace"}, 2, nil, []string{"--on-existing-tag \"replace\": want fail, skip or overwrite"}, squat},
		{"default fails", nil, 1, nil, []string{ref + ": registry " + squat.String() + ", bundle " + img.Digest, "nothing was pushed", "--on-existing-tag skip"}, squat},
		{"dry run of fail", []string{"--dry-run"}, 1, []string{"dry run, nothing was written", "1 conflicting", ref}, []string{"--on-existing-tag overwrite"}, squat},
		{"dry run of overwrite", []string{"--dry-run", "--on-existing-tag", "overwrite", "-o", "json"}, 0, []string{`"dryRun": true`, `"tagsToRetag": 1`, `"action": "overwrite"`}, nil, squat},
		{"skip", []string{"--on-existing-tag", "skip"}, 0, []string{ref, "skip"}, nil, squat},
		{"overwrite", []string{"--on-existing-tag", "overwrite"}, 0, []string{ref, "overwrite"}, nil, digest.Digest(img.Digest)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, "", append(load[:len(load):len(load)], tc.args...)...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, out, errOut)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout does not say %q:\n%s", w, out)
				}
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr does not say %q:\n%s", w, errOut)
				}
			}
			if got := resolveTag(t, addr, img.Repository, img.Tag); got != tc.wantTag {
				t.Errorf("%s points at %s, want %s", ref, got, tc.wantTag)
			}
		})
	}
}
