package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/lattice-mesh/meshpack/mirror/registry"
)

// Start generates the fixture content, serves it on two 127.0.0.1 ports (the
// registry and the HTTP file server) and returns once everything is pushed
// and served. The servers run until Close, not until ctx is cancelled; ctx
// bounds the seeding.
func Start(ctx context.Context, opts Options) (u *Upstream, err error) {
	began := time.Now()
	opts, err = opts.withDefaults()
	if err != nil {
		return nil, err
	}
	scale := opts.LayerScale
	if opts.TotalSize > 0 {
		if scale, err = scaleFor(opts, opts.TotalSize); err != nil {
			return nil, err
		}
	}
	p, err := plan(opts, scale)
	if err != nil {
		return nil, err
	}
	site, err := buildSite(opts)
	if err != nil {
		return nil, err
	}

	root, tempRoot, err := registryRoot(opts, p)
	if err != nil {
		return nil, err
	}
	reg, err := registry.New(ctx, registry.Config{Root: root, Logger: opts.Logger})
	if err != nil {
		os.RemoveAll(tempRoot)
		return nil, fmt.Errorf("upstream: %w", err)
	}
	serveCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	u = &Upstream{reg: reg, cancel: cancel, hosts: p.hosts(), tempRoot: tempRoot}
	started := u // u is nil once an error is returned
	defer func() {
		if err != nil {
			_ = started.Close()
		}
	}()
	if !slices.Contains(u.hosts, "gcr.io") {
		u.hosts = append(u.hosts, "gcr.io") // OCI Helm charts
		sort.Strings(u.hosts)
	}

	regLn, err := listen(ctx)
	if err != nil {
		return nil, err
	}
	u.regHost = regLn.Addr().String()
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		u.serveErr(reg.Serve(serveCtx, regLn))
	}()

	httpLn, err := listen(ctx)
	if err != nil {
		return nil, err
	}
	u.httpBase = "http://" + httpLn.Addr().String()
	srv := &http.Server{Handler: site, ReadHeaderTimeout: 10 * time.Second}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		if err := srv.Serve(httpLn); !errors.Is(err, http.ErrServerClosed) {
			u.serveErr(fmt.Errorf("upstream: http server: %w", err))
		}
	}()
	context.AfterFunc(serveCtx, func() { _ = srv.Close() })

	s := &seeder{host: u.regHost, seed: opts.Seed, tempDir: opts.TempDir, sign: opts.Sign}
	opts.Logger.Info("fixture upstream: generating layers", "layers", len(p.order), "scale", scale)
	if err := s.pushLayers(ctx, p.order); err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	for _, ip := range p.images {
		infos, err := s.pushImage(ctx, ip)
		if err == nil {
			err = s.attachSBOMs(ctx, infos)
		}
		if err != nil {
			return nil, fmt.Errorf("upstream: %w", err)
		}
		u.images = append(u.images, infos...)
	}
	if u.charts, err = site.chartInfos(ctx, s, u.httpBase); err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	u.files = append(site.fileInfos(u.httpBase), site.prometheusInfos(u.httpBase)...)
	userCharts, err := site.userChartInfos(ctx, s, u.httpBase)
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	u.charts = append(u.charts, userCharts...)
	u.files = append(u.files, site.userFileInfos(u.httpBase)...)

	for _, l := range p.order {
		u.stats.Layers++
		u.stats.LayerBytes += l.desc.Size
		u.stats.RawBytes += l.raw
	}
	u.stats.Seeding = time.Since(began)
	opts.Logger.Info("fixture upstream: ready", "registry", u.regHost, "http", u.httpBase,
		"layers", u.stats.Layers, "layerBytes", u.stats.LayerBytes, "took", u.stats.Seeding)
	return u, nil
}

// inMemoryMaxLayer is the largest layer kept in Distribution's in-memory
// driver; its writer grows buffers by exactly the bytes written, so a blob
// of n bytes costs O(n²) copying (a 1 GiB workload took minutes).
const inMemoryMaxLayer = 16 << 20

// registryRoot picks the registry storage: Options.RegistryRoot, else
// memory for small workloads, else a temporary directory that Close
// removes (returned as tempRoot).
func registryRoot(opts Options, p *planner) (root, tempRoot string, err error) {
	if opts.RegistryRoot != "" {
		return opts.RegistryRoot, "", nil
	}
	for _, l := range p.order {
		if l.size > inMemoryMaxLayer {
			dir, err := os.MkdirTemp(opts.TempDir, "meshpack-fixture-registry-*")
			if err != nil {
				return "", "", fmt.Errorf("upstream: registry root: %w", err)
			}
			return dir, dir, nil
		}
	}
	return "", "", nil
}

// site is the HTTP side of the fixture: Helm repos and release files, held
// in memory (charts and CRDs are small).
type site struct {
	paths      map[string][]byte
	istio      []builtChart
	kialiTgz   []byte
	gatewayAPI []FileInfo // URL, Name, Version; digests filled by fileInfos
	istioctl   []FileInfo // the same, for the istioctl release archives
	prometheus []FileInfo // the same, for Istio's samples/addons/prometheus.yaml
	// user is the webapp chart a team carries (extra.go).
	user []builtChart
}

