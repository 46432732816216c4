package main

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// Targets from issue 3 ("Done when").
const (
	diskTarget   = 1.10      // create wall ≤ 1.1 × dd wall for the same bytes
	outputTarget = 1.01      // output ≤ 1.01 × the sum of the unique blobs
	rssTargetKB  = 128 << 10 // peak RSS of create and verify ≤ 128 MiB
)

// runReport renders the results file as markdown and writes it atomically.
func runReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	in := fs.String("in", "", "results file written by hack/bench.sh")
	out := fs.String("out", "BENCHMARKS.md", "markdown file to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" || fs.NArg() != 0 {
		return fmt.Errorf("report: want -in FILE [-out FILE]\n%w", errUsage)
	}
	f, err := os.Open(*in)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	recs, err := parseRecords(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("report %s: %w", *in, err)
	}
	var buf bytes.Buffer
	render(&buf, results(recs))
	return writeAtomic(*out, buf.Bytes())
}

// writeAtomic writes b to path through a temporary file and a rename.
func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("report %s: %w", path, err)
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("report %s: %w", path, err)
	}
	return nil
}

// report is the state render passes between sections.
type report struct {
	w       *bytes.Buffer
	rs      results
	sizes   []string // workload sizes, comparison size first
	compare string   // the size every tool ran at
	runs    string
}

// render writes the whole document.
func render(w *bytes.Buffer, rs results) {
	meta := rs.find("meta").first()
	r := &report{w: w, rs: rs, sizes: rs.find("workload").values("size"), compare: meta.get("compare_size"), runs: meta.get("runs")}
	hasCreate := len(rs.find("create")) > 0
	r.header(meta)
	r.machine()
	r.workload()
	r.method(meta, hasCreate)
	if hasCreate {
		r.targets()
	}
	r.loadTargets()
	if hasCreate {
		if r.compare != "" {
			r.createTable(r.compare)
		}
		r.diskTable()
		r.outputTable()
		r.readTable()
		r.memoryTable()
		r.profile()
	}
	if ls := r.loadSizes(); len(ls) > 0 {
		r.loadTable(ls[0])
		r.interruptTable()
		r.loadSizeTable()
	}
	r.commands()
}

func (r *report) p(format string, args ...any) { fmt.Fprintf(r.w, format, args...) }

func (r *report) header(meta record) {
	r.p("# Benchmarks\n\n")
	r.p("How fast and how lean `meshpack bundle create` is next to the usual way of carrying\n")
	r.p("images on a disk: pull them into an OCI layout with oras, crane or skopeo, then\n")
	r.p("`tar --zstd` the layout; and how `meshpack bundle load` compares with unpacking that\n")
	r.p("archive and pushing the layout with the same tools, and with raw blob uploads of the same\n")
	r.p("bytes. Every number below comes from one run of `make bench`\n")
	r.p("(hack/bench.sh), which writes this file; nothing is edited by hand. Run it again to\n")
	r.p("refresh the numbers on your machine.\n\n")
	r.p("```\nmake bench\n```\n\n")
	r.p("This run: %s, meshpack %s (commit %s), %s runs per measurement, sizes %s; `make bench` took %s.\n",
		meta.get("started"), meta.get("version"), meta.get("commit"), r.runs, meta.get("sizes"), minutes(meta.num("elapsed")))
	r.p("1-minute load average when the runs started: create %s, load %s (2 cores; other jobs share this machine).\n",
		loads(r.rs.find("create")), loads(r.rs.find("load")))
	if sec := meta.get("sections"); sec != "" && sec != "create,load" {
		r.p("Sections measured: %s (`BENCH_SECTIONS`).\n", sec)
	}
	r.p("Settings (environment): `BENCH_SIZES` (default `1GiB 4GiB`; the first size runs every tool, the others\n")
	r.p("meshpack only), `BENCH_RUNS` (default 3), `BENCH_TOOLS` (default `oras crane skopeo`), `BENCH_SECTIONS`\n")
	r.p("(default `create,load`), `BENCH_RAW_CONC` (default 4), `BENCH_DIR` (default `.cache/bench`, on the disk\n")
	r.p("being measured).\n\n")
}

func (r *report) machine() {
	m := r.rs.find("machine").first()
	r.p("## Machine\n\n")
	r.p("| nproc | CPU | memory | kernel | OS | disk (bench dir) |\n|---|---|---|---|---|---|\n")
	r.p("| %s | %s | %s | %s | %s | %s |\n\n", m.get("nproc"), m.get("cpu"), m.get("mem"), m.get("kernel"), m.get("os"), m.get("disk"))
	r.p("Tools: ")
	var tools []string
	for _, t := range r.rs.find("tool") {
		tools = append(tools, fmt.Sprintf("%s %s", t.get("name"), t.get("version")))
	}
	r.p("%s.\n\n", strings.Join(tools, ", "))
}

