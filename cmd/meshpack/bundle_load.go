package main

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/progress"
)

type loadFlags struct {
	net          netFlags
	registry     string
	key          string
	trust        trustFlags
	skipVerify   bool
	oldSkip      bool // --insecure-skip-verify, renamed
	concurrency  int
	pathMode     string
	chunkSize    string
	stateDir     string
	output       string
	maxBlobSize  string
	maxTotalSize string
	onExisting   string
	dryRun       bool
}

func newBundleLoadCmd(s streams, g *globalFlags) *cobra.Command {
	var f loadFlags
	cmd := &cobra.Command{
		Use:   "load BUNDLE --registry HOST[:PORT][/PREFIX] (--key cosign.pub | --allow-unsigned | --skip-bundle-verify)",
		Short: "Verify a bundle and push everything into an OCI registry (resumable)",
		Long: `load verifies BUNDLE offline first, as bundle verify does (every byte of the
tar stream, every blob digest, the BOM signature and a signature by --key on
every image) and pushes nothing if that fails. Without --key it refuses:
--allow-unsigned checks digests and structure only, --skip-bundle-verify
checks nothing up front (both are printed and recorded in the result).
It then streams every blob straight from the bundle into the registry (no
extraction, memory flat), several at a time, skipping what the registry has,
mounting layers shared between repositories, retrying failures and
continuing interrupted uploads where the registry stopped. Manifests follow
their blobs byte for byte, so every digest is the bundle's.

Before the first push every tag the bundle sets is looked up in the
registry: a tag already on another digest is a conflict, and by default
(--on-existing-tag fail) the load stops, pushing nothing and listing every
conflict; skip keeps the registry's tags (the bundle's manifests are still
pushed by digest), overwrite moves them. --dry-run verifies and plans, asks
the registry what it has (HEAD and GET only) and prints what would be
pushed, mounted, skipped and retagged, writing nothing.

BUNDLE is a single file, the first part NAME.000 of a split bundle, or its
base name. Images keep their path below PREFIX (docker.io/istio/pilot ->
HOST/PREFIX/istio/pilot; --path-mode flatten gives HOST/PREFIX/istio-pilot),
charts go to PREFIX/charts/NAME:VERSION (helm pull oci://...), files to
PREFIX/files/..., cosign signatures next to their images (cosign verify --key
works against the registry). Re-run the same command after any interruption:
it finishes the load and sends little again.`,
		Example: `  meshpack bundle load mesh.tar.zst --registry registry.internal:5000/mesh --key cosign.pub
  meshpack bundle load mesh.tar.zst.000 --registry 127.0.0.1:5000/mesh --key cosign.pub --plain-http
  meshpack bundle load mesh.tar.zst --registry harbor.internal/mesh --key cosign.pub -u robot --password-stdin -o json < token
  meshpack bundle load mesh.tar.zst --registry registry.internal:5000/mesh --key cosign.pub --dry-run --on-existing-tag overwrite
  meshpack bundle load mesh-1.30.4.tar.zst --registry registry.internal:5000/mesh --key cosign.pub  # the next patch, beside the first`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runLoad(cmd, s, g, &f, args[0]) },
	}
	fs := cmd.Flags()
	f.net.register(fs, false)
	fs.StringVar(&f.registry, "registry", "", "target registry and optional prefix: HOST[:PORT][/PREFIX] (required)")
	fs.StringVar(&f.key, "key", "", "cosign public key: verify the BOM signature and every image signature before pushing")
	f.trust.register(fs)
	fs.BoolVar(&f.skipVerify, "skip-bundle-verify", false, "push WITHOUT verifying the bundle first (not its signature, structure or blob digests up front)")
	fs.BoolVar(&f.oldSkip, "insecure-skip-verify", false, "renamed to --skip-bundle-verify")
	_ = fs.MarkHidden("insecure-skip-verify")
	fs.IntVar(&f.concurrency, "concurrency", mirror.DefaultLoadConcurrency, "blobs uploaded at once")
	fs.StringVar(&f.pathMode, "path-mode", mirror.PathKeep, "repository paths below PREFIX: keep (istio/pilot) or flatten (istio-pilot)")
	fs.StringVar(&f.chunkSize, "chunk-size", "", "upload every blob in PATCH chunks of this size, e.g. 8MiB (default: one PUT per blob, chunks only if the registry refuses that)")
	fs.StringVar(&f.stateDir, "state-dir", "auto", `directory for the journal that lets an interrupted load continue mid-blob; "auto" is the user cache directory (~/.cache/meshpack/load), "none" disables it`)
	outputFlag(fs, &f.output, formatText, formatText, formatJSON, formatYAML)
	fs.StringVar(&f.maxBlobSize, "max-blob-size", "64GiB", "refuse, before pushing anything, a bundle with a blob larger than this")
	fs.StringVar(&f.maxTotalSize, "max-total-size", "", "refuse, before pushing anything, a bundle whose blobs together are larger than this (default: no total cap)")
	fs.StringVar(&f.onExisting, "on-existing-tag", mirror.TagFail, "a tag the registry has on another digest: fail (push nothing, list every conflict), skip (keep the registry's tag) or overwrite (move it)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "verify, plan and print what would be pushed, mounted, skipped and retagged, writing nothing to the registry")
	return cmd
}

