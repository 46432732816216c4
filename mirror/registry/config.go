package registry

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"

	"github.com/distribution/distribution/v3/configuration"
)

// DefaultAddr is the address ListenAndServe binds when Config.Addr is empty.
const DefaultAddr = "127.0.0.1:5000"

// Config configures an embedded registry. The zero value serves an in-memory
// registry over plain HTTP on DefaultAddr, without authentication, and
// refuses deletes. An Addr other hosts can reach needs TLS and Htpasswd, or
// InsecureListen (see New).
type Config struct {
	// Root is the directory of the filesystem storage driver. Empty selects
	// the in-memory driver, for small content only: it is lost on Close,
	// and its writer copies quadratically in blob size (a 100 MiB layer
	// takes seconds, a GiB minutes).
	Root string
	// ConfigFile is a CNCF Distribution configuration file (YAML) whose
	// storage (s3, filesystem, …, with a redis blob-descriptor cache),
	// http secret, TLS pair, listen address and auth are used instead of
	// Root; the fields below still apply on top of it (see loadFile and
	// fromFile). It excludes Root. Several registries sharing one object
	// store (replicas) each use the same file.
	ConfigFile string
	// file is ConfigFile, parsed by New.
	file *configuration.Configuration
	// Addr is the listen address of ListenAndServe; default DefaultAddr.
	Addr string
	// TLSCert and TLSKey are PEM files; when both are set the server speaks
	// HTTPS only.
	TLSCert, TLSKey string
	// Htpasswd is an htpasswd file with bcrypt hashes (htpasswd -B); when set,
	// every request needs HTTP basic auth. The file must exist. An accepted
	// Authorization header is trusted for 60 s without another bcrypt check
	// (only a salted hash of it is kept); editing the file ends that at once.
	Htpasswd string
	// Token, when set, makes every request need a bearer token from the
	// token service it names (see TokenAuth); it excludes Htpasswd. For the
	// exposure rules (see New) either counts as authentication.
	Token *TokenAuth
	// ReadOnly rejects every write (push, delete) with 405.
	ReadOnly bool
	// AllowDelete lets clients delete manifests, tags and blobs. By default
	// every DELETE is refused with 405 (UNSUPPORTED); loading a bundle never
	// deletes, and garbage collection is an offline job.
	AllowDelete bool
	// InsecureListen allows serving an address other hosts can reach (not
	// 127.0.0.0/8, ::1 or localhost) without both TLS and Htpasswd. By
	// default New and Serve refuse that with an *ExposureError. Such a
	// registry is read-only unless AllowPush is set too.
	InsecureListen bool
	// AllowPush keeps pushes enabled on an InsecureListen registry.
	AllowPush bool
	// Logger receives the registry's log lines; nil discards them.
	Logger *slog.Logger
}

// addr returns the configured listen address or the default.
func (c Config) addr() string {
	if c.Addr == "" {
		return DefaultAddr
	}
	return c.Addr
}

// tls reports whether TLS is configured, or an error when only half of the
// key pair is given.
func (c Config) tls() (bool, error) {
	switch {
	case c.TLSCert == "" && c.TLSKey == "":
		return false, nil
	case c.TLSCert == "" || c.TLSKey == "":
		return false, fmt.Errorf("registry tls: got cert %q and key %q, want both or neither", c.TLSCert, c.TLSKey)
	}
	return true, nil
}

// distribution translates c into a Distribution configuration.
//
// Choices, so that the registry stores whatever meshpack and its clients
// push, byte for byte:
//   - delete disabled unless AllowDelete (bundle load replaces tags by
//     pushing, never deletes; GC is an offline job);
//   - read-only (maintenance mode) when ReadOnly, or when serving other
//     hosts without TLS and auth (InsecureListen) without AllowPush;
//   - storage redirects disabled (the filesystem and in-memory drivers cannot
//     redirect anyway; clients must never be sent elsewhere);
//   - an in-memory blob descriptor cache (cheap HEAD-before-push);
//   - image indexes are accepted even when some children are absent
//     ("platforms: none"), because a bundle made for a subset of platforms
//     keeps the upstream index (and its signed digest) but not every child;
//     indexes whose children are pushed first work either way;
//   - no repository class policy, so OCI artifacts with any config media type
//     (Helm charts, cosign signatures, raw files) are accepted;
//   - uploads left unfinished for a week are purged daily (filesystem only);
//   - no health checks, debug server, metrics, notifications or redis.
func (c Config) distribution() (*configuration.Configuration, error) {
	secret, err := randomSecret()
	if err != nil {
		return nil, err
	}
	var cfg *configuration.Configuration
	if c.file != nil {
		cfg, err = c.fromFile(secret)
	} else {
		cfg, err = c.builtIn(secret)
	}
	if err != nil {
		return nil, err
	}
	if c.Htpasswd != "" && c.Token != nil {
		return nil, fmt.Errorf("registry: htpasswd and token auth exclude each other; configure one")
	}
	if c.Token != nil {
		params, err := c.Token.parameters()
		if err != nil {
			return nil, err
		}
		cfg.Auth = configuration.Auth{"token": params}
	}
	if c.Htpasswd != "" {
		// Distribution creates a missing htpasswd file with a random admin
		// password and logs it; refuse instead.
		if _, err := os.Stat(c.Htpasswd); err != nil {
			return nil, fmt.Errorf("registry htpasswd %s: %w (create it with htpasswd -Bc)", c.Htpasswd, err)
		}
		cfg.Auth = configuration.Auth{htpasswdCacheName: configuration.Parameters{
			"realm": "meshpack-registry",
			"path":  c.Htpasswd,
		}}
	}
	return cfg, nil
}

// builtIn is the configuration of Root (or memory) without a file.
func (c Config) builtIn(secret string) (*configuration.Configuration, error) {
	storage := configuration.Storage{
		"delete":   configuration.Parameters{"enabled": c.AllowDelete},
		"redirect": configuration.Parameters{"disable": true},
		"cache":    configuration.Parameters{"blobdescriptor": "inmemory"},
	}
	purge := map[any]any{"enabled": false}
	if c.Root == "" {
		storage["inmemory"] = configuration.Parameters{}
	} else {
		if err := os.MkdirAll(c.Root, 0o755); err != nil {
			return nil, fmt.Errorf("registry root %s: %w", c.Root, err)
		}
		storage["filesystem"] = configuration.Parameters{"rootdirectory": c.Root}
		purge = map[any]any{"enabled": true, "age": "168h", "interval": "24h", "dryrun": false}
	}
	storage["maintenance"] = configuration.Parameters{
		"uploadpurging": purge,
		"readonly":      map[any]any{"enabled": c.readOnly()},
	}

	cfg := &configuration.Configuration{Storage: storage}
	cfg.Version = configuration.CurrentVersion
	cfg.Log.AccessLog.Disabled = true
	cfg.HTTP.Addr = c.addr()
	cfg.HTTP.Secret = secret
	cfg.HTTP.Headers = map[string][]string{"X-Content-Type-Options": {"nosniff"}}
	cfg.Validation.Manifests.Indexes.Platforms = "none"
	// The YAML loader defaults this to 1000; built in code it stays 0 and
	// /v2/_catalog would always answer empty.
	cfg.Catalog.MaxEntries = 1000
	return cfg, nil
}

// randomSecret returns the HMAC secret for upload state tokens. A fresh one
// per process is fine: only a load-balanced fleet needs a shared secret.
func randomSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("registry http secret: %w", err)
	}
	return base64.RawStdEncoding.EncodeToString(b[:]), nil
}
