package upstream

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
)

// istioRelease is where Istio publishes its release archives (GitHub
// release assets of istio/istio).
const istioRelease = "https://github.com/istio/istio/releases/download"

// istioctlSuffixes are the platform suffixes of the istioctl archives Istio
// publishes (istio's downloadIstioCtl.sh: linux by arch, osx for amd64,
// osx-arm64), with the platform each is for.
var istioctlSuffixes = []struct{ platform, suffix string }{
	{"linux/amd64", "linux-amd64"},
	{"linux/arm64", "linux-arm64"},
	{"linux/arm/v7", "linux-armv7"},
	{"darwin/amd64", "osx"},
	{"darwin/arm64", "osx-arm64"},
}

// istioctlArchive builds istioctl-<version>-<suffix>.tar.gz the way the
// release is laid out: a gzipped tar holding the one executable file
// "istioctl". The program is a stand-in shell script that prints its
// version and platform; deterministic, so digests are stable.
func istioctlArchive(version, platform string) ([]byte, error) {
	prog := fmt.Sprintf("#!/bin/sh\n# fixture stand-in for istioctl %s (%s), served by meshpack's hack/upstream\necho \"client version: %s\"\necho \"platform: %s\"\n", version, platform, version, platform)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	h := &tar.Header{Name: "istioctl", Mode: 0o755, Size: int64(len(prog)), ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
	if err := tw.WriteHeader(h); err != nil {
		return nil, fmt.Errorf("istioctl %s %s: %w", version, platform, err)
	}
	if _, err := tw.Write([]byte(prog)); err != nil {
		return nil, fmt.Errorf("istioctl %s %s: %w", version, platform, err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("istioctl %s %s: %w", version, platform, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("istioctl %s %s: %w", version, platform, err)
	}
	return buf.Bytes(), nil
}

// checksumFile is NAME.sha256 as Istio's release builder writes it
// (release-builder pkg/util/files.go CreateSha): "<hex> <name>\n".
func checksumFile(name string, data []byte) []byte {
	return fmt.Appendf(nil, "%x %s\n", sha256.Sum256(data), name)
}

// addIstioctl publishes the istioctl archive of every Istio version for
// every platform, each with its .sha256.
func (st *site) addIstioctl(versions []string) error {
	for _, v := range versions {
		for _, s := range istioctlSuffixes {
			name := "istioctl-" + v + "-" + s.suffix + ".tar.gz"
			b, err := istioctlArchive(v, s.platform)
			if err != nil {
				return err
			}
			path := "/istio/istio/releases/download/" + v + "/" + name
			st.paths[path] = b
			st.paths[path+".sha256"] = checksumFile(name, b)
			st.istioctl = append(st.istioctl, FileInfo{Name: name, Version: v, Platform: s.platform, URL: istioRelease + "/" + v + "/" + name})
		}
	}
	return nil
}
