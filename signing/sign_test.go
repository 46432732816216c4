package signing

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	sigAnnotation = "dev.cosignproject.cosign/signature"
	upstreamRef   = "gcr.io/istio-release/pilot"
	ourRef        = "registry.example/istio/pilot"
)

func TestSignVerify(t *testing.T) {
	ctx := context.Background()
	ours := newTestKey(t, "ours")
	upstream := newTestKey(t, "upstream")
	stranger := newTestKey(t, "")
	subject := subjectDesc("manifest A")
	other := subjectDesc("manifest B")
	signed := mustSign(t, ours, ourRef, subject, nil)

	for _, tc := range []struct {
		name     string
		verifier Verifier
		subject  digest.Digest
		sig      *SignatureImage
		wantErr  error
		wantMsg  []string
	}{
		{name: "round trip", verifier: ours.verifier, subject: subject.Digest, sig: signed},
		{name: "wrong key", verifier: stranger.verifier, subject: subject.Digest, sig: signed, wantErr: ErrNoSignature},
		{name: "upstream key on our signature", verifier: upstream.verifier, subject: subject.Digest, sig: signed, wantErr: ErrNoSignature},
		{
			name: "swapped signature names both digests", verifier: ours.verifier, subject: other.Digest, sig: signed,
			wantErr: ErrDigestMismatch, wantMsg: []string{subject.Digest.String(), other.Digest.String()},
		},
		{
			name: "tampered payload", verifier: ours.verifier, subject: other.Digest, wantErr: ErrNoSignature,
			sig: editLayer(t, signed, 0, func(_ *ocispec.Descriptor, p []byte) []byte {
				return []byte(strings.Replace(string(p), subject.Digest.String(), other.Digest.String(), 1))
			}),
		},
		{
			name: "tampered signature", verifier: ours.verifier, subject: subject.Digest, wantErr: ErrNoSignature,
			sig: editLayer(t, signed, 0, func(d *ocispec.Descriptor, p []byte) []byte {
				raw, _ := base64.StdEncoding.DecodeString(d.Annotations[sigAnnotation])
				raw[len(raw)-1] ^= 0xff
				d.Annotations[sigAnnotation] = base64.StdEncoding.EncodeToString(raw)
				return p
			}),
		},
		{
			name: "missing signature annotation", verifier: ours.verifier, subject: subject.Digest, wantErr: ErrNoSignature,
			sig: editLayer(t, signed, 0, func(d *ocispec.Descriptor, p []byte) []byte {
				delete(d.Annotations, sigAnnotation)
				return p
			}),
		},
		{name: "nil signature image", verifier: ours.verifier, subject: subject.Digest, sig: nil, wantErr: ErrNoSignature},
		{
			name: "missing blob", verifier: ours.verifier, subject: subject.Digest, wantErr: ErrMalformed,
			sig: &SignatureImage{Manifest: signed.Manifest, MediaType: signed.MediaType, Blobs: signed.Blobs[:1]},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Verify(ctx, tc.verifier, tc.subject, tc.sig)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if res.Verified != 1 || len(res.Layers) != 1 {
					t.Errorf("got %d of %d layers verified, want 1 of 1", res.Verified, len(res.Layers))
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got error %v, want %v", err, tc.wantErr)
			}
			if res.Verified != 0 {
				t.Errorf("got %d layers verified, want 0", res.Verified)
			}
			for _, m := range tc.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("got error %q, want it to name %s", err, m)
				}
			}
		})
	}
}

func TestSignPayload(t *testing.T) {
	k := newTestKey(t, "")
	subject := subjectDesc("manifest")
	sig := mustSign(t, k, ourRef, subject, nil)
	m := mustManifest(t, sig)
	if got, want := m.MediaType, ocispec.MediaTypeImageManifest; got != want {
		t.Errorf("got manifest media type %q, want %q", got, want)
	}
	if got, want := m.Config.MediaType, ocispec.MediaTypeImageConfig; got != want {
		t.Errorf("got config media type %q, want %q", got, want)
	}
	if len(m.Layers) != 1 {
		t.Fatalf("got %d layers, want 1", len(m.Layers))
	}
	l := m.Layers[0]
	if got, want := l.MediaType, "application/vnd.dev.cosign.simplesigning.v1+json"; got != want {
		t.Errorf("got layer media type %q, want %q", got, want)
	}
	want := `{"critical":{"identity":{"docker-reference":"` + ourRef + `"},"image":{"docker-manifest-digest":"` +
		subject.Digest.String() + `"},"type":"cosign container image signature"},"optional":null}`
	if got := string(blobData(t, sig, l.Digest)); got != want {
		t.Errorf("got payload\n%s\nwant\n%s", got, want)
	}
	if sig.Descriptor().Digest != digest.FromBytes(sig.Manifest) {
		t.Errorf("got descriptor digest %s, want digest of manifest", sig.Descriptor().Digest)
	}
}

