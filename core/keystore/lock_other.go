//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package keystore

import "errors"

// lockPath has no file lock to take here: hash-based keys, whose one-time
// indices must be taken in turn, are not supported on this platform.
func lockPath(string) (func(), error) {
	return nil, errors.New("hash-based keys need flock, which this platform lacks")
}
