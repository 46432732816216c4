package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/cluster"
)

type uninstallFlags struct {
	kube      kubeFlags
	purgeCRDs bool
	output    string
}

func newUninstallCmd(s streams, g *globalFlags) *cobra.Command {
	var f uninstallFlags
	cmd := &cobra.Command{
		Use:   "uninstall [-n NAMESPACE] [--purge-crds]",
		Short: "Remove the mesh meshpack installed, in reverse order; CRDs stay unless --purge-crds",
		Long: `uninstall removes the Helm releases meshpack install made — kiali-server, the
ingress gateway, ztunnel, cni, istiod, base — in reverse install order (the
releases named by the install record, ConfigMap meshpack-install, else the
default names), then the record. Releases already gone are skipped, so a re-run
after an interruption finishes the job.

CRDs stay, as Istio's docs advise: deleting a CRD deletes every resource of its
kind (every VirtualService, Gateway, HTTPRoute…). --purge-crds deletes Istio's
CRDs and the Gateway API CRDs meshpack applied too.`,
		Example: `  meshpack uninstall --kubeconfig enclave.kubeconfig
  meshpack uninstall -n istio-system --purge-crds`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(&f.output, formatText, formatJSON, formatYAML); err != nil {
				return err
			}
			res, err := cluster.Uninstall(cmd.Context(), cluster.UninstallOptions{
				Kube: f.kube.kube(), Namespace: f.kube.namespace, PurgeCRDs: f.purgeCRDs, Log: stepLogger(s, g),
			})
			if res == nil {
				return err
			}
			if ok, werr := writeStructured(s.out, f.output, res); ok {
				if werr != nil {
					return werr
				}
				return err
			}
			fmt.Fprintf(s.out, "uninstalled %d releases", len(res.Releases))
			if f.purgeCRDs {
				fmt.Fprintf(s.out, ", deleted %d CRDs", len(res.CRDs))
			}
			fmt.Fprintln(s.out)
			return err
		},
	}
	fs := cmd.Flags()
	f.kube.register(fs)
	fs.BoolVar(&f.purgeCRDs, "purge-crds", false, "also delete Istio's CRDs and the Gateway API CRDs meshpack applied, with every resource of their kinds")
	outputFlag(fs, &f.output, formatText, formatText, formatJSON, formatYAML)
	return cmd
}