func TestSignPreservesExisting(t *testing.T) {
	ctx := context.Background()
	ours := newTestKey(t, "ours")
	upstream := newTestKey(t, "upstream")
	subject := subjectDesc("istio pilot")
	for _, tc := range []struct {
		name, upstreamRef, ourRef string
	}{
		{name: "different identity", upstreamRef: upstreamRef, ourRef: ourRef},
		// Same identity gives byte-identical payload layers that differ
		// only by their signature annotation.
		{name: "same identity", upstreamRef: upstreamRef, ourRef: upstreamRef},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := mustSign(t, upstream, tc.upstreamRef, subject, nil)
			upM := mustManifest(t, up)
			combined := mustSign(t, ours, tc.ourRef, subject, up)
			m := mustManifest(t, combined)
			if len(m.Layers) != 2 {
				t.Fatalf("got %d layers, want 2", len(m.Layers))
			}
			if diff := cmp.Diff(upM.Layers[0], m.Layers[0]); diff != "" {
				t.Errorf("upstream layer descriptor changed (-upstream +combined):\n%s", diff)
			}
			if got, want := blobData(t, combined, m.Layers[0].Digest), blobData(t, up, upM.Layers[0].Digest); string(got) != string(want) {
				t.Errorf("got upstream layer bytes %q, want %q", got, want)
			}
			for _, k := range []struct {
				name string
				v    Verifier
			}{{"upstream", upstream.verifier}, {"ours", ours.verifier}} {
				res, err := Verify(ctx, k.v, subject.Digest, combined)
				if err != nil {
					t.Errorf("%s key: Verify: %v", k.name, err)
					continue
				}
				if res.Verified != 1 || len(res.Layers) != 2 {
					t.Errorf("%s key: got %d of %d layers verified, want 1 of 2", k.name, res.Verified, len(res.Layers))
				}
			}
			again := mustSign(t, ours, tc.ourRef, subject, combined)
			if string(again.Manifest) != string(combined.Manifest) {
				t.Errorf("got a new manifest when signing twice with the same key, want the existing one unchanged")
			}
		})
	}
}

func TestSignErrors(t *testing.T) {
	k := newTestKey(t, "")
	good := mustSign(t, k, ourRef, subjectDesc("x"), nil)
	for _, tc := range []struct {
		name     string
		ref      string
		subject  ocispec.Descriptor
		existing *SignatureImage
		wantErr  error
	}{
		{name: "empty reference", ref: "", subject: subjectDesc("x")},
		{name: "bad digest", ref: ourRef, subject: ocispec.Descriptor{Digest: "sha256:nothex"}},
		{name: "corrupt existing blob", ref: ourRef, subject: subjectDesc("x"), wantErr: ErrMalformed,
			existing: &SignatureImage{Manifest: good.Manifest, MediaType: good.MediaType, Blobs: []Blob{
				{Descriptor: good.Blobs[0].Descriptor, Data: []byte("changed")}, good.Blobs[1],
			}}},
		{name: "existing not a manifest", ref: ourRef, subject: subjectDesc("x"), wantErr: ErrMalformed,
			existing: &SignatureImage{Manifest: []byte("{}"), MediaType: ocispec.MediaTypeImageManifest}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Sign(context.Background(), k.signer, tc.ref, tc.subject, tc.existing)
			if err == nil {
				t.Fatal("got nil error, want one")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("got error %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestSignatureTag(t *testing.T) {
	d := digest.Digest("sha256:" + strings.Repeat("ab", 32))
	if got, want := SignatureTag(d), "sha256-"+strings.Repeat("ab", 32)+".sig"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDockerReference(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"docker.io/istio/pilot:1.28.1", "index.docker.io/istio/pilot"},
		{"istio/pilot", "index.docker.io/istio/pilot"},
		{"gcr.io/istio-release/pilot@sha256:" + strings.Repeat("0", 64), "gcr.io/istio-release/pilot"},
		{"127.0.0.1:5000/mesh/proxyv2:1.28.1-distroless", "127.0.0.1:5000/mesh/proxyv2"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := DockerReference(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := DockerReference("UPPER/case"); err == nil {
		t.Error("got nil error for an invalid reference, want one")
	}
}

func TestResultLayers(t *testing.T) {
	ours := newTestKey(t, "")
	upstream := newTestKey(t, "")
	subject := subjectDesc("s")
	combined := mustSign(t, ours, ourRef, subject, mustSign(t, upstream, upstreamRef, subject, nil))
	res, err := Verify(context.Background(), ours.verifier, subject.Digest, combined)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{res.Layers[0].DockerReference, res.Layers[1].DockerReference}
	if diff := cmp.Diff([]string{upstreamRef, ourRef}, got); diff != "" {
		t.Errorf("docker references (-want +got):\n%s", diff)
	}
	if !errors.Is(res.Layers[0].Err, ErrBadSignature) || res.Layers[1].Err != nil {
		t.Errorf("got layer errors [%v, %v], want [ErrBadSignature, nil]", res.Layers[0].Err, res.Layers[1].Err)
	}
	fp, _ := Fingerprint(ours.verifier.PublicKey())
	if res.Key != fp || res.Subject != subject.Digest {
		t.Errorf("got key %s subject %s, want %s %s", res.Key, res.Subject, fp, subject.Digest)
	}
	if b, err := json.Marshal(res.Layers[1].SignedDigest); err != nil || !strings.Contains(string(b), subject.Digest.Encoded()) {
		t.Errorf("got signed digest %s, want %s", res.Layers[1].SignedDigest, subject.Digest)
	}
}
