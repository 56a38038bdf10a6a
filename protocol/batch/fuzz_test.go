package batch_test

import (
	"encoding/binary"
	"testing"

	fr "github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/batch"
	"github.com/trellis-chain/trellis/protocol/state"
)

func seedPublic() batch.Public {
	var p batch.Public
	p.OldRoot[0].SetUint64(1)
	p.NewRoot[7].SetUint64(12345)
	p.BatchHash[3].SetUint64(99)
	p.Updates = 3
	return p
}

func FuzzDecodePublic(f *testing.F) {
	f.Add(seedPublic().Encode())
	f.Add(make([]byte, batch.PublicSize))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := batch.DecodePublic(b)
		if err != nil {
			return
		}
		if string(p.Encode()) != string(b) {
			t.Fatal("DecodePublic accepted a non-canonical encoding")
		}
	})
}

func FuzzDecodeWitness(f *testing.F) {
	w := &batch.Witness{Updates: []batch.Update{{Index: 0, Old: make([]fr.Element, 11), New: make([]fr.Element, 11)}, {Index: 5, New: make([]fr.Element, 29)}}}
	w.Updates[1].Siblings[3][2].SetUint64(7)
	f.Add(w.Encode())
	f.Add([]byte{1, 1, 0, 0, 0})
	f.Add(binary.LittleEndian.AppendUint32([]byte{1}, batch.MaxUpdates))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := batch.DecodeWitness(b)
		if err != nil {
			return
		}
		if string(w.Encode()) != string(b) {
			t.Fatal("DecodeWitness accepted a non-canonical encoding")
		}
		if len(w.Updates) < 1 || len(w.Updates) > batch.MaxUpdates || len(w.Updates[0].Siblings) != state.Depth {
			t.Fatal("bad witness shape accepted")
		}
	})
}

func FuzzDecodeFile(f *testing.F) {
	f.Add((&batch.File{Public: seedPublic(), Proof: []byte("TSTK\x01")}).Encode())
	f.Add((&batch.File{Public: seedPublic()}).Encode())
	f.Add([]byte("TPRF"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fl, err := batch.DecodeFile(b)
		if err != nil {
			return
		}
		if string(fl.Encode()) != string(b) {
			t.Fatal("DecodeFile accepted a non-canonical encoding")
		}
	})
}
