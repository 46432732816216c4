package bundletest

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lattice-mesh/meshpack/bundle"
)

func TestHeaderBlockMatchesArchiveTar(t *testing.T) {
	for _, name := range []string{"index.json", "meshpack/", "blobs/sha256/" + string(bytes.Repeat([]byte("ab"), 32))} {
		var buf bytes.Buffer
		th := &tar.Header{Name: name, Mode: 0o644, Typeflag: tar.TypeReg, Size: 7}
		if name[len(name)-1] == '/' {
			th = &tar.Header{Name: name, Mode: 0o755, Typeflag: tar.TypeDir}
		}
		if err := tar.NewWriter(&buf).WriteHeader(th); err != nil {
			t.Fatal(err)
		}
		got := FileHeader(name, th.Size).Block()
		if !bytes.Equal(got, buf.Bytes()) {
			t.Errorf("%s: Block\n%q\narchive/tar\n%q", name, got, buf.Bytes())
		}
		if h, err := ParseHeader(got); err != nil || h != FileHeader(name, th.Size) {
			t.Errorf("%s: ParseHeader = %+v, %v", name, h, err)
		}
	}
}

// consistent reports whether every TOC entry's data follows a header that
// names it with its size.
func consistent(b *Bundle) error {
	for _, e := range b.TOC.Entries {
		h, err := b.HeaderAt(e.Offset - BlockSize)
		if err != nil || h.Name != e.Name || h.Size != e.Size {
			return errors.New("TOC entry " + e.Name + " does not follow its header")
		}
	}
	if b.TOC.Size != b.Len() {
		return errors.New("TOC size differs from the stream")
	}
	return nil
}

func TestEdits(t *testing.T) {
	orig, err := Decode(smallBundle(t))
	if err != nil {
		t.Fatal(err)
	}
	extra := append(TarFile("index.json", []byte(`{"hidden":true}`)), TarFile("meshpack/x", []byte("x"))...)
	tests := []struct {
		name  string
		edit  func(b *Bundle) error
		check func(t *testing.T, b *Bundle)
	}{
		{"insert listed", func(b *Bundle) error { return b.InsertBefore("blobs/", extra, TOCList) },
			func(t *testing.T, b *Bundle) {
				if want := b.ScanTOC(); !slices.Equal(b.TOC.Entries, want.Entries) || b.TOC.Size != want.Size {
					t.Errorf("TOC %+v, want the scanned %+v", b.TOC, want)
				}
			}},
		{"insert hidden", func(b *Bundle) error { return b.InsertBefore("blobs/", extra, TOCHide) },
			func(t *testing.T, b *Bundle) {
				if err := consistent(b); err != nil {
					t.Error(err)
				}
				if n, m := len(b.ScanTOC().Entries), len(b.TOC.Entries); n != m+2 {
					t.Errorf("tar sees %d entries, the TOC %d; want 2 hidden", n, m)
				}
			}},
		{"insert keeping the TOC", func(b *Bundle) error { return b.Insert(b.End(), extra, TOCKeep) },
			func(t *testing.T, b *Bundle) {
				if !slices.Equal(b.TOC.Entries, orig.TOC.Entries) || b.TOC.Size != orig.TOC.Size {
					t.Error("TOC changed")
				}
			}},
		{"replace file", func(b *Bundle) error { return b.ReplaceFile(bundle.IndexName, bytes.Repeat([]byte(" "), 1500)) },
			func(t *testing.T, b *Bundle) {
				if err := consistent(b); err != nil {
					t.Error(err)
				}
				if got, _ := b.File(bundle.IndexName); len(got) != 1500 {
					t.Errorf("index.json is %d bytes, want 1500", len(got))
				}
			}},
		{"remove", func(b *Bundle) error { return b.Remove(bundle.LockName, TOCList) },
			func(t *testing.T, b *Bundle) {
				if _, ok := b.Entry(bundle.LockName); ok || consistent(b) != nil {
					t.Errorf("lock still listed or TOC inconsistent: %v", consistent(b))
				}
			}},
		{"set header", func(b *Bundle) error {
			return b.SetHeader(bundle.LockName, func(h *Header) { h.Typeflag, h.Linkname = TypeSymlink, "/etc/passwd" })
		}, func(t *testing.T, b *Bundle) {
			e, _ := b.Entry(bundle.LockName)
			if h, err := b.HeaderAt(e.Header); err != nil || h.Typeflag != TypeSymlink || h.Linkname != "/etc/passwd" {
				t.Errorf("header %+v, %v", h, err)
			}
		}},
		{"zeros", func(b *Bundle) error { return b.InsertZeros(b.End(), "blobs/sha256/00", 8<<20, TOCList) },
			func(t *testing.T, b *Bundle) {
				if err := consistent(b); err != nil {
					t.Error(err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := orig.Clone()
			if err := tt.edit(b); err != nil {
				t.Fatal(err)
			}
			tt.check(t, b)
			if !slices.Equal(orig.TOC.Entries, orig.ScanTOC().Entries) {
				t.Fatal("the edit changed the original through its clone")
			}
			path := filepath.Join(t.TempDir(), "b.tar.zst")
			if err := b.WriteFile(path, EncodeOptions{}); err != nil {
				t.Fatal(err)
			}
			back, err := Read(path)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(back.TOC.Entries, b.TOC.Entries) || back.Len() != b.Len() {
				t.Errorf("read back a different bundle: %d bytes, TOC %+v", back.Len(), back.TOC)
			}
		})
	}
}

func TestBombsAreSmall(t *testing.T) {
	b, err := Decode(smallBundle(t))
	if err != nil {
		t.Fatal(err)
	}
	const bomb = 256 << 20 // above bigFrame: the one-frame case needs a window descriptor
	if err := b.InsertZeros(b.End(), "blobs/sha256/00", bomb, TOCList); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		opts    EncodeOptions
		maxSize int64
	}{
		{"zeros in 4 MiB frames", EncodeOptions{}, 400 << 10},
		{"zeros in one frame", EncodeOptions{FrameSize: 1 << 30}, 400 << 10},
		{"TOC bomb", EncodeOptions{TOCPadding: 1 << 30}, 400 << 10},
		{"TOC bomb without content size", EncodeOptions{TOCPadding: 1 << 30, TOCNoContentSize: true}, 400 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bomb.tar.zst")
			if err := b.WriteFile(path, tc.opts); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if extra := st.Size() - 300<<10; extra > tc.maxSize {
				t.Errorf("bomb adds %d bytes to the bundle, want at most %d", extra, tc.maxSize)
			}
			tr := streamOf(t, path)
			var n int64
			for {
				h, err := tr.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				n = h.Size
			}
			if n != bomb {
				t.Errorf("last entry holds %d bytes, want %d", n, bomb)
			}
		})
	}
}

