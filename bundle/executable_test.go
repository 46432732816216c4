package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// writeWithProgram writes the fixture with prog as an executable entry
// between the lock and the blobs, listed in the BOM's files.
func writeWithProgram(t *testing.T, path, entry string, prog []byte) {
	t.Helper()
	fx := newFixture(t)
	index, err := json.Marshal(fx.index)
	if err != nil {
		t.Fatal(err)
	}
	fx.bom.Files = []MetadataFile{MetadataOf(OCILayoutName, []byte(OCILayoutJSON)), MetadataOf(IndexName, index), MetadataOf(LockName, fx.lock), MetadataOf(entry, prog)}
	bom, err := json.Marshal(fx.bom)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Create(path, CreateOptions{WriterOptions: WriterOptions{FrameSize: 16 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	w := f.Writer()
	for _, m := range []struct {
		name string
		data []byte
	}{{IndexName, index}, {BOMName, bom}, {LockName, fx.lock}} {
		if err := w.AddFile(m.name, m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.AddExecutable(context.Background(), entry, int64(len(prog)), digest.FromBytes(prog), bytes.NewReader(prog)); err != nil {
		t.Fatalf("AddExecutable: %v", err)
	}
	for _, b := range fx.blobs {
		if err := w.Push(context.Background(), b.desc, bytes.NewReader(b.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestExecutableEntry: a program larger than a frame and than the 16 MiB
// kept for other metadata files conforms, with mode 0755 and its BOM
// record checked by Verify.
func TestExecutableEntry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "self.tar.zst")
	entry := ExecutableName("linux", "amd64", "meshpack")
	prog := randomBytes(7, 17<<20)
	writeWithProgram(t, path, entry, prog)
	if err := Validate(path); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	e, ok := r.Entry(entry)
	if !ok || e.Size != int64(len(prog)) {
		t.Fatalf("entry %s: %+v, %v", entry, e, ok)
	}
	for _, dir := range []string{"meshpack/bin/", "meshpack/bin/linux-amd64/"} {
		if _, ok := r.Entry(dir); !ok {
			t.Errorf("no directory entry %s", dir)
		}
	}
	if _, err := r.File(entry); err == nil {
		t.Error("Reader.File read a 17 MiB program into memory; want the metadata size limit")
	}
}

// TestExecutableMode: mode 0755 is the rule for files below meshpack/bin/
// and refused anywhere else, and the other way round.
func TestExecutableMode(t *testing.T) {
	tests := []struct {
		name    string
		mode    int64
		wantErr bool
	}{
		{"meshpack/bin/linux-amd64/meshpack", 0o755, false},
		{"meshpack/bin/linux-amd64/meshpack", 0o644, true},
		{"meshpack/bin/linux-amd64/meshpack", 0o4755, true},
		{"meshpack/lock.yaml", 0o644, false},
		{"meshpack/lock.yaml", 0o755, true},
		{"blobs/sha256/" + strings.Repeat("a", 64), 0o755, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkHeader(&tar.Header{Name: tt.name, Mode: tt.mode, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR})
			if (err != nil) != tt.wantErr {
				t.Fatalf("mode %#o: err %v, want error %v", tt.mode, err, tt.wantErr)
			}
		})
	}
}

// TestAddExecutableErrors: a name outside meshpack/bin/, content that
// differs from the digest, and a program after the blobs are refused.
func TestAddExecutableErrors(t *testing.T) {
	prog := []byte("#!/bin/sh\necho hi\n")
	good := digest.FromBytes(prog)
	blob := newBlob("application/octet-stream", []byte("x"))
	tests := []struct {
		name  string
		entry string
		want  digest.Digest
		pre   func(w *Writer) error
		is    error
	}{
		{"outside meshpack/bin", "meshpack/meshpack", good, nil, nil},
		{"directory name", "meshpack/bin/", good, nil, nil},
		{"wrong digest", ExecutableName("linux", "amd64", "x"), digest.FromString("other"), nil, ErrDigestMismatch},
		{"not sha256", ExecutableName("linux", "amd64", "x"), "md5:abc", nil, nil},
		{"after blobs", ExecutableName("linux", "amd64", "x"), good, func(w *Writer) error {
			return w.Push(context.Background(), blob.desc, bytes.NewReader(blob.data))
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := newIndexedWriter(t, &buf)
			if tt.pre != nil {
				if err := tt.pre(w); err != nil {
					t.Fatal(err)
				}
			}
			err := w.AddExecutable(context.Background(), tt.entry, int64(len(prog)), tt.want, bytes.NewReader(prog))
			if err == nil {
				t.Fatal("got nil error, want one")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("got %v, want %v", err, tt.is)
			}
		})
	}
}
