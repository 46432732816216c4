package mirror

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/atomicfile"
	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/manifests"
)

// Errors of ExtractFile that name what the caller can change.
var (
	// ErrNoFile means the bundle carries no file artifact of that name.
	ErrNoFile = errors.New("no such file in the bundle")
	// ErrFilePlatform means the file is not carried for the platform asked
	// for (ExtractOptions.Platform), or is carried for several and none
	// was asked for.
	ErrFilePlatform = errors.New("file not carried for that platform")
)

// maxExecutable caps a program unpacked from a release archive.
const maxExecutable = 1 << 30

// ExtractOptions selects the file ExtractFile writes.
type ExtractOptions struct {
	// Name is a file artifact's name ("standard-install.yaml",
	// "istioctl-1.30.3-linux-amd64.tar.gz") or its component ("istioctl",
	// "gateway-api").
	Name string
	// Platform ("linux/amd64") picks one of a platform-specific file's
	// copies; it may be empty when only one is carried.
	Platform string
	// Unpack writes the program a release archive carries (e.g. istioctl,
	// mode 0755) instead of the archive as it was published.
	Unpack bool
}

// ExtractResult says what ExtractFile wrote.
type ExtractResult struct {
	// Path is the file written.
	Path string `json:"path"`
	// Name and Source are the file artifact's; Platform is empty for a file
	// that is not platform-specific.
	Name     string `json:"name"`
	Source   string `json:"source"`
	Platform string `json:"platform,omitempty"`
	// Digest and Size describe the bytes written.
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	// ArchiveDigest is the pinned digest of the archive a program was
	// unpacked from (checked); empty when the file was written as it is.
	ArchiveDigest string `json:"archiveDigest,omitempty"`
	// Executable is true when the file was written with mode 0755.
	Executable bool `json:"executable"`
}

// ExtractFile writes one file artifact of the bundle r into the existing
// directory dir as it was published and pinned (a release archive's
// sha256 is then upstream's), or with opts.Unpack the program a release
// archive carries (mode 0755, e.g. istioctl). Every byte read is checked
// against the pinned digest before the file appears under its name. It
// does not verify the bundle: open it with OpenVerified.
func ExtractFile(ctx context.Context, r *bundle.Reader, dir string, opts ExtractOptions) (*ExtractResult, error) {
	bom, err := r.BOM()
	if err != nil {
		return nil, err
	}
	a, err := SelectFile(bom.Artifacts, opts.Name, opts.Platform)
	if err != nil {
		return nil, err
	}
	layer, annotations, err := fileLayer(ctx, r, a)
	if err != nil {
		return nil, err
	}
	res := &ExtractResult{Name: a.Name, Source: a.Source, Platform: annotations[AnnotationFilePlatform]}
	rc, err := r.Fetch(ctx, layer)
	if err != nil {
		if errors.Is(err, bundle.ErrNotFound) && bom.Base != "" {
			return nil, fmt.Errorf("file %s: its content %s is not in this incremental bundle but in its base; extract it from the base bundle: %w", a.Name, layer.Digest, err)
		}
		return nil, fmt.Errorf("file %s: %w", a.Name, err)
	}
	defer rc.Close()
	check := &digestReader{r: rc, h: sha256.New()}
	exe := annotations[AnnotationFileExecutable]
	out := a.Name
	if opts.Unpack {
		if exe == "" {
			return nil, fmt.Errorf("file %s is not a release archive of a program: extract it without unpacking", a.Name)
		}
		out = path.Base(exe)
	}
	if !safeFileName(out) {
		return nil, fmt.Errorf("file %q: not a plain file name; refusing to write it outside %s", out, dir)
	}
	if !opts.Unpack {
		err = writeOut(filepath.Join(dir, out), 0o644, check, func() error { return check.verify(layer) }, res)
	} else {
		res.ArchiveDigest = layer.Digest.String()
		err = unpackProgram(check, layer, exe, filepath.Join(dir, out), res)
	}
	if err != nil {
		return nil, fmt.Errorf("file %s: %w", a.Name, err)
	}
	return res, nil
}

// SelectFile picks the file artifact called name (its name or component)
// for platform. Errors list what the bundle carries.
func SelectFile(arts []bundle.Artifact, name, platform string) (bundle.Artifact, error) {
	var found, fit []bundle.Artifact
	var carried []string
	for _, a := range arts {
		if a.Kind != bundle.KindFile || (a.Name != name && strings.TrimPrefix(a.Repository, "files/") != name) {
			continue
		}
		found = append(found, a)
		p := filePlatform(a)
		if p != "" {
			carried = append(carried, p)
		}
		if platform == "" || p == "" || manifests.PlatformMatches(p, []string{platform}) {
			fit = append(fit, a)
		}
	}
	slices.Sort(carried)
	switch {
	case len(found) == 0:
		return bundle.Artifact{}, fmt.Errorf("%w: %q; the bundle carries %s", ErrNoFile, name, describeFiles(arts))
	case len(fit) == 0:
		return bundle.Artifact{}, fmt.Errorf("%w: %s is carried for %s, not for %s", ErrFilePlatform, name, strings.Join(carried, ", "), platform)
	case len(fit) > 1:
		return bundle.Artifact{}, fmt.Errorf("%w: %s is carried for %s; name one platform", ErrFilePlatform, name, strings.Join(carried, ", "))
	}
	return fit[0], nil
}

