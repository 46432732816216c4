package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"
)

// runRawpush uploads every blob of an OCI layout (every file under
// blobs/sha256/) into one repository of a plain-HTTP registry, -conc at a
// time, with the two requests of a monolithic upload and nothing else: POST
// /v2/<repo>/blobs/uploads/, then PUT <Location>?digest=sha256:<file name>
// with the file as the body. No HEAD, no mount, no manifest: the registry's
// own ceiling for these bytes. It prints
//
//	blobs=N bytes=N conc=4 wall=S
func runRawpush(ctx context.Context, args []string, out io.Writer) error {
	fset := flag.NewFlagSet("rawpush", flag.ContinueOnError)
	conc := fset.Int("conc", 4, "uploads at a time")
	repo := fset.String("repo", "raw", "target repository")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if fset.NArg() != 2 || *conc < 1 {
		return fmt.Errorf("rawpush: want [-conc N] [-repo R] HOST:PORT LAYOUT-DIR\n%w", errUsage)
	}
	host, layout := fset.Arg(0), fset.Arg(1)
	dir := filepath.Join(layout, "blobs", "sha256")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("rawpush: %w", err)
	}
	c := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: *conc,
		DisableCompression:  true,
		WriteBufferSize:     256 << 10,
	}}
	start := time.Now()
	var total int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(*conc)
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return fmt.Errorf("rawpush: %w", err)
		}
		total += info.Size()
		g.Go(func() error {
			return rawUpload(gctx, c, host, *repo, filepath.Join(dir, e.Name()), info.Size())
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("rawpush into %s/%s: %w", host, *repo, err)
	}
	fmt.Fprintf(out, "blobs=%d bytes=%d conc=%d wall=%.3f\n", len(entries), total, *conc, time.Since(start).Seconds())
	return nil
}

// rawUpload sends one file as blob sha256:<base name>.
func rawUpload(ctx context.Context, c *http.Client, host, repo, path string, size int64) error {
	d := "sha256:" + filepath.Base(path)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+host+"/v2/"+repo+"/blobs/uploads/", nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("blob %s: POST: %w", d, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("blob %s: POST %s: %s, want 202", d, req.URL, resp.Status)
	}
	loc, err := resp.Location()
	if err != nil {
		return fmt.Errorf("blob %s: POST %s: %w", d, req.URL, err)
	}
	q := loc.Query()
	q.Set("digest", d)
	loc.RawQuery = q.Encode()
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	req, err = http.NewRequestWithContext(ctx, http.MethodPut, loc.String(), f)
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = c.Do(req)
	if err != nil {
		return fmt.Errorf("blob %s: PUT: %w", d, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("blob %s: PUT: %s, want 201", d, resp.Status)
	}
	return nil
}
