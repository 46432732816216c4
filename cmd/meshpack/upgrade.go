package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/cluster"
)

func newUpgradeCmd(s streams, g *globalFlags) *cobra.Command {
	f := &installFlags{}
	cmd := newInstallLikeCmd(s, g, f)
	cmd.Use = "upgrade --bundle NEW --registry HOST[:PORT][/PREFIX] (--key cosign.pub | --allow-unsigned) [--canary]"
	cmd.Short = "Upgrade the mesh to a newer bundle: in place, or as a canary revision beside the running one"
	cmd.Long = `upgrade installs a newer bundle over the running mesh. Without --canary it is
install: every release is upgraded in place, in install order.

With --canary (Istio's recommended path) the new istiod is installed as a
revision beside the old one — release istiod-1-30-4 for Istio 1.30.4, every image
digest-pinned like install — while base (CRDs), cni, ztunnel (ambient: pointed
at the new revision, Istio's documented order), the gateway and Kiali are
upgraded in place. Enrolled namespaces stay on the old control plane until:

  upgrade promote    points the revision tag (default) at the canary: pods get
                     the new proxy when they restart; lists those still on the old
  upgrade rollback   points the tag back at the old revision
  upgrade finish     removes the old revision once the tag points at the canary
                     and no pod runs the old proxy (refuses otherwise)

The preflight, --wait, --render and every flag of install apply.`
	cmd.Example = `  meshpack upgrade --bundle mesh-1.30.4.tar.zst --registry registry.internal:5000/mesh --key cosign.pub --canary --kubeconfig enclave.kubeconfig`
	cmd.Flags().BoolVar(&f.canary, "canary", false, "install the new istiod as a revision beside the running one (then upgrade promote, finish)")
	for _, step := range []string{"promote", "rollback", "finish"} {
		cmd.AddCommand(newCanaryStepCmd(s, g, step))
	}
	return cmd
}

func newCanaryStepCmd(s streams, g *globalFlags, step string) *cobra.Command {
	var kf kubeFlags
	var tag, output string
	short := map[string]string{
		"promote":  "Point a revision tag (default: default) at the canary revision",
		"rollback": "Point a revision tag back at the old revision",
		"finish":   "Remove the old revision once nothing uses it",
	}[step]
	cmd := &cobra.Command{
		Use:     step,
		Short:   short,
		Long:    short + ". See meshpack upgrade --help for the whole canary path.",
		Example: "  meshpack upgrade " + step + " --kubeconfig enclave.kubeconfig",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(&output, formatText, formatJSON, formatYAML); err != nil {
				return err
			}
			opts := cluster.CanaryOptions{Kube: kf.kube(), Namespace: kf.namespace, Tag: tag, Log: stepLogger(s, g)}
			run := map[string]func(ctx context.Context, o cluster.CanaryOptions) (*cluster.CanaryResult, error){
				"promote": cluster.Promote, "rollback": cluster.Rollback, "finish": cluster.Finish,
			}[step]
			res, err := run(cmd.Context(), opts)
			if res == nil {
				return err
			}
			if ok, werr := writeStructured(s.out, output, res); ok {
				if werr != nil {
					return werr
				}
				return err
			}
			for _, p := range res.OldProxies {
				fmt.Fprintf(s.out, "still on the old proxy (restart to move): %s\n", sanitize(p))
			}
			for _, r := range res.Removed {
				fmt.Fprintf(s.out, "removed release %s\n", r)
			}
			return err
		},
	}
	kf.register(cmd.Flags())
	if step != "finish" {
		cmd.Flags().StringVar(&tag, "tag", cluster.TagDefault, "the revision tag to move (default is the one istio-injection=enabled namespaces use)")
	}
	outputFlag(cmd.Flags(), &output, formatText, formatText, formatJSON, formatYAML)
	return cmd
}