// filePlatform is the platform a file artifact is for, "" if any.
func filePlatform(a bundle.Artifact) string {
	if len(a.Platforms) == 1 {
		return a.Platforms[0].Platform
	}
	return ""
}

// describeFiles lists the file artifacts as "NAME (COMPONENT[, PLATFORM])".
func describeFiles(arts []bundle.Artifact) string {
	var out []string
	for _, a := range arts {
		if a.Kind != bundle.KindFile {
			continue
		}
		what := strings.TrimPrefix(a.Repository, "files/")
		if p := filePlatform(a); p != "" {
			what += ", " + p
		}
		out = append(out, a.Name+" ("+what+")")
	}
	if len(out) == 0 {
		return "no files"
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}

// fileLayer reads a file artifact's manifest and returns its one layer and
// its annotations.
func fileLayer(ctx context.Context, r *bundle.Reader, a bundle.Artifact) (ocispec.Descriptor, map[string]string, error) {
	desc := ocispec.Descriptor{MediaType: a.MediaType, Digest: digest.Digest(a.Digest), Size: a.Size}
	rc, err := r.Fetch(ctx, desc)
	if err != nil {
		return desc, nil, fmt.Errorf("file %s: manifest: %w", a.Name, err)
	}
	defer rc.Close()
	var m ocispec.Manifest
	if err := json.NewDecoder(io.LimitReader(rc, 4<<20)).Decode(&m); err != nil {
		return desc, nil, fmt.Errorf("file %s: manifest %s: %w", a.Name, a.Digest, err)
	}
	if len(m.Layers) != 1 {
		return desc, nil, fmt.Errorf("file %s: manifest %s has %d layers, a file artifact has one", a.Name, a.Digest, len(m.Layers))
	}
	return m.Layers[0], m.Annotations, nil
}

// digestReader hashes what is read through it.
type digestReader struct {
	r io.Reader
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func (d *digestReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	d.h.Write(p[:n])
	d.n += int64(n)
	return n, err
}

// verify reads what is left and compares everything read with want.
func (d *digestReader) verify(want ocispec.Descriptor) error {
	if _, err := io.Copy(io.Discard, d); err != nil {
		return err
	}
	got := digest.NewDigestFromBytes(digest.SHA256, d.h.Sum(nil))
	if got != want.Digest || d.n != want.Size {
		return fmt.Errorf("content is %s (%d bytes), the bundle pins %s (%d bytes): %w", got, d.n, want.Digest, want.Size, bundle.ErrDigestMismatch)
	}
	return nil
}

// writeOut copies src to dest with mode, runs check, and publishes dest
// only when check passes.
func writeOut(dest string, mode os.FileMode, src io.Reader, check func() error, res *ExtractResult) error {
	f, err := atomicfile.Create(dest, mode)
	if err != nil {
		return err
	}
	defer f.Abort()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), src)
	if err != nil {
		return fmt.Errorf("write %s: %w", dest, err)
	}
	if err := check(); err != nil {
		return err
	}
	if err := f.Commit(); err != nil {
		return err
	}
	res.Path, res.Size, res.Executable = dest, n, mode&0o111 != 0
	res.Digest = digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)).String()
	return nil
}

// unpackProgram writes the regular file exe of the tar.gz archive read
// through check to dest (mode 0755), after the whole archive matched layer.
func unpackProgram(check *digestReader, layer ocispec.Descriptor, exe, dest string, res *ExtractResult) error {
	zr, err := gzip.NewReader(check)
	if err != nil {
		return fmt.Errorf("read archive %s: %w", layer.Digest, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("archive %s holds no file %q (use the archive as it is)", layer.Digest, exe)
		}
		if err != nil {
			return fmt.Errorf("read archive %s: %w", layer.Digest, err)
		}
		if h.Typeflag != tar.TypeReg || path.Clean(strings.TrimPrefix(h.Name, "./")) != exe {
			continue
		}
		if h.Size > maxExecutable {
			return fmt.Errorf("archive %s: %s is %d bytes, over the %d-byte limit", layer.Digest, exe, h.Size, maxExecutable)
		}
		return writeOut(dest, 0o755, tr, func() error { return check.verify(layer) }, res)
	}
}

// safeFileName reports whether name is one plain file name: no directory
// part, not "." or "..", no NUL.
func safeFileName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\\\x00")
}
