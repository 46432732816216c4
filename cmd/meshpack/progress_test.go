package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lattice-mesh/meshpack/progress"
)

// TestMeterEvents feeds library events to the CLI's renderers (off a
// terminal: plain lines) and checks what they count and print.
func TestMeterEvents(t *testing.T) {
	blob := ocispec.Descriptor{Digest: digest.Digest("sha256:" + strings.Repeat("a", 64)), Size: 300}
	tests := []struct {
		name      string
		verify    bool // feed to verified, else transferred
		quiet     bool
		events    []progress.Event
		wantTotal int64
		wantDone  int64
		wantOut   string
	}{
		{
			name: "a load counts bytes sent and skipped",
			events: []progress.Event{
				{Kind: progress.Planned, Total: 2 << 20, Blobs: 2},
				{Kind: progress.Bytes, Descriptor: blob, N: 1 << 20},
				{Kind: progress.BlobSkipped, Descriptor: blob, N: 1 << 20},
				{Kind: progress.BlobDone, Descriptor: blob},
				{Kind: progress.ArtifactDone, Descriptor: blob, Name: "r/x@" + blob.Digest.String()},
			},
			wantTotal: 2 << 20, wantDone: 2 << 20, wantOut: "load: 2.0 MiB to go\n",
		},
		{
			name:      "quiet counts and prints nothing",
			quiet:     true,
			events:    []progress.Event{{Kind: progress.Planned, Total: 100}, {Kind: progress.Bytes, N: 40}},
			wantTotal: 100, wantDone: 40,
		},
		{
			name:   "a verify pass counts verified blobs, failed ones too, not hashing steps",
			verify: true,
			events: []progress.Event{
				{Kind: progress.Bytes, Descriptor: blob, N: 100, Done: 100, Total: 300},
				{Kind: progress.BlobVerified, Descriptor: blob, Done: 300, Total: 300},
				{Kind: progress.BlobVerified, Descriptor: blob, Done: 300, Total: 300, Err: context.Canceled},
				{Kind: progress.PartVerified, Name: "b.000", Done: 9, Total: 9},
			},
			wantDone: 600,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			m := newMeter(&out, "load", tt.quiet)
			fn := progress.Func(m.transferred)
			if tt.verify {
				fn = m.verified
			}
			for _, e := range tt.events {
				fn.Emit(e)
			}
			m.Finish(true)
			if m.total != tt.wantTotal || m.done != tt.wantDone {
				t.Errorf("meter at %d of %d, want %d of %d", m.done, m.total, tt.wantDone, tt.wantTotal)
			}
			if out.String() != tt.wantOut {
				t.Errorf("printed %q, want %q", out.String(), tt.wantOut)
			}
		})
	}
}

// TestLogPinned checks that resolve's pins become debug lines, as before
// the events were shared, and that other events log nothing.
func TestLogPinned(t *testing.T) {
	d := "sha256:" + strings.Repeat("b", 64)
	tests := []struct {
		name  string
		event progress.Event
		want  string
	}{
		{"pinned image", progress.Event{Kind: progress.Pinned, ArtifactKind: "image", Name: "docker.io/istio/pilot:1.30.3", Descriptor: ocispec.Descriptor{Digest: digest.Digest(d)}},
			"level=DEBUG msg=pinned kind=image name=docker.io/istio/pilot:1.30.3 digest=" + d + "\n"},
		{"not a pin", progress.Event{Kind: progress.Bytes, N: 1}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{
				Level: slog.LevelDebug,
				ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey && len(groups) == 0 {
						return slog.Attr{}
					}
					return a
				},
			}))
			logPinned(log)(tt.event)
			if out.String() != tt.want {
				t.Errorf("logged %q, want %q", out.String(), tt.want)
			}
		})
	}
}
