package main

import (
	"bytes"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/atomicfile"
	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/manifests/resolve"
	"github.com/lattice-mesh/meshpack/pack"
)

// resolveFlags are the flags and argument of resolve.
type resolveFlags struct {
	spec   specFlags
	net    netFlags
	output string
	file   string // LOCK, the positional argument
}

func newResolveCmd(s streams, g *globalFlags) *cobra.Command {
	var f resolveFlags
	cmd := &cobra.Command{
		Use:   "resolve [LOCK] (-f mesh.yaml | --istio VERSION ...)",
		Short: "Pin a spec to exact digests: images, charts and files (writes a lock)",
		Long: `resolve picks the exact Istio + Kiali + Gateway API set for the spec, downloads
the charts, discovers every image by rendering them (plus the images istiod
injects at run time: proxyv2 for sidecars, gateways and waypoints), cross-checks
the catalog, and pins every image to its index and per-platform digests, every
chart and file to its sha256. The lock is what 'bundle create --lock' rebuilds.
With Kiali the lock also pins the Prometheus Kiali reads: the manifest Istio
ships for it (samples/addons/prometheus.yaml of the Istio release, checked
against the catalog's sha256) and the images it names; --prometheus-url URL
names an existing Prometheus instead, and none is carried.

A bare minor (--istio 1.30) resolves to the newest patch Istio has published:
the newest version in the minor's Helm chart index whose images are all tagged
in the registry (a chart without its images is never picked), both read
through --mirror. The minor's catalog rules (Kubernetes range, Kiali and
Gateway API pairings, the Gateway API release's own Kubernetes floor) are
checked first, before any request. A patch the catalog has never seen is
allowed with a note; a minor it does not know needs --allow-unsupported.
--catalog-only takes the catalog's newest patch instead and asks upstream
nothing about versions (reproducible CI); an exact --istio 1.30.3 stays exact.
If upstream cannot be read, resolve fails and says so: it never falls back
silently. The lock's set.resolvedFrom records which way the patch was chosen
and why.

The lock goes to the file LOCK (a summary to stderr), or to stdout without it;
-o picks its format: yaml (the default) or json. Both read back with --lock.

User content travels beside the mesh, pinned like it: --chart REPO_URL/NAME@VERSION
(a Helm HTTP repository: the .tgz by sha256) or oci://HOST/PATH/NAME@VERSION (by
manifest digest), whose images are found by rendering the chart offline with its
default values (--chart-values NAME=FILE overlays a values file); --extra-file
URL[#sha256=HEX] (downloaded once and pinned by sha256; with #sha256= the download
must match); --manifest FILE_OR_URL (a Kubernetes YAML manifest, carried as a file,
and the image of every Pod template in it). The spec's extraCharts,
extraChartValues, extraFiles and extraManifests say the same; local paths in a
spec are relative to the spec.`,
		Example: `  meshpack resolve mesh.lock.yaml --istio 1.30 --profile ambient --kiali
  meshpack resolve --istio 1.30 -o json
  meshpack resolve --istio 1.30 --kiali --prometheus-url http://prometheus.monitoring:9090  # Kiali reads that one: no Prometheus carried
  meshpack resolve ci.lock.yaml --istio 1.30 --catalog-only  # the catalog's newest patch, reproducible
  meshpack resolve mesh.lock.yaml -f mesh.yaml --mirror docker.io=nexus.example.com/dockerhub
  meshpack resolve team.lock.yaml --istio none --chart https://downloads.example.com/charts/webapp@0.3.0 --chart oci://harbor.example.com/team/charts/webapp@0.4.0 --extra-file https://downloads.example.com/files/mesh-dashboard.json  # a team's content`,
		Args: func(cmd *cobra.Command, args []string) error {
			files, err := f.spec.fileArgs(cmd, args, 1)
			if len(files) == 1 {
				f.file = files[0]
			}
			return err
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return runResolve(cmd, s, g, &f) },
	}
	f.spec.register(cmd.Flags())
	f.net.register(cmd.Flags(), true)
	outputFlag(cmd.Flags(), &f.output, formatYAML, formatYAML, formatJSON)
	return cmd
}

// runResolve checks every flag and the output path, then resolves with one
// client and writes the lock.
func runResolve(cmd *cobra.Command, s streams, g *globalFlags, f *resolveFlags) error {
	if f.output == "-" { // the old spelling of stdout
		f.output = formatYAML
	}
	file, err := outputFile(s, "meshpack resolve", f.file, &f.output, formatYAML)
	if err != nil {
		return err
	}
	if err := checkOutput(&f.output, formatYAML, formatJSON); err != nil {
		return usagef("%v (the lock file is the argument: meshpack resolve mesh.lock.yaml …)", err)
	}
	if file == "-" {
		file = ""
	}
	if file != "" {
		if err := pack.CheckOutput(file, false); err != nil {
			return err
		}
	}
	if err := f.net.check(); err != nil {
		return err
	}
	mirrors, err := f.net.parsedMirrors()
	if err != nil {
		return err
	}
	spec, err := f.spec.spec(cmd, mirrors)
	if err != nil {
		return err
	}
	cat, err := f.spec.loadCatalog()
	if err != nil {
		return err
	}
	log := g.logger(s)
	c, err := f.net.client(s.in, spec.Mirrors, log)
	if err != nil {
		return err
	}
	lock, err := resolve.Resolve(cmd.Context(), spec, resolve.Options{
		Catalog: cat, Client: c, AllowUnsupported: f.spec.allowUnsupported, Discover: !f.spec.catalogOnly,
		Logger: log, Progress: logPinned(log),
	})
	if err != nil {
		return err
	}
	printIstioChoice(s.err, lock)
	var data []byte
	if f.output == formatYAML {
		data, err = lock.Marshal()
	} else {
		var buf bytes.Buffer
		_, err = writeStructured(&buf, f.output, lock)
		data = buf.Bytes()
	}
	if err != nil {
		return err
	}
	if file == "" {
		_, err = s.out.Write(data)
		return err
	}
	if err := atomicfile.WriteFile(file, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	printLockSummary(s.err, lock)
	fmt.Fprintf(s.err, "wrote %s\n", file)
	return nil
}

// printIstioChoice says which Istio patch was chosen and why.
func printIstioChoice(w io.Writer, l *manifests.Lock) {
	rf := l.Set.ResolvedFrom
	if rf == nil || rf.Source == manifests.IstioFromExact {
		return
	}
	fmt.Fprintf(w, "istio %s -> %s (%s): %s\n", rf.Requested, l.Set.Istio, rf.Source, rf.Reason)
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
