//go:build !unix

package bundle

// openPartFlags and openFollowFlags add nothing where O_NOFOLLOW and
// O_NONBLOCK do not exist; openRegular's Lstat before opening and fstat
// after it still refuse links, pipes and devices.
const (
	openPartFlags   = 0
	openFollowFlags = 0
)
