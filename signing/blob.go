package signing

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"

	"github.com/opencontainers/go-digest"
)

// SignBlob signs data (for example meshpack/bom.json) and returns what
// `cosign sign-blob --key cosign.key --tlog-upload=false
// --output-signature FILE` writes to FILE: the base64-encoded signature,
// without a trailing newline.
func SignBlob(ctx context.Context, s Signer, data []byte) ([]byte, error) {
	raw, err := s.Sign(ctx, data)
	if err != nil {
		return nil, fmt.Errorf("sign blob: %w", err)
	}
	out := make([]byte, base64.StdEncoding.EncodedLen(len(raw)))
	base64.StdEncoding.Encode(out, raw)
	return out, nil
}

// VerifyBlob checks sig, the content of a signature file written by SignBlob
// or `cosign sign-blob --key`, over data with v, as `cosign verify-blob --key
// cosign.pub --signature FILE --insecure-ignore-tlog` does. Like cosign it
// accepts a base64 signature (surrounding whitespace ignored) or a raw one.
// It is offline. A signature by another key or over other data yields an
// error wrapping ErrBadSignature.
func VerifyBlob(ctx context.Context, v Verifier, data, sig []byte) error {
	raw, err := decodeSignature(sig)
	if err != nil {
		return err
	}
	if err := v.Verify(ctx, data, raw); err != nil {
		fp, _ := Fingerprint(v.PublicKey())
		return fmt.Errorf("blob %s: verify with key %s: %w", digest.FromBytes(data), fp, err)
	}
	return nil
}

func decodeSignature(sig []byte) ([]byte, error) {
	if len(sig) == 0 {
		return nil, fmt.Errorf("signature file is empty: %w", ErrMalformed)
	}
	if len(sig) > maxSignatureSize {
		return nil, fmt.Errorf("signature file: %d bytes, limit %d: %w", len(sig), maxSignatureSize, ErrMalformed)
	}
	trimmed := bytes.TrimSpace(sig)
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(trimmed)))
	n, err := base64.StdEncoding.Decode(raw, trimmed)
	if err != nil {
		// Not base64: cosign then treats the file as a raw signature.
		return sig, nil
	}
	return raw[:n], nil
}
