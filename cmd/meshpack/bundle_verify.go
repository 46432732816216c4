package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/signing"
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
  meshpack bundle verify unsigned.tar.zst --allow-unsigned`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "text", "json"); err != nil {
				return err
			}
			v, err := trust.verifier(key)
			if err != nil {
				return err
			}
			rep, err := verifyBundle(cmd, s, g, args[0], v, trust)
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
	cmd.Flags().StringVar(&key, "key", "", "cosign public key: verify the BOM signature and every image signature (required unless --allow-unsigned)")
	trust.register(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "text", "report format: text|json")
	return cmd
}

// verifyBundle opens a bundle (checking split parts first) and verifies it.
func verifyBundle(cmd *cobra.Command, s streams, g *globalFlags, path string, key signing.Verifier, trust trustFlags) (*bundle.Report, error) {
	ctx := cmd.Context()
	var parts *bundle.Report
	if _, split := bundle.SplitBase(path); split {
		var err error
		// A failed parts check (a part or NAME.sha256 missing, altered or
		// not a regular file) is reported with the rest; any other error
		// (an interrupt) stops here.
		if parts, err = bundle.VerifyParts(ctx, path, bundle.VerifyOptions{}); err != nil && (parts == nil || parts.OK()) {
			return nil, err
		}
	}
	r, err := trust.open(path)
	if err != nil {
		return parts, err
	}
	defer r.Close()
	pr := newProgress(s.err, "verify", g.quiet)
	pr.Start(r.Stats().BlobBytes)
	rep, verr := mirror.Verify(ctx, r, mirror.VerifyOptions{Key: key, AllowUnsigned: trust.allowUnsigned, Progress: func(e bundle.Event) {
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
		fmt.Fprintf(s.out, "%s %-10s %s\n", mark, sanitize(c.Name), sanitize(c.Summary))
		for _, p := range c.Problems {
			fmt.Fprintf(s.out, "     - %s\n", sanitize(p.Error()))
		}
		if c.Count > len(c.Problems) {
			fmt.Fprintf(s.out, "     … and %d more\n", c.Count-len(c.Problems))
		}
	}
}
