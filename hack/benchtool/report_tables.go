package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

const (
	meshpack      = "meshpack"
	meshpackTmpfs = "meshpack-tmpfs" // meshpack writing to /dev/shm: no disk
	// meshpackReadwarm is meshpack started right after its binary was read
	// through (as sha256sum does): the page cache then holds it in large
	// folios, which exec maps whole.
	meshpackReadwarm = "meshpack-readwarm"
)

// creates returns the create runs of tool at size.
func (r *report) creates(size, tool string) results {
	return r.rs.find("create", "size", size, "tool", tool)
}

// spread formats the median and range of field key over rs.
func spread(rs results, key string) string {
	xs := rs.nums(key)
	if len(xs) == 0 {
		return "n/a"
	}
	if len(xs) == 1 {
		return secs(xs[0])
	}
	lo, hi := xs[0], xs[0]
	for _, x := range xs {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return fmt.Sprintf("%s (%.2f–%.2f)", secs(median(xs)), lo, hi)
}

// others returns the comparison tools that ran at size, in run order.
func (r *report) others(size string) []string {
	var out []string
	for _, t := range r.rs.find("create", "size", size).values("tool") {
		if t != meshpack && t != meshpackTmpfs && t != meshpackReadwarm {
			out = append(out, t)
		}
	}
	return out
}

// blobBytes is the sum of the unique blobs at size, from the bundle's TOC.
func (r *report) blobBytes(size string) float64 {
	return r.rs.find("blobs", "size", size, "source", meshpack).first().num("bytes")
}

func (r *report) targets() {
	r.p("## Targets (issue 3)\n\n| target | measured | verdict |\n|---|---|---|\n")
	cs := r.compare
	m := median(r.creates(cs, meshpack).nums("wall"))
	if others := r.others(cs); len(others) > 0 {
		best, bestWall := "", math.Inf(1)
		for _, t := range others {
			if w := median(r.creates(cs, t).nums("wall")); w < bestWall {
				best, bestWall = t, w
			}
		}
		r.p("| create faster than every tool + `tar --zstd` (%s) | meshpack %s; fastest other: %s %s (%s meshpack's time) | %s |\n",
			cs, secs(m), best, secs(bestWall), ratio(bestWall, m), verdict(m < bestWall, !math.IsNaN(m)))
	} else {
		r.p("| create faster than every tool + `tar --zstd` | no other tool ran (BENCH_TOOLS) | not measured |\n")
	}
	for _, size := range r.sizes {
		w := median(r.creates(size, meshpack).nums("wall"))
		d := median(r.rs.find("dd", "size", size).nums("wall"))
		r.p("| create within %.1f× of the disk-write time (%s) | meshpack %s vs dd %s: %s | %s |\n",
			diskTarget, size, secs(w), secs(d), ratio(w, d), verdict(w <= diskTarget*d, !math.IsNaN(w*d)))
	}
	for _, size := range r.sizes {
		out, blobs := median(r.creates(size, meshpack).nums("out")), r.blobBytes(size)
		r.p("| output ≤ %.2f× the unique blobs (%s) | %.0f / %.0f bytes = %.5f× | %s |\n",
			outputTarget, size, out, blobs, out/blobs, verdict(out <= outputTarget*blobs, !math.IsNaN(out/blobs)))
	}
	for _, kind := range []string{"create", "verify"} {
		var parts []string
		ok, known := true, false
		for _, size := range r.sizes {
			rs := r.rs.find(kind, "size", size, "tool", meshpack)
			if kind == "verify" {
				rs = r.rs.find(kind, "size", size)
			}
			peak := maxOf(rs.nums("rss_kb"))
			parts = append(parts, fmt.Sprintf("%s at %s", mib(peak), size))
			if !math.IsNaN(peak) {
				known = true
				ok = ok && peak <= rssTargetKB
			}
		}
		r.p("| `bundle %s` peak RSS ≤ 128 MiB at every size | %s | %s |\n", kind, strings.Join(parts, ", "), verdict(ok, known))
	}
	var warm []string
	for _, size := range r.sizes {
		if rs := r.creates(size, meshpackReadwarm); len(rs) > 0 {
			warm = append(warm, fmt.Sprintf("%s at %s", mib(maxOf(rs.nums("rss_kb"))), size))
		}
	}
	if len(warm) > 0 {
		r.p("| (comparison, no target) create peak RSS with the binary read through just before (`cat`, as `sha256sum` does): file-backed pages in large folios | %s | — |\n", strings.Join(warm, ", "))
	}
	r.p("\n")
}

func (r *report) createTable(size string) {
	r.p("## Create at %s: meshpack vs pull + `tar --zstd`\n\n", size)
	r.p("Median of %s runs; wall time includes the final `sync`.\n\n", r.runs)
	r.p("| tool | wall time | vs meshpack | peak RSS (max) | CPU user + sys | output bytes | output / unique blobs | steps (median) |\n")
	r.p("|---|---|---|---|---|---|---|---|\n")
	m := median(r.creates(size, meshpack).nums("wall"))
	blobs := r.blobBytes(size)
	for _, t := range append([]string{meshpack}, r.others(size)...) {
		rs := r.creates(size, t)
		if len(rs) == 0 {
			continue
		}
		name := "meshpack `bundle create`"
		steps := fmt.Sprintf("create %s, sync %s", secs(median(rs.nums("pull"))), secs(median(rs.nums("sync"))))
		if t != meshpack {
			name = t + " + `tar --zstd`"
			steps = fmt.Sprintf("pull %s, tar %s, sync %s", secs(median(rs.nums("pull"))), secs(median(rs.nums("tar"))), secs(median(rs.nums("sync"))))
		}
		out := median(rs.nums("out"))
		r.p("| %s | %s | %s | %s | %.2f + %.2f s | %s | %.5f× | %s |\n", name, spread(rs, "wall"), ratio(median(rs.nums("wall")), m),
			mib(maxOf(rs.nums("rss_kb"))), median(rs.nums("user")), median(rs.nums("sys")), bytesStr(out), out/blobs, steps)
	}
	r.p("\n")
}

func (r *report) diskTable() {
	r.p("## Disk-write time for the same bytes\n\n")
	r.p("| size | bytes written | dd + fdatasync | dd throughput | meshpack create | create / dd |\n|---|---|---|---|---|---|\n")
	for _, size := range r.sizes {
		dd := r.rs.find("dd", "size", size)
		d := median(dd.nums("wall"))
		b := dd.first().num("bytes")
		w := median(r.creates(size, meshpack).nums("wall"))
		r.p("| %s | %s | %s | %.0f MiB/s | %s | %s |\n", size, bytesStr(b), spread(dd, "wall"), b/d/(1<<20), secs(w), ratio(w, d))
	}
	r.p("\n")
}

func (r *report) outputTable() {
	r.p("## Output size vs the sum of unique blobs\n\n")
	r.p("| size | blobs counted in | blobs | blob bytes | output bytes | output / blob bytes |\n|---|---|---|---|---|---|\n")
	for _, size := range r.sizes {
		for _, b := range r.rs.find("blobs", "size", size) {
			src := b.get("source")
			out := median(r.creates(size, src).nums("out"))
			label := "meshpack bundle (TOC)"
			if src != meshpack {
				label = src + " OCI layout"
			}
			r.p("| %s | %s | %s | %s | %s | %.5f× |\n", size, label, b.get("count"), bytesStr(b.num("bytes")), bytesStr(out), out/b.num("bytes"))
		}
	}
	r.p("\n")
}

func (r *report) readTable() {
	reads := r.rs.find("read")
	if len(reads) == 0 {
		return
	}
	r.p("## Random access: first blob vs last blob\n\n")
	r.p("Cold page cache before every read; median of the runs. meshpack's open time (footer, seek\n")
	r.p("table, TOC, index.json) is paid once per `bundle.Open`, not per blob.\n\n")
	r.p("| size | archive | blob | blob bytes | offset in tar stream | open | time to first byte | total read |\n|---|---|---|---|---|---|---|---|\n")
	for _, size := range r.sizes {
		for _, format := range reads.find("read", "size", size).values("format") {
			for _, which := range reads.find("read", "size", size, "format", format).values("which") {
				rs := reads.find("read", "size", size, "format", format, "which", which)
				f := rs.first()
				r.p("| %s | %s | %s `%s` | %s | %s | %s | %s | %s |\n", size, format, which, short(f.get("digest")),
					bytesStr(f.num("bytes")), bytesStr(f.num("offset")), secs(median(rs.nums("open"))),
					secs(median(rs.nums("ttfb"))), secs(median(rs.nums("total"))))
			}
		}
	}
	r.p("\n")
}

func (r *report) memoryTable() {
	r.p("## Memory at every size (meshpack)\n\n")
	r.p("| size | create peak RSS (max) | create wall (median) | verify peak RSS (max) | verify wall (median) | verify CPU user + sys |\n|---|---|---|---|---|---|\n")
	for _, size := range r.sizes {
		c, v := r.creates(size, meshpack), r.rs.find("verify", "size", size)
		r.p("| %s | %s | %s | %s | %s | %.2f + %.2f s |\n", size, mib(maxOf(c.nums("rss_kb"))), spread(c, "wall"),
			mib(maxOf(v.nums("rss_kb"))), spread(v, "wall"), median(v.nums("user")), median(v.nums("sys")))
	}
	r.p("\n")
}

func (r *report) profile() {
	r.p("## Profile facts (for optimisation)\n\n")
	r.p("Medians. \"create step\" is `bundle create` itself (which fsyncs the bundle before the rename),\n")
	r.p("\"sync\" the final `sync`; \"registry CPU\" is what the fixture registry process used meanwhile\n")
	r.p("on the same cores; \"load\" is the 1-minute load average when the run started (other jobs share\n")
	r.p("this machine). The tmpfs row writes the bundle to /dev/shm: the time without the disk.\n\n")
	r.p("| size | meshpack run | wall | user | sys | CPU / wall | registry CPU | create step | sync step | throughput | dd throughput | load |\n")
	r.p("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, size := range r.sizes {
		dd := r.rs.find("dd", "size", size)
		ddRate := dd.first().num("bytes") / median(dd.nums("wall")) / (1 << 20)
		for _, t := range []string{meshpack, meshpackTmpfs} {
			c := r.creates(size, t)
			if len(c) == 0 {
				continue
			}
			label := "to the bench dir"
			if t == meshpackTmpfs {
				label = "to tmpfs"
			}
			w, u, s := median(c.nums("wall")), median(c.nums("user")), median(c.nums("sys"))
			out := median(c.nums("out"))
			r.p("| %s | %s | %s | %.2f s | %.2f s | %.0f%% | %s | %s | %s | %.0f MiB/s | %.0f MiB/s | %s |\n", size, label, secs(w), u, s,
				100*(u+s)/w, secs(median(c.nums("reg_cpu"))), secs(median(c.nums("pull"))), secs(median(c.nums("sync"))),
				out/w/(1<<20), ddRate, loads(c))
		}
	}
	r.p("\n")
	if others := r.others(r.compare); len(others) > 0 {
		var parts []string
		for _, t := range others {
			parts = append(parts, fmt.Sprintf("%s %s", t, secs(median(r.creates(r.compare, t).nums("pull")))))
		}
		r.p("Pull into a layout alone, without tar and sync (%s): %s.\n\n", r.compare, strings.Join(parts, ", "))
	}
}

// short abbreviates a digest for tables.
func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

// loads formats the range of the load averages recorded with rs.
func loads(rs results) string {
	xs := rs.nums("load")
	if len(xs) == 0 {
		return "n/a"
	}
	lo, hi := slices.Min(xs), slices.Max(xs)
	if lo == hi {
		return fmt.Sprintf("%.2f", lo)
	}
	return fmt.Sprintf("%.2f–%.2f", lo, hi)
}
