package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// repoClient speaks the OCI distribution API for one target repository:
// oras-go for HEADs, raw requests through the same authenticating, retrying
// client for the upload protocol (which oras-go does not expose: chunks,
// upload status, mounts that fall back to our own upload).
//
// Spec: https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pushing-blobs
type repoClient struct {
	path string
	repo *remote.Repository
	base *url.URL // scheme://host/v2/<path>/
}

// repoFor returns the cached client of a target repository path.
func (l *loader) repoFor(path string) (*repoClient, error) {
	l.reposMu.Lock()
	defer l.reposMu.Unlock()
	if rc := l.repos[path]; rc != nil {
		return rc, nil
	}
	repo, err := l.c.RepositoryAt(l.t.host, path, false)
	if err != nil {
		return nil, err
	}
	scheme := "https"
	if repo.PlainHTTP {
		scheme = "http"
	}
	rc := &repoClient{path: path, repo: repo, base: &url.URL{Scheme: scheme, Host: repo.Reference.Host(), Path: "/v2/" + path + "/"}}
	l.repos[path] = rc
	return rc, nil
}

// scoped asks the token service for pull and push on this repository (and
// pull on from, for a mount).
func (rc *repoClient) scoped(ctx context.Context, from string) context.Context {
	ctx = auth.AppendRepositoryScope(ctx, rc.repo.Reference, auth.ActionPull, auth.ActionPush)
	if from != "" {
		ref := rc.repo.Reference
		ref.Repository = from
		ctx = auth.AppendRepositoryScope(ctx, ref, auth.ActionPull)
	}
	return ctx
}

// do sends req and turns an unexpected status into an *errcode.ErrorResponse.
func (rc *repoClient) do(req *http.Request, want ...int) (*http.Response, error) {
	resp, err := rc.repo.Client.Do(req)
	if err != nil {
		return nil, err
	}
	for _, w := range want {
		if resp.StatusCode == w {
			return resp, nil
		}
	}
	defer resp.Body.Close()
	return nil, responseError(resp)
}

