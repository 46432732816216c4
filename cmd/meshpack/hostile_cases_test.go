//go:build linux

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/bundle/bundletest"
)

// zeroBomb is the size of the zero-bomb blob and zeroBombDigest its sha256
// (of 8 GiB of zero bytes), so that the blob's name is honest and only its
// size is hostile.
const (
	zeroBomb       = 8 << 30
	zeroBombDigest = "sha256:ebfb4ef19ae410f190327b5ebd312711263bc7579970e87d9c1e2d84e06b3c25"
)

// hostileCases is the suite's table. SECURITY.md lists every row by its
// subtest name (TestHostileBundles/<name>); keep the two in step.
func hostileCases() []hostileCase {
	return []hostileCase{
		{"real bundle", plain(nil, bundletest.EncodeOptions{}), []hostileCmd{
			{args: verifyKey, wantExit: exitOK},
			{args: loadKey, wantExit: exitOK},
		}},
		{"hidden index.json before blobs", hideIndex("blobs/", bundletest.TOCHide), refused(wantHeaderOffset)},
		{"hidden index.json between blobs", hideIndex("", bundletest.TOCHide), refused(wantHeaderOffset)},
		{"hidden index.json with the TOC unchanged", hideIndex("", bundletest.TOCKeep), []hostileCmd{
			{args: verifyKey, wantExit: exitFail, want: wantRescan},
			{args: with(verifyKey, "--allow-rescan"), wantExit: exitFail, want: wantDuplicate},
			{args: with(loadKey, "--allow-rescan"), wantExit: exitFail, want: wantDuplicate},
		}},
		{"hidden image", hideImage, refused(wantHeaderOffset)},
		{"header size differs from TOC", plain(func(t *testing.T, b *bundletest.Bundle) {
			e := lastBlob(t, b)
			must(t, b.SetHeader(e.Name, func(h *bundletest.Header) { h.Size = e.Size / 2 }))
		}, bundletest.EncodeOptions{}), refused(wantHeaderOffset)},
		{"symlink header", retype(bundle.LockName, bundletest.TypeSymlink, "/etc/passwd"), refused(wantTarType)},
		{"hardlink header", retype("", bundletest.TypeLink, "etc/hostname"), refused(wantTarType)},
		{"char device header", retype("", bundletest.TypeChar, ""), refused(wantTarType)},
		{"index.json annotation changed", plain(func(t *testing.T, b *bundletest.Bundle) {
			idx := readIndex(t, b)
			idx.Manifests[0].Annotations["org.opencontainers.image.ref.name"] += "-evil"
			must(t, b.ReplaceFile(bundle.IndexName, mustMarshal(t, idx)))
		}, bundletest.EncodeOptions{}), refused(wantIndexBOM)},
		{"lock.yaml changed", plain(func(t *testing.T, b *bundletest.Bundle) {
			lock, err := b.File(bundle.LockName)
			must(t, err)
			must(t, b.ReplaceFile(bundle.LockName, append(lock, "# changed after signing\n"...)))
		}, bundletest.EncodeOptions{}), refused(wantLockBOM)},
		{"extra meshpack/x", plain(func(t *testing.T, b *bundletest.Bundle) {
			must(t, b.InsertBefore("blobs/", bundletest.TarFile("meshpack/x", []byte("not signed\n")), bundletest.TOCList))
		}, bundletest.EncodeOptions{}), refused(wantExtraBOM)},
		{"data after the trailer", plain(func(t *testing.T, b *bundletest.Bundle) {
			evil := append(bundletest.TarFile(bundle.IndexName, []byte(`{"schemaVersion":2,"manifests":[]}`)), make([]byte, 1024)...)
			must(t, b.Insert(b.Len(), evil, bundletest.TOCHide))
		}, bundletest.EncodeOptions{}), refused(wantTrailer)},
		{"TOC bomb", plain(nil, bundletest.EncodeOptions{TOCPadding: 1 << 30}), refused(wantTOC)},
		{"TOC bomb without content size", plain(nil, bundletest.EncodeOptions{TOCPadding: 1 << 30, TOCNoContentSize: true}), refused(wantTOC)},
		{"lying seek table", plain(nil, bundletest.EncodeOptions{EditSeekTable: lieAboutLastFrame}), refused(wantSeekTable)},
		{"no seek table", plain(nil, bundletest.EncodeOptions{NoSeekTable: true}), append(refused(wantRescan),
			hostileCmd{args: with(verifyKey, "--allow-rescan"), wantExit: exitOK})},
		{"zero bomb", zeroBombCase(bundletest.EncodeOptions{}), []hostileCmd{
			{args: verifyUnsigned, wantExit: exitFail, want: wantZeroBomb, timeout: 2 * time.Minute},
			{args: loadUnsigned, wantExit: exitFail, want: wantZeroBomb, timeout: 2 * time.Minute},
			{args: verifyKey, wantExit: exitFail, want: wantAnything, timeout: 2 * time.Minute},
		}},
		{"zero bomb in one frame", zeroBombCase(bundletest.EncodeOptions{FrameSize: 16 << 30}), []hostileCmd{
			{args: verifyUnsigned, wantExit: exitFail, want: expect{{"expands", "max-blob-size", "seek table", "TOC"}}},
			{args: with(verifyUnsigned, "--allow-rescan"), wantExit: exitFail, want: wantZeroBomb, timeout: 2 * time.Minute},
		}},
		{"load amplification", amplification, []hostileCmd{
			{args: verifyUnsigned, wantExit: exitAny},
			{args: loadUnsigned, wantExit: exitAny, timeout: 2 * time.Minute},
		}},
		{"wide index of one manifest", wideIndexRepeated, []hostileCmd{
			{args: verifyUnsigned, wantExit: exitAny, maxCPU: 10 * time.Second},
			{args: loadUnsigned, wantExit: exitAny, timeout: 2 * time.Minute},
		}},
		{"wide index of distinct manifests", wideIndexDistinct, []hostileCmd{
			{args: verifyUnsigned, wantExit: exitAny, maxCPU: 10 * time.Second},
			{args: loadUnsigned, wantExit: exitAny, timeout: 2 * time.Minute},
		}},
		{"split set traversal", splitSet(func(t *testing.T, d caseDirs, base string, lines []bundletest.SumLine) {
			decoy, err := os.ReadFile(filepath.Join(d.root, "etc", "hostname"))
			must(t, err)
			lines = append(lines, bundletest.SumLine{Sum: sha256Hex(decoy), Name: "../../etc/hostname"})
			must(t, bundletest.WriteSums(base+".sha256", lines))
		}), refused(wantSums.withName("../../etc/hostname"))},
		{"split set FIFO part", splitSet(func(t *testing.T, _ caseDirs, base string, _ []bundletest.SumLine) {
			must(t, os.Remove(base+".001"))
			must(t, syscall.Mkfifo(base+".001", 0o644))
		}), []hostileCmd{
			{args: verifyKey, wantExit: exitFail, want: wantRegularFile, timeout: 30 * time.Second},
			{args: loadKey, wantExit: exitFail, want: wantRegularFile, timeout: 30 * time.Second},
		}},
		{"split set without .sha256", splitSet(func(t *testing.T, _ caseDirs, base string, _ []bundletest.SumLine) {
			must(t, os.Remove(base+".sha256"))
		}), refused(wantSums)},
		{"ANSI escapes in the BOM", plain(func(t *testing.T, b *bundletest.Bundle) {
			editBOM(t, b, func(bom *bundle.BOM) {
				bom.Tool.Version = "1.0\x1b]0;pwned\x07\x1b[2J"
				bom.Artifacts[0].Name = "pilot\x1b[31m RED \x1b[0m"
				bom.Set["istio"] = "\x1b[1A\x1b[Kok"
			})
		}, bundletest.EncodeOptions{}), []hostileCmd{
			{args: inspect, wantExit: exitAny, noEscape: true},
			{args: with(inspect, "-o", "json"), wantExit: exitAny, noEscape: true},
			{args: verifyKey, wantExit: exitFail, want: wantAnything, noEscape: true},
		}},
		{"unsigned without --allow-unsigned", plain(nil, bundletest.EncodeOptions{}), []hostileCmd{
			{args: verifyBare, wantExit: exitFail, want: wantUnsigned},
			{args: loadBare, wantExit: exitFail, want: wantUnsigned},
		}},
	}
}

