package resolve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"sigs.k8s.io/yaml"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/render"
)

// maxExtraFileBytes caps an extra file: it is hashed as it downloads and
// never held in memory, but a runaway download must still end.
const maxExtraFileBytes = 16 << 30

// ErrChartRender is matched by errors about an extra chart that does not
// render offline with its default values (or Spec.ExtraChartValues), so
// its images cannot be found.
var ErrChartRender = errors.New("extra chart does not render")

// pinUserContent pins the spec's extra charts, files and manifests, and
// adds the images found in the charts (by rendering them) and manifests
// (by parsing them) to the images to pin. It runs after the mesh is
// pinned, so that an extra chart cannot take the name of a mesh chart.
func (r *resolver) pinUserContent(ctx context.Context, s *manifests.Spec) error {
	mesh := map[string]bool{}
	for _, lc := range r.lock.Charts {
		mesh[lc.Name] = true
	}
	for _, c := range s.ExtraCharts {
		ref, err := manifests.ParseChartRef(c)
		if err != nil {
			return fmt.Errorf("extra chart: %w", err)
		}
		if mesh[ref.Name] {
			return fmt.Errorf("extra chart %s: the mesh carries a chart named %s, and a bundle stores charts by name (charts/%s); install would take the wrong one, so carry it from another bundle", ref, ref.Name, ref.Name)
		}
		if err := r.pinExtraChart(ctx, ref, s.ExtraChartValues[ref.Name]); err != nil {
			return err
		}
	}
	for _, f := range s.ExtraFiles {
		ref, err := manifests.ParseFileRef(f)
		if err != nil {
			return fmt.Errorf("extra file: %w", err)
		}
		if err := r.pinExtraFile(ctx, ref); err != nil {
			return err
		}
	}
	for _, m := range s.ExtraManifests {
		ref, err := manifests.ParseManifestRef(m)
		if err != nil {
			return fmt.Errorf("extra manifest: %w", err)
		}
		if err := r.pinExtraManifest(ctx, ref); err != nil {
			return err
		}
	}
	return nil
}

// pinExtraChart pins one chart (HTTP repository: the .tgz sha256, checked
// against the index's digest when it has one; OCI: the manifest digest),
// renders it with its default values overlaid by valuesFile, and adds the
// images it renders.
func (r *resolver) pinExtraChart(ctx context.Context, ref manifests.ChartRef, valuesFile string) error {
	var (
		fc  *fetchedChart
		err error
	)
	if ref.OCI {
		fc, err = fetchOCIChart(ctx, r.c, ref.Repo, ref.Name, ref.Version)
	} else {
		fc, err = fetchHTTPChart(ctx, r.c, r.index, ref.Repo, ref.Name, ref.Version, "")
	}
	if err != nil {
		return fmt.Errorf("extra chart %s: %w", ref, err)
	}
	ch, err := render.LoadChartArchive(bytes.NewReader(fc.tgz))
	if err != nil {
		return fmt.Errorf("extra chart %s from %s: %w", ref, fc.locked.Source, err)
	}
	if ch.Name() != ref.Name || strings.TrimPrefix(ch.Metadata.Version, "v") != strings.TrimPrefix(ref.Version, "v") {
		return fmt.Errorf("extra chart %s: %s holds chart %s %s, not %s %s", ref, fc.locked.Source, ch.Name(), ch.Metadata.Version, ref.Name, ref.Version)
	}
	vals := map[string]any{}
	if valuesFile != "" {
		raw, err := os.ReadFile(valuesFile)
		if err != nil {
			return fmt.Errorf("extra chart %s: values: %w", ref, err)
		}
		if err := yaml.Unmarshal(raw, &vals); err != nil {
			return fmt.Errorf("extra chart %s: values %s: %w", ref, valuesFile, err)
		}
	}
	component := manifests.ComponentChartPrefix + ref.Name
	imgs, err := render.DiscoverChartImages(ch, vals, component)
	if err != nil {
		return fmt.Errorf("extra chart %s: %w: %w (its images are found by rendering it offline; give values that render with Spec.ExtraChartValues)", ref, ErrChartRender, err)
	}
	r.addChart(fc.locked)
	if len(imgs) == 0 {
		r.note(fmt.Sprintf("extra chart %s %s renders no image with these values; only the chart is carried", ref.Name, ref.Version))
	}
	return r.addFoundImages(imgs)
}

// pinExtraFile downloads one extra file, hashing it as it arrives, and
// pins its sha256; when the spec gives one, the download must match it.
func (r *resolver) pinExtraFile(ctx context.Context, ref manifests.FileRef) error {
	sum, size, err := r.hashDownload(ctx, ref.URL, maxExtraFileBytes)
	if err != nil {
		return fmt.Errorf("extra file %s: %w", ref.URL, err)
	}
	pinned := manifests.PinnedResolved
	if ref.SHA256 != "" {
		if sum != ref.SHA256 {
			return &MismatchError{What: "extra file", URL: ref.URL, Want: ref.SHA256, Got: sum}
		}
		pinned = manifests.PinnedSpec
	}
	r.addFile(manifests.LockedFile{
		Name: ref.Name, Component: manifests.ComponentExtraFile, Source: ref.URL,
		Digest: "sha256:" + sum, Size: size, MediaType: fileMediaType(ref.Name), Pinned: pinned,
	})
	return nil
}

