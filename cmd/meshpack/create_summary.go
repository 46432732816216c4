package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/pack"
	"github.com/lattice-mesh/meshpack/progress"
)

// createSummary is what `bundle create -o json|yaml` prints.
type createSummary struct {
	// Path is the file to hand to verify, inspect and load: the bundle, or
	// its first part.
	Path string `json:"path"`
	// Parts are every file written; Sums the checksum listing when split.
	Parts             []string          `json:"parts"`
	Sums              string            `json:"sums,omitempty"`
	Set               map[string]string `json:"set,omitempty"`
	Artifacts         int               `json:"artifacts"`
	Blobs             int               `json:"blobs"`
	BlobBytes         int64             `json:"blobBytes"`
	UncompressedBytes int64             `json:"uncompressedBytes"`
	CompressedBytes   int64             `json:"compressedBytes"`
	Ratio             float64           `json:"ratio"`
	Signed            bool              `json:"signed"`
	Unsigned          string            `json:"unsigned,omitempty"`
	Duration          time.Duration     `json:"durationNanos"`
	// CachedBlobs and CachedBytes came from --cache, not the network;
	// Base is the base of an incremental bundle (--since).
	CachedBlobs int    `json:"cachedBlobs,omitempty"`
	CachedBytes int64  `json:"cachedBytes,omitempty"`
	Base        string `json:"base,omitempty"`
}

func summarizeCreate(r *pack.Result) createSummary {
	sum := createSummary{
		Path: r.Path, Parts: r.Parts, Sums: r.Sums, Artifacts: r.Artifacts, Blobs: r.Blobs, BlobBytes: r.Bytes,
		UncompressedBytes: r.Stats.Uncompressed, CompressedBytes: r.Stats.Compressed, Ratio: r.Stats.Ratio(), Duration: r.Duration,
		CachedBlobs: r.CachedBlobs, CachedBytes: r.CachedBytes,
	}
	if r.BOM != nil {
		sum.Set, sum.Signed, sum.Base = r.BOM.Set, r.BOM.Signed, r.BOM.Base
		if !r.BOM.Signed {
			sum.Unsigned = mirror.UnsignedReason(r.BOM)
		}
	}
	return sum
}

// printCreate prints what create wrote, naming every file that exists:
// with -o json|yaml on stdout; as text on stderr, like every command that
// writes a file, so that stdout carries only structured output.
func printCreate(s streams, format string, r *pack.Result) error {
	sum := summarizeCreate(r)
	if !sum.Signed {
		fmt.Fprintln(s.err, "WARNING: the bundle is UNSIGNED (--allow-unsigned); the enclave cannot check where it came from")
	}
	if ok, err := writeStructured(s.out, format, sum); ok {
		return err
	}
	w := s.err
	switch {
	case sum.Sums == "":
		fmt.Fprintf(w, "wrote %s\n", sum.Path)
	case len(sum.Parts) == 1:
		fmt.Fprintf(w, "wrote %s (1 part; checksums in %s)\n", sum.Path, sum.Sums)
	default:
		fmt.Fprintf(w, "wrote %d parts %s … %s (checksums in %s)\n", len(sum.Parts), sum.Parts[0], sum.Parts[len(sum.Parts)-1], sum.Sums)
	}
	secs := max(sum.Duration.Seconds(), 1e-9)
	fmt.Fprintf(w, "  artifacts %d, blobs %d, %s in, %s out (ratio %.3f), %s, %s/s\n",
		sum.Artifacts, sum.Blobs, progress.HumanBytes(sum.UncompressedBytes), progress.HumanBytes(sum.CompressedBytes), sum.Ratio,
		sum.Duration.Round(10*time.Millisecond), progress.HumanBytes(int64(float64(sum.CompressedBytes)/secs)))
	if sum.CachedBlobs > 0 {
		fmt.Fprintf(w, "  %d blobs (%s) from the cache, not downloaded\n", sum.CachedBlobs, progress.HumanBytes(sum.CachedBytes))
	}
	if sum.Base != "" {
		fmt.Fprintf(w, "  incremental: blobs its base %s holds are left out\n", sum.Base)
	}
	if len(sum.Parts) > 1 || sum.Sums != "" {
		fmt.Fprintf(w, "  verify, inspect and load take %s; `cat %s.[0-9][0-9][0-9] > FILE` joins the parts\n", sum.Path, strings.TrimSuffix(sum.Path, ".000"))
	}
	return nil
}