// plain edits the bundle with edit (if set) and writes it with opts.
func plain(edit func(*testing.T, *bundletest.Bundle), opts bundletest.EncodeOptions) func(*testing.T, *bundletest.Bundle, caseDirs) string {
	return func(t *testing.T, b *bundletest.Bundle, d caseDirs) string {
		if edit != nil {
			edit(t, b)
		}
		return writeBundle(t, b, d, opts)
	}
}

func writeBundle(t *testing.T, b *bundletest.Bundle, d caseDirs, opts bundletest.EncodeOptions) string {
	t.Helper()
	path := filepath.Join(d.set, "mesh.tar.zst")
	must(t, b.WriteFile(path, opts))
	return path
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	return b
}

// lastBlob is the last blob entry of the TOC.
func lastBlob(t *testing.T, b *bundletest.Bundle) bundle.Entry {
	t.Helper()
	for i := len(b.TOC.Entries) - 1; i >= 0; i-- {
		if e := b.TOC.Entries[i]; !e.Dir && filepath.Dir(e.Name) == "blobs/sha256" {
			return e
		}
	}
	t.Fatal("the real bundle has no blobs")
	return bundle.Entry{}
}

// hideIndex inserts a second index.json (listing only the first manifest)
// before the entry called before ("": the last blob), the TOC as mode says.
// With TOCHide the TOC entry that follows claims it as header blocks.
func hideIndex(before string, mode bundletest.TOCMode) func(*testing.T, *bundletest.Bundle, caseDirs) string {
	return plain(func(t *testing.T, b *bundletest.Bundle) {
		idx := readIndex(t, b)
		idx.Manifests = idx.Manifests[:1]
		if before == "" {
			before = lastBlob(t, b).Name
		}
		must(t, b.InsertBefore(before, bundletest.TarFile(bundle.IndexName, mustMarshal(t, idx)), mode))
	}, bundletest.EncodeOptions{})
}

