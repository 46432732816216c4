package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/mirror/registry/registrytest"
)

// TestUploadBlob pushes a blob into the embedded registry every way the
// protocol allows — one PUT, chunks, continuing a session that already
// holds part of it, mounting it from another repository — and reads each
// back. Every byte must be sent once, and no more.
func TestUploadBlob(t *testing.T) {
	host := registrytest.New(t)
	c, err := New(Options{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i, tc := range []struct {
		name    string
		chunk   int64
		prefix  int64 // bytes PATCHed into the session before UploadBlob
		resumed bool
	}{
		{name: "monolithic"},
		{name: "chunked", chunk: 100 << 10},
		{name: "resumed", prefix: 300 << 10, resumed: true},
		{name: "resumed in chunks", chunk: 64 << 10, prefix: 10, resumed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := bytes.Repeat([]byte{byte(i), 1, 2, 3, 4, 5, 6, 7}, 64<<10)
			desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(data), Size: int64(len(data))}
			repo, err := c.RepositoryAt(ctx, host, "test/"+string(rune('a'+i)))
			if err != nil {
				t.Fatal(err)
			}
			s, err := repo.StartUpload(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tc.prefix > 0 {
				seq := &seqReader{open: opener(data)}
				if err := seq.seek(0); err != nil {
					t.Fatal(err)
				}
				b := &bodies{desc: desc, open: opener(data)}
				body, err := b.body(0, tc.prefix, seq)
				if err != nil {
					t.Fatal(err)
				}
				if s.URL, err = repo.patch(ctx, s.URL, 0, tc.prefix, body); err != nil {
					t.Fatal(err)
				}
			}
			var sent int64
			res, err := repo.UploadBlob(ctx, desc, opener(data), UploadOptions{
				Session: s, Resume: tc.resumed, ChunkSize: tc.chunk,
				Progress: func(n int64) { sent += n },
			})
			if err != nil {
				t.Fatalf("UploadBlob: %v", err)
			}
			if res.Resumed != tc.prefix || sent != desc.Size-tc.prefix {
				t.Errorf("got %d bytes resumed and %d sent, want %d and %d", res.Resumed, sent, tc.prefix, desc.Size-tc.prefix)
			}
			readBack(t, repo, desc, data)
			other, err := c.RepositoryAt(ctx, host, "mounted/"+string(rune('a'+i)))
			if err != nil {
				t.Fatal(err)
			}
			mounted, _, err := other.MountBlob(ctx, desc, repo.Path())
			if err != nil || !mounted {
				t.Fatalf("MountBlob: mounted %v, error %v; want it mounted", mounted, err)
			}
			readBack(t, other, desc, data)
		})
	}
}

// TestUploadBlobSessionGone continues a session the registry never opened:
// UploadBlob must say it is unusable, or succeed when the blob is there.
func TestUploadBlobSessionGone(t *testing.T) {
	host := registrytest.New(t)
	c, err := New(Options{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	repo, err := c.RepositoryAt(ctx, host, "test/gone")
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("a small blob")
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(data), Size: int64(len(data))}
	gone := UploadOptions{Session: Upload{URL: "http://" + host + "/v2/test/gone/blobs/uploads/00000000-0000-0000-0000-000000000000"}, Resume: true}
	if _, err := repo.UploadBlob(ctx, desc, opener(data), gone); !errors.Is(err, ErrUploadInvalid) {
		t.Fatalf("UploadBlob into an unknown session: got %v, want ErrUploadInvalid", err)
	}
	s, err := repo.StartUpload(ctx)
	if err == nil {
		_, err = repo.UploadBlob(ctx, desc, opener(data), UploadOptions{Session: s})
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.UploadBlob(ctx, desc, opener(data), gone); err != nil {
		t.Errorf("UploadBlob into an unknown session of a blob the registry has: got %v, want success", err)
	}
}

// TestPushManifest pushes a manifest by digest and by tag, twice: the
// second time finds both in place and sends nothing.
func TestPushManifest(t *testing.T) {
	host := registrytest.New(t)
	c, err := New(Options{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	repo, err := c.RepositoryAt(ctx, host, "test/manifest")
	if err != nil {
		t.Fatal(err)
	}
	config := []byte("{}")
	cdesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeEmptyJSON, Digest: digest.FromBytes(config), Size: int64(len(config))}
	s, err := repo.StartUpload(ctx)
	if err == nil {
		_, err = repo.UploadBlob(ctx, cdesc, opener(config), UploadOptions{Session: s})
	}
	if err != nil {
		t.Fatal(err)
	}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cdesc, Layers: []ocispec.Descriptor{}}
	m.SchemaVersion = 2
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	desc := ocispec.Descriptor{MediaType: m.MediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
	for _, tc := range []struct {
		name, tag  string
		wantPushed bool
	}{
		{"by digest", "", true},
		{"by tag", "1.0", true},
		{"by digest again", "", false},
		{"by tag again", "1.0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pushed, err := repo.PushManifest(ctx, desc, data, PushOptions{Tag: tc.tag})
			if err != nil || pushed != tc.wantPushed {
				t.Fatalf("PushManifest: pushed %v, error %v; want pushed %v", pushed, err, tc.wantPushed)
			}
			ref := tc.tag
			if ref == "" {
				ref = desc.Digest.String()
			}
			got, found, err := repo.ManifestDigest(ctx, ref, digest.SHA256)
			if err != nil || !found || got != desc.Digest {
				t.Errorf("ManifestDigest(%s) = %s, %v, %v; want %s", ref, got, found, err, desc.Digest)
			}
		})
	}
}

// opener serves data from any offset, as UploadBlob's open function.
func opener(data []byte) func(off int64) (io.ReadCloser, error) {
	return func(off int64) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data[off:])), nil }
}

// readBack fetches desc from repo and compares it with data.
func readBack(t *testing.T, repo *Repository, desc ocispec.Descriptor, data []byte) {
	t.Helper()
	ok, err := repo.BlobExists(context.Background(), desc)
	if err != nil || !ok {
		t.Fatalf("BlobExists(%s) in %s = %v, %v; want true", desc.Digest, repo.Path(), ok, err)
	}
	rc, err := repo.Fetch(context.Background(), desc)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("read back %d bytes (error %v), want the %d pushed", len(got), err, len(data))
	}
}
