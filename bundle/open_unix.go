//go:build unix

package bundle

import "syscall"

// openPartFlags make opening a part fail on a symbolic link (ELOOP) instead
// of following it, and return at once on a FIFO instead of waiting for a
// writer; openRegular then refuses anything but a regular file.
const openPartFlags = syscall.O_NOFOLLOW | syscall.O_NONBLOCK

// openFollowFlags are openPartFlags for a path the user named, which may be
// a link: only the FIFO protection remains.
const openFollowFlags = syscall.O_NONBLOCK
