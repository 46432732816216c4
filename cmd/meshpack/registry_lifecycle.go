package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/atomicfile"
	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/mirror/registry"
	"github.com/lattice-mesh/meshpack/progress"
	"github.com/lattice-mesh/meshpack/signing"
)

// registryTargetFlags are the flags of registry list and bundle unload.
type registryTargetFlags struct {
	registry string
	pathMode string
	net      netFlags
	output   string
}

func (f *registryTargetFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.registry, "registry", "", "the registry the bundles were loaded into: HOST[:PORT][/PREFIX] (required)")
	fs.StringVar(&f.pathMode, "path-mode", mirror.PathKeep, "repository paths below PREFIX, as given to bundle load: keep or flatten")
	f.net.register(fs, false)
	outputFlag(fs, &f.output, formatText, formatText, formatJSON, formatYAML)
}

func (f *registryTargetFlags) check() error {
	if f.registry == "" {
		return usagef("--registry HOST[:PORT][/PREFIX] is required")
	}
	if err := mirror.ValidateTarget(f.registry); err != nil {
		return usagef("--registry: %v", err)
	}
	if err := checkOutput(&f.output, formatText, formatJSON, formatYAML); err != nil {
		return err
	}
	return f.net.check()
}

func newRegistryListCmd(s streams, g *globalFlags) *cobra.Command {
	var f registryTargetFlags
	cmd := &cobra.Command{
		Use:   "list --registry HOST[:PORT][/PREFIX]",
		Short: "List the bundles loaded into a registry and the tags each set",
		Long: `list reads the records bundle load leaves in PREFIX/meshpack/bundles (one per
bundle, holding its BOM) and lists every tag those bundles set: the digest it
points at now and the bundle it came from. A bundle is named everywhere by its
id, the sha256 of its meshpack/bom.json (bundle inspect shows it). A tag another
client moved shows no bundle.`,
		Example: `  meshpack registry list --registry registry.internal:5000/mesh
  meshpack registry list --registry registry.internal:5000/mesh -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			c, err := f.net.client(s.in, nil, g.logger(s))
			if err != nil {
				return err
			}
			tags, recs, err := mirror.List(cmd.Context(), c, f.registry, f.pathMode)
			if err != nil {
				return err
			}
			type bundleRow struct {
				ID     string `json:"id"`
				Loaded string `json:"loaded"`
				Istio  string `json:"istio,omitempty"`
			}
			out := struct {
				Bundles []bundleRow        `json:"bundles"`
				Tags    []mirror.ListedTag `json:"tags"`
			}{Bundles: []bundleRow{}, Tags: tags}
			for _, r := range recs {
				out.Bundles = append(out.Bundles, bundleRow{ID: r.ID, Loaded: r.Loaded, Istio: istioOf(r.BOM)})
			}
			if out.Tags == nil {
				out.Tags = []mirror.ListedTag{}
			}
			if ok, werr := writeStructured(s.out, f.output, out); ok {
				return werr
			}
			for _, b := range out.Bundles {
				fmt.Fprintf(s.out, "bundle %s loaded %s %s\n", b.ID, b.Loaded, b.Istio)
			}
			for _, t := range tags {
				from := t.Bundle
				if from == "" {
					from = "(no recorded bundle)"
				}
				fmt.Fprintf(s.out, "%s:%s\t%s\t%s\n", sanitize(t.Repository), sanitize(t.Tag), t.Digest, from)
			}
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

// istioOf is "Istio 1.30.3" for a BOM whose lock names one.
func istioOf(bom *bundle.BOM) string {
	for _, a := range bom.Artifacts {
		if a.Kind == bundle.KindChart && a.Name == "istiod" {
			return "Istio " + strings.ReplaceAll(a.Tag, "_", "+")
		}
	}
	return ""
}

func newBundleUnloadCmd(s streams, g *globalFlags) *cobra.Command {
	var f registryTargetFlags
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "unload (BUNDLE | BOM.json | sha256:ID) --registry HOST[:PORT][/PREFIX]",
		Short: "Remove what bundle load set for one bundle: its tags and the manifests no other bundle needs",
		Long: `unload finds the bundle by its id (from the bundle file, a BOM from bundle
inspect --bom, or the id itself as registry list shows it) among the records in
the registry, then removes: every tag it set that still points at its digest;
every manifest of it (indexes, platform manifests, signatures) that no other
recorded bundle needs; its record. Blobs stay until the registry's garbage
collection (for the embedded registry: registry gc). The registry must allow
deletes (registry serve --allow-delete). --dry-run lists and removes nothing.`,
		Example: `  meshpack bundle unload mesh-1.30.4.tar.zst --registry registry.internal:5000/mesh --dry-run
  meshpack bundle unload mesh-1.30.4.tar.zst --registry registry.internal:5000/mesh`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			c, err := f.net.client(s.in, nil, g.logger(s))
			if err != nil {
				return err
			}
			var bomJSON []byte
			if strings.HasPrefix(args[0], "sha256:") {
				recs, err := mirror.ReadRecords(cmd.Context(), c, f.registry, f.pathMode)
				if err != nil {
					return err
				}
				for _, r := range recs {
					if r.ID == args[0] {
						bomJSON = r.RawBOM
					}
				}
				if bomJSON == nil {
					return fmt.Errorf("bundle %s in %s: %w", args[0], f.registry, mirror.ErrNotRecorded)
				}
			} else if bomJSON, err = readRawBOM(args[0]); err != nil {
				return err
			}
			res, err := mirror.Unload(cmd.Context(), c, bomJSON, mirror.UnloadOptions{Registry: f.registry, PathMode: f.pathMode, DryRun: dryRun})
			if res == nil {
				return err
			}
			if ok, werr := writeStructured(s.out, f.output, res); ok {
				if werr != nil {
					return werr
				}
				return err
			}
			verb := "removed"
			if dryRun {
				verb = "would remove"
			}
			fmt.Fprintf(s.out, "bundle %s: %s %d tags and %d manifests; %d manifests kept for other bundles; %d referrers indexes pruned\n",
				res.Bundle, verb, len(res.Untagged), len(res.Deleted), len(res.Kept), len(res.ReferrerTags))
			return err
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be removed; remove nothing")
	return cmd
}

// readRawBOM returns the exact bytes of a bundle's meshpack/bom.json, from
// the bundle or from a BOM file.
func readRawBOM(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usagef("%v", err)
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	f.Close()
	if t := bytes.TrimLeft(head[:n], " \t\r\n"); len(t) > 0 && t[0] == '{' {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if len(data) > bundle.MaxBOMSize {
			return nil, fmt.Errorf("%s: over %d bytes, not a BOM", path, bundle.MaxBOMSize)
		}
		return data, nil
	}
	r, err := bundle.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.File(bundle.BOMName)
}

func newRegistryGCCmd(s streams) *cobra.Command {
	var root, output string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "gc --root DIR [--dry-run]",
		Short: "Delete the blobs no manifest references any more from the embedded registry's storage",
		Long: `gc runs CNCF Distribution's garbage collector (mark and sweep) on the storage
of registry serve --root DIR: after bundle unload removed a bundle's manifests,
their blobs are deleted here and the space comes back. Run it while registry
serve is stopped or serves read-only (without --allow-push): an upload during
the sweep could lose a blob. --dry-run deletes nothing.`,
		Example: `  meshpack registry gc --root /var/lib/meshpack/registry --dry-run`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if root == "" {
				return usagef("--root DIR is required: the directory registry serve stores into")
			}
			if err := checkOutput(&output, formatText, formatJSON, formatYAML); err != nil {
				return err
			}
			res, err := registry.GarbageCollect(cmd.Context(), root, dryRun)
			if err != nil {
				return err
			}
			if ok, werr := writeStructured(s.out, output, res); ok {
				return werr
			}
			fmt.Fprintf(s.out, "blobs: %s before, %s after\n", progress.HumanBytes(res.BytesBefore), progress.HumanBytes(res.BytesAfter))
			return nil
		},
	}
	cmd.Flags().StringVar(&root, "root", "", "the storage directory of registry serve (required)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "mark and report only; delete nothing")
	outputFlag(cmd.Flags(), &output, formatText, formatText, formatJSON, formatYAML)
	return cmd
}

func newRegistryInventoryCmd(s streams, g *globalFlags) *cobra.Command {
	var f registryTargetFlags
	var sign signFlags
	cmd := &cobra.Command{
		Use:   "inventory [FILE] --registry HOST[:PORT][/PREFIX] [--key cosign.key]",
		Short: "Export what an enclave registry holds, as the base of an incremental bundle",
		Long: `inventory walks every repository below PREFIX (the registry's catalog), every
tag and every manifest reachable from it, and writes the manifests and the blobs
they reference as JSON to FILE (stdout without it). Carried out of the enclave,
it is the --since base of bundle create: the next bundle then leaves out every
blob the enclave already holds, whatever bundle brought it.

With --key the inventory is signed (FILE.sig, cosign's sign-blob format, so
cosign verify-blob checks it too); bundle create --since FILE --since-key
cosign.pub then refuses an inventory whose signature does not verify.`,
		Example: `  meshpack registry inventory inventory.json --registry registry.internal:5000/mesh --key cosign.key
  meshpack registry inventory --registry registry.internal:5000/mesh`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.output == formatText {
				f.output = formatJSON // an inventory is a JSON document
			}
			if f.output != formatJSON {
				return usagef("-o %s: an inventory is JSON (bundle create --since reads it)", f.output)
			}
			if err := f.check(); err != nil {
				return err
			}
			if sign.key != "" && len(args) == 0 {
				return usagef("--key signs the inventory into FILE.sig: name FILE, e.g. meshpack registry inventory inventory.json --key cosign.key")
			}
			var signer signing.Signer
			if sign.key != "" {
				sign.allowUnsigned = false
				var err error
				if signer, err = sign.signer(s, f.net.passwordStdin); err != nil {
					return err
				}
			}
			c, err := f.net.client(s.in, nil, g.logger(s))
			if err != nil {
				return err
			}
			inv, err := mirror.TakeInventory(cmd.Context(), c, f.registry)
			if err != nil {
				return err
			}
			data, err := json.MarshalIndent(inv, "", "  ")
			if err != nil {
				return err
			}
			data = append(data, '\n')
			if len(args) == 0 {
				_, err = s.out.Write(data)
				return err
			}
			if err := atomicfile.WriteFile(args[0], data, 0o644); err != nil {
				return err
			}
			if signer != nil {
				sig, err := signing.SignBlob(cmd.Context(), signer, data)
				if err != nil {
					return err
				}
				if err := atomicfile.WriteFile(args[0]+".sig", sig, 0o644); err != nil {
					return err
				}
			}
			fmt.Fprintf(s.err, "wrote %s: %d manifests, %d blobs in %d repositories\n", args[0], len(inv.Manifests), len(inv.Blobs), inv.Repositories)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&sign.key, "key", "", "cosign private key: sign the inventory into FILE.sig (password from COSIGN_PASSWORD or a prompt)")
	return cmd
}
