package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// ErrNoRanges means a registry answered a byte-range request with the whole
// blob (HTTP 200): it does not serve ranges, so the blob must be read from
// its start in one stream.
var ErrNoRanges = errors.New("the registry does not serve byte ranges")

// FetchRange reads bytes [off, off+n) of blob desc with one HTTP range
// request (GET /v2/<path>/blobs/<digest>, Range: bytes=off-(off+n-1)),
// following the registry's redirect to its storage. The answer must be 206
// with the asked range (Content-Range is checked); a 200 returns
// ErrNoRanges. The caller verifies the bytes (the blob's digest, over the
// whole blob) and closes the body.
func (r *Repository) FetchRange(ctx context.Context, desc ocispec.Descriptor, off, n int64) (io.ReadCloser, error) {
	if off < 0 || n <= 0 || off+n > desc.Size {
		return nil, fmt.Errorf("blob %s: range [%d, %d) outside its %d bytes", desc.Digest, off, off+n, desc.Size)
	}
	u := r.base.JoinPath("blobs", desc.Digest.String()).String()
	ctx = auth.AppendRepositoryScope(ctx, r.oras.Reference, auth.ActionPull)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	last := off + n - 1
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, last))
	resp, err := r.oras.Client.Do(req)
	if err != nil {
		return nil, mapError(fmt.Errorf("GET %s (bytes %d-%d): %w", u, off, last, err))
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
	case http.StatusOK:
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %w (asked for bytes %d-%d, got HTTP 200)", u, ErrNoRanges, off, last)
	default:
		defer resp.Body.Close()
		return nil, responseError(resp)
	}
	start, end, ok := parseContentRange(resp.Header.Get("Content-Range"))
	if !ok || start != off || end != last {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: asked for bytes %d-%d, got Content-Range %q", u, off, last, resp.Header.Get("Content-Range"))
	}
	return resp.Body, nil
}

// RangeKey names where FetchRange's requests go (scheme and host), so a
// caller can remember per registry whether ranges are served.
func (r *Repository) RangeKey() string { return r.base.Scheme + "://" + r.base.Host }

// parseContentRange reads "bytes START-END/TOTAL" (TOTAL may be "*").
func parseContentRange(v string) (start, end int64, ok bool) {
	rest, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, false
	}
	span, _, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(span, "-")
	if !found {
		return 0, 0, false
	}
	s, err1 := strconv.ParseInt(a, 10, 64)
	e, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || s < 0 || e < s {
		return 0, 0, false
	}
	return s, e, true
}
