package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// progress renders a byte count towards a total: a live bar on a terminal,
// a plain line every few seconds otherwise (CI logs, pipes), nothing with -q.
// Library code only emits events; this is the one place that draws.
type progress struct {
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

func newProgress(w io.Writer, label string, quiet bool) *progress {
	pr := &progress{w: w, label: label, quiet: quiet, start: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		// A terminal without a size (a pty nobody sized) cannot show a bar.
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 0 {
			pr.tty = true
		}
	}
	return pr
}

// Start sets the total; it may be called once.
func (pr *progress) Start(total int64) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.total = total
	if pr.quiet {
		return
	}
	if !pr.tty {
		fmt.Fprintf(pr.w, "%s: %s to go\n", pr.label, humanBytes(total))
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
func (pr *progress) Add(n int64) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.done += n
	switch {
	case pr.quiet:
	case pr.bar != nil:
		pr.bar.IncrInt64(n)
	case !pr.tty && time.Since(pr.lastLog) >= 5*time.Second && pr.total > 0:
		pr.lastLog = time.Now()
		fmt.Fprintf(pr.w, "%s: %s / %s (%d%%)\n", pr.label, humanBytes(pr.done), humanBytes(pr.total), pr.done*100/pr.total)
	}
}

// Finish completes the bar (or aborts it on failure) and waits for it.
func (pr *progress) Finish(ok bool) {
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

// humanBytes renders a byte count with a binary unit.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
