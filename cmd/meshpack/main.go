// Command meshpack carries a service mesh (Istio + Kiali + Gateway API) into
// air-gapped Kubernetes: resolve a pinned version set, bundle it into one
// signed .tar.zst, verify it, load it into an internal registry.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
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

// softMemoryLimit keeps the Go heap near what meshpack really holds: every
// command streams and stays well under it, and a hostile bundle's large
// metadata is collected eagerly instead of the heap doubling before each
// collection. GOMEMLIMIT overrides it.
const softMemoryLimit = 160 << 20

func run() int {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(softMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first SIGINT or SIGTERM cancels ctx so that commands stop cleanly;
	// from then on the default action applies again, so a second one
	// terminates meshpack even if something does not return.
	context.AfterFunc(ctx, stop)
	err := newRootCmd(os.Stdin, os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err != nil {
		printError(os.Stderr, err)
		return exitCode(err)
	}
	return 0
}

// printError prints err as meshpack's last line, "error: …". Errors quote
// names and fields from bundles and registries, so control characters are
// escaped as everywhere else; the lines of a multi-line error are kept.
func printError(w io.Writer, err error) {
	fmt.Fprintln(w, "error:", sanitizeLines(err.Error()))
}

// exitCode maps an error to the process exit status: 130 for an interrupt,
// 2 for bad usage, 1 otherwise.
func exitCode(err error) int {
	var u usageError
	switch {
	case errors.Is(err, context.Canceled):
		return 130
	case errors.As(err, &u), strings.HasPrefix(err.Error(), "unknown command "):
		return 2
	default:
		return 1
	}
}
