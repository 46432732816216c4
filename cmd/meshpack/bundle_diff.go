package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/progress"
)

// diffResult is what `bundle diff -o json` prints.
type diffResult struct {
	From string `json:"from"`
	To   string `json:"to"`
	bundle.DiffResult
}

func newBundleDiffCmd(s streams) *cobra.Command {
	var (
		output string
		trust  trustFlags
	)
	cmd := &cobra.Command{
		Use:   "diff A B",
		Short: "Show what changed from bundle A to bundle B and the bytes a delta would carry",
		Long: `diff compares the BOMs of A and B: the artifacts added, removed and changed
(same kind, repository and tag, or name and source without a tag, but another
digest; with the platforms that changed), and at the blob level the bytes of
B that A does not hold, which is what an incremental bundle from A to B
carries.

A and B are each a bundle (a single file, its first part NAME.000, or the base
name of a split set) or a BOM file, as 'bundle inspect --bom' prints it:

  meshpack bundle inspect base.tar.zst --bom > base.bom.json

The BOM names artifacts and blobs but not which blobs belong to which
artifact, so per artifact diff shows only its manifest bytes; the delta is
counted over all blobs.

diff verifies nothing: it compares what the BOMs claim. Run 'bundle verify'
on a bundle before you trust what diff says about it.`,
		Example: `  meshpack bundle diff apps.tar.zst mesh.tar.zst
  meshpack bundle diff mesh.tar.zst.000 apps.tar.zst -o json`,
		Args: cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := checkOutput(&output, formatText, formatJSON, formatYAML); err != nil {
				return err
			}
			a, err := readDiffInput(args[0], trust.allowRescan)
			if err != nil {
				return err
			}
			b, err := readDiffInput(args[1], trust.allowRescan)
			if err != nil {
				return err
			}
			res := diffResult{From: args[0], To: args[1], DiffResult: bundle.Diff(a, b)}
			if ok, err := writeStructured(s.out, output, res); ok {
				return err
			}
			return diffTable(s.out, res)
		},
	}
	outputFlag(cmd.Flags(), &output, formatText, formatText, formatJSON, formatYAML)
	trust.registerRescan(cmd.Flags())
	return cmd
}

// readDiffInput returns the BOM of path: a BOM JSON file (its first
// non-blank byte is '{'; at most bundle.MaxBOMSize bytes, and the output of
// `bundle inspect -o json` is read too), or else a bundle, read without
// verifying it. A path that does not exist may be the base name of a split
// bundle.
func readDiffInput(path string, allowRescan bool) (*bundle.BOM, error) {
	f, err := os.Open(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err == nil {
		defer f.Close()
		br := bufio.NewReader(f)
		head, _ := br.Peek(512)
		if t := bytes.TrimLeft(head, " \t\r\n"); len(t) > 0 && t[0] == '{' {
			data, err := io.ReadAll(io.LimitReader(br, bundle.MaxBOMSize+1))
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", path, err)
			}
			bom, err := parseDiffBOM(data)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			return bom, nil
		}
	}
	r, err := bundle.OpenWith(path, bundle.ReaderOptions{AllowRescan: allowRescan})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	bom, err := r.BOM()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return bom, nil
}

// parseDiffBOM parses a raw BOM, or the BOM under "bom" in the output of
// `bundle inspect -o json`.
func parseDiffBOM(data []byte) (*bundle.BOM, error) {
	if len(data) <= bundle.MaxBOMSize {
		var wrapped struct {
			SchemaVersion *int            `json:"schemaVersion"`
			BOM           json.RawMessage `json:"bom"`
		}
		if json.Unmarshal(data, &wrapped) == nil && wrapped.SchemaVersion == nil && len(wrapped.BOM) > 0 {
			data = wrapped.BOM
		}
	}
	return bundle.ParseBOM(data)
}

// diffTable prints the changed artifacts (signatures counted, not listed)
// and the delta summary.
func diffTable(w io.Writer, res diffResult) error {
	fmt.Fprintf(w, "from: %s\nto:   %s\n\n", sanitize(res.From), sanitize(res.To))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHANGE\tKIND\tNAME\tREPOSITORY:TAG\tDIGEST\tMANIFESTS\tPLATFORMS")
	sigs := map[string]int{}
	rows := 0
	for _, g := range []struct {
		change string
		list   []bundle.ArtifactDiff
	}{{"added", res.Added}, {"removed", res.Removed}, {"changed", res.Changed}} {
		for _, d := range g.list {
			if d.Kind == bundle.KindSignature {
				sigs[g.change]++
				continue
			}
			rows++
			dg := shortDigest(d.NewDigest)
			switch g.change {
			case "removed":
				dg = shortDigest(d.OldDigest)
			case "changed":
				dg = shortDigest(d.OldDigest) + " -> " + shortDigest(d.NewDigest)
			}
			ref := d.Repository
			if d.Tag != "" {
				ref += ":" + d.Tag
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", g.change, sanitize(d.Kind), sanitize(d.Name), sanitize(ref),
				sanitize(dg), progress.HumanBytes(d.ManifestBytes), sanitize(platformChanges(d)))
		}
	}
	if rows > 0 {
		if err := tw.Flush(); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(w, "no image, chart or file changed")
	}
	fmt.Fprintf(w, "\n%d unchanged; signatures: %d added, %d removed, %d changed\n",
		res.Unchanged, sigs["added"], sigs["removed"], sigs["changed"])
	fmt.Fprintf(w, "delta from A to B: %d blobs, %s of %s (%.1f %%)\n",
		res.DeltaBlobs, progress.HumanBytes(res.DeltaBytes), progress.HumanBytes(res.FullBytes), 100*res.DeltaRatio)
	return nil
}

// platformChanges renders the platform changes of a changed image, such as
// "+linux/s390x -linux/arm64 ~linux/amd64".
func platformChanges(d bundle.ArtifactDiff) string {
	var parts []string
	for _, p := range d.PlatformsAdded {
		parts = append(parts, "+"+p)
	}
	for _, p := range d.PlatformsRemoved {
		parts = append(parts, "-"+p)
	}
	for _, p := range d.PlatformsChanged {
		parts = append(parts, "~"+p)
	}
	return strings.Join(parts, " ")
}
