package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/lattice-mesh/meshpack/signing"
)

func newKeysCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage the cosign key pair that signs bundles"}
	var (
		dir   string
		force bool
	)
	gen := &cobra.Command{
		Use:   "generate",
		Short: "Write a cosign-compatible encrypted key pair: cosign.key (0600) and cosign.pub",
		Long: `generate writes an ECDSA P-256 key pair in cosign's format: cosign.key,
encrypted with a password (COSIGN_PASSWORD, or asked for twice on a terminal),
and cosign.pub. Keep cosign.key on the connected side; carry cosign.pub into
the enclave out of band, so that 'bundle verify --key', 'bundle load --key'
and 'cosign verify --key' can check what arrives.`,
		Example: `  meshpack keys generate
  meshpack keys generate --dir keys --force`,
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			pw, err := password(s, "Enter password for the new private key: ", true)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			keyPath, pubPath, err := signing.WriteKeyPair(dir, pw, signing.KeyFileOptions{Overwrite: force})
			if errors.Is(err, signing.ErrKeyExists) {
				return usagef("%v (pass --force to replace it)", err)
			}
			if err != nil {
				return err
			}
			pub, err := os.ReadFile(pubPath)
			if err != nil {
				return err
			}
			v, err := signing.LoadVerifier(pub)
			if err != nil {
				return err
			}
			fp, _ := signing.Fingerprint(v.PublicKey())
			fmt.Fprintf(s.err, "wrote %s (private, 0600) and %s\nfingerprint %s\n", keyPath, pubPath, fp)
			return nil
		},
	}
	gen.Flags().StringVarP(&dir, "dir", "d", ".", "directory to write cosign.key and cosign.pub into")
	gen.Flags().BoolVar(&force, "force", false, "replace an existing key pair")
	cmd.AddCommand(gen)
	return cmd
}
