package bundle

import ocispec "github.com/opencontainers/image-spec/specs-go/v1"

// EventKind says what an Event reports.
type EventKind int

// Event kinds.
const (
	// EventFileWritten: a metadata file (AddFile) was written.
	EventFileWritten EventKind = iota + 1
	// EventBlobProgress: Done of Total bytes of a blob were streamed
	// (written by Push, or hashed by Verify).
	EventBlobProgress
	// EventBlobWritten: Push stored a blob completely and verified it.
	EventBlobWritten
	// EventBlobVerified: Verify hashed a blob; Err is set when it failed.
	EventBlobVerified
	// EventPartVerified: VerifyParts hashed a split part; Err is set when it
	// failed.
	EventPartVerified
)

// Event is a progress report passed to an optional Progress callback. The
// callback must not block; it is never called concurrently by one Writer or
// one Verify run.
type Event struct {
	Kind EventKind
	// Name is the tar entry name (or the part file name).
	Name string
	// Descriptor describes the blob, for blob events.
	Descriptor ocispec.Descriptor
	// Done and Total count bytes of this entry.
	Done, Total int64
	// Err is the failure, for verify events.
	Err error
}

func emit(fn func(Event), e Event) {
	if fn != nil {
		fn(e)
	}
}
