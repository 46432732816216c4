package main

import (
	"errors"
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
	verbose   bool
	quiet     bool
	logFormat string // --log-format: text or json
	logFile   string // --log-file: the audit log, appended to

	// audit is the open --log-file while a command runs (see withAudit);
	// nil without --log-file.
	audit *auditLog
}

// logger returns the command's logger: to stderr at the level -v/-q choose,
// as always, and, with --log-file, also to that file at info (debug with
// -v) whatever -q says. --log-format chooses the format of both.
func (g *globalFlags) logger(s streams) *slog.Logger {
	level := slog.LevelInfo
	switch {
	case g.verbose:
		level = slog.LevelDebug
	case g.quiet:
		level = slog.LevelWarn
	}
	h := g.handler(s.err, level)
	if g.audit != nil {
		h = slog.NewMultiHandler(h, g.audit.handler)
	}
	return slog.New(h)
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
the bundle, loads it into any OCI registry, and installs and runs the mesh from
there: every image pinned by digest, adopted in phases, upgraded by canary
revision, audited.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errOut)
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log debug detail")
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "log warnings and errors only; no progress")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log line format: text or json (stderr and --log-file)")
	root.PersistentFlags().StringVar(&g.logFile, "log-file", "", "also append the log, with an audit line at each command's start and end, to `FILE` (created 0600)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newVersionCmd(s), newVersionsCmd(s, g), newResolveCmd(s, g), newBundleCmd(s, g), newKeysCmd(s), newRegistryCmd(s, g), newInstallCmd(s, g), newUninstallCmd(s, g), newAuditCmd(s),
		newPhaseCmd(s, g), newNamespaceCmd(s), newStatusCmd(s), newUpgradeCmd(s, g), newCacheCmd(s))
	withHints(root)
	argsAreUsage(root)
	withAudit(root, g)
	return root
}

// argsAreUsage makes a wrong number or kind of positional arguments a usage
// error (exit status 2) on every command, as bad flags already are; cobra
// reports both as plain errors.
func argsAreUsage(c *cobra.Command) {
	if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
		// A group such as `bundle`: cobra would print its help and exit 0
		// for `meshpack bundle nosuch`.
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for %q; see %s --help", args[0], cmd.CommandPath(), cmd.CommandPath())
			}
			return cmd.Help()
		}
	}
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			err := check(cmd, args)
			var u usageError
			if err != nil && !errors.As(err, &u) {
				return usageError{err}
			}
			return err
		}
	}
	for _, sub := range c.Commands() {
		argsAreUsage(sub)
	}
}
