package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"
)

// usageError marks bad flags or arguments (exit status 2).
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// streams are the process's standard streams, injected for tests.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// globalFlags are the flags every command shares.
type globalFlags struct {
	verbose bool
	quiet   bool
}

func (g *globalFlags) logger(s streams) *slog.Logger {
	level := slog.LevelInfo
	switch {
	case g.verbose:
		level = slog.LevelDebug
	case g.quiet:
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(s.err, &slog.HandlerOptions{Level: level}))
}

func newRootCmd(in io.Reader, out, errOut io.Writer) *cobra.Command {
	s := streams{in: in, out: out, err: errOut}
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "meshpack",
		Short: "Carry a service mesh (Istio + Kiali + Gateway API) into air-gapped Kubernetes",
		Long: `meshpack resolves a pinned, compatible Istio + Kiali + Gateway API version set
for Istio sidecar or ambient mode, pulls every image, chart and file it needs
into one signed, seekable .tar.zst bundle, and — inside the enclave — verifies
the bundle and loads it into any OCI registry.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errOut)
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log debug detail")
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "log warnings and errors only; no progress")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newVersionCmd(s), newVersionsCmd(s), newResolveCmd(s, g), newBundleCmd(s, g), newKeysCmd(s), newRegistryCmd(s, g))
	withHints(root)
	return root
}
