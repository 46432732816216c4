// Command fixture-upstream serves meshpack's offline stand-in for the
// internet on 127.0.0.1 (see package hack/upstream) until SIGINT or SIGTERM.
//
//	go run ./hack/fixture-upstream --state /tmp/upstream.json --size 1GiB
//
// The state file (registry host, base URL, --mirror arguments, digests) is
// written atomically once everything is ready, so scripts can wait for it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/lattice-mesh/meshpack/hack/upstream"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fixture-upstream:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		state    = flag.String("state", "", "write the state JSON to this file once ready")
		istio    = flag.String("istio", "1.30.3", "comma-separated Istio versions")
		kiali    = flag.String("kiali", "2.26.0", "comma-separated Kiali versions")
		gwapi    = flag.String("gateway-api", "v1.5.1", "comma-separated Gateway API versions")
		platform = flag.String("platform", "", "comma-separated platforms for every image (default: upstream's)")
		extra    = flag.String("extra-image", "", "comma-separated extra images, e.g. docker.io/library/app:1")
		size     = flag.String("size", "", "total gzip size of the unique layers, e.g. 1GiB (default: a few MiB per image)")
		root     = flag.String("root", "", "registry storage directory (default: in memory)")
		seed     = flag.Int64("seed", 0, "content seed")
		testdata = flag.String("testdata", "", "meshpack testdata directory (default: found from the working directory)")
		verbose  = flag.Bool("v", false, "log registry requests")
		keyDir   = flag.String("sign-key-dir", "", "sign the Istio images with a fixture key written here (cosign.key, cosign.pub)")
	)
	flag.Parse()

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	opts := upstream.Options{
		IstioVersions:      list(*istio),
		KialiVersions:      list(*kiali),
		GatewayAPIVersions: list(*gwapi),
		Platforms:          list(*platform),
		ExtraImages:        list(*extra),
		RegistryRoot:       *root,
		Seed:               *seed,
		Testdata:           *testdata,
		Logger:             slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	}
	if *size != "" {
		n, err := upstream.ParseSize(*size)
		if err != nil {
			return err
		}
		opts.TotalSize = n
	}

	var pubKey string
	if *keyDir != "" {
		s, pub, err := upstream.NewFixtureKey(*keyDir)
		if err != nil {
			return err
		}
		opts.Sign, pubKey = upstream.SignWith(s), pub
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	u, err := upstream.Start(ctx, opts)
	if err != nil {
		return err
	}
	if *state != "" {
		st := u.State()
		if pubKey != "" {
			st.UpstreamKeys = map[string]string{}
			for _, n := range upstream.IstioKeyNames {
				st.UpstreamKeys[n] = pubKey
			}
		}
		err = upstream.WriteState(*state, st)
	}
	if err == nil {
		for _, m := range u.Mirrors() {
			fmt.Println("--mirror", m)
		}
		<-ctx.Done()
	}
	return errors.Join(err, u.Close())
}

// list splits a comma-separated flag value, dropping empty items.
func list(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
