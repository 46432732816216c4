// Package registry embeds the CNCF Distribution registry: the server behind
// `meshpack registry serve` and the real registry every test talks to (see
// registrytest). It is the only importer of
// github.com/distribution/distribution/v3.
package registry

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"

	// Storage drivers and the htpasswd access controller register
	// themselves with Distribution's factories.
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/s3-aws"
)

// Server is one embedded registry. Serve it with Serve or ListenAndServe, or
// mount Handler in your own server; Close releases it.
type Server struct {
	cfg      Config
	logger   *slog.Logger
	app      *handlers.App
	handler  http.Handler
	tlsCfg   *tls.Config
	warnings []string

	closeOnce  sync.Once
	unregister func()
}

// New builds a registry from cfg. ctx carries values only: the registry
// lives until Close, not until ctx is cancelled.
//
// An Addr other hosts can reach needs TLSCert, TLSKey and Htpasswd, or
// InsecureListen: otherwise New returns an *ExposureError.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.loadFile(); err != nil {
		return nil, err
	}
	useTLS, err := cfg.tls()
	if err != nil {
		return nil, err
	}
	if e := cfg.exposure(cfg.addr()); e != nil && !cfg.InsecureListen {
		return nil, e
	}
	s := &Server{cfg: cfg, logger: cfg.Logger}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if useTLS {
		pair, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("registry tls %s, %s: %w", cfg.TLSCert, cfg.TLSKey, err)
		}
		s.tlsCfg = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}
	dcfg, err := cfg.distribution()
	if err != nil {
		return nil, err
	}

	id, err := instanceID()
	if err != nil {
		return nil, err
	}
	s.unregister = logBridge.register(id, s.logger)
	appCtx := context.WithValue(context.WithoutCancel(ctx), instanceKey, id) //nolint:staticcheck // Distribution looks up this exact string key.
	app, err := newApp(appCtx, dcfg)
	if err != nil {
		s.unregister()
		return nil, err
	}
	s.app = app
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(context.WithValue(r.Context(), instanceKey, id)) //nolint:staticcheck // as above
		app.ServeHTTP(w, r)
	})
	s.warnings = cfg.warnings(cfg.addr())
	return s, nil
}

// newApp calls handlers.NewApp, which panics on configuration errors, and
// turns a panic into an error.
func newApp(ctx context.Context, cfg *configuration.Configuration) (app *handlers.App, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("registry: configure distribution: %v", r)
		}
	}()
	return handlers.NewApp(ctx, cfg), nil
}

// Handler returns the registry's HTTP handler (the /v2/ API), for mounting
// in an httptest or custom server.
func (s *Server) Handler() http.Handler { return s.handler }

// Warnings returns human-readable warnings about the configuration, such as
// plain HTTP on an address other hosts can reach; what to set is named as
// a Config field (Config.TLSCert). The CLI prints them prominently. They are
// computed for Config.Addr; Serve logs the same warnings for the listener it
// is given.
func (s *Server) Warnings() []string { return append([]string(nil), s.warnings...) }

// Close stops the registry's background work (upload purging) and detaches
// its logger. It does not stop a running Serve; cancel its ctx for that.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		err = s.app.Shutdown()
		s.unregister()
	})
	if err != nil {
		return fmt.Errorf("registry: shut down: %w", err)
	}
	return nil
}

// instanceID returns a random id that tags this server's log entries.
func instanceID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("registry instance id: %w", err)
	}
	return "meshpack-" + hex.EncodeToString(b[:]), nil
}
