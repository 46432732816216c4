package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/lattice-mesh/meshpack/progress"
)

// meter renders a byte count towards a total: a live bar on a terminal,
// a plain line every few seconds otherwise (CI logs, pipes), nothing with -q.
// Library code only emits progress.Events; this is the one place that draws
// them.
type meter struct {
	mu      sync.Mutex
	w       io.Writer
	label   string
	quiet   bool
	tty     bool
	p       *mpb.Progress
	bar     *mpb.Bar
	total   int64
	done    int64
	start   time.Time
	lastLog time.Time
}

// newMeter returns a meter that draws on w, labelled label.
func newMeter(w io.Writer, label string, quiet bool) *meter {
	pr := &meter{w: w, label: label, quiet: quiet, start: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		// A terminal without a size (a pty nobody sized) cannot show a bar.
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 0 {
			pr.tty = true
		}
	}
	return pr
}

// Start sets the total; it may be called once.
func (pr *meter) Start(total int64) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.total = total
	if pr.quiet {
		return
	}
	if !pr.tty {
		fmt.Fprintf(pr.w, "%s: %s to go\n", pr.label, progress.HumanBytes(total))
		pr.lastLog = time.Now()
		return
	}
	pr.p = mpb.New(mpb.WithOutput(pr.w), mpb.WithWidth(40), mpb.WithRefreshRate(150*time.Millisecond))
	pr.bar = pr.p.AddBar(total,
		mpb.PrependDecorators(decor.Name(pr.label+" "), decor.Counters(decor.SizeB1024(0), "% .1f / % .1f")),
		mpb.AppendDecorators(decor.Percentage(decor.WCSyncSpace), decor.AverageSpeed(decor.SizeB1024(0), " % .1f", decor.WCSyncSpace), decor.Name(" ETA "), decor.AverageETA(decor.ET_STYLE_MMSS)),
	)
}

// Add counts n more bytes.
func (pr *meter) Add(n int64) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.done += n
	switch {
	case pr.quiet:
	case pr.bar != nil:
		pr.bar.IncrInt64(n)
	case !pr.tty && time.Since(pr.lastLog) >= 5*time.Second && pr.total > 0:
		pr.lastLog = time.Now()
		fmt.Fprintf(pr.w, "%s: %s / %s (%d%%)\n", pr.label, progress.HumanBytes(pr.done), progress.HumanBytes(pr.total), pr.done*100/pr.total)
	}
}

// Finish completes the bar (or aborts it on failure) and waits for it.
func (pr *meter) Finish(ok bool) {
	pr.mu.Lock()
	bar, p := pr.bar, pr.p
	pr.mu.Unlock()
	if bar == nil {
		return
	}
	if ok {
		bar.SetTotal(-1, true)
	} else {
		bar.Abort(false)
	}
	p.Wait()
}

// verified is the progress.Func of a verify pass: each blob hashed adds
// its size, whether it matched or not.
func (pr *meter) verified(e progress.Event) {
	if e.Kind == progress.BlobVerified {
		pr.Add(e.Descriptor.Size)
	}
}

// transferred is the progress.Func of a pull or a load: Planned starts the
// meter at the run's total, and Bytes and BlobSkipped add their bytes (a
// blob the registry already has counts as done).
func (pr *meter) transferred(e progress.Event) {
	switch e.Kind {
	case progress.Planned:
		pr.Start(e.Total)
	case progress.Bytes, progress.BlobSkipped:
		pr.Add(e.N)
	}
}

// logPinned returns the progress.Func of resolve: a debug line for each
// pinned artifact.
func logPinned(log *slog.Logger) progress.Func {
	return func(e progress.Event) {
		if e.Kind == progress.Pinned {
			log.Debug("pinned", "kind", e.ArtifactKind, "name", e.Name, "digest", e.Descriptor.Digest.String())
		}
	}
}
