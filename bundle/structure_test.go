package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
)

// plainStream returns the fixture bundle's uncompressed tar stream and TOC.
func plainStream(t *testing.T) ([]byte, []Entry) {
	t.Helper()
	data := newFixture(t).writeBytes(t, WriterOptions{})
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rr, err := r.openRange(0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	stream, err := io.ReadAll(rr)
	if err != nil {
		t.Fatal(err)
	}
	return stream, r.Entries()
}

// craft encodes stream as a bundle whose TOC lists entries, as a dishonest
// writer would: a frame starts at every entry header, at the end of the last
// entry and at each extra cut; frames over 1 MiB are compressed, the rest
// stored raw. empty adds, before frame i, a real zstd frame holding the
// given bytes that the seek table lists as empty.
func craft(t *testing.T, stream []byte, entries []Entry, empty map[int][]byte, cuts ...int64) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var last int64
	for _, e := range entries {
		cuts = append(cuts, e.Header)
		last = e.end()
	}
	cuts = append(cuts, last, int64(len(stream)))
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	var out []byte
	var seek []seekEntry
	for i := 0; i+1 < len(cuts); i++ {
		if hidden, ok := empty[i]; ok {
			n := len(out)
			out = enc.EncodeAll(hidden, out)
			seek = append(seek, seekEntry{cSize: uint32(len(out) - n), sum: emptySum})
		}
		for lo := cuts[i]; lo < cuts[i+1]; lo += maxFrameContent {
			seg := stream[lo:min(lo+maxFrameContent, cuts[i+1])]
			n := len(out)
			if len(seg) > 1<<20 {
				out = enc.EncodeAll(seg, out)
			} else {
				out = appendRawFrame(out, seg, xxhash.Sum64(seg))
			}
			seek = append(seek, seekEntry{cSize: uint32(len(out) - n), dSize: uint32(len(seg)), sum: uint32(xxhash.Sum64(seg))})
		}
	}
	n := len(out)
	out, err = appendTOCFrame(out, enc, toc{Format: tocFormat, Version: tocVersion, Size: int64(len(stream)), Entries: entries})
	if err != nil {
		t.Fatal(err)
	}
	seek = append(seek, seekEntry{cSize: uint32(len(out) - n), sum: emptySum})
	return appendSeekTable(out, seek)
}

// tarEntry returns the header, data and padding tar writes for h and data.
func tarEntry(t *testing.T, h *tar.Header, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(h); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// insert puts extra into stream before entry i's header: with inTOC the
// TOC lists it as entry add; without, entry i's TOC data offset moves past
// it (the hidden-entry attack). Later entries shift.
func insert(stream []byte, entries []Entry, i int, extra []byte, hideIn bool, add *Entry) ([]byte, []Entry) {
	at := entries[i].Header
	n := int64(len(extra))
	out := slices.Concat(stream[:at:at], extra, stream[at:])
	es := slices.Clone(entries)
	for j := i; j < len(es); j++ {
		if j > i || !hideIn {
			es[j].Header += n
		}
		es[j].Offset += n
	}
	if add != nil {
		es = slices.Insert(es, i, *add)
	}
	return out, es
}

func fileHeader(name string, size int64) *tar.Header {
	return &tar.Header{Name: name, Size: size, Mode: 0o644, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
}

func indexOf(entries []Entry, name string) int {
	return slices.IndexFunc(entries, func(e Entry) bool { return e.Name == name })
}

// TestVerifyProvesEveryByte: a bundle whose TOC and seek table are
// consistent but whose tar stream holds something the TOC does not say is
// refused by Verify, naming the problem and its offset.
func TestVerifyProvesEveryByte(t *testing.T) {
	stream, entries := plainStream(t)
	lock := indexOf(entries, LockName)
	index := indexOf(entries, IndexName)
	blob := slices.IndexFunc(entries, func(e Entry) bool { return isBlobName(e.Name) })
	hiddenIndex := tarEntry(t, fileHeader(IndexName, 2), []byte("{}"))
	tests := []struct {
		name string
		make func() []byte
		want string
	}{
		{"unchanged", func() []byte { return craft(t, stream, entries, nil) }, ""},
		{"hidden index.json before the lock", func() []byte {
			s, es := insert(stream, entries, lock, hiddenIndex, true, nil)
			return craft(t, s, es, nil)
		}, "tar header disagrees with the TOC: the header says index.json"},
		{"hidden blob before a blob", func() []byte {
			layer := []byte("attacker layer")
			s, es := insert(stream, entries, blob, tarEntry(t, fileHeader("blobs/sha256/"+digest.FromBytes(layer).Encoded(), int64(len(layer))), layer), true, nil)
			return craft(t, s, es, nil)
		}, "tar header disagrees with the TOC"},
		{"extra meshpack file", func() []byte {
			x := tarEntry(t, fileHeader("meshpack/x", 3), []byte("abc"))
			e := Entry{Name: "meshpack/x", Header: entries[lock+1].Header, Offset: entries[lock+1].Header + 512, Size: 3}
			s, es := insert(stream, entries, lock+1, x, false, &e)
			return craft(t, s, es, nil)
		}, "meshpack/x (offset"},
		{"header size differs from the TOC", func() []byte {
			e := entries[index]
			return craft(t, slices.Concat(stream[:e.Header], headerBlocks(t, fileHeader(IndexName, e.Size+1)), stream[e.Offset:]), entries, nil)
		}, "tar header disagrees with the TOC"},
		{"symlink header", func() []byte { return craft(t, retype(t, stream, entries[blob], tar.TypeSymlink), entries, nil) }, "tar type"},
		{"device header", func() []byte { return craft(t, retype(t, stream, entries[blob], tar.TypeChar), entries, nil) }, "tar type"},
		{"setuid file", func() []byte {
			e := entries[index]
			h := fileHeader(IndexName, e.Size)
			h.Mode = 0o4755
			return craft(t, slices.Concat(stream[:e.Header], headerBlocks(t, h), stream[e.Offset:]), entries, nil)
		}, "mode"},
		{"non-zero padding", func() []byte {
			e := entries[index]
			s := slices.Clone(stream)
			s[e.Offset+e.Size] = 'x'
			return craft(t, s, entries, nil)
		}, "padding after index.json holds a non-zero byte"},
		{"changed index.json", func() []byte {
			s := bytes.Replace(slices.Clone(stream), []byte(`1.30.3"`), []byte(`6.66.6"`), 1)
			return craft(t, s, entries, nil)
		}, "index.json (offset"},
		{"entry after the last entry", func() []byte {
			x := tarEntry(t, fileHeader(IndexName, 2), []byte("{}"))
			last := entries[len(entries)-1].end()
			return craft(t, slices.Concat(stream[:last], x, make([]byte, 1024)), entries, nil)
		}, "an entry follows the last entry"},
		{"entry after the trailer", func() []byte {
			x := tarEntry(t, fileHeader(IndexName, 2), []byte("{}"))
			return craft(t, slices.Concat(stream, x, make([]byte, 1024)), entries, nil)
		}, "tar trailer holds a non-zero byte"},
		{"data after the trailer", func() []byte {
			return craft(t, slices.Concat(stream, make([]byte, 20<<10)), entries, nil)
		}, "tar trailer is at most"},
		{"frame hidden as empty", func() []byte {
			return craft(t, stream, entries, map[int][]byte{lock: hiddenIndex})
		}, "decodes to nothing in the seek table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.make()
			r, err := NewReader(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatalf("NewReader: %v", err)
			}
			defer r.Close()
			_, err = Verify(context.Background(), r, VerifyOptions{})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Verify of an honest re-encoding: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "offset") {
				t.Fatalf("Verify = %v, want an error naming %q and an offset", err, tt.want)
			}
		})
	}
}

