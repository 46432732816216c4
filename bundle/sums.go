package bundle

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
)

const (
	// sumsMagic is the magic of the skippable frame that NAME.sha256 of a
	// split bundle is, so that `cat NAME.*` gives a valid zstd file.
	sumsMagic = 0x184D2A5C
	// maxSums bounds a checksum listing's payload: 1000 parts with long
	// names take well under 1 MiB.
	maxSums = 1 << 20
)

// sumLine is one line of a sha256sum listing.
type sumLine struct{ sum, name string }

// sumsFile returns the content of NAME.sha256 for the part files names with
// the hex sha256 sums: a zstd skippable frame (magic 0x184D2A5C, length)
// whose payload is "\n" and then a sha256sum listing of the parts' base
// names. `sha256sum -c` skips the binary header as one improperly formatted
// line; zstd and tar skip the whole frame after `cat NAME.*`.
func sumsFile(names, sums []string) []byte {
	payload := []byte{'\n'}
	for i, name := range names {
		payload = fmt.Appendf(payload, "%s  %s\n", sums[i], filepath.Base(name))
	}
	return appendSkippable(nil, sumsMagic, payload)
}

// readSums reads the checksum listing at path: the skippable frame Create
// writes, or a plain sha256sum listing ("<hex>  <name>" or "<hex> *<name>"
// lines) from an older meshpack or written by hand. The file must be a
// regular file (not a link, FIFO or device) of at most maxSums+8 bytes.
// Errors are *PartError naming path; a missing file wraps ErrMissingPart.
// readSetSums also checks the names.
func readSums(path string) ([]sumLine, error) {
	lines, err := readSumsFile(path)
	if err != nil {
		return nil, &PartError{File: path, Err: err}
	}
	return lines, nil
}

// readSetSums reads NAME.sha256 of the split set base with readSums and
// checks that it lists only parts of the set (see checkSumNames).
func readSetSums(base string) ([]sumLine, error) {
	lines, err := readSums(SumsName(base))
	if err != nil {
		return nil, err
	}
	if err := checkSumNames(lines, base); err != nil {
		return nil, &PartError{File: SumsName(base), Err: err}
	}
	return lines, nil
}

func readSumsFile(path string) ([]sumLine, error) {
	f, st, err := openRegular(path, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: this split set has no checksum listing, so its parts cannot be checked (copy %s along with them)", ErrMissingPart, filepath.Base(path))
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st.Size() > maxSums+8 {
		return nil, fmt.Errorf("%d bytes, larger than %d: not the checksum listing of a split bundle", st.Size(), maxSums+8)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSums+9))
	if err != nil {
		return nil, fmt.Errorf("read: %w", bareErr(err))
	}
	if len(b) > maxSums+8 {
		return nil, fmt.Errorf("larger than %d bytes: not the checksum listing of a split bundle", maxSums+8)
	}
	le := binary.LittleEndian
	if len(b) >= 4 && le.Uint32(b) == sumsMagic {
		if len(b) < 8 || int64(le.Uint32(b[4:])) != int64(len(b)-8) {
			return nil, fmt.Errorf("checksum frame length does not match the %d-byte file (truncated copy?)", len(b))
		}
		lines, err := sumsPayload(b[8:])
		if err != nil {
			return nil, fmt.Errorf("checksum frame: %w", err)
		}
		return lines, nil
	}
	return parseSums(b)
}

// checkSumNames checks that a listing names only parts of the split set
// base, each once: plain names NAME.000 … NAME.999 in its directory, never
// a path (a separator, "..", an absolute name) or another file, since
// VerifyParts opens every name listed.
func checkSumNames(lines []sumLine, base string) error {
	if len(lines) > maxParts {
		return fmt.Errorf("lists %d files; a split bundle has at most %d parts", len(lines), maxParts)
	}
	seen := make(map[string]bool, len(lines))
	for _, l := range lines {
		if !isPartName(l.name, base) {
			return fmt.Errorf("lists %q, which is not a part of this split set: want a plain name %s.NNN (three digits) in the same directory", l.name, filepath.Base(base))
		}
		if seen[l.name] {
			return fmt.Errorf("lists %q twice", l.name)
		}
		seen[l.name] = true
	}
	return nil
}

// isPartName reports whether name is the file name (not a path) of a part
// of the split set base: the base name of base, a dot and three digits.
func isPartName(name, base string) bool {
	if strings.ContainsRune(name, '/') || strings.ContainsRune(name, filepath.Separator) || filepath.IsAbs(name) {
		return false
	}
	b, n, ok := partIndex(name)
	return ok && n < maxParts && b == filepath.Base(base) && name == partName(b, n)
}

// sumsPayload parses the payload of a checksum frame: "\n" and one or more
// sha256sum lines, each ending in "\n".
func sumsPayload(p []byte) ([]sumLine, error) {
	if len(p) < 2 || p[0] != '\n' || p[len(p)-1] != '\n' {
		return nil, errors.New("payload is not \"\\n\" and newline-terminated sha256sum lines")
	}
	lines, err := parseSums(p[1:])
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return nil, errors.New("payload lists no parts")
	}
	return lines, nil
}

// parseSums parses sha256sum lines; empty lines are skipped.
func parseSums(text []byte) ([]sumLine, error) {
	var out []sumLine
	for ln, line := range strings.Split(string(text), "\n") {
		if line == "" {
			continue
		}
		sum, name, ok := strings.Cut(line, " ")
		if _, err := hex.DecodeString(sum); !ok || len(sum) != 64 || err != nil || len(name) < 2 || (name[0] != ' ' && name[0] != '*') {
			return nil, fmt.Errorf("line %d: want \"<sha256 hex>  <file>\"", ln+1)
		}
		out = append(out, sumLine{sum: strings.ToLower(sum), name: name[1:]})
	}
	return out, nil
}

// sumsTrailerStart looks for a checksum frame at the very end of ra, as
// `cat NAME.*` appends NAME.sha256 after the parts, and returns the offset
// where it starts. Only a frame with magic 0x184D2A5C whose length reaches
// exactly to size and whose payload parses as sumsPayload counts.
func sumsTrailerStart(ra io.ReaderAt, size int64) (int64, bool) {
	n := min(size, maxSums+8)
	if n < 10 {
		return 0, false
	}
	buf := make([]byte, n)
	if got, _ := ra.ReadAt(buf, size-n); int64(got) < n {
		return 0, false
	}
	magic := binary.LittleEndian.AppendUint32(nil, sumsMagic)
	for end := len(buf); ; {
		p := bytes.LastIndex(buf[:end], magic)
		if p < 0 {
			return 0, false
		}
		end = p
		if p+8 > len(buf) || int64(binary.LittleEndian.Uint32(buf[p+4:])) != int64(len(buf)-p-8) {
			continue
		}
		if _, err := sumsPayload(buf[p+8:]); err == nil {
			return size - n + int64(p), true
		}
	}
}
