package bundle

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
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
// lines) from an older meshpack or written by hand.
func readSums(path string) ([]sumLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSums+9))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxSums+8 {
		return nil, fmt.Errorf("%s: larger than %d bytes; not the checksum listing of a split bundle", path, maxSums+8)
	}
	le := binary.LittleEndian
	if len(b) >= 4 && le.Uint32(b) == sumsMagic {
		if len(b) < 8 || int64(le.Uint32(b[4:])) != int64(len(b)-8) {
			return nil, fmt.Errorf("%s: checksum frame length does not match the %d-byte file (truncated copy?)", path, len(b))
		}
		lines, err := sumsPayload(b[8:])
		if err != nil {
			return nil, fmt.Errorf("%s: checksum frame: %w", path, err)
		}
		return lines, nil
	}
	lines, err := parseSums(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return lines, nil
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
