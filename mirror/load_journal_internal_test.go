package mirror

import (
	"encoding/json"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// TestJournal checks that the upload journal survives a run, forgets
// completed and stale sessions, ignores a torn last line and is removed
// after a complete load.
func TestJournal(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	a, b, c := digest.FromString("a"), digest.FromString("b"), digest.FromString("c")
	j, err := openJournal(dir, "reg:5000/mesh", log)
	if err != nil {
		t.Fatal(err)
	}
	j.start("mesh/x", a, "http://reg:5000/v2/mesh/x/blobs/uploads/1")
	j.start("mesh/x", b, "http://reg:5000/v2/mesh/x/blobs/uploads/2")
	j.done("mesh/x", b)
	j.close()
	// A stale session and a torn line, as kill -9 mid-write leaves it.
	old, _ := json.Marshal(journalEntry{Op: "start", Repo: "mesh/x", Digest: c.String(), Location: "http://reg:5000/old", Time: time.Now().Add(-8 * 24 * time.Hour).Unix()})
	f, err := os.OpenFile(j.path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(append(old, '\n'))
	f.Write([]byte(`{"op":"start","repo":"mesh/x","dig`))
	f.Close()

	j2, err := openJournal(dir, "reg:5000/mesh", log)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		d    digest.Digest
		want string
	}{
		{"open session", a, "http://reg:5000/v2/mesh/x/blobs/uploads/1"},
		{"completed", b, ""},
		{"stale", c, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := j2.lookup("mesh/x", tc.d); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if other, err := openJournal(dir, "reg:5000/other", log); err != nil || other.lookup("mesh/x", a) != "" {
		t.Errorf("another target's journal: got %v, want it empty", err)
	}
	j2.finish()
	if _, err := os.Stat(j2.path); !os.IsNotExist(err) {
		t.Errorf("got %v after finish, want the journal removed", err)
	}
}
