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
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd(os.Stdin, os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(exitCode(err))
	}
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
