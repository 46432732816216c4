package mirror_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/mirror/registry/registrytest"
)

// TestLoadAmplification loads a bundle of a few KiB whose index lists one
// manifest 10,000 times (and index.json the index 10,000 times), that
// manifest listing one layer 10,000 times. Each digest must be planned and
// pushed once: the load finishes in seconds with bounded memory.
func TestLoadAmplification(t *testing.T) {
	const n = 10000
	s := newSynth()
	layer := s.blob(ocispec.MediaTypeImageLayer, []byte("one small layer"))
	m := s.manifest(s.config(0), slices.Repeat([]ocispec.Descriptor{layer}, n)...)
	s.image("amp/app", "1", s.index(slices.Repeat([]ocispec.Descriptor{m}, n)...))
	s.rootCopies = n
	r := s.open(t)
	host := registrytest.New(t)

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	peak, stop := sampleHeap()
	start := time.Now()
	res, err := mirror.Load(context.Background(), r, host+"/mesh", mirror.LoadOptions{Client: plainClient(t, clientOpts()), AllowUnsigned: true})
	took := time.Since(start)
	stop()
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	alloc := (after.TotalAlloc - before.TotalAlloc) >> 20
	t.Logf("loaded in %v (verify %v): %d blobs pushed, %d manifests; peak Go heap %d MiB, %d MiB allocated in all (the in-process registry included)",
		took, res.VerifyDuration, res.BlobsPushed, res.ManifestsPushed, peak.Load()>>20, alloc)
	if res.BlobsPushed != 2 || res.ManifestsPushed != 2 || res.TagsPushed != 1 {
		t.Errorf("got %d blobs, %d manifests, %d tags pushed; want 2, 2 and 1 (each digest once)", res.BlobsPushed, res.ManifestsPushed, res.TagsPushed)
	}
	if took > 5*time.Second {
		t.Errorf("took %v, want under 5s", took)
	}
	if peak.Load() > 128<<20 || alloc > 1024 {
		t.Errorf("peak heap %d MiB, %d MiB allocated; want under 128 MiB and 1 GiB", peak.Load()>>20, alloc)
	}
}

// sampleHeap records the peak HeapAlloc every few milliseconds until stop.
func sampleHeap() (*atomic.Uint64, func()) {
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return &peak, func() { close(done); <-finished }
}

// wideBundle has n images in n repositories, each its own config and one
// shared layer.
func wideBundle(t *testing.T, n int) *bundle.Reader {
	t.Helper()
	s := newSynth()
	layer := s.blob(ocispec.MediaTypeImageLayer, []byte("shared layer"))
	for i := range n {
		s.image(fmt.Sprintf("wide/app-%d", i), "1", s.manifest(s.config(i), layer))
	}
	return s.open(t)
}

// TestLoadPlanLinear plans wide bundles (many artifacts in many
// repositories sharing a layer): eight times the artifacts must cost about
// eight times the time, not 64, and place each digest once per repository.
func TestLoadPlanLinear(t *testing.T) {
	const small, factor = 2000, 8
	times := map[int]time.Duration{}
	for _, n := range []int{small, small * factor} {
		r := wideBundle(t, n)
		start := time.Now()
		blobs, placements, arts, err := mirror.PlanStats(context.Background(), r, "registry.invalid/mesh")
		times[n] = time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d artifacts: planned in %v (%d blobs, %d placements)", n, times[n], blobs, placements)
		// Per image: its manifest, its config and the shared layer.
		if blobs != n+1 || placements != 3*n || arts != n {
			t.Errorf("%d artifacts: got %d blobs, %d placements, %d artifacts; want %d, %d, %d", n, blobs, placements, arts, n+1, 3*n, n)
		}
	}
	if ratio := float64(times[small*factor]) / float64(times[small]); ratio > 3*factor {
		t.Errorf("planning %d× the artifacts took %.1f× the time; want about %d× (linear)", factor, ratio, factor)
	}
}

