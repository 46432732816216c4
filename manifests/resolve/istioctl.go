package resolve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/manifests"
)

// Limits of the istioctl downloads: a checksum file is one line; an
// istioctl archive is about 30 MiB.
const (
	maxChecksumFile = 4 << 10
	maxArchiveBytes = 512 << 20
)

// ErrChecksumMismatch is matched by errors about a download whose sha256
// differs from the checksum file upstream publishes beside it.
var ErrChecksumMismatch = errors.New("download does not match upstream's checksum file")

// pinIstioctl pins the istioctl archive of Istio version for each platform
// the spec asks for: it reads NAME.sha256 beside each archive, downloads the
// archive and checks it against that sha256, so that a lock never pins an
// archive upstream's checksum file disowns.
func (r *resolver) pinIstioctl(ctx context.Context, version string, platforms []string) error {
	assets, err := r.cat.IstioctlAssets(version, platforms)
	if err != nil {
		return err
	}
	for _, a := range assets {
		want, err := upstreamSHA256(ctx, r, a)
		if err != nil {
			return err
		}
		got, size, err := r.hashDownload(ctx, a.URL, maxArchiveBytes)
		if err != nil {
			return fmt.Errorf("istioctl %s %s: %w", version, a.Platform, err)
		}
		if got != want {
			return fmt.Errorf("istioctl %s %s: %s has sha256 %s but %s.sha256 says %s (a damaged download or a changed release; nothing was pinned): %w", version, a.Platform, a.URL, got, a.URL, want, ErrChecksumMismatch)
		}
		lf := manifests.LockedFile{
			Name: a.Name, Component: "istioctl", Version: version, Source: a.URL,
			Digest: "sha256:" + got, Size: size, MediaType: "application/gzip",
			Pinned: manifests.PinnedUpstreamSHA256, Platform: a.Platform, Executable: a.Executable,
		}
		r.lock.Files = append(r.lock.Files, lf)
		r.pinned("file", a.URL, ocispec.Descriptor{MediaType: lf.MediaType, Digest: digest.Digest(lf.Digest), Size: lf.Size})
	}
	return nil
}

// upstreamSHA256 reads the checksum file published beside asset a.
func upstreamSHA256(ctx context.Context, r *resolver, a manifests.IstioctlAsset) (string, error) {
	u := a.URL + ".sha256"
	data, _, err := download(ctx, r.c, u, maxChecksumFile)
	if err != nil {
		return "", fmt.Errorf("istioctl %s: checksum file: %w", a.Platform, err)
	}
	sum, err := ParseChecksumFile(data, a.Name)
	if err != nil {
		return "", fmt.Errorf("istioctl %s: %s: %w", a.Platform, u, err)
	}
	return sum, nil
}

// ParseChecksumFile reads the sha256 of file name from a checksum file as
// Istio's release builder writes it ("<hex> <name>", one line) or as
// sha256sum does ("<hex>  <name>", "<hex> *<name>", one line per file). A
// line without a name is accepted when it is the only one. It returns the
// lowercase hex digest.
func ParseChecksumFile(data []byte, name string) (string, error) {
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	for _, line := range lines {
		fields := strings.Fields(line)
		if len(fields) == 0 || len(fields) > 2 {
			continue
		}
		sum := strings.ToLower(fields[0])
		if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
			continue
		}
		if len(fields) == 1 && len(lines) == 1 {
			return sum, nil
		}
		if len(fields) == 2 && strings.TrimPrefix(fields[1], "*") == name {
			return sum, nil
		}
	}
	return "", fmt.Errorf("no sha256 for %s in the checksum file (want a line \"<64 hex digits>  %s\")", name, name)
}
