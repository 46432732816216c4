package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/manifests"
)

// versionEntry is one Istio minor of the catalog as `versions` shows it.
type versionEntry struct {
	Istio      string                      `json:"istio"`
	Latest     string                      `json:"latest"`
	Patches    []string                    `json:"patches"`
	Status     string                      `json:"status"`
	Released   string                      `json:"released,omitempty"`
	EOL        string                      `json:"eol,omitempty"`
	Kubernetes manifests.KubernetesRange   `json:"kubernetes"`
	Kiali      manifests.KialiPairing      `json:"kiali"`
	GatewayAPI manifests.GatewayAPIPairing `json:"gatewayAPI"`
	Images     []string                    `json:"images"`
	ChartRepos []manifests.ChartRepo       `json:"chartRepos"`
	SignedBy   []manifests.SigningRule     `json:"signedBy,omitempty"`
	// Upstream is what --refresh found upstream for the minor.
	Upstream *upstreamPatch `json:"upstream,omitempty"`
}

func newVersionsCmd(s streams, g *globalFlags) *cobra.Command {
	var (
		output, catalog string
		refresh         bool
		net             netFlags
	)
	cmd := &cobra.Command{
		Use:   "versions",
		Short: "List the Istio + Kiali + Gateway API sets meshpack knows",
		Long: `versions prints the version catalog: for each Istio minor the patch a bare
minor resolves to with --catalog-only, the supported Kubernetes range, the
paired Kiali version and range, the Gateway API version it is tested with and
its bounds, and where charts and images come from.

--refresh also asks upstream, through --mirror, for the newest patch of each
supported minor that is published completely: in the minor's Helm chart index
(base and istiod) with its pilot and proxyv2 image tags in the registry, as
'resolve --istio MINOR' does. A minor upstream cannot answer for is reported on
stderr; if none answers, versions fails.`,
		Example: `  meshpack versions
  meshpack versions -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(&output, formatText, formatJSON, formatYAML); err != nil {
				return err
			}
			if err := net.check(); err != nil {
				return err
			}
			cat, err := (&specFlags{catalog: catalog}).loadCatalog()
			if err != nil {
				return err
			}
			entries := catalogEntries(cat, time.Now())
			if refresh {
				if err := refreshEntries(cmd.Context(), s, g, &net, cat, entries); err != nil {
					return err
				}
			}
			if ok, err := writeStructured(s.out, output, entries); ok {
				return err
			}
			return versionsTable(s, entries, refresh)
		},
	}
	outputFlag(cmd.Flags(), &output, formatText, formatText, formatJSON, formatYAML)
	cmd.Flags().StringVar(&catalog, "catalog", "", "version catalog YAML to use instead of the embedded one")
	cmd.Flags().BoolVar(&refresh, "refresh", false, "ask upstream (chart index and image tags) for the newest published patch of each supported minor")
	net.register(cmd.Flags(), true)
	return cmd
}

// catalogEntries lists the catalog newest first; a release whose EOL date
// has passed shows as eol whatever the catalog says.
func catalogEntries(cat *manifests.Catalog, now time.Time) []versionEntry {
	out := make([]versionEntry, 0, len(cat.Istio))
	for i := len(cat.Istio) - 1; i >= 0; i-- {
		r := cat.Istio[i]
		status := r.Status
		if r.EOL != "" && r.EOL < now.Format(time.DateOnly) {
			status = manifests.StatusEOL
		}
		out = append(out, versionEntry{
			Istio: r.Minor, Latest: r.Latest, Patches: r.Patches, Status: status, Released: r.Released, EOL: r.EOL,
			Kubernetes: r.Kubernetes, Kiali: r.Kiali, GatewayAPI: r.GatewayAPI, Images: r.Images,
			ChartRepos: r.Charts.Repos, SignedBy: r.Signing,
		})
	}
	return out
}

func versionsTable(s streams, entries []versionEntry, refresh bool) error {
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	upstreamCol := ""
	if refresh {
		upstreamCol = "UPSTREAM\t"
	}
	fmt.Fprintln(tw, "ISTIO\tLATEST\t"+upstreamCol+"STATUS\tKUBERNETES\tKIALI\tKIALI RANGE\tGATEWAY API\tGW BOUNDS\tCHARTS")
	for _, e := range entries {
		latest := e.Latest
		if refresh {
			latest += "\t" + e.Upstream.column()
		}
		status := e.Status
		if e.EOL != "" {
			status += " (" + e.EOL + ")"
		}
		bounds := strings.TrimSpace(prefixed(">=", e.GatewayAPI.Min) + " " + prefixed("<=", e.GatewayAPI.Max))
		if bounds == "" {
			bounds = "-"
		}
		repo := "-"
		if len(e.ChartRepos) > 0 {
			repo = e.ChartRepos[0].URL
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s-%s\t%s\t%s\t%s %s\t%s\t%s\n", e.Istio, latest, status,
			e.Kubernetes.Min, e.Kubernetes.Max, e.Kiali.Recommended, e.Kiali.Range,
			e.GatewayAPI.Tested, e.GatewayAPI.Channel, bounds, repo)
	}
	return tw.Flush()
}

func prefixed(prefix, v string) string {
	if v == "" {
		return ""
	}
	return prefix + v
}