// stateDir resolves --state-dir: "auto" is ~/.cache/meshpack/load (or the
// OS equivalent; none when there is no cache directory), "none" or "" none.
func stateDir(flag string) string {
	switch flag {
	case "", "none":
		return ""
	case "auto":
		dir, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(dir, "meshpack", "load")
	}
	return flag
}

func runLoad(cmd *cobra.Command, s streams, g *globalFlags, f *loadFlags, path string) error {
	opts, err := f.options(s, g)
	if err != nil {
		return err
	}
	pv := newMeter(s.err, "verify", g.quiet)
	pl := newMeter(s.err, "load", g.quiet)
	opts.VerifyProgress = pv.verified
	opts.Progress = func(e progress.Event) {
		if e.Kind == progress.Planned {
			pv.Finish(true)
		}
		pl.transferred(e)
	}
	res, err := mirror.LoadFile(cmd.Context(), path, f.registry, mirror.LoadFileOptions{
		LoadOptions: opts,
		FileOptions: f.trust.fileOptions(func(st bundle.Stats) {
			if !f.skipVerify {
				pv.Start(st.BlobBytes)
			}
		}),
	})
	pv.Finish(err == nil)
	pl.Finish(err == nil)
	if res != nil && res.DryRun && res.Plan != nil {
		// A dry run reports its plan even when the load would be refused.
		if ok, werr := writeStructured(s.out, f.output, res); ok {
			return cmp.Or(err, werr)
		}
		printLoadPlan(s, path, res)
		return err
	}
	if err != nil {
		return err
	}
	if ok, werr := writeStructured(s.out, f.output, res); ok {
		return werr
	}
	printLoadSummary(s, path, res)
	return nil
}

// options checks the flags and builds the load options with the command's
// one client.
func (f *loadFlags) options(s streams, g *globalFlags) (mirror.LoadOptions, error) {
	var opts mirror.LoadOptions
	if err := checkOutput(&f.output, formatText, formatJSON, formatYAML); err != nil {
		return opts, err
	}
	if f.registry == "" {
		return opts, usagef("--registry HOST[:PORT][/PREFIX] is required")
	}
	if err := mirror.ValidateTarget(f.registry); err != nil {
		return opts, usageError{err}
	}
	for _, lim := range []struct {
		flag, val string
		dst       *int64
	}{{"--max-blob-size", f.maxBlobSize, &opts.MaxBlobSize}, {"--max-total-size", f.maxTotalSize, &opts.MaxTotalSize}} {
		if lim.val != "" {
			n, err := parseSize(lim.val)
			if err != nil {
				return opts, usagef("%s: %v", lim.flag, err)
			}
			*lim.dst = n
		}
	}
	if f.oldSkip {
		return opts, usagef("--insecure-skip-verify was renamed to --skip-bundle-verify (it never concerned TLS; for TLS use --insecure or --ca-file)")
	}
	if f.skipVerify && (f.key != "" || f.trust.allowUnsigned) {
		return opts, usagef("--skip-bundle-verify excludes --key and --allow-unsigned")
	}
	if f.pathMode != mirror.PathKeep && f.pathMode != mirror.PathFlatten {
		return opts, usagef("--path-mode %q: want %s or %s", f.pathMode, mirror.PathKeep, mirror.PathFlatten)
	}
	switch f.onExisting {
	case mirror.TagFail, mirror.TagSkip, mirror.TagOverwrite:
	default:
		return opts, usagef("--on-existing-tag %q: want %s, %s or %s", f.onExisting, mirror.TagFail, mirror.TagSkip, mirror.TagOverwrite)
	}
	opts.OnExistingTag, opts.DryRun = f.onExisting, f.dryRun
	if f.concurrency < 1 {
		return opts, usagef("--concurrency %d: want at least 1", f.concurrency)
	}
	if f.chunkSize != "" {
		n, err := parseSize(f.chunkSize)
		if err != nil {
			return opts, usagef("--chunk-size: %v", err)
		}
		opts.ChunkSize = n
	}
	if err := f.net.check(); err != nil {
		return opts, err
	}
	var err error
	if !f.skipVerify {
		if opts.Key, err = f.trust.verifier(f.key); err != nil {
			return opts, err
		}
	}
	log := g.logger(s)
	if opts.Client, err = f.net.client(s.in, nil, log); err != nil {
		return opts, err
	}
	opts.Concurrency, opts.PathMode, opts.StateDir, opts.Logger = f.concurrency, f.pathMode, stateDir(f.stateDir), log
	opts.SkipVerify, opts.AllowUnsigned = f.skipVerify, f.trust.allowUnsigned
	switch {
	case f.skipVerify:
		fmt.Fprintln(s.err, "WARNING: --skip-bundle-verify: the bundle is pushed WITHOUT checking its signature, structure or blob digests first; a tampered or corrupt bundle will be loaded into the registry")
	case f.trust.allowUnsigned:
		fmt.Fprintln(s.err, "WARNING: --allow-unsigned: only digests and structure are verified; the BOM and image signatures are NOT checked, so anyone could have built this bundle")
	}
	return opts, nil
}

