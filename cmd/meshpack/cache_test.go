package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCreateCache: a create with --cache keeps every downloaded blob; the
// same create again downloads none; after prune kept about half, a re-run
// takes that half from the cache and downloads the rest; a damaged cached
// blob is detected by its digest and downloaded again.
func TestCreateCache(t *testing.T) {
	e := env(t)
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	create := func(name string) createSummary {
		t.Helper()
		args := []string{"bundle", "create", filepath.Join(dir, name), "--istio", "1.30.3", "--profile", "ambient", "--kiali",
			"--key", e.key(), "--upstream-key", "istio-release=" + e.istioPub, "--cache", cache, "-o", "json"}
		out, errOut, code := e.meshpack(t, args...)
		var sum createSummary
		if code != 0 || json.Unmarshal([]byte(out), &sum) != nil {
			t.Fatalf("bundle create --cache: exit %d\n%s%s", code, out, errOut)
		}
		return sum
	}
	first := create("a.tar.zst")
	if first.CachedBlobs != 0 {
		t.Fatalf("a cold cache served %d blobs", first.CachedBlobs)
	}
	second := create("b.tar.zst")
	if second.CachedBlobs == 0 || second.CachedBytes < first.BlobBytes/2 {
		t.Fatalf("the second create took %d blobs (%d bytes) from the cache, of %d bytes", second.CachedBlobs, second.CachedBytes, first.BlobBytes)
	}
	out, errOut, code := runCLI(t, "", "cache", "prune", "--cache", cache, "--max-size", "0", "-o", "json")
	var pr struct{ BytesBefore, BytesAfter int64 }
	if code != 0 || json.Unmarshal([]byte(out), &pr) != nil || pr.BytesAfter != 0 || pr.BytesBefore < second.CachedBytes {
		t.Fatalf("cache prune --max-size 0: exit %d\n%s%s", code, out, errOut)
	}
	create("c.tar.zst") // fills the cache again
	half := pr.BytesBefore / 2
	if _, errOut, code := runCLI(t, "", "cache", "prune", "--cache", cache, "--max-size", itoa(half)); code != 0 {
		t.Fatalf("cache prune: exit %d\n%s", code, errOut)
	}
	// Damage one cached blob: it must be downloaded again, not used.
	var damaged string
	_ = filepath.WalkDir(filepath.Join(cache, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && damaged == "" && !strings.Contains(d.Name(), ".") {
			damaged = p
		}
		return nil
	})
	if damaged == "" {
		t.Fatal("prune left nothing in the cache")
	}
	data, _ := os.ReadFile(damaged)
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(damaged, data, 0o644); err != nil {
		t.Fatal(err)
	}
	third := create("d.tar.zst")
	if third.CachedBytes == 0 || third.CachedBytes > half {
		t.Errorf("after pruning to %d bytes and damaging one blob, %d bytes came from the cache", half, third.CachedBytes)
	}
	if _, errOut, code := runCLI(t, "", "bundle", "verify", filepath.Join(dir, "d.tar.zst"), "--key", e.pub()); code != 0 {
		t.Fatalf("the bundle made partly from the cache does not verify: exit %d\n%s", code, errOut)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
