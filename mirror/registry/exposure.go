package registry

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// ErrInsecureListen means a registry would serve an address other hosts can
// reach without TLS or without authentication, and Config.InsecureListen
// does not allow that.
var ErrInsecureListen = errors.New("insecure listen address")

// ExposureError reports a listen address other hosts can reach that would
// be served without TLS, without authentication, or both. It matches
// ErrInsecureListen.
type ExposureError struct {
	Addr   string
	NoTLS  bool // no TLSCert and TLSKey
	NoAuth bool // neither Htpasswd nor Token
}

// Error names the address and what is missing.
func (e *ExposureError) Error() string {
	var missing []string
	if e.NoTLS {
		missing = append(missing, "TLS")
	}
	if e.NoAuth {
		missing = append(missing, "authentication")
	}
	return fmt.Sprintf("registry: %s is reachable from other hosts but has no %s", e.Addr, strings.Join(missing, " and no "))
}

// Is reports whether target is ErrInsecureListen.
func (e *ExposureError) Is(target error) bool { return target == ErrInsecureListen }

// exposure returns what serving addr would lack: nil when addr is loopback
// only or when both TLS and authentication are configured.
func (c Config) exposure(addr string) *ExposureError {
	useTLS := c.TLSCert != "" && c.TLSKey != ""
	useAuth := c.Htpasswd != "" || c.Token != nil || c.fileAuth()
	if loopback(addr) || (useTLS && useAuth) {
		return nil
	}
	return &ExposureError{Addr: addr, NoTLS: !useTLS, NoAuth: !useAuth}
}

// checkExposure refuses to serve addr without TLS and authentication
// unless InsecureListen is set, and then requires a read-only handler
// unless AllowPush is set. readOnly says whether the handler is.
func (c Config) checkExposure(addr string, readOnly bool) error {
	e := c.exposure(addr)
	switch {
	case e == nil:
		return nil
	case !c.InsecureListen:
		return e
	case !readOnly && !c.AllowPush:
		return fmt.Errorf("%w (allowed by InsecureListen), but this registry was configured for %s and accepts pushes; without AllowPush it must be read-only", e, c.addr())
	}
	return nil
}

// readOnly reports whether the registry refuses writes: when asked to, and
// when it serves other hosts insecurely (InsecureListen) without AllowPush.
func (c Config) readOnly() bool {
	return c.ReadOnly || (c.exposure(c.addr()) != nil && !c.AllowPush)
}

// loopback reports whether addr (host:port) only listens on a loopback
// interface: 127.0.0.0/8, ::1 or localhost. An empty host means every
// interface.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// warnings lists what is risky about serving on addr; the registry is only
// built for such an address with InsecureListen. They name Config fields.
func (c Config) warnings(addr string) []string {
	var w []string
	if c.file != nil && c.file.HTTP.Secret == "" {
		w = append(w, fmt.Sprintf("%s sets no http.secret: each registry process picks its own, so replicas behind one address cannot continue each other's uploads; set the same http.secret in every replica's file", c.ConfigFile))
	}
	e := c.exposure(addr)
	if e == nil {
		return w
	}
	if e.NoTLS {
		w = append(w, fmt.Sprintf("serving plain HTTP on %s, which other hosts can reach: traffic is unencrypted and clients need plain HTTP; set Config.TLSCert and Config.TLSKey", addr))
		if !e.NoAuth {
			w = append(w, fmt.Sprintf("basic auth over plain HTTP on %s sends passwords in clear text", addr))
		}
	}
	if e.NoAuth {
		can := "pull every image"
		switch {
		case c.readOnly():
		case c.AllowDelete:
			can = "pull, push and delete images"
		default:
			can = "pull and push images"
		}
		w = append(w, fmt.Sprintf("no authentication on %s: anyone who can reach it can %s; set Config.Htpasswd", addr, can))
	}
	return w
}
