package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// shutdownGrace is how long Serve waits for in-flight requests (a blob
// upload, say) after ctx is cancelled before it drops connections.
const shutdownGrace = 15 * time.Second

// ListenAndServe listens on Config.Addr (default DefaultAddr) and serves
// until ctx is cancelled; see Serve.
func (s *Server) ListenAndServe(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.addr())
	if err != nil {
		return fmt.Errorf("registry: listen on %s: %w", s.cfg.addr(), err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves the registry on ln (HTTPS when Config has a key pair) until
// ctx is cancelled, then shuts down gracefully and returns nil. It closes ln.
// It does not Close the Server. Like New, it refuses a listener other hosts
// can reach without TLS and authentication unless Config.InsecureListen is
// set, and then a registry that accepts pushes unless Config.AllowPush is.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	addr := ln.Addr().String()
	if err := s.cfg.checkExposure(addr, s.cfg.readOnly()); err != nil {
		ln.Close()
		return err
	}
	for _, w := range s.cfg.warnings(addr) {
		s.logger.Warn(w)
	}
	srv := &http.Server{
		Handler:           s.handler,
		TLSConfig:         s.tlsCfg,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}

	stopped := make(chan error, 1)
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		err := srv.Shutdown(sctx)
		if err != nil {
			err = errors.Join(err, srv.Close())
		}
		stopped <- err
	})

	scheme := "http"
	if s.tlsCfg != nil {
		scheme = "https"
	}
	s.logger.Info("registry listening", "url", scheme+"://"+addr, "root", s.cfg.Root)

	var err error
	if s.tlsCfg != nil {
		err = srv.ServeTLS(ln, "", "")
	} else {
		err = srv.Serve(ln)
	}
	if !errors.Is(err, http.ErrServerClosed) {
		if stop() {
			// ctx was not cancelled: the listener failed.
			_ = srv.Close()
			return fmt.Errorf("registry: serve on %s: %w", addr, err)
		}
	}
	if serr := <-stopped; serr != nil {
		return fmt.Errorf("registry: shut down on %s: %w", addr, serr)
	}
	return nil
}