// retype rewrites entry e's header with another type flag, keeping its size.
func retype(t *testing.T, stream []byte, e Entry, typ byte) []byte {
	t.Helper()
	h := fileHeader(e.Name, e.Size)
	h.Typeflag = typ
	if typ == tar.TypeSymlink {
		h.Linkname = "/etc/passwd"
	}
	return slices.Concat(stream[:e.Header], headerBlocks(t, h), stream[e.Offset:])
}

// headerBlocks returns the header blocks tar writes for h.
func headerBlocks(t *testing.T, h *tar.Header) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := tar.NewWriter(&b).WriteHeader(h); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestHostileFramesBounded: a decompression bomb is refused without being
// decoded, and a TOC whose JSON is implausibly large is not parsed.
func TestHostileFramesBounded(t *testing.T) {
	stream, entries := plainStream(t)
	t.Run("zero bomb", func(t *testing.T) {
		zeros := make([]byte, 200<<20)
		name := "blobs/sha256/" + digest.FromBytes(zeros).Encoded()
		last := entries[len(entries)-1].end()
		s := slices.Concat(stream[:last], tarEntry(t, fileHeader(name, int64(len(zeros))), zeros), make([]byte, 1024))
		es := append(slices.Clone(entries), Entry{Name: name, Header: last, Offset: last + blockSize, Size: int64(len(zeros))})
		data := craft(t, s, es, nil, last+blockSize)
		r, err := NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		_, err = Verify(context.Background(), r, VerifyOptions{})
		if err == nil || !strings.Contains(err.Error(), "decompression bomb") {
			t.Fatalf("Verify = %v, want a decompression bomb refused", err)
		}
	})
	t.Run("TOC bomb", func(t *testing.T) {
		data := craft(t, stream, entries, nil)
		enc, _ := zstd.NewWriter(nil)
		defer enc.Close()
		js := slices.Concat([]byte(`{"format":"meshpack-bundle-toc","version":1,"entries":[]`), bytes.Repeat([]byte(" "), 40<<20), []byte("}"))
		frames, start, err := readSeekTable(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		tocFrame := appendSkippable(nil, tocMagic, enc.EncodeAll(js, []byte(tocPrefix)))
		var seek []seekEntry
		for _, f := range frames[:len(frames)-1] {
			seek = append(seek, seekEntry{cSize: uint32(f.cSize), dSize: uint32(f.dSize), sum: f.sum})
		}
		seek = append(seek, seekEntry{cSize: uint32(len(tocFrame)), sum: emptySum})
		bomb := appendSeekTable(slices.Concat(data[:frames[len(frames)-1].cOff:frames[len(frames)-1].cOff], tocFrame), seek)
		_ = start
		_, err = NewReader(bytes.NewReader(bomb), int64(len(bomb)))
		if !errors.Is(err, ErrNotSeekable) || !strings.Contains(err.Error(), "TOC declares") {
			t.Fatalf("NewReader = %v, want the TOC refused before it is parsed", err)
		}
	})
}
