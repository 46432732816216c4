package upstream

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/lattice-mesh/meshpack/signing"
)

// IstioKeyNames are the catalog signing key names the fixture Istio key
// stands in for.
var IstioKeyNames = []string{"istio-release", "istio-release-v2"}

// SignWith returns a Sign hook that signs each pushed Istio manifest the way
// Istio's release does (cosign, key-based, no transparency log): a cosign
// signature image at sha256-<hex>.sig in the same repository, whose payload
// names the canonical upstream repository (docker.io/istio/pilot).
func SignWith(s signing.Signer) func(ctx context.Context, repo string, desc ocispec.Descriptor) error {
	return func(ctx context.Context, repo string, desc ocispec.Descriptor) error {
		r, err := remote.NewRepository(repo)
		if err != nil {
			return err
		}
		r.PlainHTTP = true
		canonical := repo[strings.Index(repo, "/")+1:] // drop the fixture host
		sig, err := signing.Sign(ctx, s, canonical, desc, nil)
		if err != nil {
			return fmt.Errorf("%s@%s: %w", canonical, desc.Digest, err)
		}
		return signing.Push(ctx, r, desc.Digest, sig)
	}
}

// NewFixtureKey writes a fixture "Istio release" key pair (empty password)
// into dir and returns its signer and the public key path.
func NewFixtureKey(dir string) (signing.Signer, string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	keyPath, pubPath, err := signing.WriteKeyPair(dir, nil, signing.KeyFileOptions{Overwrite: true})
	if err != nil {
		return nil, "", err
	}
	pem, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, "", err
	}
	s, err := signing.LoadSigner(pem, nil)
	if err != nil {
		return nil, "", err
	}
	abs, err := filepath.Abs(pubPath)
	if err != nil {
		return nil, "", err
	}
	return s, abs, nil
}
