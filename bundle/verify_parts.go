package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"

	"github.com/lattice-mesh/meshpack/progress"
)

// hashChunk is how much of a part is read between two checks of ctx, so
// that cancelling (SIGINT, SIGTERM) stops VerifyParts within one chunk.
const hashChunk = 1 << 20

// VerifyParts checks each part of the split bundle at path (NAME, NAME.000
// or any part) against the NAME.sha256 listing, as `sha256sum -c` would, and
// that no part is missing or unlisted. NAME.sha256 is the checksum frame
// Create writes or a plain-text sha256sum listing; it must exist and list
// only the set's own parts (plain names NAME.NNN, see readSetSums). Parts are
// opened without following symbolic links, and only regular files are read.
//
// A failed check is a Problem in the returned report, and the error then
// wraps the first one. When ctx is cancelled VerifyParts stops within
// hashChunk bytes and returns ctx.Err() with the report so far.
func VerifyParts(ctx context.Context, path string, opts VerifyOptions) (*Report, error) {
	base := path
	if b, _, ok := partIndex(path); ok {
		base = b
	}
	c := newCheck(CheckParts)
	rep := &Report{Checks: []*Check{c}}
	subject := "verify parts of " + base
	listed, err := readSetSums(base)
	if err != nil {
		c.add(partProblem(SumsName(base), err))
		c.Summary = "no usable " + filepath.Base(SumsName(base))
		return rep, rep.err(subject)
	}
	names, _, err := partFiles(base)
	reported := ""
	if err != nil {
		p := partProblem(partName(base, 0), err)
		reported = p.Entry
		c.add(p)
	}
	buf := make([]byte, hashChunk)
	inList := make(map[string]bool)
	for _, l := range listed {
		inList[l.name] = true
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		file := filepath.Join(filepath.Dir(base), l.name)
		if file == reported {
			continue
		}
		n, err := hashFile(ctx, file, l.sum, buf)
		rep.Bytes += n
		if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
			return rep, cerr
		}
		opts.Progress.Emit(progress.Event{Kind: progress.PartVerified, Name: file, Done: n, Total: n, Err: err})
		if err != nil {
			c.add(partProblem(file, err))
		}
	}
	for _, name := range names {
		if !inList[filepath.Base(name)] {
			c.add(&Problem{Entry: name, Offset: -1, Err: fmt.Errorf("part is not listed in %s", filepath.Base(SumsName(base)))})
		}
	}
	c.Summary = fmt.Sprintf("%d parts, %d bytes", len(listed), rep.Bytes)
	return rep, rep.err(subject)
}

// partProblem turns err about file into a Problem, taking the file name
// from a *PartError so that it is not repeated.
func partProblem(file string, err error) *Problem {
	p := &Problem{Entry: file, Offset: -1, Err: err}
	var pe *PartError
	if errors.As(err, &pe) {
		p.Entry, p.Err = pe.File, pe.Err
	}
	return p
}

// hashFile hashes the part name, a regular file opened without following
// links, in hashChunk reads using buf, checking ctx before each, and
// compares the sum with want (lowercase hex).
func hashFile(ctx context.Context, name, want string, buf []byte) (int64, error) {
	f, _, err := openRegular(name, false)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = ErrMissingPart
		}
		return 0, &PartError{File: name, Err: err}
	}
	defer f.Close()
	h := sha256.New()
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, err := io.ReadFull(f, buf)
		h.Write(buf[:m])
		n += int64(m)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return n, &PartError{File: name, Err: bareErr(err)}
		}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return n, fmt.Errorf("sha256 is %s, the checksum listing says %s: %w", got, want, ErrDigestMismatch)
	}
	return n, nil
}
