package registry

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
)

// TestConfigFileMerge checks how a Distribution configuration file and
// meshpack's fields combine: flags win, meshpack's rules only add safety.
func TestConfigFileMerge(t *testing.T) {
	dir := t.TempDir()
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte("u:$2y$05$abcdefghijklmnopqrstuv\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: " + dir + "/data\n"
	tests := []struct {
		name  string
		file  string
		cfg   Config
		check func(t *testing.T, c Config)
	}{
		{"defaults from meshpack", base, Config{}, func(t *testing.T, c Config) {
			d := mustDistribution(t, c)
			if d.Storage["redirect"]["disable"] != true {
				t.Errorf("redirect: %v, want disabled when the file says nothing", d.Storage["redirect"])
			}
			if d.HTTP.Secret == "" || d.Validation.Manifests.Indexes.Platforms != "none" || d.Catalog.MaxEntries != 1000 {
				t.Errorf("secret %q, platforms %q, catalog %d", d.HTTP.Secret, d.Validation.Manifests.Indexes.Platforms, d.Catalog.MaxEntries)
			}
			if c.addr() != DefaultAddr {
				t.Errorf("addr %q, want %q", c.addr(), DefaultAddr)
			}
			if len(c.warnings(c.addr())) != 1 {
				t.Errorf("warnings %q, want one about http.secret", c.warnings(c.addr()))
			}
		}},
		{"file's addr, secret, redirect and htpasswd", base + "  redirect:\n    disable: false\nhttp:\n  addr: 127.0.0.1:5999\n  secret: s3cret\nauth:\n  htpasswd:\n    realm: r\n    path: " + htpasswd + "\n",
			Config{}, func(t *testing.T, c Config) {
				d := mustDistribution(t, c)
				if c.addr() != "127.0.0.1:5999" || d.HTTP.Secret != "s3cret" || d.Storage["redirect"]["disable"] != false {
					t.Errorf("addr %q secret %q redirect %v", c.addr(), d.HTTP.Secret, d.Storage["redirect"])
				}
				if _, ok := d.Auth[htpasswdCacheName]; !ok || len(d.Auth) != 1 {
					t.Errorf("auth %v, want the caching htpasswd controller", d.Auth)
				}
				if !c.fileAuth() || c.exposure("10.0.0.1:5000") == nil || !c.exposure("10.0.0.1:5000").NoTLS || c.exposure("10.0.0.1:5000").NoAuth {
					t.Errorf("the file's auth should count for exposure, TLS still missing: %+v", c.exposure("10.0.0.1:5000"))
				}
			}},
		{"flags win and only add", base + "http:\n  addr: 127.0.0.1:5999\n  secret: x\n  tls:\n    certificate: file.crt\n    key: file.key\n",
			Config{Addr: "127.0.0.1:6000", AllowDelete: true, ReadOnly: true, TLSCert: "flag.crt", TLSKey: "flag.key"}, func(t *testing.T, c Config) {
				d := mustDistribution(t, c)
				if c.addr() != "127.0.0.1:6000" || c.TLSCert != "flag.crt" || d.Storage["delete"]["enabled"] != true {
					t.Errorf("addr %q cert %q delete %v", c.addr(), c.TLSCert, d.Storage["delete"])
				}
				if ro, _ := d.Storage["maintenance"]["readonly"].(map[any]any); ro["enabled"] != true {
					t.Errorf("maintenance %v, want read-only", d.Storage["maintenance"])
				}
			}},
		{"file's TLS pair when no flags", base + "http:\n  secret: x\n  tls:\n    certificate: file.crt\n    key: file.key\n",
			Config{}, func(t *testing.T, c Config) {
				if c.TLSCert != "file.crt" || c.TLSKey != "file.key" {
					t.Errorf("tls %q %q, want the file's", c.TLSCert, c.TLSKey)
				}
			}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, "config"+string(rune('a'+i))+".yaml")
			if err := os.WriteFile(p, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			c := tt.cfg
			c.ConfigFile = p
			if err := c.loadFile(); err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func mustDistribution(t *testing.T, c Config) *configuration.Configuration {
	t.Helper()
	d, err := c.distribution()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
