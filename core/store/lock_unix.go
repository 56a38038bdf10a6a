//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package store

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// preLock reports whether Open takes the file lock itself (and so can check
// the file before bbolt maps it). bbolt locks with flock on these systems;
// flock belongs to the open file description, so bbolt's own flock on the
// same *os.File, handed to it through Options.OpenFile, succeeds at once.
const preLock = true

var errLockTimeout = errors.New("lock timeout")

// lockFile takes an exclusive (or shared) flock on f, retrying every 50 ms
// until timeout; timeout <= 0 tries once.
func lockFile(f *os.File, exclusive bool, timeout time.Duration) error {
	how := syscall.LOCK_NB | syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_NB | syscall.LOCK_EX
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), how)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case !errors.Is(err, syscall.EWOULDBLOCK):
			return err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return errLockTimeout
		}
		time.Sleep(min(left, 50*time.Millisecond))
	}
}
