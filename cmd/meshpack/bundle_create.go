package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/pack"
	"github.com/lattice-mesh/meshpack/signing"
)

func newBundleCmd(s streams, g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Create, inspect, diff, verify, load and unload mesh bundles; extract files and the SBOM",
	}
	cmd.AddCommand(newBundleCreateCmd(s, g), newBundleInspectCmd(s), newBundleDiffCmd(s), newBundleSBOMCmd(s), newBundleVerifyCmd(s, g), newBundleLoadCmd(s, g), newBundleUnloadCmd(s, g), newBundleExtractCmd(s, g))
	return cmd
}

type createFlags struct {
	spec        specFlags
	net         netFlags
	sign        signFlags
	lock        string
	since       string
	sinceKey    string
	cache       string
	file        string // BUNDLE, the positional argument
	output      string
	concurrency int
	level       int
	split       string
	includeSelf bool
}

func newBundleCreateCmd(s streams, g *globalFlags) *cobra.Command {
	var f createFlags
	cmd := &cobra.Command{
		Use:   "create BUNDLE (-f mesh.yaml | --istio VERSION ... | --lock mesh.lock.yaml) (--key cosign.key | --allow-unsigned)",
		Short: "Pull everything a mesh needs into one signed, seekable .tar.zst",
		Long: `create resolves the spec (or takes an existing lock), verifies upstream
signatures, pulls every image, chart and file straight into the bundle (no
temporary copy, memory flat whatever the size), signs every image and the BOM,
and publishes BUNDLE only when it is complete (with --split: BUNDLE.000,
BUNDLE.001, … and BUNDLE.sha256).

Istio signs its images: the catalog names the key and where upstream
publishes it; pass the PEM you fetched and checked with --upstream-key.
The output path, versions and keys are checked before anything is
downloaded. -o prints the summary as text (default), json or yaml.

A bare minor (--istio 1.30) takes the newest patch upstream publishes, as
'meshpack resolve' does; --catalog-only takes the catalog's. Downloads run
--concurrency requests at once; on a slow link large blobs come as parallel
byte ranges, each resumed where it broke. --cache DIR keeps what was
downloaded (even half a blob) for the next run.

A team's own charts, files and manifests travel with the mesh (--chart,
--chart-values, --extra-file, --manifest; see 'meshpack resolve --help'):
charts load as OCI charts (helm pull oci://REGISTRY/PREFIX/charts/NAME),
files and manifests as file artifacts (bundle extract --file NAME), and the
images found in them like every other image.`,
		Example: `  meshpack bundle create mesh.tar.zst --istio 1.30 --profile ambient --kiali --key cosign.key --upstream-key istio-release=istio-key.pub
  meshpack bundle create mesh.tar.zst --lock mesh.lock.yaml --key cosign.key --upstream-key istio-release=istio-key.pub --split 4GiB
  meshpack bundle create apps.tar.zst --istio none --image registry.example.com/team/app:1.4 --allow-unsigned -o json
  meshpack bundle create mesh-1.30.4.tar.zst --istio 1.30.4 --profile ambient --kiali --key cosign.key --upstream-key istio-release=istio-key.pub  # the next patch
  meshpack bundle create mesh-istioctl.tar.zst --istio 1.30 --istioctl=linux/amd64,darwin/arm64 --include-self --key cosign.key --upstream-key istio-release=istio-key.pub`,
		Args: func(cmd *cobra.Command, args []string) error {
			files, err := f.spec.fileArgs(cmd, args, 1)
			if len(files) == 1 {
				f.file = files[0]
			}
			return err
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return runCreate(cmd, s, g, &f) },
	}
	fs := cmd.Flags()
	f.spec.register(fs)
	f.net.register(fs, true)
	f.sign.register(fs)
	fs.StringVar(&f.lock, "lock", "", "rebuild exactly what this lock pins (no resolve)")
	fs.StringVar(&f.cache, "cache", "", "a blob cache shared across creates: blobs found there (verified by digest) are not downloaded, every blob downloaded is kept there; an interrupted create re-run downloads only what was in flight (bounded by meshpack cache prune)")
	fs.StringVar(&f.sinceKey, "since-key", "", "cosign public key: the --since inventory must carry a valid FILE.sig by it (registry inventory --key)")
	fs.StringVar(&f.since, "since", "", "make an incremental bundle: leave out every blob BASE holds; BASE is a previous bundle, its BOM (bundle inspect --bom) or an inventory of the enclave registry (registry inventory)")
	outputFlag(fs, &f.output, formatText, formatText, formatJSON, formatYAML)
	fs.IntVar(&f.concurrency, "concurrency", mirror.DefaultPullConcurrency, "requests downloading at once (large blobs as parallel byte ranges)")
	fs.IntVar(&f.level, "level", bundle.DefaultLevel, "zstd level 1-22 for compressible content (layers already compressed are stored as they are)")
	fs.BoolVar(&f.includeSelf, "include-self", false, "carry this meshpack binary at meshpack/bin/<os>-<arch>/meshpack (mode 0755, sha256 in the signed BOM): tar --zstd -xf BUNDLE meshpack/bin/… gets it out in the enclave")
	fs.StringVar(&f.split, "split", "", "split into parts of this size, e.g. 4GiB or 700MiB (BUNDLE.000, BUNDLE.001, … + BUNDLE.sha256)")
	return cmd
}

