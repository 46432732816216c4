package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/mirror"
)

func newBundleCmd(s streams, g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Create, inspect, verify and load mesh bundles",
	}
	cmd.AddCommand(newBundleCreateCmd(s, g), newBundleInspectCmd(s), newBundleVerifyCmd(s, g), newBundleLoadCmd(s, g))
	return cmd
}

type createFlags struct {
	spec        specFlags
	net         netFlags
	sign        signFlags
	lock        string
	out         string
	concurrency int
	level       int
	split       string
}

func newBundleCreateCmd(s streams, g *globalFlags) *cobra.Command {
	var f createFlags
	cmd := &cobra.Command{
		Use:   "create -o FILE (-f mesh.yaml | --istio VERSION ... | --lock mesh.lock.yaml)",
		Short: "Pull everything a mesh needs into one signed, seekable .tar.zst",
		Long: `create resolves the spec (or takes an existing lock), verifies upstream
signatures, pulls every image, chart and file straight into the bundle (no
temporary copy, memory flat whatever the size), signs every image and the BOM,
and publishes FILE only when it is complete.`,
		Example: `  meshpack bundle create --istio 1.30 --profile ambient --kiali --key cosign.key -o mesh.tar.zst
  meshpack bundle create --lock mesh.lock.yaml --key cosign.key --split 4GiB -o mesh.tar.zst
  meshpack bundle create --istio none --image registry.example.com/team/app:1.4 --allow-unsigned -o apps.tar.zst`,
		Args: func(cmd *cobra.Command, args []string) error { return f.spec.versionArgs(cmd, args) },
		RunE: func(cmd *cobra.Command, _ []string) error { return runCreate(cmd, s, g, &f) },
	}
	fs := cmd.Flags()
	f.spec.register(fs)
	f.net.register(fs, true)
	f.sign.register(fs)
	fs.StringVar(&f.lock, "lock", "", "rebuild exactly what this lock pins (no resolve)")
	fs.StringVarP(&f.out, "output", "o", "", "bundle file to write (required)")
	fs.IntVar(&f.concurrency, "concurrency", 4, "downloads running ahead of the writer")
	fs.IntVar(&f.level, "level", bundle.DefaultLevel, "zstd level 1-22 for compressible content (layers already compressed are stored as they are)")
	fs.StringVar(&f.split, "split", "", "split into parts of this size, e.g. 4GiB or 700MiB (FILE.000, FILE.001, … + FILE.sha256)")
	return cmd
}

func runCreate(cmd *cobra.Command, s streams, g *globalFlags, f *createFlags) error {
	if f.out == "" {
		return usagef("-o FILE is required")
	}
	var split int64
	if f.split != "" {
		n, err := parseSize(f.split)
		if err != nil {
			return usagef("--split: %v", err)
		}
		split = n
	}
	log := g.logger(s)
	signer, err := f.sign.signer(s)
	if err != nil {
		return err
	}
	cat, err := f.spec.loadCatalog()
	if err != nil {
		return err
	}
	keys, err := f.sign.upstreamVerifiers(cat)
	if err != nil {
		return err
	}
	lock, mirrors, err := createLock(cmd, s, g, f)
	if err != nil {
		return err
	}
	c, err := f.net.client(s.in, mirrors, log, currentBuild().Version)
	if err != nil {
		return err
	}
	b := currentBuild()
	pr := newProgress(s.err, "bundle", g.quiet)
	opts := mirror.CreateOptions{
		PullOptions: mirror.PullOptions{
			Client: c, Concurrency: f.concurrency, VerifyUpstream: f.sign.verifyUpstream,
			UpstreamKeys: keys, Signer: signer, AllowUnsigned: f.sign.allowUnsigned,
			Tool: bundle.Tool{Name: "meshpack", Version: b.Version, Commit: b.Commit}, Logger: log,
			Progress: func(e mirror.Event) {
				switch e.Kind {
				case mirror.EventPlanned:
					pr.Start(e.TotalBytes)
				case mirror.EventBytes:
					pr.Add(e.N)
				}
			},
		},
		Bundle: bundle.CreateOptions{WriterOptions: bundle.WriterOptions{Level: f.level}, SplitSize: split},
	}
	res, err := mirror.Create(cmd.Context(), lock, f.out, opts)
	pr.Finish(err == nil)
	if err != nil {
		return err
	}
	printCreateSummary(s, res)
	return nil
}

// createLock loads --lock or resolves the spec; it returns the mirrors to use.
func createLock(cmd *cobra.Command, s streams, g *globalFlags, f *createFlags) (*manifests.Lock, []manifests.Mirror, error) {
	mirrors, err := f.net.parsedMirrors()
	if err != nil {
		return nil, nil, err
	}
	if f.lock == "" {
		lock, spec, err := runResolve(cmd, s, g, &f.spec, &f.net)
		if err != nil {
			return nil, nil, err
		}
		return lock, spec.Mirrors, nil
	}
	if f.spec.file != "" || cmd.Flags().Changed("istio") {
		return nil, nil, usagef("--lock pins everything; do not combine it with -f or --istio")
	}
	fh, err := os.Open(f.lock)
	if err != nil {
		return nil, nil, usagef("--lock: %v", err)
	}
	defer fh.Close()
	lock, err := manifests.LoadLock(fh)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", f.lock, err)
	}
	return lock, mirrors, nil
}

func printCreateSummary(s streams, r *mirror.CreateResult) {
	st := r.Stats
	secs := r.Duration.Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	fmt.Fprintf(s.err, "wrote %s", r.Path)
	if len(r.Parts) > 1 {
		fmt.Fprintf(s.err, " in %d parts (%s … %s, checksums in %s)", len(r.Parts), r.Parts[0], r.Parts[len(r.Parts)-1], bundle.SumsName(r.Path))
	}
	fmt.Fprintln(s.err)
	fmt.Fprintf(s.err, "  artifacts %d, blobs %d, %s in, %s out (ratio %.3f), %s, %s/s\n",
		r.Artifacts, r.Blobs, humanBytes(st.Uncompressed), humanBytes(st.Compressed), st.Ratio(),
		r.Duration.Round(10*time.Millisecond), humanBytes(int64(float64(st.Compressed)/secs)))
	if r.BOM != nil && !r.BOM.Signed {
		fmt.Fprintln(s.err, "  WARNING: the bundle is UNSIGNED (--allow-unsigned); the enclave cannot check where it came from")
	}
}