// retype turns the header of name ("": the last blob) into typeflag with
// linkname, leaving the TOC saying it is a file.
func retype(name string, typeflag byte, linkname string) func(*testing.T, *bundletest.Bundle, caseDirs) string {
	return plain(func(t *testing.T, b *bundletest.Bundle) {
		if name == "" {
			name = lastBlob(t, b).Name
		}
		must(t, b.SetHeader(name, func(h *bundletest.Header) {
			h.Typeflag, h.Linkname = typeflag, linkname
			if typeflag == bundletest.TypeChar {
				h.Devmajor, h.Devminor = 1, 3
			}
		}))
	}, bundletest.EncodeOptions{})
}

// lieAboutLastFrame moves 512 bytes from the trailer's frame to the frame
// before it in the seek table: sizes still add up and every TOC entry
// still starts a frame, but the last blob's frame decodes to less than the
// table says.
func lieAboutLastFrame(es []bundletest.SeekEntry) []bundletest.SeekEntry {
	for i := len(es) - 2; i > 0; i-- {
		if es[i].DecompressedSize >= 1024 {
			es[i-1].DecompressedSize += 512
			es[i].DecompressedSize -= 512
			break
		}
	}
	return es
}

// splitSet writes the real bundle as a split set of three parts, lets edit
// change it, and returns NAME.000.
func splitSet(edit func(t *testing.T, d caseDirs, base string, lines []bundletest.SumLine)) func(*testing.T, *bundletest.Bundle, caseDirs) string {
	return func(t *testing.T, b *bundletest.Bundle, d caseDirs) string {
		src, _ := realBundle(t)
		st, err := os.Stat(src)
		must(t, err)
		base := filepath.Join(d.set, "mesh.tar.zst")
		lines, err := bundletest.Split(src, base, st.Size()/3+1)
		must(t, err)
		edit(t, d, base, lines)
		return base + ".000"
	}
}
