package main

import (
	"fmt"
	"math"
	"strings"
)

// Targets from issue 5 ("Done when").
const (
	loadVsOras   = 1.25    // oras wall ≥ 1.25 × load wall
	loadVsRaw    = 1.15    // load wall ≤ 1.15 × raw uploads wall
	resentTarget = 0.10    // bytes sent twice after kill -9 at half way ≤ 10 % of the upload
	noCopyBytes  = 1 << 20 // "no temp copy": at most 1 MiB written or grown besides the registry
)

const raw = "raw"

// loads returns the load runs of tool at size.
func (r *report) loadRuns(size, tool string) results {
	return r.rs.find("load", "size", size, "tool", tool)
}

// loadWall is the median load wall time of tool at size.
func (r *report) loadWall(size, tool string) float64 {
	return median(r.loadRuns(size, tool).nums("wall"))
}

// loadSizes are the sizes with load runs, comparison size first.
func (r *report) loadSizes() []string {
	return r.rs.find("load").values("size")
}

// upload is the bytes a complete load uploads at size (every blob that is
// not a manifest or index).
func (r *report) upload(size string) float64 {
	return r.rs.find("loadset", "size", size).first().num("upload")
}

// resent returns the bytes sent twice by one interrupted load: what the
// registry held after the kill plus what the re-run sent, less the upload.
func resent(rec record) float64 {
	return rec.num("settled") + rec.num("pushed2") - rec.num("upload")
}

// resentFracs returns resent / upload for every interrupted run of mode.
func (r *report) resentFracs(size, mode string) []float64 {
	var out []float64
	for _, rec := range r.rs.find("interrupt", "size", size, "mode", mode) {
		out = append(out, resent(rec)/rec.num("upload"))
	}
	return out
}

func (r *report) loadTargets() {
	sizes := r.loadSizes()
	if len(sizes) == 0 {
		return
	}
	cs := sizes[0]
	r.p("## Targets (issue 5: `bundle load`)\n\n| target | measured | verdict |\n|---|---|---|\n")
	m := r.loadWall(cs, meshpack)
	if o := r.loadWall(cs, "oras"); !math.IsNaN(o) {
		r.p("| load at least %.2f× faster than unpack + `oras copy --from-oci-layout` (%s) | meshpack %s; unpack + oras %s: %s faster | %s |\n",
			loadVsOras, cs, secs(m), secs(o), ratio(o, m), verdict(o >= loadVsOras*m, !math.IsNaN(m)))
	} else {
		r.p("| load at least %.2f× faster than unpack + `oras copy --from-oci-layout` | oras did not run (BENCH_TOOLS) | not measured |\n", loadVsOras)
	}
	if w := r.loadWall(cs, raw); !math.IsNaN(w) {
		r.p("| load within %.2f× of raw parallel blob uploads (%s) | meshpack %s; raw POST + PUT, %s at a time, %s: %s | %s |\n",
			loadVsRaw, cs, secs(m), r.rawConc(), secs(w), ratio(m, w), verdict(m <= loadVsRaw*w, !math.IsNaN(m)))
	}
	var parts []string
	ok, known := true, false
	for _, size := range sizes {
		peak := maxOf(r.loadRuns(size, meshpack).nums("rss_kb"))
		parts = append(parts, fmt.Sprintf("%s at %s", mib(peak), size))
		if !math.IsNaN(peak) {
			known = true
			ok = ok && peak <= rssTargetKB
		}
	}
	r.p("| `bundle load` peak RSS ≤ 128 MiB at every size | %s | %s |\n", strings.Join(parts, ", "), verdict(ok, known))
	var all results
	for _, size := range sizes {
		all = append(all, r.loadRuns(size, meshpack)...)
	}
	extra, written := maxOf(all.nums("extra")), maxOf(all.nums("written"))
	files := "no strace run"
	if w := r.rs.find("writes").first(); w.get("files") != "" {
		files = fmt.Sprintf("files opened for writing (strace): %s", orNone(w.get("paths")))
	}
	r.p("| no temp copy of the bundle written (≤ 1 MiB besides the registry) | every size, every run: watched directories grew by at most %s, the load's processes wrote at most %s to storage; %s | %s |\n",
		bytesStr(extra), bytesStr(written), files, verdict(extra <= noCopyBytes && written <= noCopyBytes, !math.IsNaN(extra+written)))
	if fr := r.resentFracs(cs, "auto"); len(fr) > 0 {
		r.p("| bytes re-sent after kill -9 at ~50 %% and a re-run ≤ %.0f%% (default journal, %s) | median %.2f%% (max %.2f%%) of %s | %s |\n",
			100*resentTarget, cs, 100*median(fr), 100*maxOf(fr), bytesStr(r.upload(cs)), verdict(median(fr) <= resentTarget, true))
	}
	if fr := r.resentFracs(cs, "none"); len(fr) > 0 {
		r.p("| (comparison, no target) the same with `--state-dir none` | median %.2f%% (max %.2f%%) | — |\n", 100*median(fr), 100*maxOf(fr))
	}
	r.p("\n")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return "`" + strings.ReplaceAll(s, " ", "`, `") + "`"
}