func runCreate(cmd *cobra.Command, s streams, g *globalFlags, f *createFlags) error {
	path, split, err := f.checkArgs(s)
	if err != nil {
		return err
	}
	opts, err := f.options(cmd, s, g)
	if err != nil {
		return err
	}
	opts.Create.Bundle = bundle.CreateOptions{WriterOptions: bundle.WriterOptions{Level: f.level}, SplitSize: split}
	pr := newMeter(s.err, "bundle", g.quiet)
	opts.Create.Progress = pr.transferred
	res, err := pack.Create(cmd.Context(), path, opts)
	pr.Finish(err == nil)
	if err != nil {
		return err
	}
	if opts.Lock == nil {
		printIstioChoice(s.err, res.Lock)
	}
	return printCreate(s, f.output, res)
}

// checkArgs settles the bundle path, the output format and the split size,
// and checks the path, before any prompt or download.
func (f *createFlags) checkArgs(s streams) (path string, split int64, err error) {
	path, err = outputFile(s, "meshpack bundle create", f.file, &f.output, formatText)
	if err != nil {
		return "", 0, err
	}
	if err := checkOutput(&f.output, formatText, formatJSON, formatYAML); err != nil {
		return "", 0, usagef("%v (the bundle file is the argument: meshpack bundle create mesh.tar.zst …)", err)
	}
	if path == "" {
		return "", 0, usagef("no bundle file: name it as the argument, e.g. meshpack bundle create mesh.tar.zst --istio 1.30 … (-o is the output format: %s|%s|%s)", formatText, formatJSON, formatYAML)
	}
	if f.split != "" {
		if split, err = parseSize(f.split); err != nil {
			return "", 0, usagef("--split: %v", err)
		}
	}
	if f.concurrency < 1 {
		return "", 0, usagef("--concurrency %d: want at least 1", f.concurrency)
	}
	if f.level < 1 || f.level > 22 {
		return "", 0, usagef("--level %d: want 1-22", f.level)
	}
	return path, split, pack.CheckOutput(path, split > 0)
}

