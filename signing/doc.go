// Package signing creates and checks cosign key-based signatures, fully offline.
//
// It is the only meshpack package that imports cosign and the sigstore
// libraries. Everything here is key-based: no transparency log (Rekor), no
// certificate authority (Fulcio) and no TUF repository is ever contacted, so
// the same code runs on a connected host and inside an air-gapped enclave.
//
// Three things are signed:
//
//   - Keys: [GenerateKeyPair] and [WriteKeyPair] produce the encrypted
//     cosign.key / cosign.pub pair that `cosign generate-key-pair` writes;
//     [LoadSigner] and [LoadVerifier] read them back.
//   - Images: [Sign] builds the cosign "simple signing" signature image that
//     `cosign sign --key` stores under the tag [SignatureTag] (sha256-<hex>.sig)
//     next to the image, appending one layer to an existing (upstream) one;
//     [Verify] checks such an image the way `cosign verify --key
//     --insecure-ignore-tlog` does.
//   - Blobs: [SignBlob] and [VerifyBlob] produce and check what
//     `cosign sign-blob --key` writes to --output-signature (the BOM signature).
//
// The public API speaks bytes and OCI descriptors; go-containerregistry types
// stay inside this package.
package signing
