// Command benchtool is the Go side of `make bench` (hack/bench.sh): it reads
// the fixture upstream's state file, measures random access into a bundle,
// counts the unique blobs of a bundle or an OCI layout, and turns the
// measurements the script records into BENCHMARKS.md.
//
//	benchtool workload STATE.json        registry, mirrors, unique images
//	benchtool read -which last BUNDLE    time to fetch the first or last blob
//	benchtool blobs BUNDLE|LAYOUT-DIR    count and bytes of the unique blobs
//	benchtool report -in results.tsv -out BENCHMARKS.md
//
// Every subcommand prints key=value lines for the script to parse.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage:
  benchtool workload STATE.json
  benchtool read -which first|last BUNDLE
  benchtool blobs BUNDLE|LAYOUT-DIR
  benchtool report -in results.tsv -out BENCHMARKS.md`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

// errUsage reports a command line benchtool does not understand.
var errUsage = errors.New(usage)

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "workload":
		return runWorkload(args[1:], out)
	case "read":
		return runRead(ctx, args[1:], out)
	case "blobs":
		return runBlobs(args[1:], out)
	case "report":
		return runReport(args[1:])
	default:
		return fmt.Errorf("unknown subcommand %q\n%w", args[0], errUsage)
	}
}
