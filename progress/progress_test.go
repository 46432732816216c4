package progress

import "testing"

func TestKindString(t *testing.T) {
	tests := []struct {
		kind Kind
		want string
	}{
		{Planned, "planned"},
		{Bytes, "bytes"},
		{BlobDone, "blob-done"},
		{BlobSkipped, "blob-skipped"},
		{BlobVerified, "blob-verified"},
		{PartVerified, "part-verified"},
		{FileWritten, "file-written"},
		{ArtifactDone, "artifact-done"},
		{Pinned, "pinned"},
		{0, "kind(0)"},
		{Pinned + 1, "kind(10)"},
		{-1, "kind(-1)"},
	}
	for _, tt := range tests {
		if got := tt.kind.String(); got != tt.want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(tt.kind), got, tt.want)
		}
	}
}

func TestEmit(t *testing.T) {
	var got []Event
	tests := []struct {
		name string
		fn   Func
		want int
	}{
		{"nil reports nothing", nil, 0},
		{"set receives the event", func(e Event) { got = append(got, e) }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			tt.fn.Emit(Event{Kind: Bytes, N: 7})
			if len(got) != tt.want {
				t.Fatalf("got %d events, want %d", len(got), tt.want)
			}
			if tt.want > 0 && (got[0].Kind != Bytes || got[0].N != 7) {
				t.Errorf("got %+v, want the event as emitted", got[0])
			}
		})
	}
}
