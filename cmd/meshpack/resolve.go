package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/resolve"
)

func newResolveCmd(s streams, g *globalFlags) *cobra.Command {
	var (
		sf  specFlags
		nf  netFlags
		out string
	)
	cmd := &cobra.Command{
		Use:   "resolve",
		Short: "Pin a spec to exact digests: images, charts and files (writes a lock)",
		Long: `resolve picks the exact Istio + Kiali + Gateway API set for the spec, downloads
the charts, discovers every image by rendering them (plus the images istiod
injects at run time: proxyv2 for sidecars, gateways and waypoints), cross-checks
the catalog, and pins every image to its index and per-platform digests, every
chart and file to its sha256. The lock is what 'bundle create --lock' rebuilds.`,
		Example: `  meshpack resolve --istio 1.30 --profile ambient --kiali -o mesh.lock.yaml
  meshpack resolve -f mesh.yaml --mirror docker.io=nexus.example.com/dockerhub -o mesh.lock.yaml`,
		Args: func(cmd *cobra.Command, args []string) error { return sf.versionArgs(cmd, args) },
		RunE: func(cmd *cobra.Command, _ []string) error {
			lock, _, err := runResolve(cmd, s, g, &sf, &nf)
			if err != nil {
				return err
			}
			data, err := lock.Marshal()
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = s.out.Write(data)
				return err
			}
			if err := writeFileAtomic(out, data, 0o644); err != nil {
				return err
			}
			printLockSummary(s.err, lock)
			fmt.Fprintf(s.err, "wrote %s\n", out)
			return nil
		},
	}
	sf.register(cmd.Flags())
	nf.register(cmd.Flags(), true)
	cmd.Flags().StringVarP(&out, "output", "o", "", "lock file to write (default stdout)")
	return cmd
}

// runResolve builds the spec from flags and resolves it; it returns the
// spec too (its mirrors apply to everything fetched afterwards).
func runResolve(cmd *cobra.Command, s streams, g *globalFlags, sf *specFlags, nf *netFlags) (*manifests.Lock, manifests.Spec, error) {
	log := g.logger(s)
	mirrors, err := nf.parsedMirrors()
	if err != nil {
		return nil, manifests.Spec{}, err
	}
	spec, err := sf.spec(cmd, mirrors)
	if err != nil {
		return nil, spec, err
	}
	cat, err := sf.loadCatalog()
	if err != nil {
		return nil, spec, err
	}
	c, err := nf.client(s.in, spec.Mirrors, log, currentBuild().Version)
	if err != nil {
		return nil, spec, err
	}
	lock, err := resolve.Resolve(cmd.Context(), spec, resolve.Options{
		Catalog: cat, Client: c, AllowUnsupported: sf.allowUnsupported, Logger: log,
		Progress: func(e resolve.Event) { log.Debug("pinned", "kind", e.Kind, "name", e.Name, "digest", e.Digest) },
	})
	return lock, spec, err
}

func printLockSummary(w io.Writer, l *manifests.Lock) {
	set := l.Set
	if set.Istio != "" {
		fmt.Fprintf(w, "istio %s (%s, %v)", set.Istio, set.Profile, set.Variants)
		if set.Kiali != "" {
			fmt.Fprintf(w, ", kiali %s", set.Kiali)
		}
		if set.GatewayAPI != "" {
			fmt.Fprintf(w, ", gateway-api %s %s", set.GatewayAPI, set.GatewayAPIChannel)
		}
		fmt.Fprintf(w, ", kubernetes %s-%s\n", set.Kubernetes.Min, set.Kubernetes.Max)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tSOURCE\tDIGEST")
	for _, i := range l.Images {
		fmt.Fprintf(tw, "image\t%s\t%s\t%s\n", i.Name, i.Reference, i.Digest)
	}
	for _, c := range l.Charts {
		fmt.Fprintf(tw, "chart\t%s %s\t%s\t%s\n", c.Name, c.Version, c.Source, c.Digest)
	}
	for _, f := range l.Files {
		fmt.Fprintf(tw, "file\t%s\t%s\t%s\n", f.Name, f.Source, f.Digest)
	}
	tw.Flush()
	for _, n := range l.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

// writeFileAtomic writes data to a temp file next to path, syncs and renames.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.partial")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
