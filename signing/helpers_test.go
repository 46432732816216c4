package signing

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// testKey is a generated key pair with its loaded signer and verifier.
type testKey struct {
	priv, pub []byte
	password  []byte
	signer    Signer
	verifier  Verifier
}

func newTestKey(t *testing.T, password string) testKey {
	t.Helper()
	priv, pub, err := GenerateKeyPair([]byte(password))
	if err != nil {
		t.Fatalf("GenerateKeyPair: %v", err)
	}
	s, err := LoadSigner(priv, []byte(password))
	if err != nil {
		t.Fatalf("LoadSigner: %v", err)
	}
	v, err := LoadVerifier(pub)
	if err != nil {
		t.Fatalf("LoadVerifier: %v", err)
	}
	return testKey{priv: priv, pub: pub, password: []byte(password), signer: s, verifier: v}
}

// subjectDesc returns a manifest descriptor for made-up manifest content.
func subjectDesc(content string) ocispec.Descriptor {
	b := []byte(content)
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(b), Size: int64(len(b))}
}

func mustSign(t *testing.T, k testKey, ref string, subject ocispec.Descriptor, existing *SignatureImage) *SignatureImage {
	t.Helper()
	sig, err := Sign(context.Background(), k.signer, ref, subject, existing)
	if err != nil {
		t.Fatalf("Sign(%s): %v", subject.Digest, err)
	}
	return sig
}

func mustManifest(t *testing.T, sig *SignatureImage) ocispec.Manifest {
	t.Helper()
	var m ocispec.Manifest
	if err := json.Unmarshal(sig.Manifest, &m); err != nil {
		t.Fatalf("decode signature manifest: %v", err)
	}
	return m
}

func blobData(t *testing.T, sig *SignatureImage, d digest.Digest) []byte {
	t.Helper()
	for _, b := range sig.Blobs {
		if b.Descriptor.Digest == d {
			return b.Data
		}
	}
	t.Fatalf("blob %s not in signature image", d)
	return nil
}

// editLayer returns a copy of sig whose layer i is replaced by edit(layer
// descriptor, payload); the manifest is rewritten to match.
func editLayer(t *testing.T, sig *SignatureImage, i int, edit func(*ocispec.Descriptor, []byte) []byte) *SignatureImage {
	t.Helper()
	m := mustManifest(t, sig)
	d := m.Layers[i]
	d.Annotations = cloneMap(d.Annotations)
	data := edit(&d, blobData(t, sig, d.Digest))
	d.Digest = digest.FromBytes(data)
	d.Size = int64(len(data))
	m.Layers[i] = d
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("encode manifest: %v", err)
	}
	out := &SignatureImage{Manifest: raw, MediaType: sig.MediaType}
	out.Blobs = append(out.Blobs, sig.Blobs...)
	out.Blobs = append(out.Blobs, Blob{Descriptor: d, Data: data})
	return out
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
