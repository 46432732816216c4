package bundle

import "fmt"

// OpenWith is Open with reader options (AllowRescan).
func OpenWith(path string, opts ReaderOptions) (*Reader, error) {
	ra, size, closer, err := openFiles(path)
	if err != nil {
		return nil, err
	}
	r, err := NewReaderWith(ra, size, opts)
	if err != nil {
		closer.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r.closer = closer
	return r, nil
}
