package batch

import (
	"fmt"
	"runtime"
	"sync"

	fr "github.com/consensys/gnark-crypto/field/koalabear"

	"github.com/trellis-chain/trellis/protocol/account"
	"github.com/trellis-chain/trellis/protocol/hash"
	"github.com/trellis-chain/trellis/protocol/stark/airs"
	"github.com/trellis-chain/trellis/protocol/state"
)

// Leaf element positions (account.LeafInput, account.Globals.Leaf).
const (
	accBalance = 9  // 4 limbs
	accNonce   = 13 // 4 limbs
	accLocked  = 17 // 4 limbs
	gSupply    = 1  // 4 limbs
	gBurned    = 5  // 4 limbs
	gAccounts  = 9  // 2 halves
)

// prepared is a checked witness with everything the trace needs that is
// not computed row by row.
type prepared struct {
	ups     []Update
	old, nw []hash.Digest // leaf digests (old: zero when absent)
	roots   []hash.Digest // roots[i]: before update i; roots[n]: after the last
	chain   []hash.Digest // batch-hash chaining value before update i; chain[n]: the hash
	total   [][5]int64    // value-total limbs after update i (before update 0: old supply)
	carry   [][4]int64    // value-total carries of update i
	d       [][3]int64    // nonce carries (accounts) or supply/burned carries (globals)
	step    []uint64      // nonce step (accounts)
	ns      [4]int64      // new supply limbs
}

func witnessErr(i int, f string, a ...any) error {
	return fmt.Errorf("%w: update %d: %s", ErrWitness, i, fmt.Sprintf(f, a...))
}

// limbs reads 16-bit limbs at e[at:at+k] as an integer, failing if one is
// out of range.
func limbs(e []fr.Element, at, k int) (uint64, bool) {
	var v uint64
	for i := k - 1; i >= 0; i-- {
		l := e[at+i].Uint64()
		if l >= 1<<16 {
			return 0, false
		}
		v = v<<16 | l
	}
	return v, true
}

func limbArr(e []fr.Element, at int) [4]int64 {
	var l [4]int64
	for i := range l {
		l[i] = int64(e[at+i].Uint64())
	}
	return l
}

// checkShape checks the leaf sizes of one update, which the trace layout
// depends on. Loose (test) mode also accepts leaves that fill their last
// block, to build traces with nonzero padding.
func checkShape(i int, u *Update, strict bool) error {
	ok := func(l, want int, absentOK bool) bool {
		return l == want || absentOK && l == 0 || !strict && l == 8*hash.Blocks(want)
	}
	if i == 0 {
		if u.Index != uint32(account.GlobalsIndex) || !ok(len(u.Old), GlobalsLeafElements, false) || !ok(len(u.New), GlobalsLeafElements, false) {
			return witnessErr(i, "the first update must be the globals leaf (index 0, %d elements before and after)", GlobalsLeafElements)
		}
		return nil
	}
	if !ok(len(u.New), AccountLeafElements, false) || !ok(len(u.Old), AccountLeafElements, true) {
		return witnessErr(i, "account leaves have %d elements (old %d, new %d)", AccountLeafElements, len(u.Old), len(u.New))
	}
	return nil
}

// checkLeaf checks what the AIR checks of one update's leaves alone.
func checkLeaf(i int, u *Update) error {
	if i == 0 {
		for _, side := range []struct {
			name string
			e    []fr.Element
		}{{"old", u.Old}, {"new", u.New}} {
			if side.e[0].Uint64() != account.LeafGlobals {
				return witnessErr(i, "%s globals leaf has kind %d", side.name, side.e[0].Uint64())
			}
			for _, f := range []struct {
				name   string
				at, ln int
			}{{"supply", gSupply, 4}, {"burned", gBurned, 4}, {"accounts", gAccounts, 2}} {
				if _, ok := limbs(side.e, f.at, f.ln); !ok {
					return witnessErr(i, "%s globals %s has a limb of 16 bits or more", side.name, f.name)
				}
			}
		}
		return nil
	}
	if u.Index == uint32(account.GlobalsIndex) {
		return witnessErr(i, "an account update at the globals index 0")
	}
	if u.New[0].Uint64() != account.LeafAccount {
		return witnessErr(i, "new leaf of account %d has kind %d", u.Index, u.New[0].Uint64())
	}
	for _, f := range []struct {
		name string
		at   int
	}{{"balance", accBalance}, {"nonce", accNonce}, {"locked", accLocked}} {
		if _, ok := limbs(u.New, f.at, 4); !ok {
			return witnessErr(i, "new %s of account %d has a limb of 16 bits or more", f.name, u.Index)
		}
		if u.Old != nil {
			if _, ok := limbs(u.Old, f.at, 4); !ok {
				return witnessErr(i, "old %s of account %d has a limb of 16 bits or more (malformed old leaf)", f.name, u.Index)
			}
		}
	}
	if u.Old != nil {
		if u.Old[0].Uint64() != account.LeafAccount {
			return witnessErr(i, "old leaf of account %d has kind %d", u.Index, u.Old[0].Uint64())
		}
		for j := 1; j <= 8; j++ {
			if u.Old[j] != u.New[j] {
				return witnessErr(i, "account %d changes its address digest", u.Index)
			}
		}
	}
	return nil
}

