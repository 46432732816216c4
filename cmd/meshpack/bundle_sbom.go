package main

import (
	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/atomicfile"
	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/signing"
)

func newBundleSBOMCmd(s streams) *cobra.Command {
	var (
		key, sigFile string
		trust        trustFlags
	)
	cmd := &cobra.Command{
		Use:   "sbom BUNDLE [FILE]",
		Short: "Print or save the bundle's CycloneDX SBOM (signed like the BOM)",
		Long: `sbom writes meshpack/sbom.cdx.json of BUNDLE exactly as stored: a CycloneDX 1.6
JSON document listing every image (with each platform manifest), chart, file,
cosign signature and upstream SBOM or attestation the bundle carries, with
package URLs (pkg:oci/…?repository_url=…&tag=…), SHA-256 hashes, the upstream
source and what each passed at create (meshpack:check properties). It goes to
standard output, or to FILE when one is given.

--signature FILE writes the SBOM's signature (what cosign sign-blob writes), so
that anyone can check it with the bundle's public key:
  cosign verify-blob --key cosign.pub --signature FILE --insecure-ignore-tlog sbom.cdx.json
With --key, sbom checks that signature itself before writing anything. The
BOM lists the SBOM and its signature, so bundle verify proves them with the
rest of the bundle; after bundle load every image in the registry lists the
SBOM as an OCI referrer (artifactType application/vnd.cyclonedx+json).`,
		Example: `  meshpack bundle sbom mesh.tar.zst
  meshpack bundle sbom mesh.tar.zst sbom.cdx.json --signature sbom.cdx.json.sig --key cosign.pub`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var v signing.Verifier
			if key != "" {
				var err error
				if v, err = trust.verifier(key); err != nil {
					return err
				}
			}
			r, err := bundle.OpenWith(args[0], bundle.ReaderOptions{AllowRescan: trust.allowRescan})
			if err != nil {
				return err
			}
			defer r.Close()
			doc, sig, err := mirror.SBOM(cmd.Context(), r, v)
			if err != nil {
				return err
			}
			if sigFile != "" && sig == nil {
				return usagef("--signature %s: the bundle is unsigned, so its SBOM has no signature", sigFile)
			}
			if len(args) == 2 {
				err = atomicfile.WriteFile(args[1], doc, 0o644)
			} else {
				_, err = s.out.Write(doc)
			}
			if err != nil || sigFile == "" {
				return err
			}
			return atomicfile.WriteFile(sigFile, sig, 0o644)
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "cosign public key: check the SBOM's signature before writing it")
	cmd.Flags().StringVar(&sigFile, "signature", "", "also write the SBOM's signature to this file (for cosign verify-blob)")
	trust.registerRescan(cmd.Flags())
	return cmd
}