// TestLoadRefusesBeforePush loads bundles that must be refused before the
// first push: blobs over the size caps (by the BOM, or by a manifest's
// descriptor), invalid tags and repository names. The registry stays empty.
func TestLoadRefusesBeforePush(t *testing.T) {
	huge := func() *synth {
		s := newSynth()
		layer := s.blob(ocispec.MediaTypeImageLayer, []byte("claims to be huge"))
		layer.Size = 100 << 30
		s.image("app/huge", "1", s.manifest(s.config(0), layer))
		return s
	}
	badNames := func() *synth {
		s := newSynth()
		m := s.manifest(s.config(0), s.blob(ocispec.MediaTypeImageLayer, []byte("layer")))
		s.image("app/Web", "1.0", m)
		s.image("app/ok", "bad tag!", m)
		s.image("app/two", "-x", m)
		s.image("app/fine", "1.0", m)
		return s
	}
	for _, tc := range []struct {
		name    string
		bundle  func() *synth
		opts    mirror.LoadOptions
		wantErr error
		want    []string
		limit   string // LimitError.Option, for ErrTooLarge
	}{
		{"blob over MaxBlobSize", func() *synth { return simpleImage("app/web", "1", 2<<20) }, mirror.LoadOptions{MaxBlobSize: 1 << 20},
			mirror.ErrTooLarge, []string{"is 2097152 bytes (2.0 MiB)", "1048576 bytes (1.0 MiB) per blob", "LoadOptions.MaxBlobSize", "nothing was pushed"}, mirror.LimitMaxBlobSize},
		{"blobs over MaxTotalSize", func() *synth { return simpleImage("app/web", "1", 2<<20) }, mirror.LoadOptions{MaxTotalSize: 1 << 20},
			mirror.ErrTooLarge, []string{"1048576 bytes (1.0 MiB) in total", "LoadOptions.MaxTotalSize", "nothing was pushed"}, mirror.LimitMaxTotalSize},
		{"manifest claims a 100 GiB layer", huge, mirror.LoadOptions{},
			mirror.ErrTooLarge, []string{"is 107374182400 bytes (100.0 GiB)", "68719476736 bytes (64.0 GiB) per blob", "LoadOptions.MaxBlobSize"}, mirror.LimitMaxBlobSize},
		{"invalid tags and repositories", badNames, mirror.LoadOptions{},
			mirror.ErrInvalidName, []string{`(3)`, `repository "mesh/app/Web"`, `tag "bad tag!"`, `tag "-x"`, "nothing was pushed"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			host := registrytest.New(t)
			opts := tc.opts
			opts.Client, opts.AllowUnsigned = plainClient(t, clientOpts()), true
			_, err := mirror.Load(context.Background(), tc.bundle().open(t), host+"/mesh", opts)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got error %v, want %v", err, tc.wantErr)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q: %v", w, err)
				}
			}
			var le *mirror.LimitError
			if tc.limit != "" && (!errors.As(err, &le) || le.Option != tc.limit) {
				t.Errorf("got %v, want a *mirror.LimitError for %s", err, tc.limit)
			}
			if got := registrytest.Catalog(t, host); len(got) != 0 {
				t.Errorf("got catalog %v after a refused load, want it empty", got)
			}
		})
	}
}

// TestLoadCredentialsInTarget refuses a target carrying credentials without
// repeating them, before any request.
func TestLoadCredentialsInTarget(t *testing.T) {
	r := simpleImage("app/web", "1", 64).open(t)
	for _, tc := range []struct {
		target  string
		wantErr error
	}{
		{"admin:s3cret@127.0.0.1:1/mesh", mirror.ErrCredentialsInTarget},
		{"https://admin:s3cret@127.0.0.1:1/mesh", mirror.ErrCredentialsInTarget},
		{"//admin:s3cret@127.0.0.1:1", mirror.ErrCredentialsInTarget},
		{"s3cret@127.0.0.1:1", mirror.ErrCredentialsInTarget},
		{"127.0.0.1:1/mesh@s3cret", nil},
	} {
		t.Run(tc.target, func(t *testing.T) {
			for name, err := range map[string]error{
				"ValidateTarget": mirror.ValidateTarget(tc.target),
				"Load":           loadErr(t, r, tc.target),
			} {
				if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
					t.Errorf("%s: got %v, want an error matching %v", name, err, tc.wantErr)
					continue
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("%s: the error repeats the password: %v", name, err)
				}
			}
		})
	}
}

func loadErr(t *testing.T, r *bundle.Reader, target string) error {
	t.Helper()
	_, err := mirror.Load(context.Background(), r, target, mirror.LoadOptions{Client: plainClient(t, clientOpts()), AllowUnsigned: true})
	return err
}
