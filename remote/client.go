package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/retry"

	"github.com/lattice-mesh/meshpack/manifests"
)

// Options configures a Client. The zero value talks HTTPS to the real
// upstream locations with system roots, anonymous unless the docker config
// has credentials.
type Options struct {
	// Mirrors redirect upstream registries and URLs before any request.
	Mirrors manifests.Mirrors
	// PlainHTTP makes every registry request use http:// (like oras
	// --plain-http). A mirror replacement starting with http:// is plain
	// HTTP for that mirror alone.
	PlainHTTP bool
	// InsecureSkipTLSVerify accepts any server certificate.
	InsecureSkipTLSVerify bool
	// CAFile adds a PEM bundle of extra trusted roots.
	CAFile string
	// DockerConfig is the docker config.json to read credentials from; empty
	// means $DOCKER_CONFIG/config.json or ~/.docker/config.json.
	DockerConfig string
	// Username and Password, when set, are used for every registry (they win
	// over the docker config).
	Username, Password string
	// UserAgent defaults to "meshpack".
	UserAgent string
	// Logger receives debug lines and warnings (an unusable docker config,
	// a request tried again after a stall); nil discards.
	Logger *slog.Logger
	// Transport replaces the base transport (tests use it to forbid dials).
	// The stall deadlines below apply to it too.
	Transport http.RoundTripper
	// StallTimeout aborts a request attempt that makes no progress for this
	// long: connecting, sending its body (no byte taken), or a read of the
	// response body that returns nothing. The error matches ErrStalled and
	// is not retried by the client itself. Zero means
	// DefaultStallTimeout (30s); negative disables the check.
	StallTimeout time.Duration
	// ResponseTimeout is how long a registry may take to start its answer
	// after the whole request was sent. Zero means DefaultResponseTimeout
	// (60s); negative disables it.
	ResponseTimeout time.Duration
}

// Client holds the configured HTTP clients. It is safe for concurrent use.
type Client struct {
	opts      Options
	base      http.RoundTripper // the raw transport
	direct    http.RoundTripper // base with stall deadlines, no retries
	stall     time.Duration     // effective StallTimeout; 0 when disabled
	creds     auth.CredentialFunc
	http      *http.Client // plain downloads, with retries
	auth      *auth.Client // registry API, with retries and token auth
	userAgent string
	log       *slog.Logger
	probed    sync.Map // loopback host -> bool: speaks plain HTTP
}

// New builds a Client from opts.
func New(opts Options) (*Client, error) {
	base := opts.Transport
	if base == nil {
		t, err := newTransport(opts)
		if err != nil {
			return nil, err
		}
		base = t
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = "meshpack"
	}
	stall := timeoutOr(opts.StallTimeout, DefaultStallTimeout)
	direct := http.RoundTripper(&stallTransport{next: base, stall: stall, header: timeoutOr(opts.ResponseTimeout, DefaultResponseTimeout)})
	retrying := retry.NewTransport(direct)
	c := &Client{
		opts:      opts,
		base:      base,
		direct:    direct,
		stall:     stall,
		http:      &http.Client{Transport: retrying},
		userAgent: ua,
		log:       discard(opts.Logger),
	}
	creds, err := credentialFunc(opts)
	if err != nil {
		return nil, err
	}
	c.creds = creds
	c.auth = &auth.Client{
		Client:     &http.Client{Transport: retrying},
		Cache:      auth.NewCache(),
		Credential: creds,
		Header:     http.Header{"User-Agent": {ua}},
	}
	return c, nil
}

// timeoutOr resolves a timeout option: zero is def, negative disabled (0).
func timeoutOr(v, def time.Duration) time.Duration {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

func newTransport(opts Options) (*http.Transport, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.MaxIdleConnsPerHost = 32
	// A backstop only: the stall transport's ResponseTimeout fires first
	// and, unlike this one, is not retried by the retrying transport.
	if h := timeoutOr(opts.ResponseTimeout, DefaultResponseTimeout); h > 0 {
		t.ResponseHeaderTimeout = h + 15*time.Second
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if opts.InsecureSkipTLSVerify {
		tlsCfg.InsecureSkipVerify = true //nolint:gosec // asked for explicitly (Options.InsecureSkipTLSVerify)
	}
	if opts.CAFile != "" {
		pem, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca file %s: no PEM certificates found", opts.CAFile)
		}
		tlsCfg.RootCAs = pool
	}
	t.TLSClientConfig = tlsCfg
	return t, nil
}

func credentialFunc(opts Options) (auth.CredentialFunc, error) {
	if opts.Username != "" || opts.Password != "" {
		cred := auth.Credential{Username: opts.Username, Password: opts.Password}
		return func(context.Context, string) (auth.Credential, error) { return cred, nil }, nil
	}
	storeOpts := credentials.StoreOptions{}
	var (
		store credentials.Store
		err   error
	)
	if opts.DockerConfig != "" {
		store, err = credentials.NewStore(opts.DockerConfig, storeOpts)
	} else {
		store, err = credentials.NewStoreFromDocker(storeOpts)
	}
	if err != nil {
		// An unreadable docker config must not block anonymous pulls.
		if opts.Logger != nil {
			opts.Logger.Warn("docker config not usable; continuing anonymously", "error", err)
		}
		return auth.StaticCredential("", auth.EmptyCredential), nil
	}
	return credentials.Credential(store), nil
}

// HTTPClient returns the retrying client for plain downloads (charts, files).
func (c *Client) HTTPClient() *http.Client { return c.http }

// plainLoopback reports whether a loopback registry host (127.0.0.0/8, ::1,
// localhost) answers plain HTTP, as docker and crane assume for localhost.
// It asks once per host (GET https://HOST/v2/, a few seconds at most) and
// only loopback hosts are ever downgraded; every other registry needs
// Options.PlainHTTP or an http:// mirror replacement. An answer cut short
// by ctx is not remembered.
func (c *Client) plainLoopback(ctx context.Context, host string) bool {
	if !isLoopback(host) {
		return false
	}
	if v, ok := c.probed.Load(host); ok {
		return v.(bool)
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	plain := false
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/v2/", nil)
	if err == nil {
		resp, err := c.base.RoundTrip(req)
		// A plain-HTTP server answers the TLS hello with HTTP bytes; net/http
		// reports that as a tls.RecordHeaderError with the connection set.
		var rhe tls.RecordHeaderError
		if err != nil && (errors.As(err, &rhe) && rhe.Conn != nil || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")) {
			plain = true
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
	if parent.Err() == nil {
		c.probed.Store(host, plain)
	}
	return plain
}

// isLoopback reports whether host (with or without port) is a loopback address.
func isLoopback(host string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

// discard returns l, or a logger that drops everything when l is nil.
func discard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
