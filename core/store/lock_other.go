//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package store

import (
	"errors"
	"os"
	"time"
)

// preLock is false here: bbolt takes the lock itself (with its timeout) and
// the file is not prechecked before bbolt maps it.
const preLock = false

var errLockTimeout = errors.New("lock timeout")

func lockFile(*os.File, bool, time.Duration) error {
	return errors.New("store: no pre-lock on this platform")
}
