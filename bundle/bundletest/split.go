package bundletest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// SumLine is one line of a split bundle's NAME.sha256 listing.
type SumLine struct {
	Sum  string // hex sha256
	Name string // part name, relative to the listing's directory
}

// Split writes the bundle file src as the split set base: parts
// base.000, base.001, … of at most partSize bytes and base.sha256, as
// `bundle create --split` does. It returns the listing it wrote, which a
// test may edit and write again with WriteSums.
func Split(src, base string, partSize int64) ([]SumLine, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return nil, err
	}
	if partSize <= 0 {
		return nil, fmt.Errorf("bundletest: part size %d", partSize)
	}
	var lines []SumLine
	for i := 0; len(data) > 0 || i == 0; i++ {
		n := min(int64(len(data)), partSize)
		name := fmt.Sprintf("%s.%03d", base, i)
		if err := os.WriteFile(name, data[:n], 0o644); err != nil {
			return nil, err
		}
		sum := sha256.Sum256(data[:n])
		lines = append(lines, SumLine{Sum: hex.EncodeToString(sum[:]), Name: filepath.Base(name)})
		data = data[n:]
	}
	return lines, WriteSums(base+".sha256", lines)
}

// WriteSums writes path as a split bundle's checksum file: a zstd
// skippable frame (magic 0x184D2A5C) whose payload is "\n" and a sha256sum
// listing of lines.
func WriteSums(path string, lines []SumLine) error {
	payload := []byte{'\n'}
	for _, l := range lines {
		payload = fmt.Appendf(payload, "%s  %s\n", l.Sum, l.Name)
	}
	return os.WriteFile(path, appendSkippable(nil, sumsMagic, payload), 0o644)
}
