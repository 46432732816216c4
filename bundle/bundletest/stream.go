package bundletest

import "fmt"

// segment is a piece of the tar stream: bytes, or a run of zeros that is
// never held in memory (a zero bomb of 8 GiB costs nothing to build).
type segment struct {
	data  []byte
	zeros int64
}

func (s segment) len() int64 {
	if s.data != nil {
		return int64(len(s.data))
	}
	return s.zeros
}

// stream is the uncompressed tar stream as a list of segments. Segments are
// never changed in place, so copies of a stream share their bytes safely.
type stream struct {
	segs []segment
}

func (s *stream) len() int64 {
	var n int64
	for _, g := range s.segs {
		n += g.len()
	}
	return n
}

// readAt fills p from offset off; bytes past the end read as zero.
func (s *stream) readAt(p []byte, off int64) {
	clear(p)
	var pos int64
	for _, g := range s.segs {
		n := g.len()
		if off < pos+n && off+int64(len(p)) > pos {
			if g.data != nil {
				lo := max(off, pos)
				hi := min(off+int64(len(p)), pos+n)
				copy(p[lo-off:hi-off], g.data[lo-pos:hi-pos])
			}
		}
		pos += n
		if pos >= off+int64(len(p)) {
			return
		}
	}
}

// splice replaces the n bytes at off with ins.
func (s *stream) splice(off, n int64, ins ...segment) error {
	if total := s.len(); off < 0 || n < 0 || off+n > total {
		return fmt.Errorf("bundletest: range %d+%d is outside the %d-byte stream", off, n, total)
	}
	var out []segment
	var pos int64
	inserted := false
	add := func() {
		if !inserted {
			for _, g := range ins {
				if g.len() > 0 {
					out = append(out, g)
				}
			}
			inserted = true
		}
	}
	for _, g := range s.segs {
		gl := g.len()
		end := pos + gl
		if lo := min(max(off-pos, 0), gl); lo > 0 {
			out = append(out, g.slice(0, lo))
		}
		if off <= end && off >= pos {
			add()
		}
		if hi := min(max(off+n-pos, 0), gl); hi < gl {
			out = append(out, g.slice(hi, gl))
		}
		pos = end
	}
	add()
	s.segs = out
	return nil
}

// slice returns bytes lo to hi of g.
func (g segment) slice(lo, hi int64) segment {
	if g.data != nil {
		return segment{data: g.data[lo:hi:hi]}
	}
	return segment{zeros: hi - lo}
}

// clone returns a stream sharing s's bytes.
func (s *stream) clone() *stream {
	return &stream{segs: append([]segment(nil), s.segs...)}
}
