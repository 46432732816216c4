package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/manifests/install"
	"github.com/lattice-mesh/meshpack/mirror"
)

// installFlags are the flags of meshpack install.
type installFlags struct {
	bundle        string
	registry      string
	render        string
	namespace     string
	cni           bool
	prometheusURL string
	pathMode      string
	kubeVersion   string
	key           string
	trust         trustFlags
}

// errApplyNotImplemented is the usage error of install without --render.
const errApplyNotImplemented = "applying to a cluster is not implemented yet; use --render DIR"

func newInstallCmd(s streams, g *globalFlags) *cobra.Command {
	var f installFlags
	cmd := &cobra.Command{
		Use:   "install --bundle FILE --registry HOST[:PORT][/PREFIX] --render DIR (--key cosign.pub | --allow-unsigned)",
		Short: "Render the mesh install from a bundle, every image pinned by digest to the internal registry",
		Long: `install verifies the bundle offline first (as bundle verify does), then plans
the install from it: the Gateway API CRDs, then the Istio charts base, istiod,
cni (ambient, or --cni for sidecar), ztunnel (ambient), the ingress gateway (if
the bundle carries it) and kiali-server, with the release names and namespaces
of Istio's Helm docs. Charts are read straight from the bundle. Every image —
pilot, proxyv2 for every injected proxy, install-cni, ztunnel, kiali — is
pinned by the digest the bundle's BOM records, in --registry (where bundle load
put it, with the same --path-mode); an image without a digest fails, there is
no fall-back to tags.

--render DIR writes exactly what would be applied, one numbered file per step
in install order (00-gateway-api-crds.yaml, 01-base.yaml, …), for GitOps. DIR
is created when missing and must hold no earlier render. Applying to a
cluster is not implemented yet.`,
		Example: `  meshpack install --bundle mesh.tar.zst --registry registry.internal:5000/mesh --key cosign.pub --render rendered
  meshpack install --bundle mesh.tar.zst --registry registry.internal:5000/mesh --key cosign.pub --cni --render rendered-cni`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runInstall(cmd, s, g, &f) },
	}
	fs := cmd.Flags()
	fs.StringVar(&f.bundle, "bundle", "", "the bundle (FILE, FILE.000 of a split set) to install from (required)")
	fs.StringVar(&f.registry, "registry", "", "where the bundle was loaded: HOST[:PORT][/PREFIX] (required)")
	fs.StringVar(&f.render, "render", "", "write the manifests into this existing directory instead of applying them")
	fs.StringVar(&f.namespace, "namespace", install.DefaultNamespace, "namespace of the Istio control plane and Kiali")
	fs.BoolVar(&f.cni, "cni", false, "install the Istio CNI node agent in sidecar mode (ambient always does)")
	fs.StringVar(&f.prometheusURL, "prometheus-url", install.DefaultPrometheusURL, "the Prometheus Kiali reads")
	fs.StringVar(&f.pathMode, "path-mode", mirror.PathKeep, "repository paths below PREFIX, as given to bundle load: keep (istio/pilot) or flatten (istio-pilot)")
	fs.StringVar(&f.kubeVersion, "kubernetes-version", "", "the Kubernetes version the charts are rendered for, e.g. 1.33 (default: render's)")
	fs.StringVar(&f.key, "key", "", "cosign public key: verify the BOM signature and every image signature first")
	f.trust.register(fs)
	return cmd
}

// check validates every flag before the bundle is read.
func (f *installFlags) check() error {
	if f.bundle == "" {
		return usagef("--bundle FILE is required: the bundle to install from")
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
	if f.render == "" {
		return usagef(errApplyNotImplemented)
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
	v, err := f.trust.verifier(f.key)
	if err != nil {
		return err
	}
	// One reader for verification and planning: what is planned is what
	// was verified (a split set's parts included).
	pr := newMeter(s.err, "verify", g.quiet)
	r, _, err := mirror.OpenVerified(cmd.Context(), f.bundle, mirror.VerifyFileOptions{
		VerifyOptions: mirror.VerifyOptions{Key: v, AllowUnsigned: f.trust.allowUnsigned, Progress: pr.verified},
		FileOptions:   mirror.FileOptions{AllowRescan: f.trust.allowRescan, Opened: func(st bundle.Stats) { pr.Start(st.BlobBytes) }},
	})
	pr.Finish(err == nil)
	if err != nil {
		return fmt.Errorf("bundle %s: %w (bundle verify shows every check)", f.bundle, err)
	}
	defer r.Close()
	plan, err := install.NewPlan(cmd.Context(), install.FromBundle(r), install.Options{
		Registry: f.registry, PathMode: f.pathMode, Namespace: f.namespace, CNI: f.cni,
		PrometheusURL: f.prometheusURL, KubeVersion: f.kubeVersion,
	})
	if err != nil {
		return err
	}
	ms, err := install.Render(cmd.Context(), plan, f.render)
	if err != nil {
		return err
	}
	for _, m := range ms {
		fmt.Fprintf(s.err, "wrote %s\n", filepath.Join(f.render, m.File))
	}
	fmt.Fprintf(s.err, "rendered Istio %s (%s): %d steps into %s\n", plan.Istio, plan.Profile, len(ms), f.render)
	return nil
}