func (r *report) rawConc() string {
	if c := r.rs.find("meta").first().get("raw_conc"); c != "" {
		return c
	}
	return "4"
}

func (r *report) loadTable(size string) {
	r.p("## Load at %s: meshpack vs unpack + push\n\n", size)
	set := r.rs.find("loadset", "size", size).first()
	r.p("The same signed bundle (%s, %s blobs, %s of them uploaded as blobs; %s images) goes into a fresh\n",
		bytesStr(set.num("bundle")), set.get("blobs"), bytesStr(set.num("upload")), set.get("images"))
	r.p("`meshpack registry serve` for every run. Median of %s runs; wall time includes the final `sync`.\n", r.runs)
	r.p("meshpack verifies first (BOM and image signatures with `--key`, every blob digest), then pushes every\n")
	r.p("image, its platforms and its cosign signatures, each image to its own repository and tag. oras and\n")
	r.p("skopeo push the same images and tags but not the signatures; crane pushes the whole layout,\n")
	r.p("signatures included, into one repository (`--index`: per-image repositories would need one layout\n")
	r.p("per image).\n\n")
	r.p("| tool | wall time | vs meshpack | throughput | peak RSS (max) | CPU user + sys | registry CPU | extra disk (peak, max) | written by the tool | steps (median) |\n")
	r.p("|---|---|---|---|---|---|---|---|---|---|\n")
	m := r.loadWall(size, meshpack)
	up := r.upload(size)
	for _, t := range append([]string{meshpack}, append(r.loadOthers(size), raw)...) {
		rs := r.loadRuns(size, t)
		if len(rs) == 0 {
			continue
		}
		w := median(rs.nums("wall"))
		name, steps := loadLabel(t, r.rawConc()), ""
		switch t {
		case meshpack:
			steps = fmt.Sprintf("verify %s, push %s, sync %s", secs(median(rs.nums("verify"))), secs(median(rs.nums("push"))-median(rs.nums("verify"))), secs(median(rs.nums("sync"))))
		case raw:
			steps = fmt.Sprintf("push %s, sync %s", secs(median(rs.nums("push"))), secs(median(rs.nums("sync"))))
		default:
			steps = fmt.Sprintf("unpack %s, push %s, sync %s", secs(median(rs.nums("unpack"))), secs(median(rs.nums("push"))), secs(median(rs.nums("sync"))))
		}
		extra := bytesStr(maxOf(rs.nums("extra")))
		if t == raw {
			extra = "n/a (layout unpacked beforehand)"
		}
		r.p("| %s | %s | %s | %.0f MiB/s | %s | %.2f + %.2f s | %s | %s | %s | %s |\n", name, spread(rs, "wall"), ratio(w, m),
			up/w/(1<<20), mib(maxOf(rs.nums("rss_kb"))), median(rs.nums("user")), median(rs.nums("sys")),
			secs(median(rs.nums("reg_cpu"))), extra, bytesStr(median(rs.nums("written"))), steps)
	}
	r.p("\n")
	var parts []string
	for _, t := range r.loadOthers(size) {
		parts = append(parts, fmt.Sprintf("%s %s", t, secs(median(r.loadRuns(size, t).nums("push")))))
	}
	if len(parts) > 0 {
		r.p("Push from the unpacked layout alone, without unpack and sync (%s): %s; meshpack's push after its\n", size, strings.Join(parts, ", "))
		r.p("verification: %s.\n\n", secs(median(r.loadRuns(size, meshpack).nums("push"))-median(r.loadRuns(size, meshpack).nums("verify"))))
	}
	r.p("Registry data after each run (blobs and manifests; crane puts everything in one repository): ")
	parts = parts[:0]
	for _, t := range append([]string{meshpack}, append(r.loadOthers(size), raw)...) {
		if rs := r.loadRuns(size, t); len(rs) > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", t, bytesStr(median(rs.nums("stored")))))
		}
	}
	r.p("%s.\n\n", strings.Join(parts, ", "))
}

