package remote

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// LocateURL applies the mirrors to an http(s) URL and reports whether one
// applied.
func (c *Client) LocateURL(url string) (string, bool) {
	return c.opts.Mirrors.Rewrite(url)
}

// Get fetches url (after mirror rewriting) and returns the body and its
// length (-1 when unknown). 5xx answers and resets are retried with backoff.
// A 404 wraps ErrNotFound. The caller closes the body.
func (c *Client) Get(ctx context.Context, url string) (io.ReadCloser, int64, error) {
	return c.GetRange(ctx, url, 0)
}

// GetRange is Get starting at byte offset (an HTTP Range request); servers
// that ignore Range make it fail rather than return the wrong bytes.
func (c *Client) GetRange(ctx context.Context, url string, offset int64) (io.ReadCloser, int64, error) {
	actual, mirrored := c.LocateURL(url)
	if !strings.HasPrefix(actual, "http://") && !strings.HasPrefix(actual, "https://") {
		return nil, 0, fmt.Errorf("%s: not an http(s) URL (after mirrors: %s)", url, actual)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, actual, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", url, err)
	}
	req.Header.Set("User-Agent", c.userAgent)
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w%s", url, err, viaMirror(actual, mirrored))
	}
	switch {
	case offset > 0 && resp.StatusCode == http.StatusPartialContent:
	case offset == 0 && resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotFound:
		resp.Body.Close()
		return nil, 0, fmt.Errorf("GET %s: %w (HTTP 404)%s", url, ErrNotFound, viaMirror(actual, mirrored))
	default:
		resp.Body.Close()
		return nil, 0, fmt.Errorf("GET %s: unexpected HTTP %d%s", url, resp.StatusCode, viaMirror(actual, mirrored))
	}
	return resp.Body, resp.ContentLength, nil
}

func viaMirror(actual string, mirrored bool) string {
	if !mirrored {
		return ""
	}
	return " (via mirror " + actual + ")"
}