// prepare checks w against pub (every constraint family, in Go) and
// computes what the trace needs. With strict false it checks only the
// shapes, roots and batch hash (tests use it to build traces of witnesses
// that break the other rules, which the AIR must then reject).
func prepare(pub Public, w *Witness, strict bool) (*prepared, error) {
	if err := pub.check(); err != nil {
		return nil, err
	}
	if w == nil || len(w.Updates) != int(pub.Updates) {
		got := 0
		if w != nil {
			got = len(w.Updates)
		}
		return nil, fmt.Errorf("%w: %d updates, the public inputs say %d", ErrWitness, got, pub.Updates)
	}
	n := len(w.Updates)
	pp := &prepared{ups: w.Updates, total: make([][5]int64, n+1), carry: make([][4]int64, n),
		d: make([][3]int64, n), step: make([]uint64, n)}
	for i := range pp.ups {
		if err := checkShape(i, &pp.ups[i], strict); err != nil {
			return nil, err
		}
		if !strict {
			continue
		}
		if err := checkLeaf(i, &pp.ups[i]); err != nil {
			return nil, err
		}
	}
	// Supply + burned conserved (globals), value total, nonces.
	g := &pp.ups[0]
	oS, oB, nS, nB := limbArr(g.Old, gSupply), limbArr(g.Old, gBurned), limbArr(g.New, gSupply), limbArr(g.New, gBurned)
	var dc int64
	for k := range 4 {
		e := nS[k] + nB[k] - oS[k] - oB[k] + dc
		if strict && (e%(1<<16) != 0 || k == 3 && e != 0) {
			return nil, witnessErr(0, "supply + burned changes (supply %d→%d, burned %d→%d)", val(oS), val(nS), val(oB), val(nB))
		}
		dc = e >> 16
		if k < 3 {
			pp.d[0][k] = dc
		}
	}
	copy(pp.total[0][:4], oS[:])
	copy(pp.ns[:], nS[:])
	for i := 1; i < n; i++ {
		u := &pp.ups[i]
		nb, nl := limbArr(u.New, accBalance), limbArr(u.New, accLocked)
		var ob, ol, on [4]int64
		if u.Old != nil {
			ob, ol, on = limbArr(u.Old, accBalance), limbArr(u.Old, accLocked), limbArr(u.Old, accNonce)
		}
		t := pp.total[i-1]
		var c int64
		for k := range 4 {
			x := t[k] + nb[k] + nl[k] - ob[k] - ol[k] + c
			c = x >> 16 // floor division
			t[k] = x - c<<16
			pp.carry[i][k] = c
		}
		t[4] += c
		if strict && (t[4] < 0 || t[4] > 1) {
			return nil, witnessErr(i, "the running value total leaves [0, 2^65) at account %d (value not conserved)", u.Index)
		}
		pp.total[i] = t
		nn := limbArr(u.New, accNonce)
		oldN, newN := val(on), val(nn)
		if strict && (newN < oldN || newN-oldN >= 1<<16) {
			return nil, witnessErr(i, "nonce of account %d goes from %d to %d (must step forward by less than 2^16)", u.Index, oldN, newN)
		}
		pp.step[i] = newN - oldN
		cin := int64(pp.step[i])
		for k := range 3 {
			x := on[k] + cin - nn[k]
			cin = x >> 16
			pp.d[i][k] = cin
		}
	}
	last := pp.total[n-1]
	if strict && last != [5]int64{nS[0], nS[1], nS[2], nS[3], 0} {
		return nil, fmt.Errorf("%w: value not conserved: supply %d + the changed accounts' Δ(balance + locked) gives %d (+%d·2^64), the new supply is %d",
			ErrWitness, val(oS), val([4]int64(last[:4])), last[4], val(nS))
	}
	// Digests, roots, batch hash.
	pp.old, pp.nw = leafDigests(pp.ups)
	oldRoot, newRoot := pathRoots(pp.ups, pp.old, pp.nw)
	pp.roots = make([]hash.Digest, n+1)
	pp.roots[0] = pub.OldRoot
	for i := range n {
		if oldRoot[i] != pp.roots[i] {
			what := "the previous update's new root"
			if i == 0 {
				what = "the public old root"
			}
			return nil, witnessErr(i, "old leaf of index %d with its siblings gives root %s, not %s", pp.ups[i].Index, oldRoot[i], what)
		}
		pp.roots[i+1] = newRoot[i]
	}
	if pp.roots[n] != pub.NewRoot {
		return nil, fmt.Errorf("%w: the updates end at root %s, the public new root is %s", ErrWitness, pp.roots[n], pub.NewRoot)
	}
	h, chain := batchHash(pp.ups, pp.old, pp.nw)
	if h != pub.BatchHash {
		return nil, fmt.Errorf("%w: the updates' batch hash is %s, the public one %s", ErrWitness, h, pub.BatchHash)
	}
	pp.chain = append(chain, h)
	return pp, nil
}

