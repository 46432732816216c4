package install

import (
	"bytes"
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

	"helm.sh/helm/v3/pkg/releaseutil"
	"sigs.k8s.io/yaml"

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
// each chart's objects (its crds/ first, then the rendered templates in
// Helm's install order). This is the one code path both Render and an
// install use. It fails when any rendered image, or any image value in a
// ConfigMap (istiod's injector values), is not pinned by a BOM digest in the
// plan's registry; the gateway's "image: auto" is replaced at injection by
// global.proxy.image and is the one exception.
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
		data, err := p.renderStep(s)
		if err != nil {
			return nil, err
		}
		m.Data = data
		out = append(out, m)
	}
	return out, nil
}

func (p *Plan) renderStep(s Step) ([]byte, error) {
	r, err := render.Chart(s.Chart, s.Values, render.Release{Name: s.Release, Namespace: s.Namespace, KubeVersion: p.KubeVersion})
	if err != nil {
		return nil, err
	}
	objs, err := r.Objects()
	if err != nil {
		return nil, err
	}
	rank := map[string]int{}
	for i, k := range releaseutil.InstallOrder {
		rank[k] = i + 1
	}
	order := func(k string) int {
		if r, ok := rank[k]; ok {
			return r
		}
		return len(rank) + 1
	}
	sort.SliceStable(objs, func(i, j int) bool { return order(objs[i].Kind()) < order(objs[j].Kind()) })
	var buf bytes.Buffer
	for _, crd := range s.Chart.CRDObjects() {
		fmt.Fprintf(&buf, "---\n# Source: %s\n%s\n", crd.Filename, bytes.TrimSpace(crd.File.Data))
	}
	for _, o := range objs {
		if err := p.checkPinned(s.Name, o); err != nil {
			return nil, err
		}
		y, err := yaml.Marshal(o.Data)
		if err != nil {
			return nil, fmt.Errorf("%s: %s %s: %w", s.Name, o.Kind(), o.Name(), err)
		}
		fmt.Fprintf(&buf, "---\n# Source: %s\n%s", o.File, y)
	}
	return buf.Bytes(), nil
}

// checkPinned refuses any image of o that is not a pinned reference of the
// plan.
func (p *Plan) checkPinned(step string, o render.Object) error {
	imgs := o.Images()
	for _, img := range imgs {
		if step == render.ChartGateway && img == "auto" {
			continue
		}
		if !p.pinned[digestOnly(img)] {
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
			if !p.pinned[digestOnly(img)] {
				return fmt.Errorf("%s: ConfigMap %s %s sets image %q, which is not pinned by a bundle digest in %s", step, o.Name(), key, img, p.Registry)
			}
		}
	}
	return nil
}

// digestOnly drops the tag of a tag-plus-digest reference
// (REG/istio/ztunnel:1.30.3-distroless@sha256:… → REG/istio/ztunnel@sha256:…):
// runtimes pull such a reference by its digest alone.
func digestOnly(ref string) string {
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
