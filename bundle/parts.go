package bundle

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// maxParts bounds the number of split parts: three-digit suffixes keep
// `cat NAME.*` in order, with NAME.sha256 sorting after the parts.
const maxParts = 1000

// partName returns the name of part i of base.
func partName(base string, i int) string { return fmt.Sprintf("%s.%03d", base, i) }

// SumsName returns the name of the checksum listing of a split bundle,
// NAME.sha256: a zstd skippable frame holding a sha256sum listing of the
// parts (see the package documentation).
func SumsName(base string) string { return base + ".sha256" }

// partIndex returns the part number of a NAME.NNN path (NNN three ASCII
// digits) and its base name.
func partIndex(path string) (string, int, bool) {
	ext := filepath.Ext(path)
	if len(ext) != 4 || strings.Trim(ext[1:], "0123456789") != "" {
		return "", 0, false
	}
	n, err := strconv.Atoi(ext[1:])
	if err != nil {
		return "", 0, false
	}
	return strings.TrimSuffix(path, ext), n, true
}

// SplitBase reports whether path names a split bundle — a part NAME.NNN,
// or a base NAME that does not exist while NAME.000 does — and returns NAME.
func SplitBase(path string) (string, bool) {
	if base, _, ok := partIndex(path); ok {
		return base, true
	}
	if _, err := os.Stat(path); err == nil {
		return "", false
	}
	if _, err := os.Stat(partName(path, 0)); err == nil {
		return path, true
	}
	return "", false
}

// Open opens a bundle file: a single file, the first part NAME.000 of a
// split bundle, or the base name NAME when only its parts exist. Parts are
// read as one file; a missing or short part is reported as a *PartError
// wrapping ErrMissingPart that names the part file. A bundle without a
// usable seek table or TOC is refused (ErrNotSeekable); see OpenWith.
func Open(path string) (*Reader, error) {
	return OpenWith(path, ReaderOptions{})
}

func openFiles(path string) (io.ReaderAt, int64, io.Closer, error) {
	st, err := os.Stat(path)
	switch {
	case err == nil && st.Mode().IsRegular():
		if base, n, ok := partIndex(path); ok {
			if n != 0 {
				return nil, 0, nil, fmt.Errorf("open %s: this is part %d of a split bundle; open %s or %s", path, n, partName(base, 0), base)
			}
			return openParts(base)
		}
		f, fst, err := openRegular(path, true)
		if err != nil {
			return nil, 0, nil, fmt.Errorf("open %s: %w", path, err)
		}
		return f, fst.Size(), f, nil
	case err == nil:
		return nil, 0, nil, fmt.Errorf("open %s: not a regular file", path)
	case errors.Is(err, fs.ErrNotExist):
		if _, perr := os.Stat(partName(path, 0)); perr == nil {
			return openParts(path)
		}
	}
	return nil, 0, nil, fmt.Errorf("open bundle: %w", err)
}

// partFiles lists the part files of base with their sizes and checks that
// none is missing or short.
func partFiles(base string) ([]string, []int64, error) {
	var names []string
	var sizes []int64
	for i := 0; i < maxParts; i++ {
		st, err := os.Lstat(partName(base, i))
		if err != nil {
			break
		}
		if err := regularMode(st.Mode()); err != nil {
			return nil, nil, &PartError{File: partName(base, i), Err: err}
		}
		names = append(names, partName(base, i))
		sizes = append(sizes, st.Size())
	}
	if len(names) == 0 {
		return nil, nil, &PartError{File: partName(base, 0), Err: ErrMissingPart}
	}
	missing := partName(base, len(names))
	if later, _ := filepath.Glob(base + ".[0-9][0-9][0-9]"); len(later) > len(names) {
		sort.Strings(later)
		return nil, nil, &PartError{File: missing, Err: fmt.Errorf("%w: %s exists after it", ErrMissingPart, filepath.Base(later[len(later)-1]))}
	}
	if listed, err := readSetSums(base); err == nil {
		for _, l := range listed {
			if _, n, ok := partIndex(l.name); ok && n >= len(names) {
				return nil, nil, &PartError{File: missing, Err: fmt.Errorf("%w: %s lists %s", ErrMissingPart, filepath.Base(SumsName(base)), l.name)}
			}
		}
	}
	for i, sz := range sizes {
		last := i == len(sizes)-1
		if (!last && sz != sizes[0]) || (last && sz > sizes[0]) {
			return nil, nil, &PartError{File: names[i], Err: fmt.Errorf("%w: %d bytes, want %d like %s (truncated copy?)", ErrMissingPart, sz, sizes[0], filepath.Base(names[0]))}
		}
	}
	return names, sizes, nil
}

