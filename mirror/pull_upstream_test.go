package mirror_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/signing"
)

// TestUpstreamError checks that an image the policy VerifyRequired cannot
// verify names the image, the key and the options involved, and matches
// its cause.
func TestUpstreamError(t *testing.T) {
	subject := digest.Digest("sha256:" + strings.Repeat("ab", 32))
	tests := []struct {
		name string
		err  *mirror.UpstreamError
		is   error
		want []string
	}{
		{"no public key", &mirror.UpstreamError{Image: "docker.io/istio/pilot:1.30.3", Key: "istio-release", Err: mirror.ErrNoUpstreamKey},
			mirror.ErrNoUpstreamKey, []string{"image docker.io/istio/pilot:1.30.3", `key "istio-release"`, "PullOptions.UpstreamKeys"}},
		{"no signature", &mirror.UpstreamError{Image: "docker.io/istio/pilot:1.30.3", Subject: subject, Key: "istio-release", Err: signing.ErrNoSignature},
			signing.ErrNoSignature, []string{"no upstream cosign signature", signing.SignatureTag(subject), `key "istio-release"`, "PullOptions.VerifyUpstream required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.is) {
				t.Errorf("%v does not match %v", tt.err, tt.is)
			}
			for _, w := range tt.want {
				if !strings.Contains(tt.err.Error(), w) {
					t.Errorf("error %q does not say %q", tt.err, w)
				}
			}
			if strings.Contains(tt.err.Error(), "--") {
				t.Errorf("error %q names a flag", tt.err)
			}
		})
	}
}
