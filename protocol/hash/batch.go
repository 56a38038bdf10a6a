package hash

import (
	"runtime"
	"sync"

	"github.com/consensys/gnark-crypto/field/koalabear"
)

// lanes is the width of gnark-crypto's batched compression kernel.
const lanes = 16

// Workers returns n if positive, else the number of CPUs.
func Workers(n int) int {
	if n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

// parallel runs f over [0, n) split into contiguous chunks of whole groups of
// `align` items, on up to workers goroutines. Outputs are written by index, so
// results never depend on scheduling.
func parallel(n, align, workers int, f func(lo, hi int)) {
	groups := (n + align - 1) / align
	workers = min(Workers(workers), max(groups, 1))
	if workers <= 1 {
		f(0, n)
		return
	}
	per := (groups + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*per*align, min((w+1)*per*align, n)
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() { defer wg.Done(); f(lo, hi) }()
	}
	wg.Wait()
}

// HashRows returns HashWithTag(tag, row i) for every row i of the
// column-major matrix cols (all columns of equal length), using the 16-lane
// kernel on up to `workers` goroutines (0: all CPUs). The result equals the
// scalar HashWithTag on each row, whatever the worker count.
func HashRows(tag Tag, cols [][]koalabear.Element, workers int) []Digest {
	if len(cols) == 0 {
		return nil
	}
	n := len(cols[0])
	out := make([]Digest, n)
	w := len(cols)
	colSize := Blocks(w) * Rate
	iv := IV(tag, w)
	parallel(n, lanes, workers, func(lo, hi int) {
		matrix := make([]koalabear.Element, lanes*colSize)
		state := make([]koalabear.Element, lanes*Rate)
		for pos := range Rate {
			for l := range lanes {
				state[pos*lanes+l] = iv[pos]
			}
		}
		var res [lanes][8]koalabear.Element
		for r := lo; r < hi; r += lanes {
			cnt := min(lanes, hi-r)
			if cnt < lanes {
				clear(matrix)
			}
			for c := range w {
				copy(matrix[c*lanes:c*lanes+cnt], cols[c][r:r+cnt])
			}
			perm.Compressx16ColumnsWithState(state, matrix, colSize, res[:])
			for l := range cnt {
				out[r+l] = Digest(res[l])
			}
		}
	})
	return out
}

// CompressLevel returns out[i] = Compress(in[2i], in[2i+1]): one level of a
// Merkle tree, using the 16-lane kernel on up to `workers` goroutines.
func CompressLevel(in []Digest, workers int) []Digest {
	n := len(in) / 2
	out := make([]Digest, n)
	parallel(n, lanes, workers, func(lo, hi int) {
		var state, matrix [lanes * Rate]koalabear.Element
		var res [lanes][8]koalabear.Element
		for i := lo; i < hi; i += lanes {
			cnt := min(lanes, hi-i)
			if cnt < lanes {
				for l := cnt; l < lanes; l++ {
					for p := range Rate {
						state[p*lanes+l] = koalabear.Element{}
						matrix[p*lanes+l] = koalabear.Element{}
					}
				}
			}
			for l := range cnt {
				left, right := &in[2*(i+l)], &in[2*(i+l)+1]
				for p := range Rate {
					state[p*lanes+l] = left[p]
					matrix[p*lanes+l] = right[p]
				}
			}
			perm.Compressx16ColumnsWithState(state[:], matrix[:], Rate, res[:])
			for l := range cnt {
				out[i+l] = Digest(res[l])
			}
		}
	})
	return out
}

// HashMany returns HashWithTag(tag, inputs[i]) for every input. Runs of 16
// consecutive inputs of equal length (the usual case: ledger leaves have a
// fixed size) go through the 16-lane kernel; others are hashed one by one.
func HashMany(tag Tag, inputs [][]koalabear.Element, workers int) []Digest {
	out := make([]Digest, len(inputs))
	parallel(len(inputs), lanes, workers, func(lo, hi int) {
		var matrix []koalabear.Element
		var state [lanes * Rate]koalabear.Element
		var res [lanes][8]koalabear.Element
		for i := lo; i < hi; i += lanes {
			cnt := min(lanes, hi-i)
			w := len(inputs[i])
			same := cnt == lanes
			for l := 1; l < cnt && same; l++ {
				same = len(inputs[i+l]) == w
			}
			if !same {
				for l := range cnt {
					out[i+l] = HashWithTag(tag, inputs[i+l])
				}
				continue
			}
			colSize := Blocks(w) * Rate
			if cap(matrix) < lanes*colSize {
				matrix = make([]koalabear.Element, lanes*colSize)
			}
			matrix = matrix[:lanes*colSize]
			clear(matrix)
			iv := IV(tag, w)
			for l := range lanes {
				for c, e := range inputs[i+l] {
					matrix[c*lanes+l] = e
				}
				for p := range Rate {
					state[p*lanes+l] = iv[p]
				}
			}
			perm.Compressx16ColumnsWithState(state[:], matrix, colSize, res[:])
			for l := range lanes {
				out[i+l] = Digest(res[l])
			}
		}
	})
	return out
}

// CompressMany returns Compress(left[i], right[i]) for every i (the pairs of
// a sparse Merkle tree update need not be adjacent). It panics if the slices
// differ in length, a programming error.
func CompressMany(left, right []Digest, workers int) []Digest {
	if len(left) != len(right) {
		panic("hash: CompressMany with slices of different lengths")
	}
	in := make([]Digest, 2*len(left))
	for i := range left {
		in[2*i], in[2*i+1] = left[i], right[i]
	}
	return CompressLevel(in, workers)
}
