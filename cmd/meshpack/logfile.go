package main

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Log formats accepted by --log-format.
const (
	logFormatText = "text"
	logFormatJSON = "json"
)

// redacted replaces a secret in the audit log.
const redacted = "REDACTED"

// auditLog is the --log-file of one command run: every log record of the
// command at info (debug with -v), plus a line when it starts and one when
// it ends.
type auditLog struct {
	file    *os.File
	handler slog.Handler
	log     *slog.Logger
}

// handler returns a slog handler in the --log-format writing to w at level.
func (g *globalFlags) handler(w io.Writer, level slog.Level) slog.Handler {
	opts := &slog.HandlerOptions{Level: level}
	if g.logFormat == logFormatJSON {
		return slog.NewJSONHandler(w, opts)
	}
	return slog.NewTextHandler(w, opts)
}

// checkLogFlags validates --log-format and --log-file before any work: the
// file's directory must exist and the file must not be a directory.
func (g *globalFlags) checkLogFlags() error {
	switch g.logFormat {
	case logFormatText, logFormatJSON:
	default:
		return usagef("--log-format %q: want one of %s, %s", g.logFormat, logFormatText, logFormatJSON)
	}
	if g.logFile == "" {
		return nil
	}
	dir := filepath.Dir(g.logFile)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return usagef("--log-file %s: directory %s does not exist", g.logFile, dir)
	}
	if fi, err := os.Stat(g.logFile); err == nil && fi.IsDir() {
		return usagef("--log-file %s: is a directory", g.logFile)
	}
	return nil
}

// openAudit opens --log-file for appending (created 0600 if missing) and
// sets g.audit; without --log-file it does nothing.
func (g *globalFlags) openAudit() error {
	if g.logFile == "" {
		return nil
	}
	f, err := os.OpenFile(g.logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return usagef("--log-file %s: %v", g.logFile, err)
	}
	level := slog.LevelInfo
	if g.verbose {
		level = slog.LevelDebug
	}
	h := g.handler(f, level)
	g.audit = &auditLog{file: f, handler: h, log: slog.New(h)}
	return nil
}

// closeAudit closes --log-file, if open.
func (g *globalFlags) closeAudit() {
	if g.audit != nil {
		_ = g.audit.file.Close()
		g.audit = nil
	}
}

// withAudit wraps every command so that --log-format and --log-file are
// checked before it runs (a usage error otherwise) and, with --log-file,
// the file gets a "command started" line (command, arguments and the flags
// given, secrets redacted) and a "command finished" line (outcome, exit
// status, duration, error). It must run after every other RunE wrapper, so
// that the error logged is the one printed.
func withAudit(c *cobra.Command, g *globalFlags) {
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if err := g.checkLogFlags(); err != nil {
				return err
			}
			if err := g.openAudit(); err != nil {
				return err
			}
			defer g.closeAudit()
			start := time.Now()
			g.audit.started(cmd, args)
			err := run(cmd, args)
			g.audit.finished(cmd, err, time.Since(start))
			return err
		}
	}
	for _, sub := range c.Commands() {
		withAudit(sub, g)
	}
}

// started logs the audit line at a command's start; a nil a does nothing.
func (a *auditLog) started(cmd *cobra.Command, args []string) {
	if a == nil {
		return
	}
	attrs := []any{"command", cmd.CommandPath(), "args", redactArgs(args), "flags", auditFlags(cmd.Flags()), "pid", os.Getpid()}
	if u, err := user.Current(); err == nil {
		attrs = append(attrs, "user", u.Username)
	}
	a.log.Info("command started", attrs...)
}

// finished logs the audit line at a command's end; a nil a does nothing.
func (a *auditLog) finished(cmd *cobra.Command, err error, d time.Duration) {
	if a == nil {
		return
	}
	attrs := []any{"command", cmd.CommandPath(), "outcome", outcome(err), "exitCode", 0, "duration", d.Round(time.Millisecond).String()}
	if err == nil {
		a.log.Info("command finished", attrs...)
		return
	}
	attrs[5] = exitCode(err)
	attrs = append(attrs, "error", sanitizeLines(err.Error()))
	a.log.Error("command finished", attrs...)
}

// outcome names how a command ended, as its exit status does.
func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	switch exitCode(err) {
	case 2:
		return "usage error"
	case 130:
		return "interrupted"
	}
	return "error"
}

// auditFlags lists the flags given on the command line as "--name=value",
// one entry per value of a repeatable flag, with secrets redacted.
func auditFlags(flags *pflag.FlagSet) []string {
	var out []string
	flags.Visit(func(f *pflag.Flag) {
		values := []string{f.Value.String()}
		if s, ok := f.Value.(pflag.SliceValue); ok {
			values = s.GetSlice()
		}
		for _, v := range values {
			out = append(out, "--"+f.Name+"="+redactFlagValue(f, v))
		}
	})
	return out
}

// secretFlagName matches flag names whose values are secrets.
var secretFlagName = regexp.MustCompile(`(?i)password|passwd|token|secret`)

// redactFlagValue returns v, the value of flag f, fit for a log: a flag
// named like a password, token or secret has its value replaced (a bool
// such as --password-stdin cannot hold one and is kept), and a URL's
// password is replaced in any value.
func redactFlagValue(f *pflag.Flag, v string) string {
	if secretFlagName.MatchString(f.Name) && f.Value.Type() != "bool" {
		return redacted
	}
	return redactURLPassword(v)
}

// urlPassword matches the password of a URL's user info ("scheme://user:PASSWORD@").
var urlPassword = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*):[^/@\s]*@`)

// redactURLPassword replaces the password of any URL in s.
func redactURLPassword(s string) string {
	return urlPassword.ReplaceAllString(s, "${1}:"+redacted+"@")
}

// redactArgs returns the positional arguments fit for a log.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = redactURLPassword(a)
	}
	return out
}
