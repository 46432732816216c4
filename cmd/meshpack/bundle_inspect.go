package main

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/progress"
)

// inspectResult is what `bundle inspect -o json` prints.
type inspectResult struct {
	Path string `json:"path"`
	// ID is the bundle's id: sha256 of its meshpack/bom.json.
	ID    string      `json:"id"`
	Stats bundleStats `json:"stats"`
	BOM   *bundle.BOM `json:"bom"`
}

type bundleStats struct {
	Compressed   int64   `json:"compressedBytes"`
	Uncompressed int64   `json:"uncompressedBytes"`
	BlobBytes    int64   `json:"blobBytes"`
	Blobs        int     `json:"blobs"`
	Frames       int     `json:"frames"`
	Ratio        float64 `json:"ratio"`
	Seekable     bool    `json:"seekable"`
}

func newBundleInspectCmd(s streams) *cobra.Command {
	var (
		output string
		rawBOM bool
		trust  trustFlags
	)
	cmd := &cobra.Command{
		Use:   "inspect BUNDLE",
		Short: "Show what a bundle holds: the set, images, charts, files, sizes",
		Long: `inspect reads the BOM and the seek table of BUNDLE (a single file, its first
part NAME.000, or the base name of a split set) without verifying anything;
bundle verify proves what inspect shows. With --bom it prints meshpack/bom.json
as stored, byte for byte (its sha256 is the digest an incremental bundle
records as its base), for 'bundle diff' later.`,
		Example: `  meshpack bundle inspect mesh.tar.zst
  meshpack bundle inspect mesh.tar.zst.000 -o json
  meshpack bundle inspect mesh.tar.zst --bom`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := checkOutput(&output, formatText, formatJSON, formatYAML); err != nil {
				return err
			}
			if rawBOM && output != formatText {
				return usagef("--bom prints the BOM as stored (JSON); it excludes -o %s", output)
			}
			r, err := bundle.OpenWith(args[0], bundle.ReaderOptions{AllowRescan: trust.allowRescan})
			if err != nil {
				return err
			}
			defer r.Close()
			if rawBOM {
				return printRawBOM(s, r)
			}
			bom, err := r.BOM()
			if err != nil {
				return err
			}
			st := r.Stats()
			raw, err := r.File(bundle.BOMName)
			if err != nil {
				return err
			}
			res := inspectResult{Path: args[0], ID: mirror.BundleID(raw), BOM: bom, Stats: bundleStats{
				Compressed: st.Compressed, Uncompressed: st.Uncompressed, BlobBytes: st.BlobBytes,
				Blobs: st.Blobs, Frames: st.Frames, Ratio: st.Ratio(), Seekable: st.Seekable,
			}}
			if ok, err := writeStructured(s.out, output, res); ok {
				return err
			}
			return inspectTable(s, res)
		},
	}
	outputFlag(cmd.Flags(), &output, formatText, formatText, formatJSON, formatYAML)
	cmd.Flags().BoolVar(&rawBOM, "bom", false, "print the BOM (meshpack/bom.json) exactly as stored; it is JSON, so -o does not apply")
	trust.registerRescan(cmd.Flags())
	return cmd
}

// printRawBOM writes the stored bytes of the bundle's BOM to stdout,
// after checking that they parse as a BOM of this schema.
func printRawBOM(s streams, r *bundle.Reader) error {
	if _, err := r.BOM(); err != nil {
		return err
	}
	b, err := r.File(bundle.BOMName)
	if err != nil {
		return err
	}
	_, err = s.out.Write(b)
	return err
}

func inspectTable(s streams, res inspectResult) error {
	bom, st := res.BOM, res.Stats
	w := s.out
	fmt.Fprintf(w, "bundle:    %s\n", sanitize(res.Path))
	fmt.Fprintf(w, "id:        %s (sha256 of meshpack/bom.json)\n", res.ID)
	fmt.Fprintf(w, "created:   %s by %s %s\n", bom.Created.Format("2006-01-02 15:04:05Z07:00"), sanitize(bom.Tool.Name), sanitize(bom.Tool.Version))
	keys := make([]string, 0, len(bom.Set))
	for k := range bom.Set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var set []string
	for _, k := range keys {
		set = append(set, sanitize(k+"="+bom.Set[k]))
	}
	fmt.Fprintf(w, "set:       %s\n", strings.Join(set, " "))
	platforms := "all"
	if len(bom.Platforms) > 0 {
		platforms = sanitize(strings.Join(bom.Platforms, ","))
	}
	fmt.Fprintf(w, "platforms: %s\n", platforms)
	signed := "yes (meshpack/bom.json.sig)"
	if !bom.Signed {
		signed = "NO (" + sanitize(bom.Unsigned) + ")"
	}
	fmt.Fprintf(w, "signed:    %s\n", signed)
	fmt.Fprintf(w, "size:      %s compressed, %s uncompressed, ratio %.3f, %d blobs, %d frames\n\n",
		progress.HumanBytes(st.Compressed), progress.HumanBytes(st.Uncompressed), st.Ratio, st.Blobs, st.Frames)
	sizes := map[string]int64{}
	for _, b := range bom.Blobs {
		sizes[b.Digest] = b.Size
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tSOURCE\tDIGEST\tPLATFORMS\tCHECKS")
	nsig := 0
	for _, a := range bom.Artifacts {
		if a.Kind == bundle.KindSignature {
			nsig++
			continue
		}
		var ps []string
		for _, p := range a.Platforms {
			ps = append(ps, p.Platform)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", sanitize(a.Kind), sanitize(a.Name), sanitize(a.Source),
			sanitize(shortDigest(a.Digest)), sanitize(strings.Join(ps, ",")), sanitize(strings.Join(a.Checks, ",")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d signature images (cosign, sha256-<digest>.sig tags)\n", nsig)
	return nil
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}