func val(l [4]int64) uint64 {
	return uint64(l[0]) | uint64(l[1])<<16 | uint64(l[2])<<32 | uint64(l[3])<<48
}

// pathRoots returns, for every update, the root its old and its new leaf
// digest give with its siblings, one tree level at a time through the
// 16-lane kernel.
func pathRoots(ups []Update, old, nw []hash.Digest) (oldRoot, newRoot []hash.Digest) {
	n := len(ups)
	cur := make([]hash.Digest, 2*n)
	copy(cur, old)
	copy(cur[n:], nw)
	left := make([]hash.Digest, 2*n)
	right := make([]hash.Digest, 2*n)
	workers := 0
	if n < 128 {
		workers = 1
	}
	for l := range state.Depth {
		for i := range 2 * n {
			u := &ups[i%n]
			if u.Index>>l&1 == 0 {
				left[i], right[i] = cur[i], u.Siblings[l]
			} else {
				left[i], right[i] = u.Siblings[l], cur[i]
			}
		}
		cur = hash.CompressMany(left, right, workers)
	}
	return cur[:n], cur[n:]
}

func fe(v int64) fr.Element {
	var e fr.Element
	if v < 0 {
		e.SetUint64(uint64(-v))
		e.Neg(&e)
		return e
	}
	e.SetUint64(uint64(v))
	return e
}

// updateOffset returns the first row of update i.
func updateOffset(i int) int {
	if i == 0 {
		return 0
	}
	return globalsRows + accountRows*(i-1)
}

// fillTrace writes the trace of a prepared witness, updates in parallel.
// Each worker fills an update's rows row-major in a scratch block and then
// copies them column by column, so the column-major writes stay sequential.
func fillTrace(pp *prepared, n int) [][]fr.Element {
	// Columns are spaced by n plus a cache line, so that the same row of
	// different columns does not map to the same cache set.
	stride := n + 16
	backing := make([]fr.Element, width*stride)
	cols := make([][]fr.Element, width)
	for c := range cols {
		cols[c] = backing[c*stride : c*stride+n : c*stride+n]
	}
	nu := len(pp.ups)
	used := updateOffset(nu)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	next := make(chan int, workers)
	go func() {
		for i := range nu {
			next <- i
		}
		close(next)
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			block := make([]fr.Element, accountRows*width)
			for i := range next {
				r0 := updateOffset(i)
				rows := updateOffset(i+1) - r0
				k := 0
				fillUpdate(pp, i, func() []fr.Element { k++; return block[(k-1)*width : k*width] })
				for c := range width {
					col := cols[c][r0 : r0+rows]
					for r := range col {
						col[r] = block[r*width+c]
					}
				}
			}
		}()
	}
	wg.Wait()
	// Padding: zero permutations, registers at their final values.
	row := make([]fr.Element, width)
	airs.FillPermutation([16]fr.Element{}, row[colA:])
	airs.FillPermutation([16]fr.Element{}, row[colB:])
	for c := colKG; c < colBit; c++ {
		row[c] = cols[c][used-1]
	}
	for c := colC; c < colD+3; c++ {
		row[c] = fr.Element{}
	}
	for j := range 8 {
		row[colR+j] = pp.roots[nu][j]
		row[colHc+j] = pp.chain[nu][j]
	}
	for k := range 5 {
		row[colS+k] = fe(pp.total[nu-1][k])
	}
	parallelCols(workers, func(c int) {
		col := cols[c][used:]
		for r := range col {
			col[r] = row[c]
		}
	})
	return cols
}

func parallelCols(workers int, f func(c int)) {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := w; c < width; c += workers {
				f(c)
			}
		}()
	}
	wg.Wait()
}

