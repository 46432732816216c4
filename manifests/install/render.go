package install

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/lattice-mesh/meshpack/atomicfile"
	"github.com/lattice-mesh/meshpack/manifests/render"
)

// Manifest is what one step applies, as one multi-document YAML file.
type Manifest struct {
	// File is "NN-<step>.yaml", NN the step's position from 00.
	File string
	Step string
	Data []byte
}

// Manifests renders every step in install order: the CRD file as carried,
// then each chart's release manifest as Helm renders it offline (RunStep
// without a cluster: what an install applies, through the same code). It
// fails when any rendered image, or any image value in a ConfigMap
// (istiod's injector values), is not pinned by a BOM digest in the plan's
// registry; the gateway's "image: auto" is replaced by the pinned proxy.
func (p *Plan) Manifests(ctx context.Context) ([]Manifest, error) {
	out := make([]Manifest, 0, len(p.Steps))
	for i, s := range p.Steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m := Manifest{File: fmt.Sprintf("%02d-%s.yaml", i, s.Name), Step: s.Name}
		if s.Chart == nil {
			m.Data = s.Manifest
			out = append(out, m)
			continue
		}
		data, err := p.renderStep(ctx, s)
		if err != nil {
			return nil, err
		}
		m.Data = data
		out = append(out, m)
	}
	return out, nil
}

func (p *Plan) renderStep(ctx context.Context, s Step) ([]byte, error) {
	rel, err := p.RunStep(ctx, Helm{}, s)
	if err != nil {
		return nil, err
	}
	return ReleaseManifest(rel), nil
}

// checkPinned refuses any image of o that is not a pinned reference of the
// plan.
func (p *Plan) checkPinned(step string, o render.Object) error {
	imgs := o.Images()
	for _, img := range imgs {
		if !p.pinned[DigestOnly(img)] {
			return fmt.Errorf("%s: %s %s renders image %q, which is not pinned by a bundle digest in %s; refusing to fall back to tags", step, o.Kind(), o.Name(), img, p.Registry)
		}
	}
	if o.Kind() != "ConfigMap" {
		return nil
	}
	data, _ := o.Data["data"].(map[string]any)
	for key, v := range data {
		s, _ := v.(string)
		var vals map[string]any
		if !strings.HasPrefix(strings.TrimSpace(s), "{") || json.Unmarshal([]byte(s), &vals) != nil {
			continue
		}
		for _, img := range ImageValues(vals) {
			if !p.pinned[DigestOnly(img)] {
				return fmt.Errorf("%s: ConfigMap %s %s sets image %q, which is not pinned by a bundle digest in %s", step, o.Name(), key, img, p.Registry)
			}
		}
	}
	return nil
}

// DigestOnly drops the tag of a tag-plus-digest reference
// (REG/istio/ztunnel:1.30.3-distroless@sha256:… → REG/istio/ztunnel@sha256:…):
// runtimes pull such a reference by its digest alone.
func DigestOnly(ref string) string {
	name, d, ok := strings.Cut(ref, "@")
	if !ok {
		return ref
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	return name + "@" + d
}

// ImageValues returns every string value of a key named "image" in vals
// (e.g. global.proxy.image and global.proxy_init.image of istiod's injector
// values), in sorted order.
func ImageValues(vals map[string]any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, x := range t {
				if s, ok := x.(string); ok && k == "image" && s != "" {
					out = append(out, s)
					continue
				}
				walk(x)
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	walk(vals)
	sort.Strings(out)
	return out
}

// stale matches the files a render writes, to refuse mixing two renders.
var stale = regexp.MustCompile(`^[0-9]{2}-.*\.yaml$`)

// Render writes the plan's manifests into dir, an existing directory, one
// numbered file per step (00-gateway-api-crds.yaml, 01-base.yaml, …). Every
// file is rendered and written to a temporary name first and all are
// published together (atomicfile.CommitAll): a failed render leaves nothing. A directory already holding such files is refused, so
// a GitOps directory never mixes two renders.
func Render(ctx context.Context, p *Plan, dir string) ([]Manifest, error) {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.Mkdir(dir, 0o755); err == nil {
			st, err = os.Stat(dir)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("render directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("render directory %s is not a directory", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if stale.MatchString(e.Name()) {
			return nil, fmt.Errorf("render directory %s already holds %s: use an empty directory (or remove the previous render)", dir, e.Name())
		}
	}
	ms, err := p.Manifests(ctx)
	if err != nil {
		return nil, err
	}
	files := make([]*atomicfile.File, 0, len(ms))
	defer func() {
		for _, f := range files {
			_ = f.Abort() // a no-op after CommitAll
		}
	}()
	for _, m := range ms {
		f, err := atomicfile.Create(filepath.Join(dir, m.File), 0o644)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
		if _, err := f.Write(m.Data); err != nil {
			return nil, fmt.Errorf("write %s: %w", m.File, err)
		}
	}
	if err := atomicfile.CommitAll(files...); err != nil {
		return nil, err
	}
	return ms, nil
}
