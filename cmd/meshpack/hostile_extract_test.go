//go:build linux

package main

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/lattice-mesh/meshpack/bundle"
)

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	must(t, err)
	return st.Size()
}

// checkExtractMatchesBOM extracts a bundle that verified with `tar --zstd
// -xf` and checks that tar wrote exactly the files the BOM lists (blobs,
// metadata files, the BOM and its signature), each with the content the BOM
// records, and nothing that is not a regular file or directory.
func checkExtractMatchesBOM(t *testing.T, bundlePath, work string) {
	t.Helper()
	tarBin := tool(t, "tar")
	tool(t, "zstd")
	want := bomFiles(t, bundlePath)
	src := bundlePath
	if base, split := bundle.SplitBase(bundlePath); split {
		src = joinParts(t, base, work)
	}
	dir, err := os.MkdirTemp(work, "extract-")
	must(t, err)
	runTool(t, tarBin, "--zstd", "-xf", src, "-C", dir)
	got := map[string]string{}
	err = filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if !de.Type().IsRegular() {
			t.Errorf("tar -x of a verified bundle created %s of type %s", rel, de.Type())
			return nil
		}
		got[filepath.ToSlash(rel)] = fileSHA256(t, p)
		return nil
	})
	must(t, err)
	for name, sum := range got {
		switch w, ok := want[name]; {
		case !ok:
			t.Errorf("tar -x of a verified bundle created %s, which the BOM does not list", name)
		case w != "" && w != sum:
			t.Errorf("tar -x of a verified bundle wrote %s with sha256 %s, the BOM records %s", name, sum, w)
		}
	}
	var missing []string
	for name := range want {
		if _, ok := got[name]; !ok {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("tar -x of a verified bundle did not create %d files the BOM lists: %s", len(missing), strings.Join(missing, ", "))
	}
	os.RemoveAll(dir)
}

// bomFiles returns the files the bundle's BOM accounts for, with their hex
// sha256: every blob, every metadata file, the BOM itself and, when
// signed, its signature.
func bomFiles(t *testing.T, path string) map[string]string {
	t.Helper()
	r, err := bundle.OpenWith(path, bundle.ReaderOptions{AllowRescan: true})
	must(t, err)
	defer r.Close()
	bom, err := r.BOM()
	must(t, err)
	want := map[string]string{}
	for _, b := range bom.Blobs {
		hexSum := strings.TrimPrefix(b.Digest, "sha256:")
		want["blobs/sha256/"+hexSum] = hexSum
	}
	for _, f := range bom.Files {
		want[f.Name] = strings.TrimPrefix(f.Digest, "sha256:")
	}
	meta := []string{bundle.BOMName}
	if bom.Signed {
		meta = append(meta, bundle.BOMSigName)
	}
	for _, name := range meta {
		data, err := r.File(name)
		must(t, err)
		want[name] = sha256Hex(data)
	}
	return want
}

// joinParts concatenates the numbered parts of a split set, as
// `cat NAME.[0-9][0-9][0-9] > NAME` does, into a file under dir.
func joinParts(t *testing.T, base, dir string) string {
	t.Helper()
	parts, err := filepath.Glob(base + ".[0-9][0-9][0-9]")
	must(t, err)
	sort.Strings(parts)
	out, err := os.CreateTemp(dir, "joined-*.tar.zst")
	must(t, err)
	defer out.Close()
	for _, p := range parts {
		f, err := os.Open(p)
		must(t, err)
		_, err = io.Copy(out, f)
		f.Close()
		must(t, err)
	}
	return out.Name()
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	must(t, err)
	return hex.EncodeToString(h.Sum(nil))
}
