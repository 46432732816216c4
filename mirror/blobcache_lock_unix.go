//go:build unix

package mirror

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive, non-blocking lock on f (released when f is
// closed); false when another process holds it.
func lockFile(f *os.File) bool {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}
