package p2p

import (
	"context"
	"math"
	"net"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Score thresholds (see docs/p2p.md). A peer below GossipThreshold gets no
// gossip from us and its gossip is ignored; below PublishThreshold our own
// messages are not flood-published to it; below GraylistThreshold its RPCs
// are ignored, and this package also disconnects and bans it.
const (
	GossipThreshold    = -100
	PublishThreshold   = -200
	GraylistThreshold  = -400
	acceptPXThreshold  = 10
	opportunisticGraft = 5

	// ReportPenalty is what one Report subtracts from a peer's
	// application-specific score; it halves every ReportHalfLife.
	ReportPenalty  = 100
	ReportHalfLife = 2 * time.Minute

	// invalidWeight times the squared count of invalid messages (decaying
	// to nothing over about 10 minutes) is the invalid-message penalty.
	invalidWeight = -20
)

func peerScoreParams(app func(peer.ID) float64) *pubsub.PeerScoreParams {
	_, lo4, _ := net.ParseCIDR("127.0.0.0/8")
	_, lo6, _ := net.ParseCIDR("::1/128")
	return &pubsub.PeerScoreParams{
		Topics:                      map[string]*pubsub.TopicScoreParams{},
		TopicScoreCap:               50,
		AppSpecificScore:            app,
		AppSpecificWeight:           1,
		IPColocationFactorWeight:    -10,
		IPColocationFactorThreshold: 8,
		IPColocationFactorWhitelist: []*net.IPNet{lo4, lo6},
		BehaviourPenaltyWeight:      -10,
		BehaviourPenaltyThreshold:   6,
		BehaviourPenaltyDecay:       pubsub.ScoreParameterDecay(10 * time.Minute),
		DecayInterval:               time.Second,
		DecayToZero:                 0.01,
		RetainScore:                 10 * time.Minute,
	}
}

func topicScoreParams() *pubsub.TopicScoreParams {
	return &pubsub.TopicScoreParams{
		TopicWeight:                    1,
		TimeInMeshWeight:               0.01,
		TimeInMeshQuantum:              time.Second,
		TimeInMeshCap:                  300,
		FirstMessageDeliveriesWeight:   0.5,
		FirstMessageDeliveriesDecay:    pubsub.ScoreParameterDecay(10 * time.Minute),
		FirstMessageDeliveriesCap:      40,
		InvalidMessageDeliveriesWeight: invalidWeight,
		InvalidMessageDeliveriesDecay:  pubsub.ScoreParameterDecay(10 * time.Minute),
	}
}

func scoreThresholds() *pubsub.PeerScoreThresholds {
	return &pubsub.PeerScoreThresholds{
		GossipThreshold:             GossipThreshold,
		PublishThreshold:            PublishThreshold,
		GraylistThreshold:           GraylistThreshold,
		AcceptPXThreshold:           acceptPXThreshold,
		OpportunisticGraftThreshold: opportunisticGraft,
	}
}

// penalty is an exponentially decaying sum of reports.
type penalty struct {
	v  float64
	at time.Time
}

func (p *penalty) value(now time.Time) float64 {
	dt := now.Sub(p.at)
	if dt <= 0 {
		return p.v
	}
	return p.v * math.Exp2(-float64(dt)/float64(ReportHalfLife))
}

func (p *penalty) add(now time.Time, v float64) float64 {
	p.v, p.at = p.value(now)+v, now
	return p.v
}

// appScore is gossipsub's AppSpecificScore: minus the decayed reports.
func (h *Host) appScore(p peer.ID) float64 {
	h.penMu.Lock()
	defer h.penMu.Unlock()
	if pen := h.penalties[p]; pen != nil {
		return -pen.value(time.Now())
	}
	return 0
}

// Report lowers a peer's application-specific score by ReportPenalty (halving
// every ReportHalfLife). When the penalty alone reaches the graylist
// threshold, the peer is disconnected and banned for BanDuration.
func (h *Host) Report(peerID, reason string) {
	p, err := peer.Decode(peerID)
	if err != nil || p == h.self {
		return
	}
	h.report(p, reason)
}

func (h *Host) report(p peer.ID, reason string) {
	now := time.Now()
	h.penMu.Lock()
	pen := h.penalties[p]
	if pen == nil {
		pen = &penalty{at: now}
		h.penalties[p] = pen
	}
	v := pen.add(now, ReportPenalty)
	h.penMu.Unlock()
	h.log.Debug("peer reported", "peer", p.String(), "reason", reason, "penalty", v)
	// 5 % slack so that four quick reports reach it despite the decay
	if -v <= GraylistThreshold*0.95 {
		h.ban(p, "reported: "+reason)
	}
}

// reportThrottled reports at most once a second per peer and reason, so a
// flood is punished steadily rather than all at once.
func (h *Host) reportThrottled(p peer.ID, reason string) {
	key := p.String() + "\x00" + reason
	now := time.Now()
	h.mu.Lock()
	last, ok := h.reported[key]
	if ok && now.Sub(last) < time.Second {
		h.mu.Unlock()
		return
	}
	h.reported[key] = now
	h.mu.Unlock()
	h.report(p, reason)
}

// inspectScores receives gossipsub's scores every heartbeat: it keeps them
// for Peers and bans peers below the graylist threshold.
func (h *Host) inspectScores(scores map[peer.ID]float64) {
	if h.closed.Load() {
		return
	}
	h.mu.Lock()
	h.scores = scores
	h.mu.Unlock()
	for p, s := range scores {
		if s < GraylistThreshold && !h.isBlocked(p) {
			h.ban(p, "score below graylist threshold")
		}
	}
}

func (h *Host) newPubSub(ctx context.Context) (*pubsub.PubSub, error) {
	gs := pubsub.DefaultGossipSubParams()
	gs.HeartbeatInterval = h.cfg.Heartbeat
	inspect := h.cfg.Heartbeat
	if inspect < 100*time.Millisecond {
		inspect = 100 * time.Millisecond
	}
	return pubsub.NewGossipSub(ctx, h.h,
		pubsub.WithGossipSubParams(gs),
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		// v0.15 defaults to false: own messages then go only to the mesh,
		// which is empty until the first heartbeat after Join.
		pubsub.WithFloodPublish(true),
		pubsub.WithPeerScore(peerScoreParams(h.appScore), scoreThresholds()),
		pubsub.WithPeerScoreInspect(pubsub.PeerScoreInspectFn(h.inspectScores), inspect),
		pubsub.WithPeerOutboundQueueSize(h.cfg.QueueSize),
		pubsub.WithValidateQueueSize(h.cfg.QueueSize),
		pubsub.WithMaxMessageSize(MaxMessageSize+64<<10),
		pubsub.WithRawTracer(h.traffic),
	)
}