const kialiPackage = "kiali-server-2.26.0.tgz"

// buildSite prepares every file the HTTP server serves.
func buildSite(opts Options) (*site, error) {
	st := &site{paths: map[string][]byte{}}
	var err error
	if st.istio, err = buildIstioCharts(opts.Testdata, opts.IstioVersions); err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	idx, err := istioIndex(st.istio)
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	st.paths["/istio-release/charts/index.yaml"] = idx
	for _, c := range st.istio {
		st.paths[fmt.Sprintf("/istio-release/charts/%s-%s.tgz", c.meta.Name, c.meta.Version)] = c.tgz
	}

	kialiIndex, err := os.ReadFile(filepath.Join(opts.Testdata, "helm-repo-index", "kiali-helm-charts-index.yaml"))
	if err != nil {
		return nil, fmt.Errorf("upstream: kiali helm index: %w", err)
	}
	if st.kialiTgz, err = os.ReadFile(filepath.Join(opts.Testdata, "charts", kialiPackage)); err != nil {
		return nil, fmt.Errorf("upstream: kiali chart: %w", err)
	}
	st.paths["/kiali/helm-charts/index.yaml"] = kialiIndex
	st.paths["/kiali/helm-charts/"+kialiPackage] = st.kialiTgz

	for _, v := range opts.GatewayAPIVersions {
		if !strings.HasPrefix(v, "v") {
			return nil, fmt.Errorf("upstream: gateway api version %q: want vX.Y.Z", v)
		}
		for _, ch := range []string{"standard", "experimental"} {
			b, err := gatewayAPIInstall(opts.Testdata, v, ch)
			if err != nil {
				return nil, fmt.Errorf("upstream: %w", err)
			}
			name := ch + "-install.yaml"
			st.paths["/kubernetes-sigs/gateway-api/releases/download/"+v+"/"+name] = b
			st.gatewayAPI = append(st.gatewayAPI, FileInfo{Name: name, Version: v, URL: gatewayAPIRelease + "/" + v + "/" + name})
		}
	}
	if err := st.addIstioctl(opts.IstioVersions); err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	if err := st.addPrometheus(opts.Testdata, opts.IstioVersions); err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	if err := st.addUserContent(); err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	return st, nil
}

// ServeHTTP serves the prepared files (GET and HEAD, with ranges); anything
// else is 404, like a missing object in a bucket.
func (st *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, ok := st.paths[r.URL.Path]
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	switch {
	case strings.HasSuffix(r.URL.Path, ".tgz"):
		w.Header().Set("Content-Type", "application/x-compressed-tar")
	case strings.HasSuffix(r.URL.Path, ".yaml"):
		w.Header().Set("Content-Type", "text/yaml; charset=utf-8")
	case strings.HasSuffix(r.URL.Path, ".tar.gz"):
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	http.ServeContent(w, r, "", epoch, bytes.NewReader(b))
}

// chartInfos pushes the Istio charts as OCI artifacts and describes every
// chart package.
func (st *site) chartInfos(ctx context.Context, s *seeder, base string) ([]ChartInfo, error) {
	var out []ChartInfo
	for _, c := range st.istio {
		repo := istioOCICharts + "/" + c.meta.Name
		desc, err := s.pushChart(ctx, repo, c)
		if err != nil {
			return nil, err
		}
		file := fmt.Sprintf("%s-%s.tgz", c.meta.Name, c.meta.Version)
		out = append(out, ChartInfo{
			Name:         c.meta.Name,
			Version:      c.meta.Version,
			URL:          istioChartRepo + "/" + file,
			LocalURL:     base + "/istio-release/charts/" + file,
			Digest:       digest.FromBytes(c.tgz),
			Size:         int64(len(c.tgz)),
			OCIReference: repo + ":" + c.meta.Version,
			OCIDigest:    desc.Digest,
		})
	}
	out = append(out, ChartInfo{
		Name:     "kiali-server",
		Version:  "2.26.0",
		URL:      kialiChartRepo + "/" + kialiPackage,
		LocalURL: base + "/kiali/helm-charts/" + kialiPackage,
		Digest:   digest.FromBytes(st.kialiTgz),
		Size:     int64(len(st.kialiTgz)),
	})
	return out, nil
}

// fileInfos describes the Gateway API install files and the istioctl
// release archives.
func (st *site) fileInfos(base string) []FileInfo {
	out := make([]FileInfo, 0, len(st.gatewayAPI)+len(st.istioctl))
	for _, f := range append(slices.Clone(st.gatewayAPI), st.istioctl...) {
		path := strings.TrimPrefix(f.URL, "https://github.com")
		b := st.paths[path]
		f.LocalURL = base + path
		f.Digest = digest.FromBytes(b)
		f.Size = int64(len(b))
		out = append(out, f)
	}
	return out
}
