package upstream

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"os"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// epoch is the fixed timestamp of every generated file, config and chart,
// so that generation is reproducible (Istio 1.30.3 was tagged that day).
var epoch = time.Date(2026, 7, 13, 0, 0, 0, 0, time.UTC)

// layerKind says what a layer looks like inside.
type layerKind int

const (
	kindDebianBase     layerKind = iota // many shared libraries, docs, dpkg status
	kindDistrolessBase                  // a few libraries, certificates, passwd
	kindApp                             // one large binary plus a little config
	kindFiles                           // small variant-specific text files
)

// layerSpec describes one unique layer; key seeds its content. After
// generation desc and diffID hold its identity.
type layerSpec struct {
	key    string
	kind   layerKind
	size   int64  // approximate uncompressed file content, bytes
	binary string // kindApp: path of the main binary

	repos  []string // repositories that reference the layer, first = upload target
	desc   ocispec.Descriptor
	diffID digest.Digest
	raw    int64 // bytes of uncompressed tar
}

// fileSpec is one regular file of a layer.
type fileSpec struct {
	name   string
	size   int64
	binary bool
	mode   int64
}

// files lays out the layer's files, deterministically from its key.
func (l *layerSpec) files(f *filler) []fileSpec {
	var out []fileSpec
	left := l.size
	add := func(name string, size int64, bin bool, mode int64) {
		size = max(0, min(size, left))
		left -= size
		out = append(out, fileSpec{name: name, size: size, binary: bin, mode: mode})
	}
	word := func() string { return string(f.words[f.uint64n(uint64(len(f.words)))]) }
	switch l.kind {
	case kindApp:
		add(l.binary, l.size*85/100, true, 0o755)
		for i := 0; left > 0; i++ {
			add(fmt.Sprintf("var/lib/%s/%02d-%s.json", word(), i, word()), 4<<10+int64(f.uint64n(60<<10)), false, 0o644)
		}
	case kindFiles:
		for i := 0; left > 0; i++ {
			add(fmt.Sprintf("etc/%s/%02d-%s.yaml", word(), i, word()), 2<<10+int64(f.uint64n(14<<10)), false, 0o644)
		}
	case kindDistrolessBase:
		add("etc/passwd", 1<<10, false, 0o644)
		add("etc/ssl/certs/ca-certificates.crt", 200<<10, false, 0o644)
		for i := 0; left > 0; i++ {
			add(fmt.Sprintf("usr/lib/lib%s.so.%d", word(), i%7), 64<<10+int64(f.uint64n(448<<10)), true, 0o755)
		}
	default:
		add("var/lib/dpkg/status", 300<<10, false, 0o644)
		for i := 0; left > 0; i++ {
			if f.uint64n(10) < 3 {
				add(fmt.Sprintf("usr/share/doc/%s-%d/copyright", word(), i), 2<<10+int64(f.uint64n(30<<10)), false, 0o644)
				continue
			}
			add(fmt.Sprintf("usr/lib/lib%s-%d.so", word(), i), 32<<10+int64(f.uint64n(480<<10)), true, 0o755)
		}
	}
	return out
}

// countWriter counts bytes.
type countWriter struct{ n int64 }

// Write implements io.Writer.
func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// build writes the layer as tar+gzip to a new file in dir and fills in
// l.desc, l.diffID and l.raw. The caller removes the returned file.
func (l *layerSpec) build(seed int64, dir string) (path string, err error) {
	tmp, err := os.CreateTemp(dir, "meshpack-fixture-layer-*.tar.gz")
	if err != nil {
		return "", fmt.Errorf("layer %s: %w", l.key, err)
	}
	defer func() {
		if cerr := tmp.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("layer %s: %w", l.key, cerr)
		}
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()

	bw := bufio.NewWriterSize(tmp, 1<<20)
	gzSum, tarSum := sha256.New(), sha256.New()
	gzCount, tarCount := &countWriter{}, &countWriter{}
	zw, err := gzip.NewWriterLevel(io.MultiWriter(bw, gzSum, gzCount), gzip.BestSpeed)
	if err != nil {
		return "", fmt.Errorf("layer %s: %w", l.key, err)
	}
	if err := l.writeTar(seed, io.MultiWriter(zw, tarSum, tarCount)); err != nil {
		return "", fmt.Errorf("layer %s: %w", l.key, err)
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("layer %s: gzip: %w", l.key, err)
	}
	if err := bw.Flush(); err != nil {
		return "", fmt.Errorf("layer %s: %w", l.key, err)
	}
	l.desc = ocispec.Descriptor{
		MediaType: ocispec.MediaTypeImageLayerGzip,
		Digest:    sum(gzSum),
		Size:      gzCount.n,
	}
	l.diffID = sum(tarSum)
	l.raw = tarCount.n
	return tmp.Name(), nil
}

// writeTar writes the layer's tar stream to w.
func (l *layerSpec) writeTar(seed int64, w io.Writer) error {
	f := newFiller(seed, l.key)
	tw := tar.NewWriter(w)
	buf := make([]byte, 256<<10)
	for _, fs := range l.files(f) {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     fs.name,
			Size:     fs.size,
			Mode:     fs.mode,
			ModTime:  epoch,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("tar header %s: %w", fs.name, err)
		}
		for left := fs.size; left > 0; {
			chunk := buf[:min(left, int64(len(buf)))]
			if fs.binary {
				f.binary(chunk)
			} else {
				f.text(chunk)
			}
			if _, err := tw.Write(chunk); err != nil {
				return fmt.Errorf("tar %s: %w", fs.name, err)
			}
			left -= int64(len(chunk))
		}
	}
	return tw.Close()
}

// sum returns the sha256 digest held by h.
func sum(h hash.Hash) digest.Digest {
	return digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil))
}
