package testnet

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/trellis-chain/trellis/core/rpc"
)

// Safety is what CheckSafety found: every final block of every running
// node compared height by height, and every transfer the load saw final
// looked for on every node.
type Safety struct {
	Nodes   int    `json:"nodes_checked"`
	Heights uint64 `json:"heights_checked"`
	// Violations names each height final with two blocks, and each final
	// transfer a node lost; empty when safe.
	Violations []string `json:"violations,omitempty"`
}

// maxViolations bounds what Safety lists (the count is what matters).
const maxViolations = 20

// isFinal: a block at one of the levels a node never reverts.
func isFinal(f rpc.Finality) bool {
	return f == rpc.FinalityFinal || f == rpc.FinalityKDeep || f == rpc.FinalityProven
}

// CheckSafety reads from every running node its final blocks from height
// from up, and reports any height where two nodes hold different final
// blocks, and any transfer in final whose block another node does not
// hold final at that height. Nodes that are down are skipped (they are
// checked if restarted first).
func (t *Net) CheckSafety(ctx context.Context, from uint64, final []FinalTx) (*Safety, error) {
	if from == 0 {
		from = 1
	}
	type view struct {
		node   string
		hashes map[uint64]string
	}
	var views []view
	for _, n := range t.State.Nodes {
		if st := QueryNode(n); st.State != "up" || st.FinalHeight == nil {
			continue
		}
		hs, err := finalHashes(ctx, n, from)
		if err != nil {
			return nil, fmt.Errorf("safety check: %s: %w", n.Name, err)
		}
		views = append(views, view{n.Name, hs})
	}
	s := &Safety{Nodes: len(views)}
	add := func(format string, args ...any) {
		if len(s.Violations) < maxViolations {
			s.Violations = append(s.Violations, fmt.Sprintf(format, args...))
		}
	}
	seen := map[uint64]string{}  // height -> first hash seen
	where := map[uint64]string{} // height -> the node that had it
	var heights []uint64
	for _, v := range views {
		for h, hash := range v.hashes {
			first, ok := seen[h]
			switch {
			case !ok:
				seen[h], where[h] = hash, v.node
				heights = append(heights, h)
			case first != hash:
				add("height %d final as %s on %s and as %s on %s", h, short(first), where[h], short(hash), v.node)
			}
		}
	}
	s.Heights = uint64(len(heights))
	sort.Slice(heights, func(i, j int) bool { return heights[i] < heights[j] })
	for _, ft := range final {
		if ft.Height < from {
			continue
		}
		for _, v := range views {
			if got, ok := v.hashes[ft.Height]; ok && got != ft.Block {
				add("transfer %s was final in %s at height %d, which %s replaced by %s", ft.Tx, short(ft.Block), ft.Height, v.node, short(got))
			}
		}
	}
	return s, nil
}

func short(h string) string {
	h = strings.TrimPrefix(h, "0x")
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// finalHashes reads a node's final blocks from height from up to its last
// final block, in batches.
func finalHashes(ctx context.Context, n Node, from uint64) (map[uint64]string, error) {
	c, err := rpc.Dial(n.RPC)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	top, err := c.BlockByTag(ctx, rpc.TagFinalized, false)
	if err != nil {
		return nil, err
	}
	out := map[uint64]string{}
	err = eachBlock(ctx, c, from, top.Height, func(b *rpc.Block) {
		if isFinal(b.Finality) {
			out[b.Height] = b.Hash.String()
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
