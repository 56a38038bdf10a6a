package trial

import (
	"context"
	"slices"
	"time"

	"github.com/trellis-chain/trellis/core/rpc"
	"github.com/trellis-chain/trellis/testnet"
)

// LinkMeasure is what the nodes measured of shaped links: node 0's round
// trips to its peers (libp2p ping, through the relays), before the load,
// against the 2 × delay asked; and the datagrams the relays forwarded
// and dropped over the cell.
type LinkMeasure struct {
	AskedRTTMs float64 `json:"asked_rtt_ms"`
	Loss       float64 `json:"asked_loss"`
	Peers      int     `json:"peers_measured"`
	RTTMinMs   float64 `json:"rtt_min_ms"`
	RTTP50Ms   float64 `json:"rtt_p50_ms"`
	RTTMaxMs   float64 `json:"rtt_max_ms"`
	Forwarded  int64   `json:"datagrams_forwarded"`
	Dropped    int64   `json:"datagrams_dropped"`
}

// linkWait bounds how long measureLink waits for every peer's first ping.
const linkWait = 30 * time.Second

// measureLink reads node 0's peer round trips once every peer has one.
func measureLink(ctx context.Context, net *testnet.Net, shape testnet.LinkShape) *LinkMeasure {
	m := &LinkMeasure{AskedRTTMs: 2 * float64(shape.Delay.Microseconds()) / 1000, Loss: shape.Loss}
	want := len(net.State.Nodes) - 1
	c, err := rpc.Dial(net.State.Nodes[0].RPC)
	if err != nil {
		return m
	}
	defer c.Close()
	deadline := time.Now().Add(linkWait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		info, err := c.NodeInfo(cctx)
		cancel()
		if err == nil {
			var rtts []float64
			for _, p := range info.Peers {
				if p.LatencyMs > 0 {
					rtts = append(rtts, p.LatencyMs)
				}
			}
			if len(rtts) > 0 {
				slices.Sort(rtts)
				m.Peers, m.RTTMinMs, m.RTTP50Ms, m.RTTMaxMs = len(rtts), rtts[0], rtts[len(rtts)/2], rtts[len(rtts)-1]
			}
			if len(rtts) >= want {
				break
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	return m
}
