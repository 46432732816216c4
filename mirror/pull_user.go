package mirror

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
)

// openFileSource opens the source of a file artifact: a file:/// URL (an
// extra manifest the lock pins from a local path) from the local disk,
// anything else through the client (mirrors, credentials, retries). The
// bytes are checked against the lock's digest as they are written.
func (pl *puller) openFileSource(ctx context.Context, src string) (io.ReadCloser, error) {
	if !strings.HasPrefix(src, "file://") {
		body, _, err := pl.c.Get(ctx, src)
		return body, err
	}
	u, err := url.Parse(src)
	if err != nil || u.Host != "" || u.Path == "" {
		return nil, fmt.Errorf("%s: not a file:/// URL of a local path", src)
	}
	f, err := os.Open(u.Path)
	if err != nil {
		return nil, fmt.Errorf("%w (the lock pins a local file: create the bundle where it was resolved, or publish the file at a URL and resolve again)", err)
	}
	return f, nil
}