// loadOthers returns the comparison tools that loaded at size.
func (r *report) loadOthers(size string) []string {
	var out []string
	for _, t := range r.rs.find("load", "size", size).values("tool") {
		if t != meshpack && t != raw {
			out = append(out, t)
		}
	}
	return out
}

func loadLabel(tool, conc string) string {
	switch tool {
	case meshpack:
		return "meshpack `bundle load --key`"
	case raw:
		return "raw POST + PUT, " + conc + " at a time (registry ceiling)"
	case "oras":
		return "`tar --zstd -x` + `oras cp --from-oci-layout`"
	case "crane":
		return "`tar --zstd -x` + `crane push --index`"
	case "skopeo":
		return "`tar --zstd -x` + `skopeo copy --all oci:`"
	}
	return "`tar --zstd -x` + " + tool
}

func (r *report) interruptTable() {
	ints := r.rs.find("interrupt")
	if len(ints) == 0 {
		return
	}
	size := ints.first().get("size")
	r.p("## Interrupted load at %s: kill -9 at ~50 %%, then re-run\n\n", size)
	r.p("`meshpack bundle load` runs in the background into a fresh registry; `benchtool killat` polls the\n")
	r.p("registry's storage (every file called `data`: blobs and partial uploads) and sends SIGKILL once it holds\n")
	r.p("half the upload bytes; once the storage stops growing the same command runs again to completion. Bytes\n")
	r.p("sent twice = stored when the first run died + sent by the re-run (`bytesPushed` of its `-o json`) −\n")
	r.p("the upload bytes of a complete load. \"journal\" is the default `--state-dir auto` (pointed at a temp\n")
	r.p("dir through `XDG_CACHE_HOME`): interrupted uploads continue from the byte the registry kept;\n")
	r.p("`--state-dir none` restarts them.\n\n")
	r.p("| state dir | run | killed after | stored at kill | re-run sent | re-run continued uploads (bytes kept) | re-run skipped | sent twice | sent twice / upload | re-run wall |\n")
	r.p("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, rec := range ints {
		mode := "auto (journal)"
		if rec.get("mode") == "none" {
			mode = "none"
		}
		killed := secs(rec.num("elapsed"))
		if rec.get("killed") != "1" {
			killed = "not killed (finished first)"
		}
		up := rec.num("upload")
		r.p("| %s | %s | %s | %s (%.1f%%) | %s | %s (%s) | %s | %s | %.2f%% | %s |\n", mode, rec.get("run"), killed,
			bytesStr(rec.num("settled")), 100*rec.num("settled")/up, bytesStr(rec.num("pushed2")), rec.get("uploads_resumed2"),
			bytesStr(rec.num("resumed2")), bytesStr(rec.num("skipped2")), bytesStr(resent(rec)), 100*resent(rec)/up, secs(rec.num("wall2")))
	}
	r.p("\n")
	for _, mode := range []string{"auto", "none"} {
		if fr := r.resentFracs(size, mode); len(fr) > 0 {
			r.p("- `--state-dir %s`: median %.2f%% of %s sent twice.\n", mode, 100*median(fr), bytesStr(r.upload(size)))
		}
	}
	r.p("\n")
}

