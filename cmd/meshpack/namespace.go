package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/cluster"
)

func newNamespaceCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "namespace",
		Aliases: []string{"ns"},
		Short:   "Enrol namespaces in the mesh, one team at a time",
		Args:    cobra.NoArgs,
	}
	for _, add := range []bool{true, false} {
		cmd.AddCommand(newNamespaceChangeCmd(s, add))
	}
	cmd.AddCommand(newNamespaceListCmd(s))
	return cmd
}

func newNamespaceChangeCmd(s streams, add bool) *cobra.Command {
	var kf kubeFlags
	var output string
	use, short, example := "add NAMESPACE...", "Enrol namespaces: sidecar injection or ambient, as the install's profile says", "  meshpack namespace add team-a team-b"
	if !add {
		use, short, example = "remove NAMESPACE...", "Take namespaces out of the mesh (their pods leave it on restart in sidecar mode)", "  meshpack namespace remove team-b"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: short + `.

Sidecar mode labels the namespace istio-injection=enabled and lists the pods
that need a restart to get (or, on remove, lose) their proxy; ambient mode sets
istio.io/dataplane-mode=ambient and needs no restart. remove deletes those
labels (and istio.io/rev).`,
		Example: example,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(&output, formatText, formatJSON, formatYAML); err != nil {
				return err
			}
			opts := cluster.NamespaceOptions{Kube: kf.kube(), Namespace: kf.namespace, Names: args}
			run := cluster.AddNamespaces
			if !add {
				run = cluster.RemoveNamespaces
			}
			infos, err := run(cmd.Context(), opts)
			if ok, werr := writeStructured(s.out, output, infos); ok {
				if werr != nil {
					return werr
				}
				return err
			}
			verb := "enrolled"
			if !add {
				verb = "removed"
			}
			for _, in := range infos {
				fmt.Fprintf(s.out, "%s %s (%s)\n", verb, in.Name, in.Mode)
				if len(in.Restart) > 0 {
					fmt.Fprintf(s.out, "  restart to apply: %s\n", sanitize(strings.Join(in.Restart, ", ")))
				}
			}
			return err
		},
	}
	kf.register(cmd.Flags())
	outputFlag(cmd.Flags(), &output, formatText, formatText, formatJSON, formatYAML)
	return cmd
}

func newNamespaceListCmd(s streams) *cobra.Command {
	var kf kubeFlags
	var output string
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the enrolled namespaces and their mode",
		Example: "  meshpack namespace list -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(&output, formatText, formatJSON, formatYAML); err != nil {
				return err
			}
			infos, err := cluster.ListNamespaces(cmd.Context(), kf.kube())
			if err != nil {
				return err
			}
			if infos == nil {
				infos = []cluster.NamespaceInfo{}
			}
			if ok, werr := writeStructured(s.out, output, infos); ok {
				return werr
			}
			for _, in := range infos {
				rev := ""
				if in.Revision != "" {
					rev = " revision " + in.Revision
				}
				fmt.Fprintf(s.out, "%s\t%s%s\n", in.Name, in.Mode, sanitize(rev))
			}
			return nil
		},
	}
	kf.register(cmd.Flags())
	outputFlag(cmd.Flags(), &output, formatText, formatText, formatJSON, formatYAML)
	return cmd
}
