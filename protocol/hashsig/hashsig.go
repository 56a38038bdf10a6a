package hashsig

import (
	"errors"
	"fmt"

	fr "github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/hash"
)

// Scheme parameters. Changing any of them is a new scheme.
const (
	// Chains is the number of Winternitz chains of a one-time key.
	Chains = 64
	// ChainLen is the number of positions of a chain (base w = 8).
	ChainLen = 8
	// TargetSum is the sum of the positions of every valid encoding: half
	// the maximum, the most likely sum (about 1 in 46 encodings hits it).
	TargetSum = Chains * (ChainLen - 1) / 2
	// VerifySteps is how many chain steps every verification walks.
	VerifySteps = Chains*(ChainLen-1) - TargetSum
	// MaxRho bounds the signer's search for an encoding that hits the
	// target sum; failing 2^20 tries has probability below 2^-32000.
	MaxRho = 1 << 20
)

// Lifetimes: a key has 2^LogLifetime one-time keys.
const (
	MinLogLifetime     = 2
	MaxLogLifetime     = 20
	DefaultLogLifetime = 16
)

// Sentinel errors.
var (
	ErrParams    = errors.New("hashsig: invalid parameters")
	ErrEncoding  = errors.New("hashsig: malformed encoding")
	ErrSignature = errors.New("hashsig: signature does not verify")
)

// PublicKey is a key's tree root with the public parameter its tweaks use.
type PublicKey struct {
	LogLifetime int
	Param       hash.Digest
	Root        hash.Digest
}

// Signature is a one-time signature at Index with its Merkle path.
type Signature struct {
	Index  uint32
	Rho    uint32 // the encoding's randomizer: the first that hits TargetSum
	Chains [Chains]hash.Digest
	Path   []hash.Digest // LogLifetime siblings, leaf level first
}

// Address is the account address of a hash-based public key (its own tag,
// so it never equals an ed25519 key's address).
func (p PublicKey) Address() account.Address {
	in := make([]fr.Element, 0, 17)
	in = append(in, fr.NewElement(uint64(p.LogLifetime)))
	in = append(in, p.Param[:]...)
	in = append(in, p.Root[:]...)
	return account.Address(hash.HashWithTag(hash.TagSigAddress, in).Bytes())
}

func checkLifetime(h int) error {
	if h < MinLogLifetime || h > MaxLogLifetime {
		return fmt.Errorf("%w: log lifetime %d not in [%d, %d]", ErrParams, h, MinLogLifetime, MaxLogLifetime)
	}
	return nil
}

// tweak is the right input of chain i's step from position j at index.
func tweak(param hash.Digest, index uint32, i, j int) hash.Digest {
	var t hash.Digest
	copy(t[:5], param[:5])
	t[5].SetUint64(uint64(index))
	t[6].SetUint64(uint64(i*ChainLen + j))
	t[7].SetUint64(uint64(hash.TagSigChain))
	return t
}

// secretBlock is the right input deriving chain i's start at index.
func secretBlock(index uint32, i int) hash.Digest {
	var t hash.Digest
	t[0].SetUint64(uint64(hash.TagSigSecret))
	t[1].SetUint64(uint64(index))
	t[2].SetUint64(uint64(i))
	return t
}

// walk advances c from position from to position to on chain i.
func walk(c hash.Digest, param hash.Digest, index uint32, i, from, to int) hash.Digest {
	for j := from; j < to; j++ {
		c = hash.Compress(c, tweak(param, index, i, j))
	}
	return c
}

// leafInput is what a one-time key's leaf hashes: the parameter's tweak
// part and the index, then the chain ends.
func leafInput(param hash.Digest, index uint32, ends []hash.Digest) []fr.Element {
	in := make([]fr.Element, 8, 8+Chains*hash.DigestElements)
	copy(in[:5], param[:5])
	in[5].SetUint64(uint64(index))
	for i := range ends {
		in = append(in, ends[i][:]...)
	}
	return in
}

// encode maps a message to chain positions; ok is false unless they sum to
// TargetSum. Each of the 8 digest elements gives 8 positions from its low
// 24 bits (p = 127·2^24 + 1, so those bits are uniform to within 1/127).
func encode(param hash.Digest, rho, index uint32, msg hash.Digest) (x [Chains]uint8, ok bool) {
	return positions(hash.HashWithTag(hash.TagSigMsg, encodeInput(param, rho, index, msg)))
}

// encodeInput is what the message encoding hashes.
func encodeInput(param hash.Digest, rho, index uint32, msg hash.Digest) []fr.Element {
	in := make([]fr.Element, 0, 18)
	in = append(in, param[:]...)
	in = append(in, fr.NewElement(uint64(rho)), fr.NewElement(uint64(index)))
	return append(in, msg[:]...)
}

// positions reads the chain positions from the encoding's digest; ok is
// false unless they sum to TargetSum.
func positions(d hash.Digest) (x [Chains]uint8, ok bool) {
	sum := 0
	for k := range d {
		v := d[k].Uint64() & (1<<24 - 1)
		for t := range 8 {
			x[8*k+t] = uint8(v >> (3 * t) & 7)
			sum += int(x[8*k+t])
		}
	}
	return x, sum == TargetSum
}

// checkShape runs the checks that need no hashing.
func checkShape(pub PublicKey, sig *Signature) error {
	if err := checkLifetime(pub.LogLifetime); err != nil {
		return err
	}
	if sig == nil {
		return fmt.Errorf("%w: no signature", ErrSignature)
	}
	if len(sig.Path) != pub.LogLifetime {
		return fmt.Errorf("%w: path of %d nodes, the key's tree has %d levels", ErrSignature, len(sig.Path), pub.LogLifetime)
	}
	if uint64(sig.Index) >= 1<<pub.LogLifetime {
		return fmt.Errorf("%w: index %d beyond the key's 2^%d one-time keys", ErrSignature, sig.Index, pub.LogLifetime)
	}
	if sig.Rho >= MaxRho {
		return fmt.Errorf("%w: randomizer %d not below %d", ErrSignature, sig.Rho, MaxRho)
	}
	return nil
}

// Verify checks sig on msg under pub. The error wraps ErrParams or
// ErrSignature and says which check failed.
func Verify(pub PublicKey, msg hash.Digest, sig *Signature) error {
	return VerifyMany([]Item{{Key: pub, Msg: msg, Sig: sig}}, 1)[0]
}
