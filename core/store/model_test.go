package store

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"testing"
)

// FuzzNamespaceModel decodes the input into a sequence of Put, Delete,
// Batch and Scan calls on one namespace and checks every result against a
// map. Keys come from a tiny alphabet so that prefixes and start keys collide.
func FuzzNamespaceModel(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 0, 5, 6, 7, 3, 0, 0, 9})
	f.Add([]byte{2, 4, 0, 1, 0, 2, 1, 3, 3, 1, 2, 2})
	f.Add(bytes.Repeat([]byte{0, 7, 3, 1, 5, 2, 3, 0, 0, 1}, 8))
	f.Fuzz(func(t *testing.T, data []byte) {
		db := openTest(t)
		ns := mustNamespace(t, db, "model")
		model := map[string][]byte{}
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		alphabet := []byte{'a', 'b', 0x00, 0xff}
		key := func() []byte {
			n := 1 + int(next()%3)
			k := make([]byte, n)
			for i := range k {
				k[i] = alphabet[next()%4]
			}
			return k
		}
		for steps := 0; len(data) > 0 && steps < 64; steps++ {
			switch next() % 4 {
			case 0:
				k, v := key(), []byte{next()}
				if err := ns.Put(k, v); err != nil {
					t.Fatal(err)
				}
				model[string(k)] = v
			case 1:
				k := key()
				if err := ns.Delete(k); err != nil {
					t.Fatal(err)
				}
				delete(model, string(k))
			case 2:
				var ops []Op
				for range 1 + next()%4 {
					if next()%2 == 0 {
						ops = append(ops, PutOp(key(), []byte{next()}))
					} else {
						ops = append(ops, DeleteOp(key()))
					}
				}
				if next()%5 == 0 { // a bad op: nothing may change
					ops = append(ops, Op{Kind: OpDelete})
					if err := ns.Batch(ops); !errors.Is(err, ErrInvalidKey) {
						t.Fatalf("bad batch: %v", err)
					}
					break
				}
				if err := ns.Batch(ops); err != nil {
					t.Fatal(err)
				}
				for _, op := range ops {
					if op.Kind == OpPut {
						model[string(op.Key)] = op.Value
					} else {
						delete(model, string(op.Key))
					}
				}
			case 3:
				var prefix, after []byte
				if next()%2 == 0 {
					prefix = key()[:1]
				}
				if next()%2 == 0 {
					after = key()
				}
				limit := 1 + int(next()%5)
				got, more, err := ns.Scan(prefix, after, limit)
				if err != nil {
					t.Fatal(err)
				}
				var want []string
				for _, k := range slices.Sorted(maps.Keys(model)) {
					if bytes.HasPrefix([]byte(k), prefix) && (len(after) == 0 || k > string(after)) {
						want = append(want, k)
					}
				}
				wantMore := len(want) > limit
				if wantMore {
					want = want[:limit]
				}
				if len(got) != len(want) || more != wantMore {
					t.Fatalf("Scan(%x, %x, %d): %d pairs more=%v, want %d more=%v", prefix, after, limit, len(got), more, len(want), wantMore)
				}
				for i, kv := range got {
					if string(kv.Key) != want[i] || !bytes.Equal(kv.Value, model[want[i]]) {
						t.Fatalf("Scan pair %d = %x:%x, want %x:%x", i, kv.Key, kv.Value, want[i], model[want[i]])
					}
				}
			}
		}
		for k, v := range model {
			got, err := ns.Get([]byte(k))
			if err != nil || !bytes.Equal(got, v) {
				t.Fatalf("Get(%x) = %x, %v; want %x", k, got, err, v)
			}
		}
		if s, err := ns.Stats(); err != nil || s.Keys != int64(len(model)) {
			t.Fatalf("Stats = %+v, %v; model has %d keys", s, err, len(model))
		}
	})
}
