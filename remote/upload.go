package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Upload is an open blob upload session.
//
// Spec: https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pushing-blobs
type Upload struct {
	// URL is where the session's next request goes: the Location the
	// registry last answered.
	URL string
	// MinChunk is the smallest PATCH the registry takes
	// (OCI-Chunk-Min-Length); 0 when it did not say.
	MinChunk int64
}

// UploadOptions configures UploadBlob.
type UploadOptions struct {
	// Session is the upload session to send into: from StartUpload, from a
	// MountBlob the registry answered with a session, or recorded by an
	// earlier run. Required.
	Session Upload
	// Resume says the session may already hold part of the blob (an
	// earlier attempt or run was cut): UploadBlob asks the registry how
	// much (UploadStatus) and sends only the rest, in PATCH requests.
	Resume bool
	// ChunkSize, when positive, sends the blob in PATCH requests of this
	// size (at least the session's MinChunk) and a closing PUT. Zero sends
	// a new upload in one PUT, and the rest of a resumed one in one PATCH.
	ChunkSize int64
	// Progress, when set, is told about every read of the blob that goes
	// out (n bytes), retries included. It is called from the goroutine
	// sending the request and must be cheap and not block.
	Progress func(n int64)
}

// UploadResult says where an upload stands.
type UploadResult struct {
	// Session is the session as last used. After an error other than
	// ErrUploadInvalid, another UploadBlob with Resume continues it.
	Session Upload
	// Resumed is how many bytes the registry already held when the upload
	// continued (not sent again); 0 without Resume.
	Resumed int64
}

// StartUpload opens an upload session (POST /v2/<path>/blobs/uploads/).
func (r *Repository) StartUpload(ctx context.Context) (Upload, error) {
	u := r.base.JoinPath("blobs", "uploads").String() + "/"
	req, err := http.NewRequestWithContext(r.scoped(ctx, ""), http.MethodPost, u, nil)
	if err != nil {
		return Upload{}, err
	}
	resp, err := r.do(req, http.StatusAccepted)
	if err != nil {
		return Upload{}, err
	}
	resp.Body.Close()
	loc, err := r.location(resp)
	if err != nil {
		return Upload{}, err
	}
	minChunk, _ := strconv.ParseInt(resp.Header.Get("OCI-Chunk-Min-Length"), 10, 64)
	return Upload{URL: loc, MinChunk: minChunk}, nil
}

// MountBlob asks the registry to link blob desc from repository from, a
// path on the same registry (POST ?mount=&from=). It reports whether the
// blob is now there; when the registry opened an upload session instead,
// that session is returned for UploadBlob (its URL is empty when the
// registry refused outright).
func (r *Repository) MountBlob(ctx context.Context, desc ocispec.Descriptor, from string) (bool, Upload, error) {
	q := url.Values{"mount": {desc.Digest.String()}, "from": {from}}
	u := r.base.JoinPath("blobs", "uploads").String() + "/?" + q.Encode()
	req, err := http.NewRequestWithContext(r.scoped(ctx, from), http.MethodPost, u, nil)
	if err != nil {
		return false, Upload{}, err
	}
	resp, err := r.do(req, http.StatusCreated, http.StatusAccepted)
	if err != nil {
		return false, Upload{}, err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusCreated {
		if err := checkDigestHeader(resp, desc.Digest); err != nil {
			return false, Upload{}, err
		}
		return true, Upload{}, nil
	}
	loc, err := r.location(resp)
	return false, Upload{URL: loc}, err
}

// UploadStatus asks how many bytes of session s the registry holds (GET on
// the session) and returns them with the session to continue.
func (r *Repository) UploadStatus(ctx context.Context, s Upload) (int64, Upload, error) {
	u, err := url.Parse(s.URL)
	if err != nil {
		return 0, s, err
	}
	if err := r.checkLocation(u); err != nil {
		return 0, s, err
	}
	req, err := http.NewRequestWithContext(r.scoped(ctx, ""), http.MethodGet, s.URL, nil)
	if err != nil {
		return 0, s, err
	}
	resp, err := r.do(req, http.StatusNoContent, http.StatusOK)
	if err != nil {
		return 0, s, err
	}
	resp.Body.Close()
	next := s
	if resp.Header.Get("Location") != "" {
		if next.URL, err = r.location(resp); err != nil {
			return 0, s, err
		}
	}
	// "Range: 0-N" names the last byte held; "0-0" is also what an empty
	// session reports, so it counts as nothing (at worst one byte is sent
	// again and refused with 416, which asks again).
	_, end, ok := strings.Cut(resp.Header.Get("Range"), "-")
	n, err := strconv.ParseInt(end, 10, 64)
	if !ok || err != nil || n <= 0 {
		return 0, next, nil
	}
	return n + 1, next, nil
}

// UploadBlob makes one attempt to complete the upload of blob desc in
// opts.Session: one PUT of the whole blob, or PATCH requests with
// Content-Range (a registry refuses one that does not start where it is)
// and a closing PUT. The PUT names the digest, so the registry checks what
// it received; a Docker-Content-Digest answer that differs fails with
// ErrInconsistent. open returns the blob from byte off; it is called again
// for each chunk that does not follow the last one and for each request the
// HTTP client sends again, and its errors (and its reader's) are returned
// as they are, so the caller can tell its source from the network.
//
// With opts.Resume a session the registry no longer knows fails with
// ErrUploadInvalid, unless the registry has the blob (the request that was
// cut completed on its side): then UploadBlob succeeds. The caller decides
// what to do about a failure (see Temporary and the sentinels); the
// result says how far the upload got.
func (r *Repository) UploadBlob(ctx context.Context, desc ocispec.Descriptor, open func(off int64) (io.ReadCloser, error), opts UploadOptions) (UploadResult, error) {
	s := opts.Session
	res := UploadResult{Session: s}
	var off int64
	if opts.Resume {
		n, next, err := r.UploadStatus(ctx, s)
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return res, ctx.Err()
			case Temporary(err), errors.Is(err, ErrStalled):
				return res, err
			}
			if ok, herr := r.oras.Blobs().Exists(ctx, desc); herr == nil && ok {
				return UploadResult{}, nil
			}
			return UploadResult{}, &kindError{kind: ErrUploadInvalid, msg: "upload session gone", err: err}
		}
		off, s = min(n, desc.Size), next
		res.Session, res.Resumed = s, off
	}
	b := &bodies{desc: desc, open: open, progress: opts.Progress}
	if opts.ChunkSize <= 0 && !opts.Resume {
		body, err := b.body(0, desc.Size, nil)
		if err != nil {
			return res, err
		}
		err = r.put(ctx, s.URL, desc, desc.Size, body)
		body.Close()
		return res, bodyErr(body, err)
	}
	seq := &seqReader{open: open}
	defer seq.close()
	for off < desc.Size {
		n := desc.Size - off
		if opts.ChunkSize > 0 {
			n = min(max(opts.ChunkSize, s.MinChunk), n)
		}
		if err := seq.seek(off); err != nil {
			return res, err
		}
		body, err := b.body(off, n, seq)
		if err != nil {
			return res, err
		}
		next, err := r.patch(ctx, s.URL, off, n, body)
		body.Close()
		if err = bodyErr(body, err); err != nil {
			return res, err
		}
		s.URL, off = next, off+n
		res.Session = s
	}
	return res, r.put(ctx, s.URL, desc, 0, nil)
}

