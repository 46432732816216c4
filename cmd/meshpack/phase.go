package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/atomicfile"
	"github.com/lattice-mesh/meshpack/cluster"
)

func newPhaseCmd(s streams, g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "phase",
		Short: "Adopt the mesh in phases: observability, mtls-strict, traffic, authz",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newPhaseSetCmd(s, g))
	return cmd
}

type phaseFlags struct {
	render    string
	enrolled  []string
	kube      kubeFlags
	waypoints []string
	force     bool
	output    string
}

func newPhaseSetCmd(s streams, g *globalFlags) *cobra.Command {
	var f phaseFlags
	cmd := &cobra.Command{
		Use:   "set PHASE",
		Short: "Move the mesh to an adoption phase (forward or back)",
		Long: `phase set applies the resources of an adoption phase, and of the phases before
it, server-side, and removes the resources of later phases meshpack created —
only objects labelled app.kubernetes.io/managed-by=meshpack and
meshpack.lattice.dev/phase, never one a user made. Applying the current phase
again changes nothing.

  observability  mesh-wide PeerAuthentication PERMISSIVE; a mesh-wide Telemetry
                 with Prometheus metrics (what the Prometheus install puts beside
                 Kiali scrapes, or the one --prometheus-url named) and Envoy
                 access logs
  mtls-strict    the mesh-wide PeerAuthentication STRICT; refused (without
                 --force) while pods outside the mesh would be cut off, listing them
  traffic        an ingress Gateway (Gateway API, class istio, in istio-ingress;
                 istiod runs it with the pinned proxy); a waypoint in each
                 --waypoint namespace (ambient); mesh-wide connection-pool and
                 outlier-detection defaults (DestinationRule *.local)
  authz          default deny, with allow rules for the mesh's own namespaces,
                 istio-ingress, kube-system and same-namespace traffic

install sets observability on a first install (install --phase chooses).`,
		Example: `  meshpack phase set mtls-strict
  meshpack phase set traffic --kubeconfig enclave.kubeconfig -o json
  meshpack phase set observability
  meshpack phase set authz --render gitops-phases --enrolled team-a`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(&f.output, formatText, formatJSON, formatYAML); err != nil {
				return err
			}
			if cluster.PhaseRank(args[0]) < 0 {
				return usagef("phase %q: want one of %s", args[0], strings.Join(cluster.Phases, ", "))
			}
			if f.render != "" {
				return renderPhase(s, args[0], &f)
			}
			opts := cluster.PhaseOptions{Kube: f.kube.kube(), Namespace: f.kube.namespace, Phase: args[0], Force: f.force, Log: stepLogger(s, g)}
			if cmd.Flags().Changed("waypoint") {
				opts.Waypoints = f.waypoints
			}
			res, err := cluster.SetPhase(cmd.Context(), opts)
			if res != nil {
				if ok, werr := writeStructured(s.out, f.output, res); ok {
					if werr != nil {
						return werr
					}
				} else {
					printPhase(s, res)
				}
			}
			return err
		},
	}
	f.kube.register(cmd.Flags())
	cmd.Flags().StringArrayVar(&f.waypoints, "waypoint", nil, "traffic phase, ambient: give this namespace a waypoint for L7 (repeatable; replaces the recorded list)")
	cmd.Flags().StringVar(&f.render, "render", "", "write the phase's resources into this directory (phase-PHASE.yaml) instead of applying them; no cluster needed")
	cmd.Flags().StringArrayVar(&f.enrolled, "enrolled", nil, "with --render: an enrolled namespace, for authz's same-namespace allow rule (repeatable)")
	cmd.Flags().BoolVar(&f.force, "force", false, "apply mtls-strict although pods outside the mesh would be cut off")
	outputFlag(cmd.Flags(), &f.output, formatText, formatText, formatJSON, formatYAML)
	return cmd
}

func printPhase(s streams, res *cluster.PhaseResult) {
	for _, r := range res.AtRisk {
		fmt.Fprintf(s.out, "at risk under strict mTLS: %s\n", sanitize(r))
	}
	for _, d := range res.Denied {
		fmt.Fprintf(s.out, "authz denies: %s\n", sanitize(d))
	}
	for _, a := range res.Applied {
		fmt.Fprintf(s.out, "applied %s\n", sanitize(a))
	}
	for _, d := range res.Deleted {
		fmt.Fprintf(s.out, "deleted %s\n", sanitize(d))
	}
	from := res.From
	if from == "" {
		from = "none"
	}
	fmt.Fprintf(s.out, "phase %s (was %s): %d resources applied, %d deleted\n", res.Phase, from, len(res.Applied), len(res.Deleted))
}

// renderPhase writes DIR/phase-PHASE.yaml.
func renderPhase(s streams, phase string, f *phaseFlags) error {
	data, err := cluster.PhaseManifest(phase, cluster.PhaseConfig{Namespace: f.kube.namespace, Enrolled: f.enrolled, Waypoints: f.waypoints})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(f.render, 0o755); err != nil {
		return err
	}
	name := filepath.Join(f.render, "phase-"+phase+".yaml")
	if err := atomicfile.WriteFile(name, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(s.err, "wrote %s\n", name)
	return nil
}
