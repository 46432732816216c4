package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set by the linker: -X main.version=... -X main.commit=...
var (
	version = ""
	commit  = ""
)

// buildInfo is what `meshpack version` reports.
type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

func currentBuild() buildInfo {
	b := buildInfo{Version: version, Commit: commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && b.Commit == "" {
				b.Commit = s.Value
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	return b
}

func newVersionCmd(s streams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the meshpack version, commit and Go version",
		Args:  cobra.NoArgs,
		Example: `  meshpack version
  meshpack version -o yaml`,
		RunE: func(_ *cobra.Command, _ []string) error {
			if err := checkOutput(&output, formatText, formatJSON, formatYAML); err != nil {
				return err
			}
			b := currentBuild()
			if ok, err := writeStructured(s.out, output, b); ok {
				return err
			}
			_, err := fmt.Fprintf(s.out, "meshpack %s\ncommit: %s\ngo: %s\nplatform: %s\n", b.Version, b.Commit, b.GoVersion, b.Platform)
			return err
		},
	}
	outputFlag(cmd.Flags(), &output, formatText, formatText, formatJSON, formatYAML)
	return cmd
}
