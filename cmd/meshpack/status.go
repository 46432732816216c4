package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/cluster"
)

func newStatusCmd(s streams) *cobra.Command {
	var kf kubeFlags
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the installed mesh: set, releases, revisions, phase, namespaces, drift",
		Long: `status reads the install record (ConfigMap meshpack-install), the Helm releases,
the istiod revisions, the adoption phase and the enrolled namespaces, and lists
drift: any mesh image that is not a pinned bundle digest (the audit check), a
release that is not deployed, and any phase resource missing or changed by hand.
The exit status is 0 with drift too: drift is reported, audit fails on it.`,
		Example: "  meshpack status\n  meshpack status -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(&output, formatText, formatJSON, formatYAML); err != nil {
				return err
			}
			rep, err := cluster.Status(cmd.Context(), kf.kube(), kf.namespace)
			if err != nil {
				return err
			}
			if ok, werr := writeStructured(s.out, output, rep); ok {
				return werr
			}
			if !rep.Installed {
				fmt.Fprintf(s.out, "no mesh installed by meshpack in %s\n", kf.namespace)
				return nil
			}
			r := rep.Record
			fmt.Fprintf(s.out, "Istio %s (%s) from bundle %s, images in %s\n", r.Istio, r.Profile, r.Bundle, r.Registry)
			for _, rel := range rep.Releases {
				fmt.Fprintf(s.out, "release %-22s %-13s chart %-8s revision %d %s\n", rel.Name, rel.Namespace, rel.Chart, rel.Revision, rel.Status)
			}
			fmt.Fprintf(s.out, "revisions: %v\nphase: %s\n", rep.Revisions, rep.Phase)
			for _, n := range rep.Namespaces {
				fmt.Fprintf(s.out, "namespace %s (%s)\n", n.Name, n.Mode)
			}
			for _, d := range rep.Drift {
				fmt.Fprintf(s.out, "drift: %s\n", sanitize(d))
			}
			if len(rep.Drift) == 0 {
				fmt.Fprintln(s.out, "no drift")
			}
			return nil
		},
	}
	kf.register(cmd.Flags())
	outputFlag(cmd.Flags(), &output, formatText, formatText, formatJSON, formatYAML)
	return cmd
}