func (r *report) workload() {
	r.p("## Workload\n\n")
	r.p("The offline fixture upstream (hack/fixture-upstream, `--size SIZE --platform linux/amd64,linux/arm64`)\n")
	r.p("generates the Istio 1.30.3 image set plus Kiali: every image an index of two platforms, debian and\n")
	r.p("distroless base layers shared between images, one large gzip-compressed application layer per image\n")
	r.p("and platform, small text layers; it serves them from a local registry on 127.0.0.1 (plain HTTP,\n")
	r.p("storage on the same disk). Every tool pulls the same distinct image indexes from it.\n\n")
	r.p("| size | images | platforms | unique layers | layer bytes (gzip) | uncompressed | fixture seeding |\n|---|---|---|---|---|---|---|\n")
	for _, wl := range r.rs.find("workload") {
		r.p("| %s | %s | %s | %s | %s | %s | %s |\n", wl.get("size"), wl.get("images"), wl.get("platforms"), wl.get("layers"),
			bytesStr(wl.num("layer_bytes")), bytesStr(wl.num("raw_bytes")), secs(wl.num("seeding")))
	}
	var refs []string
	for _, im := range r.rs.find("image", "size", r.firstSize()) {
		refs = append(refs, "`"+im.get("ref")+"`")
	}
	r.p("\nImages: %s.\n\n", strings.Join(refs, ", "))
}

func (r *report) method(meta record, hasCreate bool) {
	r.p("## Method\n\n")
	if !hasCreate {
		r.loadMethod()
		r.p("\n")
		return
	}
	r.p("- Before every timed run: `sync`, then drop the page cache (`echo 3 > /proc/sys/vm/drop_caches`: %s),\n", meta.get("drop_caches"))
	r.p("  then read the fixture registry's storage once and start every tool binary once (`version`), so\n")
	r.p("  every tool starts with a warm source and a cold, clean destination. The binaries are warmed by\n")
	r.p("  running them, not by reading the files: on this kernel, pages that read() brought in sit in large\n")
	r.p("  folios that exec then maps whole, ~40 MiB more file-backed (shared, reclaimable) RSS for a large\n")
	r.p("  Go binary; the \"read through\" row of the targets measures that case.\n")
	r.p("- Wall time and peak RSS come from GNU time (`/usr/bin/time`, `%%e` and `%%M`, the same numbers\n")
	r.p("  `-v` prints) around the whole step sequence, which ends with `sync` so the output is on disk.\n")
	r.p("  Peak RSS is the largest of any process in the sequence (the tool, tar, zstd). Medians over the\n")
	r.p("  runs; the range is min–max. Each tool runs with its default concurrency.\n")
	r.p("- Disk write: `dd if=/dev/zero of=FILE bs=4M count=BYTES iflag=count_bytes conv=fdatasync; sync`\n")
	r.p("  for exactly the bytes meshpack wrote, under the same cache treatment.\n")
	r.p("- Sum of unique blobs: the blobs the bundle holds (its TOC); the layouts the other tools wrote are\n")
	r.p("  counted too (every file under `blobs/`) as a cross-check.\n")
	r.p("- Random access: `benchtool read` (hack/benchtool) opens the bundle with `bundle.Open` and reads the\n")
	r.p("  first and the last blob of the tar stream with `Reader.Fetch` (digest checked), cold cache. For\n")
	r.p("  comparison, GNU tar extracts the first and last blob of a `tar --zstd` archive\n")
	r.p("  (`tar --zstd -xOf OUT --occurrence=1 MEMBER`), which must decompress everything before it.\n")
	r.p("- The fixture registry runs on the same 2 cores; its CPU time during each create run is listed.\n")
	r.loadMethod()
	r.p("\n")
}

func (r *report) firstSize() string {
	if len(r.sizes) > 0 {
		return r.sizes[0]
	}
	return ""
}

func (r *report) commands() {
	r.p("## Commands\n\n")
	r.p("As hack/bench.sh runs them (`$REG` is the fixture registry, `$IMAGES` the image list above,\n")
	r.p("`$MIRRORS` the fixture's `--mirror` arguments, `$L` an empty layout directory, `tagof` turns a\n")
	r.p("reference into a layout tag; for the loads `$TARGET` is the fresh registry of the run, `$L` the\n")
	r.p("directory the bundle is unpacked into, `$DIGEST`, `$REF`, `$REPO:$TAG` an image of the bundle's\n")
	r.p("index.json with its ref.name and the repository and tag meshpack gives it):\n\n```sh\n")
	for _, c := range r.rs.find("cmd") {
		r.p("# %s\n%s\n", c.get("name"), strings.ReplaceAll(c.get("text"), " ; ", "\n"))
	}
	r.p("```\n")
}

// secs formats seconds.
func secs(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	if v < 0.1 {
		return fmt.Sprintf("%.1f ms", v*1000)
	}
	return fmt.Sprintf("%.2f s", v)
}

// minutes formats a duration in seconds as "Xm Ys".
func minutes(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	s := int(math.Round(v))
	return fmt.Sprintf("%dm %02ds", s/60, s%60)
}

// mib formats kilobytes (GNU time's %M) as MiB.
func mib(kb float64) string {
	if math.IsNaN(kb) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", kb/1024)
}

// bytesStr formats a byte count exactly and in GiB or MiB.
func bytesStr(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case v >= 1<<30:
		return fmt.Sprintf("%.0f (%.3f GiB)", v, v/(1<<30))
	case v >= 1<<20:
		return fmt.Sprintf("%.0f (%.1f MiB)", v, v/(1<<20))
	case v >= 1<<10:
		return fmt.Sprintf("%.0f (%.1f KiB)", v, v/(1<<10))
	default:
		return fmt.Sprintf("%.0f B", v)
	}
}

// ratio formats a/b as "1.23×".
func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// verdict says whether a target is met.
func verdict(ok bool, known bool) string {
	switch {
	case !known:
		return "not measured"
	case ok:
		return "**met**"
	default:
		return "**MISSED**"
	}
}
