package main

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/remote"
)

// netFlags configure how meshpack talks to registries and HTTP servers.
// A command builds its one client from them, once (client).
type netFlags struct {
	mirrors       []string
	plainHTTP     bool
	insecure      bool
	caFile        string
	dockerConfig  string
	username      string
	passwordStdin bool
	stallTimeout  time.Duration
	password      *string // read from stdin at most once
}

func (f *netFlags) register(fs *pflag.FlagSet, withMirrors bool) {
	if withMirrors {
		fs.StringArrayVar(&f.mirrors, "mirror", nil, "redirect an upstream registry or URL prefix: ORIGIN=REPLACEMENT (repeatable), e.g. docker.io=nexus.example.com/dockerhub")
	}
	fs.BoolVar(&f.plainHTTP, "plain-http", false, "talk plain HTTP to registries")
	fs.BoolVar(&f.insecure, "insecure", false, "skip TLS certificate verification")
	fs.StringVar(&f.caFile, "ca-file", "", "PEM file of extra trusted CA certificates")
	fs.StringVar(&f.dockerConfig, "docker-config", "", "docker config.json with credentials (default $DOCKER_CONFIG or ~/.docker/config.json)")
	fs.StringVarP(&f.username, "username", "u", "", "registry username (with --password-stdin)")
	fs.BoolVar(&f.passwordStdin, "password-stdin", false, "read the registry password from stdin")
	fs.DurationVar(&f.stallTimeout, "stall-timeout", remote.DefaultStallTimeout, "abort a request that makes no progress for this long (a registry that accepts connections but never answers fails in this time; a stalled upload is tried once more)")
}

// parsedMirrors parses --mirror values.
func (f *netFlags) parsedMirrors() ([]manifests.Mirror, error) {
	out := make([]manifests.Mirror, 0, len(f.mirrors))
	for _, m := range f.mirrors {
		pm, err := manifests.ParseMirror(m)
		if err != nil {
			return nil, usagef("--mirror: %v", err)
		}
		out = append(out, pm)
	}
	return out, nil
}

// check validates the flags without reading stdin; commands call it
// before any other work.
func (f *netFlags) check() error {
	switch {
	case f.stallTimeout <= 0:
		return usagef("--stall-timeout %s: want a positive duration, e.g. 30s", f.stallTimeout)
	case f.passwordStdin && f.username == "":
		return usagef("--password-stdin needs --username")
	case !f.passwordStdin && f.username != "":
		return usagef("--username needs --password-stdin")
	}
	return nil
}

// client builds the command's one network client; mirrors come from the
// spec (which already holds the --mirror flags) or the flags alone. With
// --password-stdin it reads the password here, from the first line of
// stdin; it never prints or logs it.
func (f *netFlags) client(in io.Reader, mirrors []manifests.Mirror, log *slog.Logger) (*remote.Client, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	opts := remote.Options{
		Mirrors: mirrors, PlainHTTP: f.plainHTTP, InsecureSkipTLSVerify: f.insecure,
		CAFile: f.caFile, DockerConfig: f.dockerConfig, Logger: log, UserAgent: "meshpack/" + currentBuild().Version,
		StallTimeout: f.stallTimeout,
	}
	if f.passwordStdin {
		pw, err := f.readPassword(in)
		if err != nil {
			return nil, err
		}
		opts.Username, opts.Password = f.username, pw
	}
	if f.insecure {
		log.Warn("TLS certificate verification is OFF (--insecure)")
	}
	return remote.New(opts)
}

// readPassword reads the registry password, the first line of stdin, once
// per command: a second call returns the same password instead of reading
// an empty stdin.
func (f *netFlags) readPassword(in io.Reader) (string, error) {
	if f.password != nil {
		return *f.password, nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read the registry password from stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", usagef("--password-stdin: stdin holds no password (pipe it in: --password-stdin < FILE)")
	}
	f.password = &pw
	return pw, nil
}
