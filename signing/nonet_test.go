package signing

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
)

// failingNet counts and refuses every outgoing HTTP request and DNS lookup
// made through the standard library defaults.
type failingNet struct {
	requests, dials atomic.Int64
}

func (f *failingNet) RoundTrip(r *http.Request) (*http.Response, error) {
	f.requests.Add(1)
	return nil, errors.New("network disabled in test: " + r.URL.String())
}

// installFailingNet replaces http.DefaultTransport, net.DefaultResolver and
// the default transport's dialer for the duration of the test. Tests using
// it must not run in parallel.
func installFailingNet(t *testing.T) *failingNet {
	t.Helper()
	f := &failingNet{}
	oldTransport, oldResolver := http.DefaultTransport, net.DefaultResolver
	http.DefaultTransport = f
	net.DefaultResolver = &net.Resolver{
		PreferGo: true,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			f.dials.Add(1)
			return nil, errors.New("dns disabled in test")
		},
	}
	t.Cleanup(func() {
		http.DefaultTransport, net.DefaultResolver = oldTransport, oldResolver
	})
	return f
}

func TestNoNetwork(t *testing.T) {
	ctx := context.Background()
	ours := newTestKey(t, "pw")
	upstream := newTestKey(t, "")
	stranger := newTestKey(t, "")
	subject := subjectDesc("offline")
	bom := []byte(`{"bom":true}`)

	f := installFailingNet(t)
	combined := mustSign(t, ours, ourRef, subject, mustSign(t, upstream, upstreamRef, subject, nil))
	blobSig, err := SignBlob(ctx, ours.signer, bom)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		run  func() error
		ok   bool
	}{
		{"verify image", func() error { _, err := Verify(ctx, ours.verifier, subject.Digest, combined); return err }, true},
		{"verify image wrong key", func() error { _, err := Verify(ctx, stranger.verifier, subject.Digest, combined); return err }, false},
		{"verify image wrong digest", func() error {
			_, err := Verify(ctx, ours.verifier, subjectDesc("other").Digest, combined)
			return err
		}, false},
		{"verify blob", func() error { return VerifyBlob(ctx, ours.verifier, bom, blobSig) }, true},
		{"verify blob wrong key", func() error { return VerifyBlob(ctx, stranger.verifier, bom, blobSig) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if (err == nil) != tc.ok {
				t.Errorf("got error %v, want success %v", err, tc.ok)
			}
		})
	}
	if n, d := f.requests.Load(), f.dials.Load(); n != 0 || d != 0 {
		t.Errorf("got %d HTTP requests and %d DNS dials, want none", n, d)
	}
	// The hooks do catch the standard library's defaults.
	if _, err := http.Get("https://rekor.sigstore.dev/api/v1/log"); err == nil {
		t.Error("got nil error from http.Get, want the test transport to refuse it")
	}
	if _, err := net.DefaultResolver.LookupHost(ctx, "tuf-repo-cdn.sigstore.dev"); err == nil {
		t.Error("got nil error from a DNS lookup, want the test resolver to refuse it")
	}
	if n, d := f.requests.Load(), f.dials.Load(); n != 1 || d == 0 {
		t.Errorf("got %d HTTP requests and %d DNS dials from the probes, want 1 and at least 1", n, d)
	}
}
