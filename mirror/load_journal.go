package mirror

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/lattice-mesh/meshpack/atomicfile"
)

// journal records the upload sessions a Load has open, so that a re-run
// after an interruption (Ctrl-C, kill -9, a lost network) asks the registry
// how much of each it kept and sends only the rest. It is one append-only
// file of JSON lines per target in LoadOptions.StateDir: "start" when a
// session opens (with its URL), "done" when the blob is complete. A torn
// last line (kill -9 mid-write) is ignored. The file is compacted when
// opened and removed after a complete load. Losing it costs only bytes.
type journal struct {
	mu   sync.Mutex
	path string
	f    *os.File
	open map[journalKey]journalEntry
	log  *slog.Logger
}

type journalKey struct {
	repo   string
	digest digest.Digest
}

type journalEntry struct {
	Op       string `json:"op"`
	Repo     string `json:"repo"`
	Digest   string `json:"digest"`
	Location string `json:"location,omitempty"`
	// Time is when the session opened (Unix seconds).
	Time int64 `json:"time,omitempty"`
}

// journalMaxAge drops sessions registries have purged by then
// (Distribution purges unfinished uploads after a week).
const journalMaxAge = 7 * 24 * time.Hour

// openJournal reads the journal of target in dir (creating dir, 0700) and
// rewrites it atomically (atomicfile) with only the sessions still open.
func openJournal(dir, target string, log *slog.Logger) (*journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("upload journal: %w", err)
	}
	sum := sha256.Sum256([]byte(target))
	j := &journal{path: filepath.Join(dir, "load-"+hex.EncodeToString(sum[:8])+".journal"), open: map[journalKey]journalEntry{}, log: log}
	if err := j.replay(); err != nil {
		return nil, err
	}
	f, err := atomicfile.Create(j.path, 0o600)
	if err != nil {
		return nil, fmt.Errorf("upload journal: %w", err)
	}
	defer f.Abort()
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, e := range j.open {
		if err := enc.Encode(e); err != nil {
			return nil, fmt.Errorf("upload journal %s: %w", j.path, err)
		}
	}
	err = w.Flush()
	if err == nil {
		err = f.Commit()
	}
	if err != nil {
		return nil, fmt.Errorf("upload journal %s: %w", j.path, err)
	}
	if j.f, err = os.OpenFile(j.path, os.O_APPEND|os.O_WRONLY, 0o600); err != nil {
		return nil, fmt.Errorf("upload journal: %w", err)
	}
	if len(j.open) > 0 {
		log.Info("continuing interrupted uploads", "count", len(j.open), "journal", j.path)
	}
	return j, nil
}

// replay loads the sessions left open by earlier runs.
func (j *journal) replay() error {
	f, err := os.Open(j.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("upload journal: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e journalEntry
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue // torn line
		}
		d, err := digest.Parse(e.Digest)
		if err != nil {
			continue
		}
		k := journalKey{e.Repo, d}
		switch e.Op {
		case "start":
			if time.Since(time.Unix(e.Time, 0)) < journalMaxAge {
				j.open[k] = e
			}
		case "done":
			delete(j.open, k)
		}
	}
	return nil
}

// lookup returns the open session of repo and d, or "".
func (j *journal) lookup(repo string, d digest.Digest) string {
	if j == nil {
		return ""
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.open[journalKey{repo, d}].Location
}

// start records a new session.
func (j *journal) start(repo string, d digest.Digest, loc string) {
	j.write(journalEntry{Op: "start", Repo: repo, Digest: d.String(), Location: loc, Time: time.Now().Unix()})
}

// done records a complete blob.
func (j *journal) done(repo string, d digest.Digest) {
	j.write(journalEntry{Op: "done", Repo: repo, Digest: d.String()})
}

func (j *journal) write(e journalEntry) {
	if j == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	k := journalKey{e.Repo, digest.Digest(e.Digest)}
	if e.Op == "start" {
		j.open[k] = e
	} else {
		delete(j.open, k)
	}
	if j.f == nil {
		return
	}
	b, err := json.Marshal(e)
	if err == nil {
		_, err = j.f.Write(append(b, '\n'))
	}
	if err != nil {
		// Only resumption suffers; the load goes on.
		j.log.Warn("upload journal not writable; an interrupted load will resend partial blobs", "journal", j.path, "error", err)
		j.f.Close()
		j.f = nil
	}
}

// finish removes the journal after a complete load.
func (j *journal) finish() {
	j.close()
	if err := os.Remove(j.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		j.log.Warn("remove upload journal", "journal", j.path, "error", err)
	}
}

func (j *journal) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
}
