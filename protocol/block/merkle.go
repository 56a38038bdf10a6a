package block

import "crypto/sha256"

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

// MerkleRoot returns the root over leaves (hashed with a 0x00 prefix; inner
// nodes with 0x01, as RFC 6962). The root of no leaves is SHA-256 of "".
func MerkleRoot(leaves [][32]byte) [32]byte {
	if len(leaves) == 0 {
		return sha256.Sum256(nil)
	}
	level := make([][32]byte, len(leaves))
	var buf [1 + 64]byte
	for i, l := range leaves {
		buf[0] = 0
		copy(buf[1:], l[:])
		level[i] = sha256.Sum256(buf[:33])
	}
	return merkleLevels(level)
}

// merkleLevels folds the levels; an odd last node is carried up unchanged.
func merkleLevels(level [][32]byte) [32]byte {
	var buf [1 + 64]byte
	buf[0] = 1
	for len(level) > 1 {
		next := make([][32]byte, 0, (len(level)+1)/2)
		for i := 0; i+1 < len(level); i += 2 {
			copy(buf[1:], level[i][:])
			copy(buf[33:], level[i+1][:])
			next = append(next, sha256.Sum256(buf[:]))
		}
		if len(level)%2 == 1 {
			next = append(next, level[len(level)-1])
		}
		level = next
	}
	return level[0]
}
