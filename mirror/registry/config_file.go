package registry

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/distribution/distribution/v3/configuration"
)

// storageDrivers are the storage drivers compiled in (registry.go imports
// them): what a configuration file may name.
var storageDrivers = []string{"filesystem", "inmemory", "s3"}

// loadFile reads Config.ConfigFile, a CNCF Distribution configuration
// (https://distribution.github.io/distribution/about/configuration/), with
// Distribution's REGISTRY_* environment overrides applied (so secrets such
// as REGISTRY_STORAGE_S3_SECRETKEY need not be in the file). The file's
// listen address and TLS pair fill Addr, TLSCert and TLSKey where those are
// empty, so flags win; its auth counts as authentication for the exposure
// rules unless Htpasswd or Token replaces it.
func (c *Config) loadFile() error {
	if c.ConfigFile == "" {
		return nil
	}
	if c.Root != "" {
		return fmt.Errorf("registry: a configuration file (%s) and a root directory (%s) exclude each other: put the storage in the file", c.ConfigFile, c.Root)
	}
	f, err := os.Open(c.ConfigFile)
	if err != nil {
		return fmt.Errorf("registry configuration: %w", err)
	}
	defer f.Close()
	fc, err := configuration.Parse(f)
	if err != nil {
		return fmt.Errorf("registry configuration %s: %w", c.ConfigFile, err)
	}
	// Parse has checked that at most one driver is named.
	driver := fc.Storage.Type()
	if driver == "" {
		return fmt.Errorf("registry configuration %s: no storage driver configured (storage: s3: …, or filesystem: rootdirectory: …)", c.ConfigFile)
	}
	if !slices.Contains(storageDrivers, driver) {
		return fmt.Errorf("registry configuration %s: storage driver %q is not built in; use one of %s", c.ConfigFile, driver, strings.Join(storageDrivers, ", "))
	}
	if c.Addr == "" {
		c.Addr = fc.HTTP.Addr
	}
	if c.TLSCert == "" && c.TLSKey == "" {
		c.TLSCert, c.TLSKey = fc.HTTP.TLS.Certificate, fc.HTTP.TLS.Key
	}
	c.file = fc
	return nil
}

// fileAuth reports whether the configuration file sets up authentication
// that the flags do not replace.
func (c Config) fileAuth() bool {
	return c.file != nil && len(c.file.Auth) > 0 && c.Htpasswd == "" && c.Token == nil
}

// fromFile is distribution() for a configuration file: the file's storage
// (driver, redirect, cache — a redis blob-descriptor cache with its redis
// section —, delete), http secret, auth and notifications, with meshpack's
// rules on top: AllowDelete and the read-only rules can only add to the
// file's settings, storage redirects stay off unless the file turns them on,
// image indexes may omit platforms (platform-filtered bundles), and the
// catalog answers. A file's plain htpasswd auth gets the credential cache.
func (c Config) fromFile(secret string) (*configuration.Configuration, error) {
	fc := *c.file
	storage := configuration.Storage{}
	for k, v := range fc.Storage {
		storage[k] = maps.Clone(v)
	}
	if _, ok := storage["redirect"]; !ok {
		storage["redirect"] = configuration.Parameters{"disable": true}
	}
	if c.AllowDelete {
		storage["delete"] = configuration.Parameters{"enabled": true}
	}
	maint := storage["maintenance"]
	if maint == nil {
		maint = configuration.Parameters{}
	}
	if c.readOnly() {
		maint["readonly"] = map[any]any{"enabled": true}
	}
	storage["maintenance"] = maint
	fc.Storage = storage
	if fc.HTTP.Secret == "" {
		fc.HTTP.Secret = secret
	}
	fc.HTTP.Addr = c.addr()
	fc.Log.AccessLog.Disabled = true
	fc.Validation.Manifests.Indexes.Platforms = "none"
	if fc.Catalog.MaxEntries == 0 {
		fc.Catalog.MaxEntries = 1000
	}
	if params, ok := fc.Auth["htpasswd"]; ok && len(fc.Auth) == 1 {
		fc.Auth = configuration.Auth{htpasswdCacheName: params}
	}
	return &fc, nil
}
