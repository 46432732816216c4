// Command shaper is a TCP proxy that makes a loopback server look like a
// slow, unreliable link, for benchmarks and tests of downloads (make bench,
// hack/bench-slowlink.sh):
//
//	shaper --listen 127.0.0.1:0 --upstream 127.0.0.1:5000 \
//	  --rtt 50ms --conn-rate 20MiB --total-rate 100MiB [--reset-every 100MiB] \
//	  [--admin 127.0.0.1:0]
//
// Every connection waits --rtt before it reaches the upstream and every
// request (a read from the client) waits --rtt before it is forwarded, so
// each round trip costs the added latency. What the upstream sends back is
// paced by a per-connection and a shared total token bucket. With
// --reset-every, the connection that crosses each multiple of that many
// bytes served is reset (TCP RST) mid-stream. It prints "listening on
// ADDR" (and "admin on ADDR") when ready; GET http://ADMIN/stats answers
// {"bytes":N,"conns":N,"resets":N}, bytes being what was sent to clients.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

type shaper struct {
	upstream   string
	rtt        time.Duration
	connRate   int64
	total      *rate.Limiter
	resetEvery int64

	bytes  atomic.Int64
	conns  atomic.Int64
	resets atomic.Int64
	mark   atomic.Int64 // next byte count at which a connection is reset
}

// burst is the largest write paced at once; it bounds the bucket's burst.
const burst = 64 << 10

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to accept on")
	upstream := flag.String("upstream", "", "HOST:PORT to forward to (required)")
	rtt := flag.Duration("rtt", 0, "latency added to each connection and each request")
	connRate := flag.String("conn-rate", "0", "bytes per second per connection, e.g. 20MiB (0: unlimited)")
	totalRate := flag.String("total-rate", "0", "bytes per second over all connections (0: unlimited)")
	resetEvery := flag.String("reset-every", "0", "reset the connection serving each multiple of this many bytes (0: never)")
	admin := flag.String("admin", "", "address of the stats endpoint (GET /stats)")
	flag.Parse()
	if *upstream == "" {
		fmt.Fprintln(os.Stderr, "shaper: --upstream is required")
		os.Exit(2)
	}
	s := &shaper{upstream: *upstream, rtt: *rtt}
	var err error
	var tr int64
	if s.connRate, err = parseSize(*connRate); err == nil {
		if tr, err = parseSize(*totalRate); err == nil {
			s.resetEvery, err = parseSize(*resetEvery)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "shaper:", err)
		os.Exit(2)
	}
	s.total = limiter(tr)
	s.mark.Store(s.resetEvery)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	if *admin != "" {
		al, err := net.Listen("tcp", *admin)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("admin on %s\n", al.Addr())
		go func() { log.Fatal(http.Serve(al, http.HandlerFunc(s.stats))) }()
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go s.serve(c.(*net.TCPConn))
	}
}

func (s *shaper) stats(w http.ResponseWriter, _ *http.Request) {
	_ = json.NewEncoder(w).Encode(map[string]int64{"bytes": s.bytes.Load(), "conns": s.conns.Load(), "resets": s.resets.Load()})
}

// limiter paces at bps bytes per second; nil when unlimited.
func limiter(bps int64) *rate.Limiter {
	if bps <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(bps), burst)
}

func (s *shaper) serve(client *net.TCPConn) {
	defer client.Close()
	s.conns.Add(1)
	time.Sleep(s.rtt)
	up, err := net.Dial("tcp", s.upstream)
	if err != nil {
		return
	}
	defer up.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		defer cancel()
		buf := make([]byte, 32<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				time.Sleep(s.rtt)
				if _, werr := up.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	conn := limiter(s.connRate)
	buf := make([]byte, burst)
	for {
		n, err := up.Read(buf)
		if n > 0 {
			for _, l := range []*rate.Limiter{conn, s.total} {
				if l != nil && l.WaitN(ctx, n) != nil {
					return
				}
			}
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
			total := s.bytes.Add(int64(n))
			if m := s.mark.Load(); s.resetEvery > 0 && total >= m && s.mark.CompareAndSwap(m, m+s.resetEvery) {
				s.resets.Add(1)
				_ = client.SetLinger(0) // close with RST
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				_ = client.SetLinger(0)
			}
			return
		}
	}
}

// parseSize reads 123, 64KiB, 20MiB, 1GiB.
func parseSize(v string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSuffix(v, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want a number with an optional KiB, MiB or GiB suffix", v)
	}
	return int64(n * float64(mult)), nil
}
