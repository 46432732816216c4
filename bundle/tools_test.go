package bundle

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content/oci"
)

// TestStandardTools checks that plain tar and zstd read a bundle and that
// the extracted directory is an OCI layout other readers accept.
func TestStandardTools(t *testing.T) {
	requireTool(t, "zstd")
	requireTool(t, "tar")
	fx := newFixture(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "mesh.tar.zst")
	fx.writeFile(t, path, CreateOptions{WriterOptions: WriterOptions{FrameSize: 64 << 10}})
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	t.Run("tar lists entries in order", func(t *testing.T) {
		out := run(t, "", "tar", "--zstd", "-tf", path)
		var want []string
		for _, e := range r.Entries() {
			want = append(want, e.Name)
		}
		if diff := cmp.Diff(want, strings.Fields(out)); diff != "" {
			t.Errorf("tar -t (-want +got):\n%s", diff)
		}
	})
	t.Run("zstd -t", func(t *testing.T) {
		run(t, "", "zstd", "-q", "-t", path)
	})
	layout := filepath.Join(dir, "layout")
	if err := os.Mkdir(layout, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "", "sh", "-c", `zstd -dc "$0" | tar -x -C "$1"`, path, layout)
	t.Run("extracted layout reads with oras oci store", func(t *testing.T) {
		ctx := context.Background()
		store, err := oci.NewFromFS(ctx, os.DirFS(layout))
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range []string{refPilot, refProxy} {
			root, err := store.Resolve(ctx, ref)
			if err != nil {
				t.Fatalf("Resolve(%s): %v", ref, err)
			}
			rc, err := store.Fetch(ctx, root)
			if err != nil {
				t.Fatal(err)
			}
			rc.Close()
		}
		for _, b := range fx.blobs {
			got, err := os.ReadFile(filepath.Join(layout, blobName(b.desc.Digest)))
			if err != nil || !bytes.Equal(got, b.data) {
				t.Errorf("extracted %s: %d bytes, err %v; want %d bytes", b.desc.Digest, len(got), err, len(b.data))
			}
		}
		st, err := os.Stat(filepath.Join(layout, BOMName))
		if err != nil || st.Mode().Perm() != 0o644 {
			t.Errorf("extracted %s: mode %v, err %v; want 0644", BOMName, st.Mode().Perm(), err)
		}
	})
	t.Run("skopeo inspect", func(t *testing.T) {
		requireTool(t, "skopeo")
		raw := run(t, "", "skopeo", "inspect", "--raw", "oci:"+layout+":"+refPilot)
		var idx ocispec.Index
		if err := json.Unmarshal([]byte(raw), &idx); err != nil || len(idx.Manifests) != 2 {
			t.Fatalf("skopeo inspect --raw: %d manifests (err %v), want the 2-platform index:\n%s", len(idx.Manifests), err, raw)
		}
		out := run(t, "", "skopeo", "inspect", "--override-arch", "arm64", "oci:"+layout+":"+refPilot)
		var info struct{ Digest, Architecture string }
		if err := json.Unmarshal([]byte(out), &info); err != nil {
			t.Fatal(err)
		}
		if want := fx.bom.Artifacts[0].Digest; info.Digest != want || info.Architecture != "arm64" {
			t.Errorf("skopeo inspect: digest %s arch %s, want the index digest %s and arm64", info.Digest, info.Architecture, want)
		}
	})
}

// TestRecompressedFallback re-compresses a bundle with plain zstd, which
// drops the seek table and TOC: Open refuses it as damaged, and with
// AllowRescan the reader falls back to a sequential scan and still reads and
// verifies it.
func TestRecompressedFallback(t *testing.T) {
	requireTool(t, "zstd")
	fx := newFixture(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "mesh.tar.zst")
	fx.writeFile(t, path, CreateOptions{})
	plain := filepath.Join(dir, "plain.tar.zst")
	run(t, "", "sh", "-c", `zstd -dc "$0" | zstd -q -19 -o "$1"`, path, plain)
	if r, err := Open(plain); !errors.Is(err, ErrNotSeekable) {
		if r != nil {
			r.Close()
		}
		t.Fatalf("Open(re-compressed) = %v, want ErrNotSeekable", err)
	}
	r, err := OpenWith(plain, ReaderOptions{AllowRescan: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if s := r.Stats(); s.Seekable || r.NotSeekable() == "" {
		t.Errorf("Stats().Seekable = %v, NotSeekable() = %q; want a sequential reader", s.Seekable, r.NotSeekable())
	}
	last := fx.blobs[len(fx.blobs)-1]
	rc, err := r.Fetch(context.Background(), last.desc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, last.data) {
		t.Fatalf("Fetch(last): %d bytes, err %v", len(got), err)
	}
	if _, err := Verify(context.Background(), r, VerifyOptions{}); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if err := Validate(plain); err == nil {
		t.Errorf("Validate(re-compressed) = nil, want an error about the missing seek table")
	}
}

// run runs a command and returns its stdout, failing the test on error.
func run(t *testing.T, stdin, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}
