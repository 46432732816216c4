package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/lattice-mesh/meshpack/hack/upstream"
)

// runWorkload prints what the benchmark pulls from a running fixture
// upstream, one key=value per line:
//
//	registry=127.0.0.1:PORT
//	mirror=ORIGIN=REPLACEMENT     one per --mirror argument
//	image=docker.io/istio/pilot:1.30.3
//	platforms=linux/amd64,linux/arm64
//	layers=38
//	layer_bytes=…   raw_bytes=…   seeding=12.6
//
// Images are the distinct image indexes of the fixture: of several tags or
// repositories naming the same index only the first is listed, so every
// tool pulls each blob once and the set still holds every generated layer.
func runWorkload(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("workload", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("workload: want one state file\n%w", errUsage)
	}
	path := fs.Arg(0)
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("workload: %w", err)
	}
	var st upstream.State
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("workload %s: parse state: %w", path, err)
	}
	if st.Registry == "" || len(st.Images) == 0 {
		return fmt.Errorf("workload %s: no registry or no images; is it a fixture-upstream state file?", path)
	}
	fmt.Fprintf(out, "registry=%s\n", st.Registry)
	for _, m := range st.Mirrors {
		fmt.Fprintf(out, "mirror=%s\n", m)
	}
	seen := map[string]bool{}
	var platforms []string
	for _, img := range st.Images {
		if seen[img.Digest.String()] {
			continue
		}
		seen[img.Digest.String()] = true
		fmt.Fprintf(out, "image=%s\n", img.Reference)
		for _, p := range img.Platforms {
			if !slices.Contains(platforms, p.Platform) {
				platforms = append(platforms, p.Platform)
			}
		}
	}
	fmt.Fprintf(out, "platforms=%s\n", strings.Join(platforms, ","))
	fmt.Fprintf(out, "layers=%d\nlayer_bytes=%d\nraw_bytes=%d\nseeding=%.1f\n",
		st.Stats.Layers, st.Stats.LayerBytes, st.Stats.RawBytes, st.Stats.Seeding.Seconds())
	return nil
}
