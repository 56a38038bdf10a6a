package tx

import (
	"bytes"
	"testing"
)

// FuzzDecode checks that Decode never panics on any input and that whatever
// it accepts is canonical: encoding the decoded fields afresh gives back the
// input exactly, and the cached hash and sender agree with a fresh Tx's.
func FuzzDecode(f *testing.F) {
	hs := hashSigned(f, Transfer{To: addr(2), Amount: 1}, 1).Encode()
	f.Add(hs)
	f.Add(hs[:len(hs)-40])
	for _, b := range bodies() {
		enc := signed(b).Encode()
		f.Add(enc)
		f.Add(enc[:len(enc)-1])                       // truncated
		f.Add(append(append([]byte(nil), enc...), 0)) // trailing byte
		f.Add(append([]byte{enc[0], 16}, enc[2:]...)) // reserved type
		f.Add(append([]byte{2}, enc[1:]...))          // version
		bad := append([]byte(nil), enc...)
		copy(bad[bodyOffset(testChain):], badModulusWord) // bad address word (bond: amount)
		f.Add(bad)
		f.Add(append([]byte{enc[0], enc[1], 65}, enc[3:]...)) // chain id length
		f.Add(append([]byte{enc[0], enc[1], 0}, enc[3:]...))  // chain id length 0
	}
	f.Add([]byte{})
	f.Add([]byte{1, 1, 1, ' '})
	f.Add([]byte{1, byte(TypeProverExit), 1, 'c'})
	f.Add([]byte{1, byte(TypeProof), 1, 'c'})
	f.Add([]byte{1, byte(TypeProverRegister), 1, 'c'})
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := Decode(b)
		if err != nil {
			if tx != nil {
				t.Fatalf("Decode returned a transaction with error %v", err)
			}
			return
		}
		if !bytes.Equal(tx.Encode(), b) {
			t.Fatalf("Encode of the decoded transaction differs from the input\n in %x\nout %x", b, tx.Encode())
		}
		fresh := fields(tx)
		if !bytes.Equal(fresh.Encode(), b) {
			t.Fatalf("encoding the decoded fields differs from the input\n in %x\nout %x", b, fresh.Encode())
		}
		if fresh.Hash() != tx.Hash() || fresh.Sender() != tx.Sender() || tx.Size() != len(b) {
			t.Fatal("cached hash, sender or size differ from a fresh computation")
		}
		// The stateless check must not panic either; its verdict is
		// whatever the signature says.
		_ = tx.CheckStateless(tx.ChainID)
	})
}
