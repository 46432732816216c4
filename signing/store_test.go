package signing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/errdef"
)

func TestPushFetchRoundTrip(t *testing.T) {
	ctx := context.Background()
	k := newTestKey(t, "")
	up := newTestKey(t, "")
	subject := subjectDesc("image")
	sig := mustSign(t, k, ourRef, subject, mustSign(t, up, ourRef, subject, nil))
	store := memory.New()
	if err := Push(ctx, store, subject.Digest, sig); err != nil {
		t.Fatalf("Push: %v", err)
	}
	// Pushing again is a no-op.
	if err := Push(ctx, store, subject.Digest, sig); err != nil {
		t.Fatalf("Push again: %v", err)
	}
	got, err := Fetch(ctx, store, subject.Digest)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if !bytes.Equal(got.Manifest, sig.Manifest) || got.MediaType != sig.MediaType {
		t.Errorf("got manifest %s (%s), want %s (%s)", got.Descriptor().Digest, got.MediaType, sig.Descriptor().Digest, sig.MediaType)
	}
	if len(got.Blobs) != len(sig.Blobs) {
		t.Errorf("got %d blobs, want %d", len(got.Blobs), len(sig.Blobs))
	}
	for _, v := range []Verifier{k.verifier, up.verifier} {
		if _, err := Verify(ctx, v, subject.Digest, got); err != nil {
			t.Errorf("Verify fetched image: %v", err)
		}
	}

	_, err = Fetch(ctx, store, subjectDesc("unsigned").Digest)
	if !errors.Is(err, ErrNoSignature) || !errors.Is(err, errdef.ErrNotFound) {
		t.Errorf("got error %v for an unsigned image, want ErrNoSignature and errdef.ErrNotFound", err)
	}
}

func TestParseSignatureImageLimits(t *testing.T) {
	ctx := context.Background()
	k := newTestKey(t, "")
	sig := mustSign(t, k, ourRef, subjectDesc("x"), nil)
	store := memory.New()
	for _, b := range sig.Blobs {
		if err := store.Push(ctx, b.Descriptor, bytes.NewReader(b.Data)); err != nil {
			t.Fatal(err)
		}
	}
	withManifest := func(edit func(m *ocispec.Manifest)) []byte {
		m := mustManifest(t, sig)
		edit(&m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name     string
		manifest []byte
		wantErr  error
	}{
		{name: "valid", manifest: sig.Manifest},
		{name: "not JSON", manifest: []byte("nope"), wantErr: ErrMalformed},
		{name: "too large", manifest: bytes.Repeat([]byte(" "), maxManifestSize+1), wantErr: ErrMalformed},
		{name: "index media type", wantErr: ErrMalformed, manifest: withManifest(func(m *ocispec.Manifest) {
			m.MediaType = ocispec.MediaTypeImageIndex
		})},
		{name: "too many layers", wantErr: ErrMalformed, manifest: withManifest(func(m *ocispec.Manifest) {
			for len(m.Layers) <= maxLayers {
				m.Layers = append(m.Layers, m.Layers[0])
			}
		})},
		{name: "oversized blob", wantErr: ErrMalformed, manifest: withManifest(func(m *ocispec.Manifest) {
			m.Layers[0].Size = maxBlobSize + 1
		})},
		{name: "blob digest mismatch", manifest: withManifest(func(m *ocispec.Manifest) {
			m.Layers[0].Size--
		})},
		{name: "missing blob", wantErr: errdef.ErrNotFound, manifest: withManifest(func(m *ocispec.Manifest) {
			m.Layers[0].Digest = digest.FromString("absent")
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSignatureImage(ctx, store, tc.manifest)
			if tc.name == "valid" {
				if err != nil {
					t.Fatalf("ParseSignatureImage: %v", err)
				}
				if _, err := Verify(ctx, k.verifier, subjectDesc("x").Digest, got); err != nil {
					t.Errorf("Verify parsed image: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("got nil error, want one")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("got error %v, want %v", err, tc.wantErr)
			}
			if len(err.Error()) > 2000 || strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("got an unwieldy error %q", err)
			}
		})
	}
}