// responseError parses a registry error body (at most 8 KiB).
func responseError(resp *http.Response) error {
	e := &errcode.ErrorResponse{Method: resp.Request.Method, URL: resp.Request.URL, StatusCode: resp.StatusCode}
	var body struct {
		Errors errcode.Errors `json:"errors"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, 8<<10)).Decode(&body) == nil {
		e.Errors = body.Errors
	}
	return e
}

// location returns the upload URL a response names, refusing one on
// another host or downgrading https (it would receive our credentials).
func (rc *repoClient) location(resp *http.Response) (string, error) {
	loc, err := resp.Location()
	if err != nil {
		return "", fmt.Errorf("%s %s: %d without a usable Location header: %w", resp.Request.Method, resp.Request.URL.Redacted(), resp.StatusCode, err)
	}
	if err := rc.checkLocation(loc); err != nil {
		return "", err
	}
	return loc.String(), nil
}

func (rc *repoClient) checkLocation(loc *url.URL) error {
	if loc.Hostname() != rc.base.Hostname() || port(loc) != port(rc.base) {
		return fmt.Errorf("upload location %s is on another host than the registry %s; refusing to send data there", loc.Host, rc.base.Host)
	}
	if rc.base.Scheme == "https" && loc.Scheme != "https" {
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

// startUpload opens an upload session (POST …/blobs/uploads/). It returns
// the session URL and the registry's minimum chunk size, if it says one.
func (rc *repoClient) startUpload(ctx context.Context) (string, int64, error) {
	u := rc.base.JoinPath("blobs", "uploads").String() + "/"
	req, err := http.NewRequestWithContext(rc.scoped(ctx, ""), http.MethodPost, u, nil)
	if err != nil {
		return "", 0, err
	}
	resp, err := rc.do(req, http.StatusAccepted)
	if err != nil {
		return "", 0, err
	}
	resp.Body.Close()
	loc, err := rc.location(resp)
	minChunk, _ := strconv.ParseInt(resp.Header.Get("OCI-Chunk-Min-Length"), 10, 64)
	return loc, minChunk, err
}

// mount asks the registry to link desc from repository from (POST
// ?mount=&from=). It returns mounted, or the upload session the registry
// opened instead ("" when it refused outright).
func (rc *repoClient) mount(ctx context.Context, desc ocispec.Descriptor, from string) (bool, string, error) {
	q := url.Values{"mount": {desc.Digest.String()}, "from": {from}}
	u := rc.base.JoinPath("blobs", "uploads").String() + "/?" + q.Encode()
	req, err := http.NewRequestWithContext(rc.scoped(ctx, from), http.MethodPost, u, nil)
	if err != nil {
		return false, "", err
	}
	resp, err := rc.do(req, http.StatusCreated, http.StatusAccepted)
	if err != nil {
		return false, "", err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusCreated {
		if err := checkDigestHeader(resp, desc.Digest); err != nil {
			return false, "", err
		}
		return true, "", nil
	}
	loc, err := rc.location(resp)
	return false, loc, err
}

// status asks how many bytes of an upload session the registry has (GET
// on the session). It returns the offset to continue from and the session
// URL to continue with.
func (rc *repoClient) status(ctx context.Context, loc string) (int64, string, error) {
	u, err := url.Parse(loc)
	if err != nil {
		return 0, "", err
	}
	if err := rc.checkLocation(u); err != nil {
		return 0, "", err
	}
	req, err := http.NewRequestWithContext(rc.scoped(ctx, ""), http.MethodGet, loc, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := rc.do(req, http.StatusNoContent, http.StatusOK)
	if err != nil {
		return 0, "", err
	}
	resp.Body.Close()
	next := loc
	if resp.Header.Get("Location") != "" {
		if next, err = rc.location(resp); err != nil {
			return 0, "", err
		}
	}
	// "Range: 0-N" names the last byte held; "0-0" is also what an empty
	// session reports, so it counts as nothing (at worst one byte is sent
	// again and refused with 416, which restarts the upload).
	_, end, ok := strings.Cut(resp.Header.Get("Range"), "-")
	n, err := strconv.ParseInt(end, 10, 64)
	if !ok || err != nil || n <= 0 {
		return 0, next, nil
	}
	return n + 1, next, nil
}

// put completes an upload (PUT ?digest=) with body, n bytes, as its last
// bytes (nil for none).
func (rc *repoClient) put(ctx context.Context, loc string, desc ocispec.Descriptor, n int64, body *uploadBody) error {
	u, err := url.Parse(loc)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("digest", desc.Digest.String())
	u.RawQuery = q.Encode()
	req, err := rc.bodyRequest(ctx, http.MethodPut, u.String(), n, body)
	if err != nil {
		return err
	}
	resp, err := rc.do(req, http.StatusCreated)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return checkDigestHeader(resp, desc.Digest)
}

// patch sends one chunk (PATCH with Content-Range) and returns the session
// URL for the next request.
func (rc *repoClient) patch(ctx context.Context, loc string, start, n int64, body *uploadBody) (string, error) {
	req, err := rc.bodyRequest(ctx, http.MethodPatch, loc, n, body)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", start, start+n-1))
	resp, err := rc.do(req, http.StatusAccepted, http.StatusNoContent)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.Header.Get("Location") == "" {
		return loc, nil
	}
	return rc.location(resp)
}

func (rc *repoClient) bodyRequest(ctx context.Context, method, u string, n int64, body *uploadBody) (*http.Request, error) {
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = body
	}
	req, err := http.NewRequestWithContext(rc.scoped(ctx, ""), method, u, rd)
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

// checkDigestHeader compares Docker-Content-Digest, when the registry sends
// it, with what was pushed.
func checkDigestHeader(resp *http.Response, want digest.Digest) error {
	got := resp.Header.Get("Docker-Content-Digest")
	if got != "" && got != want.String() {
		return fmt.Errorf("%s %s: registry stored digest %s, want %s", resp.Request.Method, resp.Request.URL.Redacted(), got, want)
	}
	return nil
}

// errBodyClosed is what a request body returns after it was closed.
var errBodyClosed = errors.New("upload body closed")

// bodyState is shared by a request body and the copies a retry reopens: it
// remembers the first read error, which is the bundle's fault, not the
// network's.
type bodyState struct {
	mu  sync.Mutex
	err error
}

func (s *bodyState) set(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

func (s *bodyState) get() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// uploadBody is a request body read from the bundle. Read and Close are
// serialised, so once Close returns the transport can no longer touch the
// reader (net/http may still be writing a body in the background after a
// response arrived). It reports bytes as they go out.
type uploadBody struct {
	mu      sync.Mutex
	r       io.Reader
	c       io.Closer // closed with the body; nil when not owned
	closed  bool
	state   *bodyState
	count   func(int64)
	pending int64
	flush   func(int64)
	// reopen returns a fresh body for a retry of the same request.
	reopen func() (io.ReadCloser, error)
}

func (b *uploadBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errBodyClosed
	}
	n, err := b.r.Read(p)
	if n > 0 {
		b.count(int64(n))
		if b.pending += int64(n); b.pending >= 1<<20 {
			b.flush(b.pending)
			b.pending = 0
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		b.state.set(err)
	}
	return n, err
}

// Close stops the body; the underlying reader is closed when it is owned.
func (b *uploadBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if b.pending > 0 {
		b.flush(b.pending)
		b.pending = 0
	}
	if b.c != nil {
		return b.c.Close()
	}
	return nil
}
