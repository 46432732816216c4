package remote

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// Errors of requests to registries and HTTP servers. Test for them with
// errors.Is; a registry's answer matches the one of its status (see
// ResponseError).
var (
	// ErrNotFound: the URL, reference, blob or manifest does not exist
	// (HTTP 404).
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: the registry refused the request (HTTP 401 or 403)
	// with the credentials it was given, or without any.
	ErrUnauthorized = errors.New("registry refused access")
	// ErrTemporary: the registry said to try again later (HTTP 408, 429 or
	// 5xx other than 501).
	ErrTemporary = errors.New("registry temporarily unavailable")
	// ErrTooLarge: the request body is larger than the registry takes
	// (HTTP 413).
	ErrTooLarge = errors.New("request too large for the registry")
	// ErrUnsupported: the registry does not support the request as made
	// (HTTP 405, 411 or 501), e.g. a blob upload in one PUT.
	ErrUnsupported = errors.New("registry does not support the request")
	// ErrRangeInvalid: the upload session holds another number of bytes
	// than the request assumed (HTTP 416); ask again with UploadStatus.
	ErrRangeInvalid = errors.New("upload range does not match what the registry holds")
	// ErrUploadInvalid: the upload session is unusable (HTTP 400 with
	// DIGEST_INVALID, SIZE_INVALID, BLOB_UPLOAD_INVALID or
	// BLOB_UPLOAD_UNKNOWN), or it is gone (UploadBlob with Resume); start
	// a new one.
	ErrUploadInvalid = errors.New("upload session unusable")
	// ErrBlobUnknown: the registry refused a manifest PUT because a blob or
	// child manifest it references is unknown (BLOB_UNKNOWN,
	// MANIFEST_BLOB_UNKNOWN, MANIFEST_UNKNOWN).
	ErrBlobUnknown = errors.New("registry lacks a blob or manifest the request references")
	// ErrInconsistent: the registry contradicted itself, e.g. it accepted a
	// manifest it then does not serve, or stored a digest other than the
	// one pushed.
	ErrInconsistent = errors.New("the registry's answers are inconsistent")
	// ErrStalled is matched by every *StallError.
	ErrStalled = errors.New("connection stalled")
)

// Errors of Ping; a Ping error matches one of them.
var (
	// ErrUnreachable: no HTTP answer (refused, reset, DNS, TLS, a stall),
	// or only 5xx answers.
	ErrUnreachable = errors.New("registry not reachable")
	// ErrNoCredentials: the registry wants credentials and none are
	// configured for it. Requests other than Ping match it too when the
	// registry asks for basic authentication and there is nothing to send.
	ErrNoCredentials = errors.New("registry requires credentials and none are configured")
	// ErrCredentialsRejected: the configured credentials were refused.
	ErrCredentialsRejected = errors.New("registry rejected the credentials")
	// ErrNotRegistry: GET /v2/ answered 404, so the host does not serve the
	// OCI distribution API there.
	ErrNotRegistry = errors.New("not an OCI distribution registry")
)

// ResponseError is a registry answer the request did not expect. It
// matches (errors.Is) the sentinel of its status: ErrUnauthorized (401,
// 403), ErrNotFound (404), ErrUnsupported (405, 411, 501), ErrTemporary
// (408, 429, other 5xx), ErrTooLarge (413), ErrRangeInvalid (416),
// ErrUploadInvalid (400 with an upload error code); a refused manifest PUT
// also matches ErrBlobUnknown. It unwraps to oras-go's
// *errcode.ErrorResponse, which holds the error codes of the body.
type ResponseError struct {
	// Method and URL of the request (credentials removed).
	Method, URL string
	// StatusCode is the HTTP status, for messages. Decide with the
	// sentinels instead.
	StatusCode int
	err        error // the error as the request reported it
	unwrap     []error
}

// Error is the message of the failed request, as oras-go words it.
func (e *ResponseError) Error() string { return e.err.Error() }

// Unwrap returns the sentinels this answer matches and the original error.
func (e *ResponseError) Unwrap() []error { return e.unwrap }

