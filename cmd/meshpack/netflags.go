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
	"github.com/lattice-mesh/meshpack/mirror/client"
)

// netFlags configure how meshpack talks to registries and HTTP servers.
type netFlags struct {
	mirrors       []string
	plainHTTP     bool
	insecure      bool
	caFile        string
	dockerConfig  string
	username      string
	passwordStdin bool
	stallTimeout  time.Duration
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
	fs.DurationVar(&f.stallTimeout, "stall-timeout", client.DefaultStallTimeout, "abort a request that makes no progress for this long (a registry that accepts connections but never answers fails in this time; a stalled upload is tried once more)")
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

// client builds the network client; mirrors come from the spec (which
// already holds the --mirror flags) or the flags alone.
func (f *netFlags) client(in io.Reader, mirrors []manifests.Mirror, log *slog.Logger, version string) (*client.Client, error) {
	opts := client.Options{
		Mirrors: mirrors, PlainHTTP: f.plainHTTP, InsecureSkipTLSVerify: f.insecure,
		CAFile: f.caFile, DockerConfig: f.dockerConfig, Logger: log, UserAgent: "meshpack/" + version,
		StallTimeout: f.stallTimeout,
	}
	if f.stallTimeout <= 0 {
		return nil, usagef("--stall-timeout %s: want a positive duration, e.g. 30s", f.stallTimeout)
	}
	if f.passwordStdin {
		if f.username == "" {
			return nil, usagef("--password-stdin needs --username")
		}
		pw, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("read password from stdin: %w", err)
		}
		opts.Username, opts.Password = f.username, strings.TrimRight(pw, "\r\n")
	} else if f.username != "" {
		return nil, usagef("--username needs --password-stdin")
	}
	if f.insecure {
		log.Warn("TLS certificate verification is OFF (--insecure)")
	}
	return client.New(opts)
}
