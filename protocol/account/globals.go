package account

import (
	"encoding/binary"
	"fmt"

	"github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/hash"
)

// Globals is the ledger-wide record at GlobalsIndex. Committing it in the
// tree puts total supply and the account count under the state root.
type Globals struct {
	// Supply is every token in existence: balances, bonds, delegations,
	// unbonding entries and the escrow. Only burns and slashes lower it.
	Supply uint64
	// Burned counts tokens destroyed by fees and slashing since genesis.
	Burned uint64
	// Accounts is the next free index: the number of assigned leaves.
	Accounts uint32
}

const globalsVersion = 1

// GlobalsSize is the length of an encoded Globals record.
const GlobalsSize = 1 + 8 + 8 + 4

// Encode returns the canonical encoding.
func (g Globals) Encode() []byte {
	b := make([]byte, 0, GlobalsSize)
	b = append(b, globalsVersion)
	b = binary.BigEndian.AppendUint64(b, g.Supply)
	b = binary.BigEndian.AppendUint64(b, g.Burned)
	return binary.BigEndian.AppendUint32(b, g.Accounts)
}

// DecodeGlobals parses an encoded Globals record.
func DecodeGlobals(b []byte) (Globals, error) {
	if len(b) != GlobalsSize || b[0] != globalsVersion {
		return Globals{}, fmt.Errorf("%w: globals record of %d bytes (version %d), want %d bytes of version %d",
			ErrRecord, len(b), firstByte(b), GlobalsSize, globalsVersion)
	}
	return Globals{
		Supply:   binary.BigEndian.Uint64(b[1:]),
		Burned:   binary.BigEndian.Uint64(b[9:]),
		Accounts: binary.BigEndian.Uint32(b[17:]),
	}, nil
}

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}

// Leaf returns the globals leaf: [kind=2, supply (4), burned (4), accounts (2)].
func (g Globals) Leaf() hash.Digest {
	var e [11]koalabear.Element
	e[0].SetUint64(LeafGlobals)
	s, b := Limbs(g.Supply), Limbs(g.Burned)
	copy(e[1:5], s[:])
	copy(e[5:9], b[:])
	e[9].SetUint64(uint64(g.Accounts & 0xffff))
	e[10].SetUint64(uint64(g.Accounts >> 16))
	return hash.HashLeaf(e[:])
}