func printLoadSummary(s streams, path string, r *mirror.LoadResult) {
	secs := max(r.Duration.Seconds(), 1e-9)
	fmt.Fprintf(s.out, "loaded %s into %s in %s (verified: %s, %s)\n", sanitize(path), sanitize(r.Target), r.Duration.Round(10*time.Millisecond), sanitize(r.Verified), r.VerifyDuration.Round(10*time.Millisecond))
	fmt.Fprintf(s.out, "  blobs: %d pushed (%s, %s/s), %d mounted, %d already present (%s)\n",
		r.BlobsPushed, progress.HumanBytes(r.BytesPushed), progress.HumanBytes(int64(float64(r.BytesPushed)/secs)), r.BlobsMounted, r.BlobsSkipped, progress.HumanBytes(r.BytesSkipped))
	if r.UploadsResumed > 0 {
		fmt.Fprintf(s.out, "  continued %d interrupted uploads (%s not sent again)\n", r.UploadsResumed, progress.HumanBytes(r.BytesResumed))
	}
	fmt.Fprintf(s.out, "  manifests: %d pushed, %d already present; tags: %d set, %d already right\n",
		r.ManifestsPushed, r.ManifestsSkipped, r.TagsPushed, r.TagsSkipped)
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tREFERENCE")
	sigs := 0
	for _, a := range r.Artifacts {
		if a.Kind == bundle.KindSignature {
			sigs++
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\n", sanitize(a.Kind), sanitize(a.Reference))
	}
	tw.Flush()
	if sigs > 0 {
		fmt.Fprintf(s.out, "  and %d cosign signatures next to their images (cosign verify --key works against the registry)\n", sigs)
	}
	printTagConflicts(s, r)
}

// printLoadPlan prints what a dry run found a load would do.
func printLoadPlan(s streams, path string, r *mirror.LoadResult) {
	p := r.Plan
	fmt.Fprintf(s.out, "dry run, nothing was written: loading %s into %s (verified: %s) would\n", sanitize(path), sanitize(r.Target), sanitize(r.Verified))
	fmt.Fprintf(s.out, "  blobs: push %d (%s), mount %d (%s), skip %d already present (%s)\n",
		p.BlobsToPush, progress.HumanBytes(p.BytesToPush), p.BlobsToMount, progress.HumanBytes(p.BytesToMount), p.BlobsToSkip, progress.HumanBytes(p.BytesToSkip))
	fmt.Fprintf(s.out, "  manifests: push %d, %d already present\n", p.ManifestsToPush, p.ManifestsPresent)
	fmt.Fprintf(s.out, "  tags: set %d, %d already right, retag %d, skip %d, %d conflicting\n", p.TagsToSet, p.TagsRight, p.TagsToRetag, p.TagsToSkip, p.TagsConflicting)
	printTagConflicts(s, r)
}

// printTagConflicts lists the tags that were on other digests.
func printTagConflicts(s streams, r *mirror.LoadResult) {
	if len(r.TagConflicts) == 0 {
		return
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TAG\tREGISTRY DIGEST\tBUNDLE DIGEST\tACTION")
	for _, c := range r.TagConflicts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", sanitize(c.Reference), sanitize(c.RegistryDigest), sanitize(c.BundleDigest), sanitize(c.Action))
	}
	tw.Flush()
}