// put completes an upload (PUT ?digest=) with body, n bytes, as its last
// bytes (nil for none).
func (r *Repository) put(ctx context.Context, loc string, desc ocispec.Descriptor, n int64, body *uploadBody) error {
	u, err := url.Parse(loc)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("digest", desc.Digest.String())
	u.RawQuery = q.Encode()
	req, err := r.bodyRequest(ctx, http.MethodPut, u.String(), n, body)
	if err != nil {
		return err
	}
	resp, err := r.do(req, http.StatusCreated)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return checkDigestHeader(resp, desc.Digest)
}

// patch sends one chunk (PATCH with Content-Range) and returns the session
// URL for the next request.
func (r *Repository) patch(ctx context.Context, loc string, start, n int64, body *uploadBody) (string, error) {
	req, err := r.bodyRequest(ctx, http.MethodPatch, loc, n, body)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", start, start+n-1))
	resp, err := r.do(req, http.StatusAccepted, http.StatusNoContent)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.Header.Get("Location") == "" {
		return loc, nil
	}
	return r.location(resp)
}

func (r *Repository) bodyRequest(ctx context.Context, method, u string, n int64, body *uploadBody) (*http.Request, error) {
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = body
	}
	req, err := http.NewRequestWithContext(r.scoped(ctx, ""), method, u, rd)
	if err != nil {
		return nil, err
	}
	req.ContentLength = n
	req.Header.Set("Content-Type", "application/octet-stream")
	if body != nil {
		req.GetBody = body.reopen
	} else {
		req.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
	}
	return req, nil
}

// do sends req through the authenticating, retrying client and turns an
// unexpected status into a *ResponseError.
func (r *Repository) do(req *http.Request, want ...int) (*http.Response, error) {
	resp, err := r.oras.Client.Do(req)
	if err != nil {
		return nil, mapError(err)
	}
	for _, w := range want {
		if resp.StatusCode == w {
			return resp, nil
		}
	}
	defer resp.Body.Close()
	return nil, responseError(resp)
}

// location returns the upload URL a response names, refusing one on
// another host or downgrading https (it would receive our credentials).
func (r *Repository) location(resp *http.Response) (string, error) {
	loc, err := resp.Location()
	if err != nil {
		return "", fmt.Errorf("%s %s: %d without a usable Location header: %w", resp.Request.Method, resp.Request.URL.Redacted(), resp.StatusCode, err)
	}
	if err := r.checkLocation(loc); err != nil {
		return "", err
	}
	return loc.String(), nil
}

func (r *Repository) checkLocation(loc *url.URL) error {
	if loc.Hostname() != r.base.Hostname() || port(loc) != port(r.base) {
		return fmt.Errorf("upload location %s is on another host than the registry %s; refusing to send data there", loc.Host, r.base.Host)
	}
	if r.base.Scheme == "https" && loc.Scheme != "https" {
		return fmt.Errorf("upload location %s downgrades https to %s; refusing to send data there", loc.Host, loc.Scheme)
	}
	return nil
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// checkDigestHeader compares Docker-Content-Digest, when the registry sends
// it, with what was pushed.
func checkDigestHeader(resp *http.Response, want digest.Digest) error {
	got := resp.Header.Get("Docker-Content-Digest")
	if got != "" && got != want.String() {
		return fmt.Errorf("%w: %s %s: registry stored digest %s, want %s", ErrInconsistent, resp.Request.Method, resp.Request.URL.Redacted(), got, want)
	}
	return nil
}
