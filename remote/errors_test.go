package remote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestResponseErrors answers an upload POST and a manifest PUT with every
// status the protocol gives a meaning to, and checks the sentinel each
// error matches, that it matches no other, and what Temporary says.
func TestResponseErrors(t *testing.T) {
	all := []error{ErrUnauthorized, ErrNotFound, ErrUnsupported, ErrTemporary, ErrTooLarge, ErrRangeInvalid, ErrUploadInvalid, ErrBlobUnknown}
	for _, tc := range []struct {
		name      string
		method    string // the request that fails: POST (StartUpload) or PUT (PushManifest)
		status    int
		code      string // error code in the body, "" for none
		want      error  // nil: a ResponseError matching no sentinel
		temporary bool
	}{
		{"401", http.MethodPost, http.StatusUnauthorized, "UNAUTHORIZED", ErrUnauthorized, false},
		{"403", http.MethodPost, http.StatusForbidden, "DENIED", ErrUnauthorized, false},
		{"404", http.MethodPost, http.StatusNotFound, "NAME_UNKNOWN", ErrNotFound, false},
		{"405", http.MethodPost, http.StatusMethodNotAllowed, "", ErrUnsupported, false},
		{"411", http.MethodPost, http.StatusLengthRequired, "", ErrUnsupported, false},
		{"501", http.MethodPost, http.StatusNotImplemented, "", ErrUnsupported, false},
		{"408", http.MethodPost, http.StatusRequestTimeout, "", ErrTemporary, true},
		{"429", http.MethodPost, http.StatusTooManyRequests, "TOOMANYREQUESTS", ErrTemporary, true},
		{"503", http.MethodPost, http.StatusServiceUnavailable, "", ErrTemporary, true},
		{"413", http.MethodPost, http.StatusRequestEntityTooLarge, "SIZE_INVALID", ErrTooLarge, false},
		{"416", http.MethodPost, http.StatusRequestedRangeNotSatisfiable, "", ErrRangeInvalid, true},
		{"400 upload invalid", http.MethodPost, http.StatusBadRequest, "BLOB_UPLOAD_INVALID", ErrUploadInvalid, false},
		{"400 digest invalid", http.MethodPost, http.StatusBadRequest, "DIGEST_INVALID", ErrUploadInvalid, false},
		{"400 other", http.MethodPost, http.StatusBadRequest, "NAME_INVALID", nil, false},
		{"418", http.MethodPost, http.StatusTeapot, "", nil, false},
		{"manifest blob unknown", http.MethodPut, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN", ErrBlobUnknown, false},
		{"manifest child unknown", http.MethodPut, http.StatusBadRequest, "MANIFEST_UNKNOWN", ErrBlobUnknown, false},
		{"manifest invalid", http.MethodPut, http.StatusBadRequest, "MANIFEST_INVALID", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != tc.method {
					http.NotFound(w, r) // the manifest GET before the PUT
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				if tc.code != "" {
					fmt.Fprintf(w, `{"errors":[{"code":%q,"message":"refused"}]}`, tc.code)
				}
			}))
			defer srv.Close()
			repo := testRepository(t, srv, Options{})
			var err error
			if tc.method == http.MethodPost {
				_, err = repo.StartUpload(context.Background())
			} else {
				data := []byte(`{"schemaVersion":2}`)
				desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(data), Size: int64(len(data))}
				_, err = repo.PushManifest(context.Background(), desc, data, PushOptions{})
			}
			var re *ResponseError
			if !errors.As(err, &re) || re.StatusCode != tc.status || re.Method != tc.method {
				t.Fatalf("got %v, want a ResponseError of %s answered %d", err, tc.method, tc.status)
			}
			for _, s := range all {
				if got := errors.Is(err, s); got != (s == tc.want) {
					t.Errorf("errors.Is(%v, %q) = %v, want %v", err, s, got, !got)
				}
			}
			if got := Temporary(err); got != tc.temporary {
				t.Errorf("Temporary(%v) = %v, want %v", err, got, tc.temporary)
			}
			if tc.code != "" && !strings.Contains(err.Error(), "refused") {
				t.Errorf("got message %q, want the registry's", err)
			}
		})
	}
}

// TestTemporary checks the errors that are not registry answers.
func TestTemporary(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"network", errors.New("read: connection reset by peer"), true},
		{"canceled", fmt.Errorf("upload: %w", context.Canceled), false},
		{"deadline", context.DeadlineExceeded, false},
		{"stall", &StallError{Phase: phaseSend}, false},
		{"no credentials", &kindError{kind: ErrNoCredentials, msg: "basic credential not found"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Temporary(tc.err); got != tc.want {
				t.Errorf("Temporary(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// TestUploadLocation refuses to send a blob to an upload location on
// another host or one that downgrades https: it would receive our
// credentials.
func TestUploadLocation(t *testing.T) {
	for _, tc := range []struct {
		name, location, want string
	}{
		{"another host", "http://203.0.113.9/v2/x/blobs/uploads/1", "on another host"},
		{"another port", "http://127.0.0.1:1/v2/x/blobs/uploads/1", "on another host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", tc.location)
				w.WriteHeader(http.StatusAccepted)
			}))
			defer srv.Close()
			_, err := testRepository(t, srv, Options{}).StartUpload(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// testRepository is repository x/y of the plain-HTTP server srv.
func testRepository(t *testing.T, srv *httptest.Server, opts Options) *Repository {
	t.Helper()
	opts.PlainHTTP = true
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := c.RepositoryAt(context.Background(), strings.TrimPrefix(srv.URL, "http://"), "x/y")
	if err != nil {
		t.Fatal(err)
	}
	return repo
}