// newResponseError classifies er, found in err.
func newResponseError(err error, er *errcode.ErrorResponse) *ResponseError {
	e := &ResponseError{Method: er.Method, StatusCode: er.StatusCode, err: err}
	if er.URL != nil {
		e.URL = er.URL.Redacted()
	}
	switch c := er.StatusCode; {
	case c == http.StatusUnauthorized, c == http.StatusForbidden:
		e.unwrap = append(e.unwrap, ErrUnauthorized)
	case c == http.StatusNotFound:
		e.unwrap = append(e.unwrap, ErrNotFound)
	case c == http.StatusMethodNotAllowed, c == http.StatusLengthRequired, c == http.StatusNotImplemented:
		e.unwrap = append(e.unwrap, ErrUnsupported)
	case c == http.StatusRequestTimeout, c == http.StatusTooManyRequests, c >= 500:
		e.unwrap = append(e.unwrap, ErrTemporary)
	case c == http.StatusRequestEntityTooLarge:
		e.unwrap = append(e.unwrap, ErrTooLarge)
	case c == http.StatusRequestedRangeNotSatisfiable:
		e.unwrap = append(e.unwrap, ErrRangeInvalid)
	case c == http.StatusBadRequest && hasCode(er, errcode.ErrorCodeDigestInvalid, errcode.ErrorCodeBlobUploadInvalid,
		errcode.ErrorCodeSizeInvalid, errcode.ErrorCodeBlobUploadUnknown):
		e.unwrap = append(e.unwrap, ErrUploadInvalid)
	}
	if er.Method == http.MethodPut && hasCode(er, errcode.ErrorCodeManifestBlobUnknown, errcode.ErrorCodeBlobUnknown, errcode.ErrorCodeManifestUnknown) {
		e.unwrap = append(e.unwrap, ErrBlobUnknown)
	}
	e.unwrap = append(e.unwrap, err)
	return e
}

func hasCode(er *errcode.ErrorResponse, codes ...string) bool {
	for _, e := range er.Errors {
		for _, c := range codes {
			if e.Code == c {
				return true
			}
		}
	}
	return false
}

// responseError reads a registry error body (at most 8 KiB) into a
// classified *ResponseError.
func responseError(resp *http.Response) error {
	er := &errcode.ErrorResponse{Method: resp.Request.Method, URL: resp.Request.URL, StatusCode: resp.StatusCode}
	var body struct {
		Errors errcode.Errors `json:"errors"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, 8<<10)).Decode(&body) == nil {
		er.Errors = body.Errors
	}
	return newResponseError(er, er)
}

// mapError turns what oras-go and the HTTP client report into errors that
// match this package's sentinels, keeping the original in the chain.
func mapError(err error) error {
	var er *errcode.ErrorResponse
	var re *ResponseError
	switch {
	case err == nil, errors.As(err, &re):
		return err
	case errors.As(err, &er):
		return newResponseError(err, er)
	case errors.Is(err, auth.ErrBasicCredentialNotFound):
		return &kindError{kind: ErrNoCredentials, err: err}
	case errors.Is(err, errdef.ErrNotFound):
		return &kindError{kind: ErrNotFound, err: err}
	}
	return err
}

// Temporary reports whether a request that failed with err may succeed
// when it is tried again after a pause: the registry said so (ErrTemporary)
// or asked to check the upload's range (ErrRangeInvalid), or the request got
// no answer at all (a reset, a timeout, a truncated body, an error reading
// the content sent). A stall (ErrStalled: try once more, without a pause),
// a context error, missing credentials and every other answer are not
// temporary.
func Temporary(err error) bool {
	switch {
	case err == nil, errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, ErrStalled), errors.Is(err, ErrNoCredentials):
		return false
	case errors.Is(err, ErrTemporary), errors.Is(err, ErrRangeInvalid):
		return true
	}
	var re *ResponseError
	return !errors.As(err, &re)
}

// kindError is an error of a known kind (a sentinel) with its message and
// cause. Its message is msg, the cause's, or both.
type kindError struct {
	kind error
	msg  string
	err  error
}

func (e *kindError) Error() string {
	switch {
	case e.err == nil:
		return e.msg
	case e.msg == "":
		return e.err.Error()
	}
	return e.msg + ": " + e.err.Error()
}

func (e *kindError) Unwrap() []error {
	if e.err == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.err}
}
