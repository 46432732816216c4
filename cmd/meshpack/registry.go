package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/mirror/registry"
)

func newRegistryCmd(s streams, g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Run the embedded OCI registry (for an enclave that has none)",
	}
	cmd.AddCommand(newRegistryServeCmd(s, g))
	return cmd
}

func newRegistryServeCmd(s streams, g *globalFlags) *cobra.Command {
	var cfg registry.Config
	cmd := &cobra.Command{
		Use:   "serve --root DIR [--addr 127.0.0.1:5000] [--tls-cert F --tls-key F] [--htpasswd F]",
		Short: "Serve an OCI registry (CNCF Distribution) from a directory until Ctrl-C",
		Long: `serve runs CNCF Distribution, embedded, with filesystem storage in DIR: a
ready registry for 'bundle load' and for the cluster to pull from. It listens
on 127.0.0.1 unless --addr says otherwise; serving other hosts wants
--tls-cert/--tls-key (clients otherwise need --plain-http) and --htpasswd
(bcrypt entries, htpasswd -B). It stops on SIGINT or SIGTERM, letting
running uploads finish for a few seconds.`,
		Example: `  meshpack registry serve --root /var/lib/meshpack/registry
  meshpack registry serve --root /srv/registry --addr 0.0.0.0:5000 --tls-cert tls.crt --tls-key tls.key --htpasswd htpasswd`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Root == "" {
				return usagef("--root DIR is required (where the registry stores blobs)")
			}
			cfg.Logger = g.logger(s)
			srv, err := registry.New(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer srv.Close()
			for _, w := range srv.Warnings() {
				fmt.Fprintf(s.err, "WARNING: %s\n", w)
			}
			return srv.ListenAndServe(cmd.Context())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.Root, "root", "", "storage directory (required; created if missing)")
	fs.StringVar(&cfg.Addr, "addr", registry.DefaultAddr, "listen address; the default serves this host only")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate: serve HTTPS (with --tls-key)")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&cfg.Htpasswd, "htpasswd", "", "htpasswd file with bcrypt entries: require basic auth")
	fs.BoolVar(&cfg.ReadOnly, "read-only", false, "refuse pushes and deletes")
	return cmd
}
