// Command meshpack carries a service mesh (Istio + Kiali + Gateway API) into
// air-gapped Kubernetes: resolve a pinned version set, bundle it into one
// signed .tar.zst, verify it, load it into an internal registry.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	if path := os.Getenv("MESHPACK_CPUPROFILE"); path != "" {
		// Developer aid for `make bench` investigations; off by default.
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			code := run()
			pprof.StopCPUProfile()
			os.Exit(code)
		}
	}
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd(os.Stdin, os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		return exitCode(err)
	}
	return 0
}

// exitCode maps an error to the process exit status: 130 for an interrupt,
// 2 for bad usage, 1 otherwise.
func exitCode(err error) int {
	var u usageError
	switch {
	case errors.Is(err, context.Canceled):
		return 130
	case errors.As(err, &u):
		return 2
	default:
		return 1
	}
}