func TestSeekTableOptions(t *testing.T) {
	b, err := Decode(smallBundle(t))
	if err != nil {
		t.Fatal(err)
	}
	var seen []SeekEntry
	lie := func(es []SeekEntry) []SeekEntry {
		seen = slices.Clone(es)
		es[0].DecompressedSize += BlockSize
		return es
	}
	for _, tc := range []struct {
		name string
		opts EncodeOptions
		tail func(data []byte) bool
	}{
		{"lying", EncodeOptions{EditSeekTable: lie}, func(d []byte) bool {
			first := len(d) - 9 - 12*len(seen) // the first entry
			return binary.LittleEndian.Uint32(d[first+4:]) == seen[0].DecompressedSize+BlockSize
		}},
		{"none", EncodeOptions{NoSeekTable: true}, func(d []byte) bool {
			return binary.LittleEndian.Uint32(d[len(d)-4:]) != seekableMagic
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := b.Encode(&buf, tc.opts); err != nil {
				t.Fatal(err)
			}
			if !tc.tail(buf.Bytes()) {
				t.Error("the seek table is not as the options say")
			}
			back, err := Decode(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if back.Len() != b.Len() {
				t.Errorf("decoded %d bytes, want %d", back.Len(), b.Len())
			}
		})
	}
}

func TestSplit(t *testing.T) {
	data := smallBundle(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src.tar.zst")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "b.tar.zst")
	lines, err := Split(src, base, 100<<10)
	if err != nil {
		t.Fatal(err)
	}
	if want := (len(data) + 100<<10 - 1) / (100 << 10); len(lines) != want {
		t.Fatalf("got %d parts, want %d", len(lines), want)
	}
	var joined []byte
	for _, l := range lines {
		p, err := os.ReadFile(filepath.Join(dir, l.Name))
		if err != nil {
			t.Fatal(err)
		}
		joined = append(joined, p...)
	}
	if !bytes.Equal(joined, data) {
		t.Error("the parts do not add up to the bundle")
	}
	if err := verifyFile(base + ".000"); err != nil {
		t.Errorf("split set: %v", err)
	}
}