// fillUpdate writes the rows of update i, each into the slice nextRow
// returns (width elements, overwritten).
func fillUpdate(pp *prepared, i int, nextRow func() []fr.Element) {
	u := &pp.ups[i]
	var row []fr.Element
	kG, abs := i == 0, u.Old == nil
	blocks := 4
	if kG {
		blocks = 2
	}
	oldIn := make([]fr.Element, 8*blocks)
	newIn := make([]fr.Element, 8*blocks)
	copy(oldIn, u.Old)
	copy(newIn, u.New)
	// Range-check register values.
	var vals [numV]uint64
	if kG {
		for j := range 12 {
			vals[j] = newIn[1+j].Uint64()
		}
	} else {
		for j := range 12 {
			vals[j] = newIn[accBalance+j].Uint64()
		}
		vals[vNonceK] = pp.step[i]
	}
	before, after := pp.total[max(i-1, 0)], pp.total[i]
	if kG {
		before = pp.total[0]
	}
	var one, half fr.Element
	one.SetOne()
	half = fHalf
	// common sets the registers every row of the update has.
	common := func(sel int, pathHalf bool, total [5]int64) {
		row = nextRow()
		clear(row)
		row[sel].SetOne()
		if kG {
			row[colKG].SetOne()
		}
		if abs {
			row[colAbs].SetOne()
		}
		if !kG && !abs {
			row[colKAP].SetOne()
		}
		row[colIdx].SetUint64(uint64(u.Index & 0xffff))
		row[colIdx+1].SetUint64(uint64(u.Index >> 16))
		hc := pp.chain[i]
		if pathHalf {
			hc = pp.chain[i+1]
		}
		for j := range 8 {
			row[colR+j] = pp.roots[i][j]
			row[colHc+j] = hc[j]
		}
		for k := range 4 {
			row[colNS+k] = fe(pp.ns[k])
		}
		for k := range 5 {
			row[colS+k] = fe(total[k])
		}
	}
	setVals := func() {
		for j := range numV {
			row[colV+j].SetUint64(vals[j])
		}
	}
	compress := func(lane int, l, rt hash.Digest) hash.Digest {
		var in [16]fr.Element
		copy(in[:8], l[:])
		copy(in[8:], rt[:])
		out := airs.FillPermutation(in, row[lane:lane+airs.PermColumns])
		var d hash.Digest
		for j := range 8 {
			d[j].Add(&out[8+j], &rt[j])
		}
		return d
	}
	// Leaf rows.
	ivA := hash.IV(hash.TagLeaf, AccountLeafElements)
	if kG {
		ivA = hash.IV(hash.TagLeaf, GlobalsLeafElements)
	}
	ca, cb := ivA, ivA
	for b := range blocks {
		total := before
		if b >= 2 {
			total = after
		}
		common(sL0+b, false, total)
		setVals()
		var ob, nb hash.Digest
		copy(ob[:], oldIn[8*b:])
		copy(nb[:], newIn[8*b:])
		ca = compress(colA, ca, ob)
		cb = compress(colB, cb, nb)
		switch {
		case kG && b == 0:
			for k := range 3 {
				row[colD+k] = fe(pp.d[i][k])
			}
		case !kG && b == 1:
			for k := range 4 {
				c := pp.carry[i][k]
				c1 := max(min(c, 1), -1)
				row[colC+2*k] = fe(c1)
				row[colC+2*k+1] = fe(c - c1)
			}
			for k := range 3 {
				row[colD+k] = fe(pp.d[i][k])
			}
		}
	}
	// H0, H1.
	common(sH0, false, after)
	setVals()
	a := compress(colA, pp.chain[i], pp.old[i])
	bres := compress(colB, a, pp.nw[i])
	common(sH1, false, after)
	setVals()
	compress(colA, bres, indexBlock(u.Index))
	compress(colB, pp.old[i], pp.nw[i])
	row[colPow] = half
	// Path rows.
	curA, curB := pp.old[i], pp.nw[i]
	var acc uint64
	for l := range state.Depth {
		sel := sP
		if l >= 16 {
			sel = sQ
		}
		common(sel, true, after)
		lv := l % 16
		if lv == 0 {
			acc = 0
		}
		bit := uint64(u.Index>>l) & 1
		acc += bit << lv
		row[colBit].SetUint64(bit)
		row[colPow].SetUint64(1 << lv)
		row[colAcc].SetUint64(acc)
		for j := range numV {
			var v uint64
			switch {
			case l < 16:
				v = vals[j] >> lv
			case j < 4:
				v = uint64(after[j]) >> lv
			}
			row[colV+j].SetUint64(v)
			row[colBV+j].SetUint64(v & 1)
		}
		sib := u.Siblings[l]
		if bit == 0 {
			curA = compress(colA, curA, sib)
			curB = compress(colB, curB, sib)
		} else {
			curA = compress(colA, sib, curA)
			curB = compress(colB, sib, curB)
		}
	}
	_ = one
}