// options checks the remaining flags, reads the lock or builds the spec,
// loads the keys and builds the command's one client.
func (f *createFlags) options(cmd *cobra.Command, s streams, g *globalFlags) (pack.Options, error) {
	opts := pack.Options{AllowUnsupported: f.spec.allowUnsupported, Discover: !f.spec.catalogOnly}
	if err := f.net.check(); err != nil {
		return opts, err
	}
	if err := f.sign.checkPolicy(); err != nil {
		return opts, err
	}
	mirrors, err := f.net.parsedMirrors()
	if err != nil {
		return opts, err
	}
	if f.lock != "" {
		if f.spec.file != "" || cmd.Flags().Changed("istio") {
			return opts, usagef("--lock pins everything; do not combine it with -f or --istio")
		}
		if opts.Lock, err = loadLock(f.lock); err != nil {
			return opts, err
		}
	} else {
		if opts.Spec, err = f.spec.spec(cmd, mirrors); err != nil {
			return opts, err
		}
		mirrors = opts.Spec.Mirrors
	}
	var base *mirror.Base
	if f.since != "" {
		if base, err = readBase(cmd, f.since, f.sinceKey); err != nil {
			return opts, err
		}
	}
	keys, err := f.sign.upstreamVerifiers()
	if err != nil {
		return opts, err
	}
	signer, err := f.sign.signer(s, f.net.passwordStdin)
	if err != nil {
		return opts, err
	}
	if opts.Catalog, err = f.spec.loadCatalog(); err != nil {
		return opts, err
	}
	log := g.logger(s)
	c, err := f.net.client(s.in, mirrors, log)
	if err != nil {
		return opts, err
	}
	b := currentBuild()
	opts.ResolveProgress = logPinned(log)
	opts.Create.PullOptions = mirror.PullOptions{
		Client: c, Concurrency: f.concurrency, VerifyUpstream: f.sign.verifyUpstream,
		UpstreamKeys: keys, Signer: signer, AllowUnsigned: f.sign.allowUnsigned,
		Tool: bundle.Tool{Name: "meshpack", Version: b.Version, Commit: b.Commit}, Logger: log, Base: base,
	}
	if f.cache != "" {
		opts.Create.PullOptions.Cache = &mirror.BlobCache{Dir: f.cache}
	}
	if f.includeSelf {
		if opts.Create.PullOptions.Programs, err = selfProgram(); err != nil {
			return opts, err
		}
	}
	return opts, nil
}

// readBase reads the --since base: an inventory (its signature checked with
// --since-key when given), a BOM, or a bundle.
func readBase(cmd *cobra.Command, path, key string) (*mirror.Base, error) {
	raw, err := readRawBOM(path)
	if err != nil {
		return nil, err
	}
	var kind struct {
		Kind string `json:"kind"`
	}
	isInventory := json.Unmarshal(raw, &kind) == nil && kind.Kind == mirror.InventoryKind
	if key != "" && !isInventory {
		return nil, usagef("--since-key checks a signed inventory; %s is a bundle or BOM (its signature is checked by bundle verify)", path)
	}
	if key != "" {
		pem, err := os.ReadFile(key)
		if err != nil {
			return nil, usagef("--since-key: %v", err)
		}
		v, err := signing.LoadVerifier(pem)
		if err != nil {
			return nil, usagef("--since-key %s: %v", key, err)
		}
		sig, err := os.ReadFile(path + ".sig")
		if err != nil {
			return nil, fmt.Errorf("inventory %s: no signature beside it (%s.sig): %w", path, path, err)
		}
		if err := signing.VerifyBlob(cmd.Context(), v, raw, sig); err != nil {
			return nil, fmt.Errorf("inventory %s: signature %s.sig does not verify with %s: %w", path, path, key, err)
		}
	}
	if isInventory {
		b, err := mirror.BaseFromInventory(raw)
		if err != nil {
			return nil, usagef("--since %s: %v", path, err)
		}
		return b, nil
	}
	b, err := mirror.BaseFromBOM(raw)
	if err != nil {
		return nil, usagef("--since %s: %v", path, err)
	}
	return b, nil
}

// loadLock reads the --lock file.
func loadLock(path string) (*manifests.Lock, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, usagef("--lock: %v", err)
	}
	defer fh.Close()
	lock, err := manifests.LoadLock(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return lock, nil
}
