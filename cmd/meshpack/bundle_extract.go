package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/mirror"
)

func newBundleExtractCmd(s streams, g *globalFlags) *cobra.Command {
	var (
		key      string
		output   string
		dir      string
		opts     mirror.ExtractOptions
		trust    trustFlags
		platform string
	)
	cmd := &cobra.Command{
		Use:   "extract BUNDLE --file NAME [--platform OS/ARCH] [--dir DIR] [--unpack] (--key cosign.pub | --allow-unsigned)",
		Short: "Write one carried file (istioctl, the Gateway API CRDs, …) out of a verified bundle",
		Long: `extract verifies the whole bundle as 'bundle verify' does (--key, or
--allow-unsigned), then writes one file artifact into --dir (default: the
working directory; -o DIR says the same), every byte checked against the
digest the signed BOM pins before the file appears under its name.

--file is a file's name as 'bundle inspect' lists it
(standard-install.yaml, istioctl-1.30.3-linux-amd64.tar.gz) or its
component (istioctl, gateway-api). A file carried for several platforms
(istioctl, see 'bundle create --istioctl') needs --platform. A file comes
out as it was published: --file istioctl writes the .tar.gz, whose sha256 is
the one in Istio's NAME.sha256; --unpack writes the istioctl program inside
it instead (mode 0755), after checking the whole archive.

The meshpack program itself, when the bundle carries it (create
--include-self), comes out with tar alone: tar --zstd -xf BUNDLE
meshpack/bin/linux-amd64/meshpack.`,
		Example: `  meshpack bundle extract mesh-istioctl.tar.zst --file istioctl --platform linux/amd64 --unpack --key cosign.pub
  meshpack bundle extract mesh-istioctl.tar.zst --file istioctl --platform darwin/arm64 --dir . --key cosign.pub -o json
  meshpack bundle extract mesh.tar.zst --file standard-install.yaml --key cosign.pub`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// -o DIR, as the issue that asked for extract spells it: a
			// value that is no format names the directory.
			if output != "" && output != formatText && output != formatJSON && output != formatYAML {
				if cmd.Flags().Changed("dir") {
					return usagef("-o %s and --dir %s both name the directory; keep one", output, dir)
				}
				dir, output = output, formatText
			}
			if err := checkOutput(&output, formatText, formatJSON, formatYAML); err != nil {
				return err
			}
			if opts.Name == "" {
				return usagef("--file: name the file to extract (bundle inspect lists them), e.g. --file istioctl")
			}
			if platform != "" {
				if err := manifests.ValidatePlatform(platform); err != nil {
					return usagef("--platform: %v", err)
				}
			}
			opts.Platform = platform
			if err := checkExtractDir(dir); err != nil {
				return err
			}
			v, err := trust.verifier(key)
			if err != nil {
				return err
			}
			pr := newMeter(s.err, "verify", g.quiet)
			r, _, err := mirror.OpenVerified(cmd.Context(), args[0], mirror.VerifyFileOptions{
				VerifyOptions: mirror.VerifyOptions{Key: v, AllowUnsigned: trust.allowUnsigned, Progress: pr.verified},
				FileOptions:   trust.fileOptions(func(st bundle.Stats) { pr.Start(st.BlobBytes) }),
			})
			pr.Finish(err == nil)
			if err != nil {
				return fmt.Errorf("bundle %s does not verify (bundle verify shows every problem); nothing was extracted: %w", args[0], err)
			}
			defer r.Close()
			res, err := mirror.ExtractFile(cmd.Context(), r, dir, opts)
			if err != nil {
				return err
			}
			if ok, werr := writeStructured(s.out, output, res); ok {
				return werr
			}
			what := res.Name
			if res.Platform != "" {
				what += " for " + res.Platform
			}
			fmt.Fprintf(s.err, "wrote %s (%s, %s, %d bytes", sanitize(res.Path), sanitize(what), res.Digest, res.Size)
			if res.ArchiveDigest != "" {
				fmt.Fprintf(s.err, "; unpacked from the archive %s pinned in the signed BOM", res.ArchiveDigest)
			}
			fmt.Fprintln(s.err, ")")
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&key, "key", "", "cosign public key: verify the bundle first, as bundle verify does (required unless --allow-unsigned)")
	fs.StringVar(&opts.Name, "file", "", "the file to extract: its name or component (istioctl, gateway-api, standard-install.yaml)")
	fs.StringVar(&platform, "platform", "", "the platform of a file carried for several, e.g. linux/amd64 or darwin/arm64")
	fs.StringVar(&dir, "dir", ".", "directory to write the file into (must exist; -o DIR also works)")
	fs.BoolVar(&opts.Unpack, "unpack", false, "write the program a release archive carries (istioctl, mode 0755) instead of the archive")
	trust.register(fs)
	outputFlag(fs, &output, formatText, formatText, formatJSON, formatYAML)
	return cmd
}

// checkExtractDir checks, before the bundle is read, that dir is an
// existing directory meshpack can create files in.
func checkExtractDir(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return usagef("--dir %s does not exist; create it first", dir)
	case err != nil:
		return usagef("--dir %s: %v", dir, err)
	case !st.IsDir():
		return usagef("--dir %s is not a directory", dir)
	}
	f, err := os.CreateTemp(dir, ".meshpack-extract-*")
	if err != nil {
		return usagef("--dir %s is not writable (%v); choose another directory", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}
