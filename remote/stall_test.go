package remote

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestStallDeadlines sends requests to servers that stop at each phase of
// an HTTP exchange, and to slow but moving ones: a stop must fail with a
// StallError naming the phase within a few stall timeouts; steady progress
// and a slow reader of the response must not.
func TestStallDeadlines(t *testing.T) {
	const stall = 200 * time.Millisecond
	hold := func(w http.ResponseWriter, r *http.Request) {
		// Take the connection away from the server and never read it.
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			time.AfterFunc(10*time.Second, func() { conn.Close() })
		}
	}
	for _, tc := range []struct {
		name      string
		handler   http.HandlerFunc
		method    string
		body      int64         // request body size
		readPause time.Duration // pause between reads of the response
		wantPhase string        // "" for success
	}{
		{"no response headers", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, http.MethodGet, 0, 0, phaseWait},
		{"request body never read", hold, http.MethodPut, 256 << 20, 0, phaseSend},
		{"response body stops", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("first bytes"))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}, http.MethodGet, 0, 0, phaseResponse},
		{"slow steady upload", func(w http.ResponseWriter, r *http.Request) {
			for {
				if _, err := io.CopyN(io.Discard, r.Body, 1<<20); err != nil {
					break
				}
				time.Sleep(stall / 4)
			}
			w.WriteHeader(http.StatusCreated)
		}, http.MethodPut, 16 << 20, 0, ""},
		{"slow reader of the response", func(w http.ResponseWriter, r *http.Request) {
			for range 4 {
				w.Write(bytes.Repeat([]byte("x"), 1024))
				w.(http.Flusher).Flush()
			}
		}, http.MethodGet, 0, 3 * stall, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			// The response deadline must cover what the kernel buffers of
			// both ends hold when the body is sent (a few MiB here).
			c, err := New(Options{StallTimeout: stall, ResponseTimeout: 10 * stall})
			if err != nil {
				t.Fatal(err)
			}
			var body io.Reader
			if tc.body > 0 {
				body = io.LimitReader(zeros{}, tc.body)
			}
			req, err := http.NewRequest(tc.method, srv.URL+"/x", body)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = tc.body
			start := time.Now()
			err = roundTrip(c.HTTPClient(), req, tc.readPause)
			took := time.Since(start)
			if tc.wantPhase == "" {
				if err != nil {
					t.Fatalf("got %v after %v, want success", err, took)
				}
				return
			}
			var se *StallError
			if !errors.As(err, &se) || !errors.Is(err, ErrStalled) || se.Phase != tc.wantPhase {
				t.Fatalf("got %v, want a StallError while %s", err, tc.wantPhase)
			}
			if !strings.Contains(err.Error(), "no progress for ") || !strings.Contains(err.Error(), "while "+tc.wantPhase) {
				t.Errorf("got message %q", err)
			}
			if took > 20*stall {
				t.Errorf("failed after %v, want about %v", took, stall)
			}
		})
	}
}

// roundTrip sends req and reads the whole response, pausing between reads.
func roundTrip(c *http.Client, req *http.Request, pause time.Duration) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	buf := make([]byte, 1024)
	for {
		time.Sleep(pause)
		if _, err := resp.Body.Read(buf); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
