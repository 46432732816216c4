package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Default stall deadlines (Options.StallTimeout, Options.ResponseTimeout).
const (
	// DefaultStallTimeout is how long a connection may make no progress
	// (connect, send a request body, read a response body) before the
	// request is aborted.
	DefaultStallTimeout = 30 * time.Second
	// DefaultResponseTimeout is how long a registry may take to send the
	// response headers once the request is sent. It is longer than the
	// stall timeout because a registry may store a large blob before it
	// answers the PUT that completes it.
	DefaultResponseTimeout = 60 * time.Second
)

// StallError reports a request aborted because it made no progress.
// It is not a net.Error timeout, so the retrying transport does not retry
// it on its own: the caller decides (idempotent requests of a Repository
// are tried once more; bundle load retries an upload once).
type StallError struct {
	// Method and URL (scheme, host and path; no query) of the request.
	Method, URL string
	// Phase is what was waited for, e.g. "sending the request body".
	Phase string
	// Timeout is the deadline that passed.
	Timeout time.Duration
}

// Error leaves out the method and URL: http.Client's *url.Error adds them.
func (e *StallError) Error() string {
	return fmt.Sprintf("no progress for %s while %s (the registry or the network stalled)", e.Timeout, e.Phase)
}

// Is makes errors.Is(err, ErrStalled) true.
func (e *StallError) Is(target error) bool { return target == ErrStalled }

const (
	phaseSend     = "sending the request body"
	phaseWait     = "waiting for the response"
	phaseResponse = "reading the response body"
)

// stallTransport aborts a request attempt that makes no progress: no byte
// of the request body taken for stall, no response headers within header
// after the body was sent (or, without a body, after the request started,
// connect and TLS included), a response body Read blocked for stall. The
// clock runs only while the network is what is waited for: time the caller
// spends between reads of a response body (a slow consumer) never counts.
type stallTransport struct {
	next          http.RoundTripper
	stall, header time.Duration
}

func (t *stallTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.stall <= 0 && t.header <= 0 {
		return t.next.RoundTrip(req)
	}
	ctx, cancel := context.WithCancelCause(req.Context())
	u := *req.URL
	u.RawQuery, u.User, u.Fragment = "", nil, ""
	w := &watchdog{cancel: cancel, method: req.Method, url: u.String(), stall: t.stall, header: t.header}
	out := req.WithContext(ctx)
	if req.Body != nil && req.Body != http.NoBody && req.ContentLength != 0 {
		out.Body = &watchedBody{rc: req.Body, w: w, left: req.ContentLength}
		w.arm(phaseSend, t.stall)
	} else {
		w.arm(phaseWait, t.header)
	}
	resp, err := t.next.RoundTrip(out)
	if err != nil {
		w.responding()
		stallErr := w.fired()
		cancel(nil)
		if stallErr != nil {
			return nil, stallErr
		}
		return nil, err
	}
	w.responding()
	resp.Body = &watchedResponse{rc: resp.Body, w: w}
	return resp, nil
}

// watchdog is the deadline of one request attempt.
type watchdog struct {
	mu            sync.Mutex
	timer         *time.Timer
	deadline      time.Time
	phase         string
	timeout       time.Duration
	done          bool // the response arrived or the request ended
	err           *StallError
	cancel        context.CancelCauseFunc
	method, url   string
	stall, header time.Duration
}

// arm (re)starts the clock for phase.
func (w *watchdog) arm(phase string, d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return
	}
	if d <= 0 { // this deadline is disabled: no clock until the next arm
		w.deadline = time.Time{}
		if w.timer != nil {
			w.timer.Stop()
		}
		return
	}
	w.phase, w.timeout, w.deadline = phase, d, time.Now().Add(d)
	if w.timer == nil {
		w.timer = time.AfterFunc(d, w.fire)
	} else {
		w.timer.Reset(d)
	}
}

// pause stops the clock until the next arm.
func (w *watchdog) pause() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.deadline = time.Time{}
	if w.timer != nil {
		w.timer.Stop()
	}
}

// responding ends the request phase (a response or an error arrived): the
// request body no longer moves the clock.
func (w *watchdog) responding() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
	w.pause()
}

func (w *watchdog) fire() {
	w.mu.Lock()
	if w.deadline.IsZero() || time.Now().Before(w.deadline) || w.err != nil {
		w.mu.Unlock()
		return // re-armed or paused meanwhile
	}
	w.err = &StallError{Method: w.method, URL: w.url, Phase: w.phase, Timeout: w.timeout}
	err := w.err
	w.mu.Unlock()
	w.cancel(err)
}

func (w *watchdog) fired() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		return nil
	}
	return w.err
}

func (w *watchdog) sending() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.done
}

// watchedBody is a request body: each Read the transport makes is
// progress; the clock stops while our own reader works (the bundle, not the
// network) and, after the last byte, waits for the response headers.
type watchedBody struct {
	rc   io.ReadCloser
	w    *watchdog
	left int64 // bytes still expected; negative when unknown
}

func (b *watchedBody) Read(p []byte) (int, error) {
	active := b.w.sending()
	if active {
		b.w.pause()
	}
	n, err := b.rc.Read(p)
	if b.left > 0 {
		b.left -= int64(n)
	}
	if active {
		if err != nil || b.left == 0 {
			b.w.arm(phaseWait, b.w.header)
		} else {
			b.w.arm(phaseSend, b.w.stall)
		}
	}
	return n, err
}

func (b *watchedBody) Close() error {
	if b.w.sending() {
		b.w.arm(phaseWait, b.w.header)
	}
	return b.rc.Close()
}

// watchedResponse is a response body: a Read blocked for the stall timeout
// aborts the request; Close releases it.
type watchedResponse struct {
	rc io.ReadCloser
	w  *watchdog
}

func (r *watchedResponse) Read(p []byte) (int, error) {
	r.w.armResponse()
	n, err := r.rc.Read(p)
	r.w.pause()
	if err != nil && !errors.Is(err, io.EOF) {
		if stallErr := r.w.fired(); stallErr != nil {
			return n, stallErr
		}
	}
	return n, err
}

func (r *watchedResponse) Close() error {
	err := r.rc.Close()
	r.w.pause()
	r.w.cancel(nil)
	return err
}

// armResponse starts the clock for one response body Read.
func (w *watchdog) armResponse() { w.arm(phaseResponse, w.stall) }