func openParts(base string) (io.ReaderAt, int64, io.Closer, error) {
	names, sizes, err := partFiles(base)
	if err != nil {
		return nil, 0, nil, err
	}
	m := &multiReaderAt{}
	for i, name := range names {
		f, st, err := openRegular(name, false)
		if err == nil && st.Size() != sizes[i] {
			f.Close()
			err = fmt.Errorf("%w: changed size from %d to %d bytes while being opened", ErrMissingPart, sizes[i], st.Size())
		}
		if err != nil {
			m.Close()
			return nil, 0, nil, &PartError{File: name, Err: err}
		}
		m.files = append(m.files, f)
		m.starts = append(m.starts, m.size)
		m.size += sizes[i]
	}
	return m, m.size, m, nil
}

// errNotRegular is the cause when a part or checksum listing is a symbolic
// link, FIFO, device, socket or directory: reading one could leave the set,
// block forever or never end.
var errNotRegular = errors.New("not a regular file")

// openRegular opens name for reading. A FIFO, device, socket or directory is
// refused without blocking on it; so is a symbolic link unless follow is set
// (for a path the user named). Errors do not repeat name.
func openRegular(name string, follow bool) (*os.File, fs.FileInfo, error) {
	stat, flags := os.Lstat, openPartFlags
	if follow {
		stat, flags = os.Stat, openFollowFlags
	}
	st, err := stat(name)
	if err != nil {
		return nil, nil, bareErr(err)
	}
	if err := regularMode(st.Mode()); err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(name, os.O_RDONLY|flags, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, nil, regularMode(fs.ModeSymlink)
	}
	if err != nil {
		return nil, nil, bareErr(err)
	}
	fst, err := f.Stat()
	if err == nil {
		err = regularMode(fst.Mode())
	}
	if err == nil && !os.SameFile(st, fst) {
		err = errors.New("replaced while being opened")
	}
	if err != nil {
		f.Close()
		return nil, nil, bareErr(err)
	}
	return f, fst, nil
}

// regularMode returns nil for a regular file and an error wrapping
// errNotRegular that says what else it is.
func regularMode(m fs.FileMode) error {
	kind := "a special file"
	switch {
	case m.IsRegular():
		return nil
	case m&fs.ModeSymlink != 0:
		kind = "a symbolic link (parts are not read through links)"
	case m&fs.ModeNamedPipe != 0:
		kind = "a named pipe"
	case m&fs.ModeDevice != 0:
		kind = "a device"
	case m.IsDir():
		kind = "a directory"
	case m&fs.ModeSocket != 0:
		kind = "a socket"
	}
	return fmt.Errorf("%w: it is %s", errNotRegular, kind)
}

// bareErr drops the operation and path of an *fs.PathError, which the
// caller's *PartError names already.
func bareErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// multiReaderAt joins part files into one io.ReaderAt.
type multiReaderAt struct {
	files  []*os.File
	starts []int64
	size   int64
}

func (m *multiReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	total := 0
	for len(p) > 0 {
		if off >= m.size {
			return total, io.EOF
		}
		i := sort.Search(len(m.starts), func(i int) bool { return m.starts[i] > off }) - 1
		end := m.size
		if i+1 < len(m.starts) {
			end = m.starts[i+1]
		}
		n := int(min(int64(len(p)), end-off))
		got, err := m.files[i].ReadAt(p[:n], off-m.starts[i])
		total += got
		if got < n {
			if err == nil || errors.Is(err, io.EOF) {
				err = &PartError{File: m.files[i].Name(), Err: fmt.Errorf("%w: shorter than when opened", ErrMissingPart)}
			}
			return total, err
		}
		p, off = p[n:], off+int64(n)
	}
	return total, nil
}

func (m *multiReaderAt) Close() error {
	var errs []error
	for _, f := range m.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}
