package signing_test

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/signing"
)

func ExampleSignatureTag() {
	d := digest.FromString("manifest")
	fmt.Println(signing.SignatureTag(d))
	// Output: sha256-05b3abf2579a5eb66403cd78be557fd860633a1fe2103c7642030defe32c657f.sig
}

func ExampleSimpleSigningPayload() {
	ref, _ := signing.DockerReference("docker.io/istio/pilot:1.28.1")
	p, _ := signing.SimpleSigningPayload(ref, "sha256:0000000000000000000000000000000000000000000000000000000000000000")
	fmt.Println(string(p))
	// Output: {"critical":{"identity":{"docker-reference":"index.docker.io/istio/pilot"},"image":{"docker-manifest-digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"},"type":"cosign container image signature"},"optional":null}
}

func ExampleSign() {
	ctx := context.Background()
	priv, pub, _ := signing.GenerateKeyPair([]byte("secret"))
	signer, _ := signing.LoadSigner(priv, []byte("secret"))
	verifier, _ := signing.LoadVerifier(pub)

	manifest := []byte(`{"schemaVersion":2}`)
	subject := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(manifest), Size: int64(len(manifest))}
	sig, err := signing.Sign(ctx, signer, "registry.example/istio/pilot", subject, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := signing.Verify(ctx, verifier, subject.Digest, sig)
	fmt.Println(res.Verified, "of", len(res.Layers), "layers verified, error:", err)
	// Output: 1 of 1 layers verified, error: <nil>
}

func ExampleSignBlob() {
	ctx := context.Background()
	priv, pub, _ := signing.GenerateKeyPair(nil)
	signer, _ := signing.LoadSigner(priv, nil)
	verifier, _ := signing.LoadVerifier(pub)

	bom := []byte(`{"schemaVersion":1}`)
	sig, _ := signing.SignBlob(ctx, signer, bom) // write to bom.json.sig
	fmt.Println(signing.VerifyBlob(ctx, verifier, bom, sig))
	// Output: <nil>
}
