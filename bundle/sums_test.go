package bundle

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	sumA = "1111111111111111111111111111111111111111111111111111111111111111"
	sumB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// sumsFrame builds a checksum frame by hand: magic, length, payload.
func sumsFrame(length int, payload string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, sumsMagic)
	b = binary.LittleEndian.AppendUint32(b, uint32(length))
	return append(b, payload...)
}

func TestReadSums(t *testing.T) {
	good := sumsFile([]string{"/x/m.000", "/x/m.001"}, []string{sumA, sumB})
	want := []sumLine{{sumA, "m.000"}, {sumB, "m.001"}}
	payload := "\n" + sumA + "  m.000\n"
	tests := []struct {
		name    string
		data    []byte
		want    []sumLine
		wantErr string
	}{
		{"checksum frame", good, want, ""},
		{"plain text", []byte(sumA + "  m.000\n" + strings.ToUpper(sumB) + " *m.001\n"), want, ""},
		{"plain text with blank lines, no final newline", []byte("\n" + sumA + "  m.000\n\n" + sumB + "  m.001"), want, ""},
		{"frame length too long", sumsFrame(len(payload)+1, payload), nil, "length does not match"},
		{"frame truncated", good[:len(good)-1], nil, "length does not match"},
		{"frame without leading newline", sumsFrame(len(payload)-1, payload[1:]), nil, "payload"},
		{"frame listing nothing", sumsFrame(1, "\n"), nil, "payload"},
		{"frame with bad hex", sumsFrame(len(payload), strings.Replace(payload, "1", "g", 1)), nil, "line 1"},
		{"plain text with one space", []byte(sumA + " m.000\n"), nil, "line 1"},
		{"plain text, short digest", []byte("abc  m.000\n"), nil, "line 1"},
		{"too large", bytes.Repeat([]byte("\n"), maxSums+9), nil, "larger than"},
		{"parent traversal", []byte(sumA + "  ../../etc/hostname\n"), nil, "not a part of this split set"},
		{"absolute path", []byte(sumA + "  /etc/hostname\n"), nil, "not a part of this split set"},
		{"subdirectory", []byte(sumA + "  sub/m.000\n"), nil, "not a part of this split set"},
		{"part name then traversal", []byte(sumA + "  m.000/../x\n"), nil, "not a part of this split set"},
		{"another set's part", []byte(sumA + "  other.000\n"), nil, "not a part of this split set"},
		{"not three digits", []byte(sumA + "  m.0001\n"), nil, "not a part of this split set"},
		{"signed suffix", []byte(sumA + "  m.+01\n"), nil, "not a part of this split set"},
		{"the listing itself", []byte(sumA + "  m.sha256\n"), nil, "not a part of this split set"},
		{"in a frame", sumsFrame(len("\n"+sumA+"  ../m.000\n"), "\n"+sumA+"  ../m.000\n"), nil, "not a part of this split set"},
		{"listed twice", []byte(sumA + "  m.000\n" + sumB + "  m.000\n"), nil, "twice"},
		{"more than 1000 parts", manyParts(maxParts + 1), nil, "at most 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := filepath.Join(t.TempDir(), "m")
			path := SumsName(base)
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := readSetSums(base)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
					t.Errorf("readSetSums = %v, want an error naming %s and containing %q", err, path, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(sumLine{})); diff != "" {
				t.Errorf("readSetSums (-want +got):\n%s", diff)
			}
		})
	}
}

// manyParts is a plain listing of n distinct parts of the set "m", some of
// them beyond m.999.
func manyParts(n int) []byte {
	var b []byte
	for i := range n {
		b = fmt.Appendf(b, "%s  m.%03d\n", sumA, i)
	}
	return b
}

// TestSumsTrailer checks that a reader accepts a bundle followed by exactly
// one checksum frame, as `cat NAME.*` gives, and nothing else.
func TestSumsTrailer(t *testing.T) {
	bundle := tinyBundle(t)
	trailer := sumsFile([]string{"m.000"}, []string{sumA})
	payload := "\n" + sumA + "  m.000\n"
	cat := func(bs ...[]byte) []byte { return bytes.Join(append([][]byte{bundle}, bs...), nil) }
	n := int64(len(bundle))
	tests := []struct {
		name      string
		data      []byte
		wantStart int64 // -1: no trailer found
		seekable  bool  // NewReader reads it by random access
	}{
		{"bundle and checksum frame", cat(trailer), n, true},
		{"bundle alone", cat(), -1, true},
		{"byte after the frame", cat(trailer, []byte{'\n'}), -1, false},
		{"length one short", cat(sumsFrame(len(payload)-1, payload)), -1, false},
		{"length one long", cat(sumsFrame(len(payload)+1, payload)), -1, false},
		{"bad hex in payload", cat(sumsFrame(len(payload), strings.Replace(payload, "1", "x", 1))), -1, false},
		{"another skippable magic", cat(binary.LittleEndian.AppendUint32(nil, skippableBase), trailer[4:]), -1, false},
		{"two checksum frames", cat(trailer, trailer), n + int64(len(trailer)), false},
		{"checksum frame alone", trailer, 0, false},
		{"too short", trailer[:9], -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, ok := sumsTrailerStart(bytes.NewReader(tt.data), int64(len(tt.data)))
			if !ok {
				start = -1
			}
			if start != tt.wantStart {
				t.Errorf("sumsTrailerStart = %d, want %d", start, tt.wantStart)
			}
			r, err := NewReader(bytes.NewReader(tt.data), int64(len(tt.data)))
			if err != nil {
				if tt.seekable {
					t.Fatalf("NewReader: %v", err)
				}
				if tt.wantStart == 0 && !strings.Contains(err.Error(), "checksum listing") {
					t.Errorf("NewReader = %v, want an error saying this is a checksum listing", err)
				}
				return
			}
			defer r.Close()
			if s := r.Stats(); s.Seekable != tt.seekable || (s.Seekable && s.Compressed != n) {
				t.Errorf("Stats() = Seekable %v, Compressed %d; want Seekable %v, Compressed %d", s.Seekable, s.Compressed, tt.seekable, n)
			}
		})
	}
}
