package mirror

import "sync/atomic"

// loadStats are the counters behind LoadResult.
type loadStats struct {
	blobsPushed, blobsSkipped, blobsMounted, uploadsResumed atomic.Int64
	bytesPushed, bytesSkipped, bytesMounted, bytesResumed   atomic.Int64
	manifestsPushed, manifestsSkipped, tagsPushed, tagsSkip atomic.Int64
}

func (s *loadStats) fill(r *LoadResult) {
	r.BlobsPushed, r.BlobsSkipped, r.BlobsMounted = int(s.blobsPushed.Load()), int(s.blobsSkipped.Load()), int(s.blobsMounted.Load())
	r.BytesPushed, r.BytesSkipped, r.BytesMounted, r.BytesResumed = s.bytesPushed.Load(), s.bytesSkipped.Load(), s.bytesMounted.Load(), s.bytesResumed.Load()
	r.UploadsResumed = int(s.uploadsResumed.Load())
	r.ManifestsPushed, r.ManifestsSkipped = int(s.manifestsPushed.Load()), int(s.manifestsSkipped.Load())
	r.TagsPushed, r.TagsSkipped = int(s.tagsPushed.Load()), int(s.tagsSkip.Load())
}
