package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/progress"
)

func newCacheCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Look after the blob cache of bundle create --cache",
		Args:  cobra.NoArgs,
	}
	var dir, maxSize, output string
	prune := &cobra.Command{
		Use:   "prune --cache DIR --max-size SIZE",
		Short: "Delete the least recently used blobs until the cache holds at most SIZE",
		Long: `prune bounds the blob cache of bundle create --cache: it deletes the blobs
used least recently (a create that reuses a blob marks it used) until the cache
holds at most --max-size (0 empties it). The cache never grows on its own
accord beyond what creates download; run prune from cron or before a create.`,
		Example: "  meshpack cache prune --cache blob-cache --max-size 20GiB",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usagef("--cache DIR is required: the directory bundle create --cache uses")
			}
			if err := checkOutput(&output, formatText, formatJSON, formatYAML); err != nil {
				return err
			}
			limit, err := parseSize(maxSize)
			if err != nil && maxSize != "0" {
				return usagef("--max-size: %v", err)
			}
			res, err := mirror.PruneCache(dir, limit)
			if err != nil {
				return err
			}
			if ok, werr := writeStructured(s.out, output, res); ok {
				return werr
			}
			fmt.Fprintf(s.out, "blob cache %s: %s before, %s after, %d blobs removed\n", dir,
				progress.HumanBytes(res.BytesBefore), progress.HumanBytes(res.BytesAfter), res.Removed)
			return nil
		},
	}
	prune.Flags().StringVar(&dir, "cache", "", "the blob cache directory (required)")
	prune.Flags().StringVar(&maxSize, "max-size", "", "what the cache may hold afterwards, e.g. 20GiB (0 empties it; required)")
	_ = prune.MarkFlagRequired("max-size")
	outputFlag(prune.Flags(), &output, formatText, formatText, formatJSON, formatYAML)
	cmd.AddCommand(prune)
	return cmd
}