func (r *report) loadSizeTable() {
	sizes := r.loadSizes()
	if len(sizes) == 0 {
		return
	}
	r.p("## Load at every size (meshpack)\n\n")
	r.p("Into a fresh `meshpack registry serve` each run, default concurrency (%s uploads), with `--key`.\n",
		orDefault(r.rs.find("meta").first().get("load_conc"), "default"))
	r.p("\"registry CPU\" is what the registry process used meanwhile on the same 2 cores; \"load\" the 1-minute\n")
	r.p("load average when the run started.\n\n")
	r.p("| size | bundle | upload bytes | wall (median, range) | verify part | throughput | peak RSS (max) | CPU user + sys | CPU / wall | registry CPU | extra disk (max) | written (max) | load |\n")
	r.p("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, size := range sizes {
		rs := r.loadRuns(size, meshpack)
		set := r.rs.find("loadset", "size", size).first()
		w, u, s := median(rs.nums("wall")), median(rs.nums("user")), median(rs.nums("sys"))
		r.p("| %s | %s | %s | %s | %s | %.0f MiB/s | %s | %.2f + %.2f s | %.0f%% | %s | %s | %s | %s |\n", size,
			bytesStr(set.num("bundle")), bytesStr(set.num("upload")), spread(rs, "wall"), secs(median(rs.nums("verify"))),
			set.num("upload")/w/(1<<20), mib(maxOf(rs.nums("rss_kb"))), u, s, 100*(u+s)/w, secs(median(rs.nums("reg_cpu"))),
			bytesStr(maxOf(rs.nums("extra"))), bytesStr(maxOf(rs.nums("written"))), loads(rs))
	}
	r.p("\n")
	if w := r.rs.find("writes").first(); w.get("files") != "" {
		r.p("Files the load opened for writing, from `strace -f -e trace=openat,creat,open` of one %s load: %s\n",
			w.get("size"), orNone(w.get("paths")))
		r.p("(`$LW` is the directory of the bundle, TMPDIR and XDG_CACHE_HOME; the journal is a few KiB of JSON lines).\n\n")
	}
	var parts []string
	for _, sg := range r.rs.find("signed") {
		parts = append(parts, fmt.Sprintf("%s %s (%s)", sg.get("size"), secs(sg.num("wall")), bytesStr(sg.num("out"))))
	}
	if len(parts) > 0 {
		r.p("The signed bundles were created once per size with `bundle create --key` (throwaway key): %s.\n\n", strings.Join(parts, ", "))
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func (r *report) loadMethod() {
	if len(r.loadSizes()) == 0 {
		return
	}
	r.p("- Load: a bundle of the same workload, signed with a throwaway key (`meshpack keys generate`,\n")
	r.p("  `bundle create --key`), is loaded by every tool into a fresh `meshpack registry serve --root DIR\n")
	r.p("  --addr 127.0.0.1:PORT` (CNCF Distribution, filesystem storage on the same disk) started for that\n")
	r.p("  run alone. Before each run: `sync`, drop the page cache, then read the bundle once (warm source).\n")
	r.p("  meshpack runs `bundle load --key` (verification included). The other tools start from the\n")
	r.p("  bundle too: `tar --zstd -xf` into an empty directory (timed), then oras and skopeo copy each\n")
	r.p("  image (every platform) to the repository and tag meshpack uses, crane pushes the whole layout\n")
	r.p("  with `--index` into one repository. Raw uploads (`benchtool rawpush`, Go net/http) send every\n")
	r.p("  file under `blobs/sha256` of a layout unpacked beforehand with POST + monolithic PUT, %s at a\n", r.rawConc())
	r.p("  time, nothing else: the registry's ceiling for the same bytes.\n")
	r.p("- Extra disk: the bundle, TMPDIR, XDG_CACHE_HOME (home of the default journal) and the unpack\n")
	r.p("  directory all live in one directory whose size `du -sb` samples every 0.1 s during the run;\n")
	r.p("  \"extra disk\" is its peak growth. \"written by the tool\" is GNU time's `%%O` × 512 (getrusage\n")
	r.p("  `ru_oublock`: bytes the command's processes caused to be written to storage, anywhere, the\n")
	r.p("  registry's own writes excluded as it is another process). One more load runs under\n")
	r.p("  `strace -f -e trace=openat,creat,open` to list every file it opens for writing.\n")
	r.p("- Peak RSS of a load pipeline is the largest of any of its processes (tar, zstd, the push tool).\n")
}
