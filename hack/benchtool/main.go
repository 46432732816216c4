// Command benchtool is the Go side of `make bench` (hack/bench.sh): it reads
// the fixture upstream's state file, measures random access into a bundle,
// counts the unique blobs of a bundle or an OCI layout, drives the load
// measurements (raw uploads, kill at half way, files written), and turns the
// measurements the script records into BENCHMARKS.md.
//
//	benchtool workload STATE.json        registry, mirrors, unique images
//	benchtool read -which last BUNDLE    time to fetch the first or last blob
//	benchtool blobs BUNDLE|LAYOUT-DIR    count and bytes of the unique blobs
//	benchtool images BUNDLE              images to push with other tools
//	benchtool rawpush HOST:PORT LAYOUT   POST + PUT every blob, 4 at a time
//	benchtool regbytes REGISTRY-ROOT     data bytes a registry stores
//	benchtool killat -pid P -root DIR -bytes N   SIGKILL at N stored bytes
//	benchtool writes STRACE.log          files opened for writing
//	benchtool freeport                   a free port on 127.0.0.1
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
  benchtool images BUNDLE
  benchtool rawpush [-conc 4] [-repo raw] HOST:PORT LAYOUT-DIR
  benchtool regbytes REGISTRY-ROOT
  benchtool killat -pid PID -root REGISTRY-ROOT -bytes N
  benchtool writes STRACE.log
  benchtool freeport
  benchtool report -in results.tsv -out BENCHMARKS.md
  benchtool htpasswd USER PASSWORD
`

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
	case "images":
		return runImages(args[1:], out)
	case "rawpush":
		return runRawpush(ctx, args[1:], out)
	case "regbytes":
		return runRegBytes(args[1:], out)
	case "killat":
		return runKillAt(ctx, args[1:], out)
	case "writes":
		return runWrites(args[1:], out)
	case "freeport":
		return runFreePort(args[1:], out)
	case "report":
		return runReport(args[1:])
	case "htpasswd":
		return runHtpasswd(args[1:], out)
	default:
		return fmt.Errorf("unknown subcommand %q\n%w", args[0], errUsage)
	}
}
