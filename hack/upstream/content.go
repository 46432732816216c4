package upstream

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
)

// filler produces deterministic file content that compresses like real
// image layers: gzip shrinks a typical mix of binaries and text about 2.3x
// at gzip.BestSpeed (a Go binary is roughly 2.5x, man pages 3-4x).
//
// Binaries are 4 KiB blocks of four kinds: random bytes (already compressed
// data, crypto tables), "code" made of recurring snippets with random
// operands, zero padding, and string tables. Text is lines drawn mostly from
// a pool of recurring lines, otherwise fresh words with a skewed frequency.
type filler struct {
	rng      *rand.ChaCha8
	words    [][]byte
	lines    [][]byte
	snippets [][]byte
}

// Mix of binary blocks, in percent, and the share of recurring text lines
// and code snippets. Tuned for a ~2.3x gzip ratio overall.
const (
	pctRandomBlock = 10
	pctCodeBlock   = 50
	pctZeroBlock   = 10
	pctPoolLine    = 75
	pctPoolSnippet = 80
)

// newFiller returns a filler seeded by seed and name; the same pair always
// yields the same bytes.
func newFiller(seed int64, name string) *filler {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(seed))
	h.Write(b[:])
	h.Write([]byte(name))
	var key [32]byte
	copy(key[:], h.Sum(nil))
	f := &filler{rng: rand.NewChaCha8(key)}

	const letters = "etaoinshrdlucmfwypvbgkjqxz_-./0123456789"
	f.words = make([][]byte, 4096)
	for i := range f.words {
		w := make([]byte, 2+f.rng.Uint64()%10)
		for j := range w {
			w[j] = letters[f.rng.Uint64()%uint64(len(letters))]
		}
		f.words[i] = w
	}
	f.lines = make([][]byte, 512)
	for i := range f.lines {
		l := make([]byte, 20+f.rng.Uint64()%80)
		f.freshWords(l)
		l[len(l)-1] = '\n'
		f.lines[i] = l
	}
	f.snippets = make([][]byte, 256)
	for i := range f.snippets {
		s := make([]byte, 16+f.rng.Uint64()%32)
		_, _ = f.rng.Read(s)
		f.snippets[i] = s
	}
	return f
}

// uint64n returns a deterministic number in [0, n).
func (f *filler) uint64n(n uint64) uint64 { return f.rng.Uint64() % n }

// freshWords fills buf with space-separated words; low word indexes are
// more frequent, as in natural text.
func (f *filler) freshWords(buf []byte) {
	for i := 0; i < len(buf); {
		u := f.rng.Uint64()
		a, b := u&0xfff, (u>>12)&0xfff
		i += copy(buf[i:], f.words[(a*b)>>12])
		if i < len(buf) {
			buf[i] = ' '
			i++
		}
	}
}

// text fills buf with lines of text.
func (f *filler) text(buf []byte) {
	for i := 0; i < len(buf); {
		u := f.rng.Uint64()
		if u%100 < pctPoolLine {
			a, b := (u>>8)&0x1ff, (u>>20)&0x1ff
			i += copy(buf[i:], f.lines[(a*b)>>9])
			continue
		}
		n := min(len(buf)-i, 20+int((u>>32)%60))
		f.freshWords(buf[i : i+n])
		i += n
		buf[i-1] = '\n'
	}
}

// binary fills buf with binary-looking content.
func (f *filler) binary(buf []byte) {
	for off := 0; off < len(buf); off += 4096 {
		blk := buf[off:min(off+4096, len(buf))]
		switch k := f.rng.Uint64() % 100; {
		case k < pctRandomBlock:
			_, _ = f.rng.Read(blk)
		case k < pctRandomBlock+pctCodeBlock:
			f.code(blk)
		case k < pctRandomBlock+pctCodeBlock+pctZeroBlock:
			clear(blk)
		default:
			f.text(blk)
		}
	}
}

// code fills blk with recurring snippets and random 16-byte runs.
func (f *filler) code(blk []byte) {
	for i := 0; i < len(blk); {
		u := f.rng.Uint64()
		if u%100 < pctPoolSnippet {
			i += copy(blk[i:], f.snippets[(u>>8)&0xff])
			continue
		}
		n := min(16, len(blk)-i)
		_, _ = f.rng.Read(blk[i : i+n])
		i += n
	}
}