// pinExtraManifest reads one manifest (a URL through the client's
// mirrors, or a local file), pins its sha256 and adds the image of every
// Pod template in it.
func (r *resolver) pinExtraManifest(ctx context.Context, ref manifests.ManifestRef) error {
	src, err := ref.Source()
	if err != nil {
		return err
	}
	var data []byte
	if ref.URL != "" {
		data, _, err = download(ctx, r.c, ref.URL, maxFileBytes)
	} else {
		data, err = readLocal(ref.Path, maxFileBytes)
	}
	if err != nil {
		return fmt.Errorf("extra manifest %s: %w", src, err)
	}
	imgs, err := render.DiscoverManifestImages(data, ref.Name, manifests.ComponentManifestPref+ref.Name)
	if err != nil {
		return fmt.Errorf("extra manifest %s: %w", src, err)
	}
	if len(imgs) == 0 {
		r.note(fmt.Sprintf("extra manifest %s names no workload image; only the file is carried", ref.Name))
	}
	r.addFile(manifests.LockedFile{
		Name: ref.Name, Component: manifests.ComponentExtraManifest, Source: src,
		Digest: digest.FromBytes(data).String(), Size: int64(len(data)), MediaType: "application/yaml", Pinned: manifests.PinnedResolved,
	})
	return r.addFoundImages(imgs)
}

// addFoundImages adds images found in user content, tagged :latest when
// they name no tag (as Kubernetes pulls them).
func (r *resolver) addFoundImages(imgs []render.Image) error {
	for _, img := range imgs {
		canon := img.Reference
		if !strings.Contains(canon[strings.LastIndex(canon, "/")+1:], ":") && !strings.Contains(canon, "@") {
			canon += ":latest"
		}
		r.addImage(shortName(canon), canon, img.Components, "")
	}
	return nil
}

func (r *resolver) addFile(lf manifests.LockedFile) {
	r.lock.Files = append(r.lock.Files, lf)
	r.pinned("file", lf.Source, ocispec.Descriptor{MediaType: lf.MediaType, Digest: digest.Digest(lf.Digest), Size: lf.Size})
}

// hashDownload downloads u through the client's mirrors and returns its
// hex sha256 and size, without keeping the bytes; more than limit bytes is
// an error.
func (r *resolver) hashDownload(ctx context.Context, u string, limit int64) (string, int64, error) {
	body, _, err := r.c.Get(ctx, u)
	if err != nil {
		return "", 0, err
	}
	defer body.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(body, limit+1))
	switch {
	case err != nil:
		return "", 0, fmt.Errorf("GET %s: %w", u, err)
	case n > limit:
		return "", 0, fmt.Errorf("GET %s: larger than %d bytes", u, limit)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// readLocal reads a local file of at most limit bytes.
func readLocal(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", p, limit)
	}
	return data, nil
}

// fileMediaType guesses a file's media type from its name; it tells the
// bundle writer whether the bytes are already compressed.
func fileMediaType(name string) string {
	switch n := strings.ToLower(name); {
	case strings.HasSuffix(n, ".tar.gz"), strings.HasSuffix(n, ".tgz"), strings.HasSuffix(n, ".gz"):
		return "application/gzip"
	case strings.HasSuffix(n, ".zip"):
		return "application/zip"
	case strings.HasSuffix(n, ".zst"):
		return "application/zstd"
	case strings.HasSuffix(n, ".yaml"), strings.HasSuffix(n, ".yml"):
		return "application/yaml"
	case strings.HasSuffix(n, ".json"):
		return "application/json"
	case path.Ext(n) == ".txt", path.Ext(n) == ".md":
		return "text/plain"
	}
	return "application/octet-stream"
}

// MismatchError is a download whose sha256 is not the one pinned for it.
// It matches ErrChecksumMismatch.
type MismatchError struct {
	// What names the artifact kind: "extra file".
	What string
	URL  string
	// Want and Got are lowercase hex sha256 digests.
	Want, Got string
}

// Error says which URL, what was expected and what arrived.
func (e *MismatchError) Error() string {
	u := e.URL
	if p, err := url.Parse(e.URL); err == nil {
		u = p.Redacted()
	}
	return fmt.Sprintf("%s %s: expected sha256 %s (the spec's #sha256=), got %s: the file changed upstream or was tampered with; nothing was pinned (check the file, then fix the #sha256= or drop it to pin what is served)", e.What, u, e.Want, e.Got)
}

// Unwrap makes errors.Is(err, ErrChecksumMismatch) work.
func (e *MismatchError) Unwrap() error { return ErrChecksumMismatch }
