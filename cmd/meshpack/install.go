package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/atomicfile"
	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/cluster"
	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/install"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/remote"
)

// installFlags are the flags of meshpack install.
type installFlags struct {
	bundle        string
	lock          string
	registry      string
	render        string
	kube          kubeFlags
	net           netFlags
	wait          bool
	timeout       time.Duration
	force         bool
	preflightOnly bool
	output        string
	valueFiles    []string
	sets          []string
	pullSecret    string
	phase         string
	canary        bool
	cni           bool
	prometheusURL string
	pathMode      string
	kubeVersion   string
	key           string
	trust         trustFlags
}

func newInstallCmd(s streams, g *globalFlags) *cobra.Command {
	return newInstallLikeCmd(s, g, &installFlags{})
}

// newInstallLikeCmd is install, with its flags in f (upgrade reuses it).
func newInstallLikeCmd(s streams, g *globalFlags, f *installFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "install (--bundle FILE (--key cosign.pub | --allow-unsigned) | --lock FILE) --registry HOST[:PORT][/PREFIX] [--render DIR]",
		Short: "Install (or upgrade) the mesh from a bundle, every image pinned by digest to the internal registry",
		Long: `install verifies the bundle offline first (as bundle verify does), then plans
the install from it: the Gateway API CRDs, then the Istio charts base, istiod,
cni (ambient, or --cni for sidecar), ztunnel (ambient), the ingress gateway (if
the bundle carries it), prometheus and kiali-server, with the release names and
namespaces of Istio's Helm docs. prometheus is the manifest Istio ships for
Kiali (samples/addons/prometheus.yaml), carried by a Kiali bundle, installed as
release prometheus in the control plane's namespace; Kiali reads it at
http://prometheus.NAMESPACE:9090. --prometheus-url URL points Kiali at an
existing Prometheus instead and installs none (as does a bundle created with
--prometheus-url). Charts are read straight from the bundle — or, with
--lock FILE instead of --bundle, from the registry the bundle was loaded into,
each checked against the lock's digest. Every image —
pilot, proxyv2 for every injected proxy, install-cni, ztunnel, prometheus and
its config reloader, kiali — is
pinned by the digest the bundle's BOM records, in --registry (where bundle load
put it, with the same --path-mode); an image without a digest fails, there is
no fall-back to tags and no mutating webhook.

Before changing anything a preflight checks: the API server is reachable and
its version is in the set's Kubernetes range; every pinned digest is in the
registry (each missing one is listed); the releases already there (fresh
install, same version, upgrade, or a downgrade, refused without --force); and
Gateway API CRDs of another version or channel. --preflight-only stops there.

Then each step is applied in order — the CRDs server-side, each chart as a Helm
release in process — and, with --wait (the default), each step's Deployments
and DaemonSets must roll out before the next starts (--timeout per step). A
bundle with a newer Istio upgrades the releases in place, in the same order.
Re-running after an interruption continues where it stopped. The install is
recorded in ConfigMap meshpack-install, which audit and uninstall read.

--render DIR writes exactly what would be applied instead, one numbered file
per step (00-gateway-api-crds.yaml, 01-base.yaml, …), for GitOps: no cluster
is needed. DIR is created when missing and must hold no earlier render.`,
		Example: `  meshpack install --bundle mesh.tar.zst --registry registry.internal:5000/mesh --key cosign.pub --render rendered
  meshpack install --bundle mesh.tar.zst --registry registry.internal:5000/mesh --key cosign.pub --preflight-only
  meshpack install --bundle mesh.tar.zst --registry registry.internal:5000/mesh --key cosign.pub --kubeconfig enclave.kubeconfig --timeout 10m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runInstall(cmd, s, g, f) },
	}
	fs := cmd.Flags()
	fs.StringVar(&f.bundle, "bundle", "", "the bundle (FILE, FILE.000 of a split set) to install from (required)")
	fs.StringVar(&f.lock, "lock", "", "instead of --bundle: the lock the loaded bundle was made from; charts and files are read from --registry and checked against it")
	fs.StringVar(&f.registry, "registry", "", "where the bundle was loaded: HOST[:PORT][/PREFIX] (required)")
	fs.StringVar(&f.render, "render", "", "write the manifests into this directory instead of applying them (no cluster needed)")
	f.kube.register(fs)
	f.net.register(fs, false)
	fs.BoolVar(&f.cni, "cni", false, "install the Istio CNI node agent in sidecar mode (ambient always does)")
	fs.StringVar(&f.prometheusURL, "prometheus-url", "", "an existing Prometheus for Kiali to read; the Prometheus the bundle carries is then not installed (default: the carried one, http://prometheus.NAMESPACE:9090)")
	fs.StringVar(&f.pathMode, "path-mode", mirror.PathKeep, "repository paths below PREFIX, as given to bundle load: keep (istio/pilot) or flatten (istio-pilot)")
	fs.StringVar(&f.kubeVersion, "kubernetes-version", "", "with --render: the Kubernetes version the charts are rendered for, e.g. 1.33 (default: the spec's cluster version, else 1.32)")
	fs.StringArrayVar(&f.valueFiles, "values", nil, "user values for one chart, layered over meshpack's: CHART=FILE (repeatable; charts: base, istiod, cni, ztunnel, gateway, kiali-server)")
	fs.StringArrayVar(&f.sets, "set", nil, "one user value: CHART.key=value in helm's --set syntax, e.g. istiod.pilot.resources.requests.cpu=500m (repeatable; applied after --values)")
	fs.StringVar(&f.pullSecret, "image-pull-secret", "", "the Secret every workload and injected proxy pulls images with (create it in each namespace first)")
	fs.StringVar(&f.phase, "phase", "", "the adoption phase to set after the charts: observability, mtls-strict, traffic or authz (default: the recorded one, observability on a first install)")
	fs.BoolVar(&f.wait, "wait", true, "wait for each step's Deployments and DaemonSets to roll out before the next step")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Minute, "how long each step may take to roll out (and CRDs to be established)")
	fs.BoolVar(&f.force, "force", false, "allow a downgrade: install charts older than the ones deployed")
	fs.BoolVar(&f.preflightOnly, "preflight-only", false, "run the preflight checks, report, and change nothing")
	outputFlag(fs, &f.output, formatText, formatText, formatJSON, formatYAML)
	fs.StringVar(&f.key, "key", "", "cosign public key: verify the BOM signature and every image signature first")
	f.trust.register(fs)
	return cmd
}

// check validates every flag before the bundle is read.
func (f *installFlags) check() error {
	switch {
	case f.bundle == "" && f.lock == "":
		return usagef("--bundle FILE is required: the bundle to install from (or --lock FILE: its charts from the registry it was loaded into)")
	case f.bundle != "" && f.lock != "":
		return usagef("--bundle and --lock exclude each other: --lock reads the charts from the registry, --bundle from the bundle")
	case f.lock != "" && (f.key != "" || f.trust.allowUnsigned):
		return usagef("--key and --allow-unsigned verify a bundle; with --lock there is none (charts are checked against the lock's digests)")
	}
	if f.lock != "" {
		if err := f.net.check(); err != nil {
			return err
		}
	}
	if f.registry == "" {
		return usagef("--registry HOST[:PORT][/PREFIX] is required: where the bundle was loaded (bundle load --registry)")
	}
	if err := mirror.ValidateTarget(f.registry); err != nil {
		return usagef("--registry: %v", err)
	}
	if f.pathMode != mirror.PathKeep && f.pathMode != mirror.PathFlatten {
		return usagef("--path-mode %q: want %s or %s", f.pathMode, mirror.PathKeep, mirror.PathFlatten)
	}
	if err := checkOutput(&f.output, formatText, formatJSON, formatYAML); err != nil {
		return err
	}
	if f.prometheusURL != "" {
		if err := manifests.CheckPrometheusURL(f.prometheusURL); err != nil {
			return usagef("--prometheus-url: %v", err)
		}
	}
	if f.phase != "" && cluster.PhaseRank(f.phase) < 0 {
		return usagef("--phase %q: want one of %s", f.phase, strings.Join(cluster.Phases, ", "))
	}
	if f.timeout <= 0 {
		return usagef("--timeout %s: want a positive duration, e.g. 5m", f.timeout)
	}
	if f.render == "" {
		if f.kubeVersion != "" {
			return usagef("--kubernetes-version applies to --render only: an install renders for the cluster's own version")
		}
		return f.net.check()
	}
	if f.preflightOnly {
		return usagef("--preflight-only checks a cluster; --render needs none: use one of them")
	}
	st, err := os.Stat(f.render)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Render creates DIR; its parent must exist, as for every output path.
		if _, perr := os.Stat(filepath.Dir(filepath.Clean(f.render))); perr != nil {
			return usagef("--render %s: the directory it would be created in does not exist: %v", f.render, perr)
		}
	case err != nil:
		return usagef("--render: %v", err)
	case !st.IsDir():
		return usagef("--render %s is not a directory", f.render)
	}
	return nil
}

func runInstall(cmd *cobra.Command, s streams, g *globalFlags, f *installFlags) error {
	if err := f.check(); err != nil {
		return err
	}
	uv, err := install.ParseUserValues(f.valueFiles, f.sets)
	if err != nil {
		return usageError{err}
	}
	var client *remote.Client
	if f.lock != "" || f.render == "" {
		if client, err = f.net.client(s.in, nil, g.logger(s)); err != nil {
			return err
		}
	}
	src, closeSrc, err := f.source(cmd, s, g, client)
	if err != nil {
		return err
	}
	defer closeSrc()
	plan, err := install.NewPlan(cmd.Context(), src, install.Options{
		Values: uv, ImagePullSecret: f.pullSecret,
		Registry: f.registry, PathMode: f.pathMode, Namespace: f.kube.namespace, CNI: f.cni,
		PrometheusURL: f.prometheusURL, KubeVersion: f.kubeVersion,
	})
	if err != nil {
		return err
	}
	for _, w := range plan.Warnings {
		fmt.Fprintln(s.err, "warning:", sanitize(w))
	}
	if f.render != "" {
		if f.canary {
			plan = cluster.CanaryPlan(plan)
		}
		return renderInstall(cmd, s, plan, f.render, f.phase)
	}
	res, err := cluster.Install(cmd.Context(), plan, cluster.Options{
		Kube: f.kube.kube(), Registry: cluster.RemoteRegistry(client), Wait: f.wait, Timeout: f.timeout,
		Force: f.force, PreflightOnly: f.preflightOnly, Log: stepLogger(s, g), Phase: f.phase, Canary: f.canary,
	})
	if res != nil && res.Preflight != nil {
		if ok, werr := writeStructured(s.out, f.output, res); ok {
			if werr != nil {
				return werr
			}
		} else {
			printInstall(s, plan, res, f.preflightOnly)
		}
	}
	return err
}

// source opens what the plan is made from: the bundle, verified first (one
// reader for verification and planning: what is planned is what was
// verified, a split set's parts included), or with --lock the registry.
func (f *installFlags) source(cmd *cobra.Command, s streams, g *globalFlags, client *remote.Client) (install.Source, func(), error) {
	if f.lock != "" {
		data, err := os.ReadFile(f.lock)
		if err != nil {
			return nil, nil, usagef("--lock: %v", err)
		}
		lock, err := manifests.LoadLock(bytes.NewReader(data))
		if err != nil {
			return nil, nil, fmt.Errorf("lock %s: %w", f.lock, err)
		}
		src, err := cluster.FromRegistry(client, *lock, f.registry, f.pathMode)
		return src, func() {}, err
	}
	v, err := f.trust.verifier(f.key)
	if err != nil {
		return nil, nil, err
	}
	pr := newMeter(s.err, "verify", g.quiet)
	r, _, err := mirror.OpenVerified(cmd.Context(), f.bundle, mirror.VerifyFileOptions{
		VerifyOptions: mirror.VerifyOptions{Key: v, AllowUnsigned: f.trust.allowUnsigned, Progress: pr.verified},
		FileOptions:   mirror.FileOptions{AllowRescan: f.trust.allowRescan, Opened: func(st bundle.Stats) { pr.Start(st.BlobBytes) }},
	})
	pr.Finish(err == nil)
	if err != nil {
		return nil, nil, fmt.Errorf("bundle %s: %w (bundle verify shows every check)", f.bundle, err)
	}
	return install.FromBundle(r), func() { _ = r.Close() }, nil
}

// renderInstall writes the plan's manifests and, last, the adoption
// phase's resources (observability unless --phase says otherwise).
func renderInstall(cmd *cobra.Command, s streams, plan *install.Plan, dir, phase string) error {
	ms, err := install.Render(cmd.Context(), plan, dir)
	if err != nil {
		return err
	}
	for _, m := range ms {
		fmt.Fprintf(s.err, "wrote %s\n", filepath.Join(dir, m.File))
	}
	if phase == "" {
		phase = cluster.PhaseObservability
	}
	data, err := cluster.PhaseManifest(phase, cluster.PhaseConfig{Namespace: plan.Namespace, Profile: plan.Profile})
	if err != nil {
		return err
	}
	name := filepath.Join(dir, fmt.Sprintf("%02d-phase-%s.yaml", len(ms), phase))
	if err := atomicfile.WriteFile(name, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(s.err, "wrote %s\n", name)
	fmt.Fprintf(s.err, "rendered Istio %s (%s): %d steps into %s\n", plan.Istio, plan.Profile, len(ms), dir)
	if plan.PrometheusURL != "" {
		fmt.Fprintf(s.err, "Kiali reads Prometheus at %s\n", plan.PrometheusURL)
	}
	return nil
}
