package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/mirror/registry"
)

func newRegistryCmd(s streams, g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Run the embedded OCI registry, list what bundles loaded, reclaim space",
	}
	cmd.AddCommand(newRegistryServeCmd(s, g), newRegistryListCmd(s, g), newRegistryInventoryCmd(s, g), newRegistryGCCmd(s))
	return cmd
}

func newRegistryServeCmd(s streams, g *globalFlags) *cobra.Command {
	var cfg registry.Config
	cmd := &cobra.Command{
		Use:   "serve (--root DIR | --config FILE) [--addr 127.0.0.1:5000] [--tls-cert F --tls-key F --htpasswd F]",
		Short: "Serve an OCI registry (CNCF Distribution) from a directory or object storage until Ctrl-C",
		Long: `serve runs CNCF Distribution, embedded, with filesystem storage in DIR: a
ready registry for 'bundle load' and for the cluster to pull from. It listens
on 127.0.0.1 unless --addr says otherwise. An address other hosts can reach
(anything but 127.0.0.0/8, ::1 and localhost) needs --tls-cert/--tls-key and
--htpasswd (bcrypt entries, htpasswd -B); --insecure-listen serves it without
them, read-only unless --allow-push. Deleting is refused unless
--allow-delete. It stops on SIGINT or SIGTERM, letting running uploads
finish for a few seconds.

--config FILE takes a full CNCF Distribution configuration instead of --root:
its storage (s3 for S3-compatible object storage, or filesystem), a redis
blob-descriptor cache, http.secret, http.addr, http.tls and auth. Flags given
on the command line win over the file; REGISTRY_* environment variables
override it as in Distribution (REGISTRY_STORAGE_S3_SECRETKEY keeps the secret
out of the file). Several replicas serving one bucket each take the same file,
with the same http.secret.`,
		Example: `  meshpack registry serve --root /var/lib/meshpack/registry
  meshpack registry serve --root /srv/registry --addr 0.0.0.0:5000 --tls-cert tls.crt --tls-key tls.key --htpasswd htpasswd
  meshpack registry serve --root /srv/registry --addr 10.0.0.5:5000 --insecure-listen   # pull only, plain HTTP, no auth
  meshpack registry serve --config registry.yaml   # storage (s3, …), cache, auth, TLS from a Distribution configuration`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.ConfigFile != "" && !cmd.Flags().Changed("addr") {
				cfg.Addr = "" // the file's http.addr, else the default
			}
			if err := checkServeFlags(cfg); err != nil {
				return err
			}
			cfg.Logger = g.logger(s)
			srv, err := registry.New(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer srv.Close()
			for _, w := range srv.Warnings() {
				fmt.Fprintf(s.err, "WARNING: %s\n", serveWarning(w))
			}
			return srv.ListenAndServe(cmd.Context())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.Root, "root", "", "storage directory (created if missing); this or --config is required")
	fs.StringVar(&cfg.ConfigFile, "config", "", "CNCF Distribution configuration file (YAML): storage such as s3, redis cache, auth, TLS")
	fs.StringVar(&cfg.Addr, "addr", registry.DefaultAddr, "listen address; the default serves this host only")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate: serve HTTPS (with --tls-key)")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&cfg.Htpasswd, "htpasswd", "", "htpasswd file with bcrypt entries: require basic auth")
	fs.BoolVar(&cfg.ReadOnly, "read-only", false, "refuse pushes and deletes")
	fs.BoolVar(&cfg.InsecureListen, "insecure-listen", false, "serve an address other hosts can reach without TLS and --htpasswd (read-only unless --allow-push)")
	fs.BoolVar(&cfg.AllowPush, "allow-push", false, "with --insecure-listen: accept pushes from anyone who can reach the registry")
	fs.BoolVar(&cfg.AllowDelete, "allow-delete", false, "accept DELETE of manifests, tags and blobs (refused by default)")
	return cmd
}

// checkServeFlags checks the flags of registry serve that exclude each other.
func checkServeFlags(cfg registry.Config) error {
	switch {
	case cfg.Root == "" && cfg.ConfigFile == "":
		return usagef("--root DIR or --config FILE is required (where the registry stores blobs)")
	case cfg.Root != "" && cfg.ConfigFile != "":
		return usagef("--root and --config exclude each other: put the storage in the configuration file")
	case cfg.ReadOnly && cfg.AllowPush:
		return usagef("--read-only and --allow-push exclude each other")
	case cfg.ReadOnly && cfg.AllowDelete:
		return usagef("--read-only and --allow-delete exclude each other")
	}
	return nil
}
