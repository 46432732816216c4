//go:build !unix

package mirror

import "os"

// lockFile cannot lock here, so partial copies are not shared: a blob is
// cached only once complete (BlobCache.lookup still applies).
func lockFile(*os.File) bool { return false }
