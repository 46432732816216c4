package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/signing"
)

func newBundleVerifyCmd(s streams, g *globalFlags) *cobra.Command {
	var (
		key    string
		output string
	)
	cmd := &cobra.Command{
		Use:   "verify BUNDLE [--key cosign.pub]",
		Short: "Check every blob, the BOM and (with --key) every signature, offline",
		Long: `verify reads the whole bundle (a single file, its first part NAME.000, or the
base name of a split set) and checks, without any network access: split parts
against NAME.sha256, every blob against its digest, the BOM against the
layout, every manifest's blobs present, and with --key the BOM signature and a
signature by that key on every image. It exits non-zero naming the first bad
entry (digest, entry, offset, artifact).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "text", "json"); err != nil {
				return err
			}
			var v signing.Verifier
			if key != "" {
				pem, err := os.ReadFile(key)
				if err != nil {
					return usagef("--key: %v", err)
				}
				if v, err = signing.LoadVerifier(pem); err != nil {
					return fmt.Errorf("--key %s: %w", key, err)
				}
			}
			rep, err := verifyBundle(cmd, s, g, args[0], v)
			if rep != nil {
				if ok, werr := writeStructured(s.out, output, rep); ok {
					if werr != nil {
						return werr
					}
				} else {
					printReport(s, rep)
				}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "cosign public key: also verify the BOM signature and every image signature")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "report format: text|json")
	return cmd
}

// verifyBundle opens a bundle (checking split parts first) and verifies it.
func verifyBundle(cmd *cobra.Command, s streams, g *globalFlags, path string, key signing.Verifier) (*bundle.Report, error) {
	ctx := cmd.Context()
	var parts *bundle.Report
	if _, split := bundle.SplitBase(path); split {
		var err error
		if parts, err = bundle.VerifyParts(ctx, path, bundle.VerifyOptions{}); err != nil && parts == nil {
			return nil, err
		}
	}
	r, err := bundle.Open(path)
	if err != nil {
		return parts, err
	}
	defer r.Close()
	pr := newProgress(s.err, "verify", g.quiet)
	pr.Start(r.Stats().BlobBytes)
	rep, verr := mirror.Verify(ctx, r, mirror.VerifyOptions{Key: key, Progress: func(e bundle.Event) {
		if e.Kind == bundle.EventBlobVerified {
			pr.Add(e.Descriptor.Size)
		}
	}})
	pr.Finish(verr == nil)
	if parts != nil && rep != nil {
		rep.Checks = append(parts.Checks, rep.Checks...)
	}
	if verr == nil && parts != nil && !parts.OK() {
		verr = fmt.Errorf("%w: %s", mirror.ErrVerify, parts.First().Error())
	}
	return rep, verr
}

func printReport(s streams, rep *bundle.Report) {
	for _, c := range rep.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(s.out, "%s %-10s %s\n", mark, c.Name, c.Summary)
		for _, p := range c.Problems {
			fmt.Fprintf(s.out, "     - %s\n", p.Error())
		}
		if c.Count > len(c.Problems) {
			fmt.Fprintf(s.out, "     … and %d more\n", c.Count-len(c.Problems))
		}
	}
}
