package mirror

import (
	"sync"
	"time"
)

// pace tells whether the link or the consumer (the bundle writer) sets the
// pace of a create: the share of its time the consumer spent waiting for
// data, over the recent chunks weighted by how long each took (chunks from
// parallel requests arrive in bursts: the waits, not the chunk count, tell
// the truth). Near 0 on a fast link (the writer is the bottleneck, and one
// request per blob is cheapest), high on a slow or distant one (parallel
// range requests and more buffers pay off).
type pace struct {
	mu      sync.Mutex
	waited  float64 // decayed sum of waits, seconds
	elapsed float64 // decayed sum of the times between chunks, seconds
	count   float64 // decayed number of chunks
	samples int
	last    time.Time // when the consumer last got a chunk
}

// paceSamples is how many chunks are measured before linkBound may answer
// yes; paceThreshold is the waiting share above which the link sets the
// pace, provided the average wait for a chunk is at least paceMinWait (a
// consumer with nothing to do always "waits", but for microseconds); a
// round trip over any real link is longer. paceDecay weighs older chunks
// down.
const (
	paceSamples   = 3
	paceThreshold = 0.5
	paceMinWait   = 5 * time.Millisecond
	paceDecay     = 0.9
)

// consumed records that the consumer waited wait for its next chunk.
func (p *pace) consumed(wait time.Duration) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.last.IsZero() {
		p.waited = paceDecay*p.waited + wait.Seconds()
		p.elapsed = paceDecay*p.elapsed + now.Sub(p.last).Seconds()
		p.count = paceDecay*p.count + 1
		p.samples++
	}
	p.last = now
}

// linkBound reports whether the consumer mostly waits for data.
func (p *pace) linkBound() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.samples >= paceSamples && p.waited > paceThreshold*p.elapsed &&
		p.waited >= paceMinWait.Seconds()*p.count
}

// consumed feeds the pace and, while the link sets it, lets the scheduler
// add a buffer.
func (s *scheduler) consumed(wait time.Duration) {
	s.pace.consumed(wait)
	if wait > 0 && s.pace.linkBound() {
		select {
		case s.grow <- struct{}{}:
		default:
		}
	}
}
