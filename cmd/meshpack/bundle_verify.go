package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mirror"
)

func newBundleVerifyCmd(s streams, g *globalFlags) *cobra.Command {
	var (
		key    string
		output string
		trust  trustFlags
	)
	cmd := &cobra.Command{
		Use:   "verify BUNDLE (--key cosign.pub | --allow-unsigned)",
		Short: "Check every byte, the BOM and every signature, offline",
		Long: `verify reads the whole bundle (a single file, its first part NAME.000, or the
base name of a split set) and checks, without any network access: split parts
against NAME.sha256; that the tar stream is exactly the entries the TOC and
BOM list (every tar header, the padding and the trailer; nothing hidden
between entries); every blob against its digest; every metadata file
(index.json, meshpack/lock.yaml, …) against the sha256 the BOM records; every
manifest's blobs present; and the BOM signature and a signature by --key on
every image. A bundle that passes extracts with tar to exactly what the BOM
lists. It exits non-zero naming the first bad entry (digest, entry, offset,
artifact).

Without --key, verify refuses: pass --allow-unsigned to check digests and
structure only (anyone could have built such a bundle).`,
		Example: `  meshpack bundle verify mesh.tar.zst --key cosign.pub
  meshpack bundle verify mesh.tar.zst.000 --key cosign.pub -o json
  meshpack bundle verify apps.tar.zst --allow-unsigned`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(&output, formatText, formatJSON, formatYAML); err != nil {
				return err
			}
			v, err := trust.verifier(key)
			if err != nil {
				return err
			}
			pr := newMeter(s.err, "verify", g.quiet)
			rep, err := mirror.VerifyFile(cmd.Context(), args[0], mirror.VerifyFileOptions{
				VerifyOptions: mirror.VerifyOptions{Key: v, AllowUnsigned: trust.allowUnsigned, Progress: pr.verified},
				FileOptions:   trust.fileOptions(func(st bundle.Stats) { pr.Start(st.BlobBytes) }),
			})
			pr.Finish(err == nil)
			if rep != nil {
				if ok, werr := writeStructured(s.out, output, rep); !ok {
					printReport(s, rep)
				} else if werr != nil {
					return werr
				}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "cosign public key: verify the BOM signature and every image signature (required unless --allow-unsigned)")
	trust.register(cmd.Flags())
	outputFlag(cmd.Flags(), &output, formatText, formatText, formatJSON, formatYAML)
	return cmd
}

func printReport(s streams, rep *bundle.Report) {
	for _, c := range rep.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(s.out, "%s %-10s %s\n", mark, sanitize(c.Name), sanitize(c.Summary))
		for _, p := range c.Problems {
			fmt.Fprintf(s.out, "     - %s\n", sanitize(p.Error()))
		}
		if c.Count > len(c.Problems) {
			fmt.Fprintf(s.out, "     … and %d more\n", c.Count-len(c.Problems))
		}
	}
}
