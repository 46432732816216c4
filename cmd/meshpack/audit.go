package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/cluster"
)

type auditCmdFlags struct {
	kube   kubeFlags
	output string
}

// errAuditFailed is the exit-1 error of an audit that found offenders (the
// report is already printed).
var errAuditFailed = errors.New("audit failed")

func newAuditCmd(s streams) *cobra.Command {
	var f auditCmdFlags
	cmd := &cobra.Command{
		Use:   "audit [-n NAMESPACE] [-o text|json|yaml]",
		Short: "Check that every image the mesh runs is pinned by digest to the internal registry",
		Long: `audit lists every container and init container of every Pod and pod template
(Deployments, DaemonSets, StatefulSets, ReplicaSets, Jobs, CronJobs) in the
mesh's namespaces, and every injected istio-proxy container (with Istio's init
containers) in any namespace. Each image must be one meshpack install pinned:
REGISTRY/…@sha256:<the bundle's digest>, as recorded in ConfigMap
meshpack-install. Offenders are printed and the exit status is 1.`,
		Example: `  meshpack audit
  meshpack audit --kubeconfig enclave.kubeconfig -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(&f.output, formatText, formatJSON, formatYAML); err != nil {
				return err
			}
			rep, err := cluster.Audit(cmd.Context(), cluster.AuditOptions{Kube: f.kube.kube(), Namespace: f.kube.namespace})
			if err != nil {
				return err
			}
			if rep.Offenders == nil {
				rep.Offenders = []cluster.Offender{}
			}
			if ok, werr := writeStructured(s.out, f.output, rep); !ok {
				for _, o := range rep.Offenders {
					init := ""
					if o.Init {
						init = " (init)"
					}
					fmt.Fprintf(s.out, "%s %s/%s container %s%s: %s\n", o.Kind, o.Namespace, sanitize(o.Name), sanitize(o.Container), init, sanitize(o.Image))
				}
				fmt.Fprintf(s.out, "%d containers checked (every one in %s; injected proxies in every namespace): %d not pinned\n", rep.Containers, strings.Join(rep.Namespaces, ", "), len(rep.Offenders))
			} else if werr != nil {
				return werr
			}
			if len(rep.Offenders) > 0 {
				return errAuditFailed
			}
			return nil
		},
	}
	f.kube.register(cmd.Flags())
	outputFlag(cmd.Flags(), &f.output, formatText, formatText, formatJSON, formatYAML)
	return cmd
}
