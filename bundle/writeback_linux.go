package bundle

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing [off, off+n) of f to disk
// now, without waiting (sync_file_range SYNC_FILE_RANGE_WRITE). Without it a
// machine with plenty of RAM keeps a whole bundle dirty in the page cache
// until Commit's fsync, which then waits for all of it; with it the disk
// works while the pipeline is still pulling, and fsync waits for the tail
// only. Errors are ignored: fsync at Commit still guarantees durability.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
