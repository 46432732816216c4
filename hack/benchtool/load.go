package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lattice-mesh/meshpack/bundle"
)

// runImages prints what the load comparison pushes with the common tools:
// one line per image artifact of the bundle (signatures, charts and files
// are meshpack's extra work), then the bytes a complete load uploads.
//
//	image ref=docker.io/istio/pilot:1.30.3 digest=sha256:… dest=istio/pilot:1.30.3
//	upload_bytes=1107081668 blob_bytes=1107255270 blobs=192
//
// ref is the layout's org.opencontainers.image.ref.name (what skopeo's
// oci: transport names), dest the repository and tag meshpack loads the
// image to below the target prefix. upload_bytes are the blobs that are
// not manifests or indexes (those go through the manifest API).
func runImages(args []string, out io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("images: want one bundle\n%w", errUsage)
	}
	path := args[0]
	r, err := bundle.Open(path)
	if err != nil {
		return fmt.Errorf("images: %w", err)
	}
	defer r.Close()
	bom, err := r.BOM()
	if err != nil {
		return fmt.Errorf("images %s: %w", path, err)
	}
	refs := map[string]string{}
	for _, d := range r.Index().Manifests {
		if name := d.Annotations["org.opencontainers.image.ref.name"]; name != "" {
			refs[d.Digest.String()] = name
		}
	}
	for _, a := range bom.Artifacts {
		if a.Kind != bundle.KindImage {
			continue
		}
		ref := refs[a.Digest]
		if ref == "" {
			return fmt.Errorf("images %s: image %s (%s) has no ref.name in index.json", path, a.Source, a.Digest)
		}
		fmt.Fprintf(out, "image ref=%s digest=%s dest=%s:%s\n", ref, a.Digest, a.Repository, a.Tag)
	}
	var upload int64
	for _, b := range bom.Blobs {
		if !strings.Contains(b.MediaType, "manifest") && !strings.Contains(b.MediaType, "index") {
			upload += b.Size
		}
	}
	s := r.Stats()
	fmt.Fprintf(out, "upload_bytes=%d blob_bytes=%d blobs=%d\n", upload, s.BlobBytes, s.Blobs)
	return nil
}

// runRegBytes prints data=N: the bytes of every file called "data" under a
// registry's filesystem storage — committed blobs and the partial data of
// upload sessions, without Distribution's link and hash-state files.
func runRegBytes(args []string, out io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("regbytes: want one registry root\n%w", errUsage)
	}
	n, err := dataBytes(args[0])
	if err != nil {
		return fmt.Errorf("regbytes: %w", err)
	}
	fmt.Fprintf(out, "data=%d\n", n)
	return nil
}

// dataBytes sums the files called "data" under root. Files that vanish
// while it walks (an upload being committed) are skipped.
func dataBytes(root string) (int64, error) {
	var n int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Name() != "data" || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		n += info.Size()
		return nil
	})
	return n, err
}

// runKillAt polls a registry's storage and sends SIGKILL to -pid once the
// stored data reaches -bytes; then waits for the storage to stop growing
// (the registry finishing what was in flight). It prints
//
//	killed=1 at=N elapsed=S settled=N
//
// at is the data stored when the kill was sent, elapsed the seconds from
// the start of polling, settled the data once it stopped growing. killed=0
// when the process ended first.
func runKillAt(ctx context.Context, args []string, out io.Writer) error {
	fset := flag.NewFlagSet("killat", flag.ContinueOnError)
	pid := fset.Int("pid", 0, "process to kill")
	root := fset.String("root", "", "registry storage directory to poll")
	at := fset.Int64("bytes", 0, "kill once this many bytes are stored")
	every := fset.Duration("every", 20*time.Millisecond, "poll interval")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if *pid <= 0 || *root == "" || *at <= 0 || fset.NArg() != 0 {
		return fmt.Errorf("killat: want -pid PID -root DIR -bytes N\n%w", errUsage)
	}
	began := time.Now()
	tick := time.NewTicker(*every)
	defer tick.Stop()
	killed, n := 0, int64(0)
	for {
		if syscall.Kill(*pid, 0) != nil {
			break
		}
		var err error
		if n, err = dataBytes(*root); err != nil {
			return fmt.Errorf("killat: %w", err)
		}
		if n >= *at {
			if err := syscall.Kill(*pid, syscall.SIGKILL); err != nil {
				return fmt.Errorf("killat: pid %d: %w", *pid, err)
			}
			killed = 1
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	elapsed := time.Since(began)
	settled, err := settle(ctx, *root)
	if err != nil {
		return fmt.Errorf("killat: %w", err)
	}
	fmt.Fprintf(out, "killed=%d at=%d elapsed=%.3f settled=%d\n", killed, n, elapsed.Seconds(), settled)
	return nil
}

// settle returns the data under root once two polls 300 ms apart agree
// (at most 10 s).
func settle(ctx context.Context, root string) (int64, error) {
	prev := int64(-1)
	for range 33 {
		n, err := dataBytes(root)
		if err != nil || n == prev {
			return n, err
		}
		prev = n
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	return prev, nil
}

// runWrites reads an `strace -f -e trace=openat,creat` log and prints the
// distinct files successfully opened for writing (O_WRONLY, O_RDWR,
// O_CREAT or creat):
//
//	files=2 paths=/a/b.journal.tmp /a/b.journal
func runWrites(args []string, out io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("writes: want one strace log\n%w", errUsage)
	}
	f, err := os.Open(args[0])
	if err != nil {
		return fmt.Errorf("writes: %w", err)
	}
	defer f.Close()
	var paths []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if p, ok := writeOpen(sc.Text()); ok && !slices.Contains(paths, p) {
			paths = append(paths, p)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("writes %s: %w", args[0], err)
	}
	fmt.Fprintf(out, "files=%d paths=%s\n", len(paths), strings.Join(paths, " "))
	return nil
}

// writeOpen returns the path of one strace line that opened a file for
// writing and succeeded, e.g.
//
//	1234  openat(AT_FDCWD, "/x/j.journal", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0600) = 7
func writeOpen(line string) (string, bool) {
	call := ""
	for _, c := range []string{"openat(", "creat(", "open("} {
		if strings.Contains(line, c) {
			call = c
			break
		}
	}
	if call == "" {
		return "", false
	}
	_, res, ok := strings.Cut(line, ") = ")
	if !ok || strings.HasPrefix(strings.TrimSpace(res), "-") {
		return "", false
	}
	q1 := strings.IndexByte(line, '"')
	if q1 < 0 {
		return "", false
	}
	q2 := strings.IndexByte(line[q1+1:], '"')
	if q2 < 0 {
		return "", false
	}
	path, rest := line[q1+1:q1+1+q2], line[q1+1+q2:]
	if call != "creat(" && !strings.Contains(rest, "O_WRONLY") && !strings.Contains(rest, "O_RDWR") && !strings.Contains(rest, "O_CREAT") {
		return "", false
	}
	return path, true
}

// runFreePort prints a TCP port on 127.0.0.1 that was free a moment ago.
func runFreePort(args []string, out io.Writer) error {
	if len(args) != 0 {
		return fmt.Errorf("freeport: no arguments\n%w", errUsage)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("freeport: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	fmt.Fprintln(out, strconv.Itoa(port))
	return nil
}
