package p2p

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/trellis-chain/trellis/protocol/wire"
)

// Wire format version carried as the first byte of every frame.
const wireVersion byte = 1

// Wire limits. Every decoder enforces them before allocating.
const (
	// MaxMessageSize bounds one gossip or direct message payload.
	MaxMessageSize = 4 << 20
	// MaxTopicLen bounds a topic name.
	MaxTopicLen = 256
	// MaxChainIDLen bounds a chain id in a status message.
	MaxChainIDLen = 64
	// MaxBatchBlocks bounds the blocks of one sync request.
	MaxBatchBlocks = 128
	// MaxBlockBytes bounds one encoded block in a sync response.
	MaxBlockBytes = 16 << 20
	// MaxCertBytes bounds one certificate in a sync response.
	MaxCertBytes = 1 << 20
	// MaxResponseBytes bounds a whole sync response on the wire.
	MaxResponseBytes = 32 << 20
	// BatchBytes is the soft size of a sync response: a server stops adding
	// blocks once it is reached (a response holds at least one block).
	BatchBytes = 8 << 20
	// maxErrorLen bounds the error text of a failed sync response.
	maxErrorLen = 256
	// maxFrameBytes bounds a direct frame on the wire.
	maxFrameBytes = 1 + binary.MaxVarintLen64*2 + MaxTopicLen + MaxMessageSize
	// statusBytes is the largest status message.
	statusBytes = 1 + binary.MaxVarintLen64 + MaxChainIDLen + 32 + 8 + 8 + 32
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("p2p: malformed wire data")

func malformed(what string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(what, args...))
}

// reader is wire.Reader with every read naming what it reads.
type reader struct{ wire.Reader }

func newReader(b []byte) reader { return reader{wire.NewReader(b, ErrMalformed)} }

func (r *reader) fail(what string, args ...any) { r.Fail(malformed(what, args...)) }

func (r *reader) byte1(what string) byte            { return r.At(what).U8() }
func (r *reader) uvarint(what string) uint64        { return r.At(what).Uvarint() }
func (r *reader) u64(what string) uint64            { return r.At(what).U64() }
func (r *reader) bytes(what string, max int) []byte { return r.At(what).Bytes(max) }
func (r *reader) fixed(what string, dst []byte)     { r.At(what).Fixed(dst) }

func (r *reader) version(what string) {
	if v := r.byte1(what + " version"); r.Err() == nil && v != wireVersion {
		r.fail("%s: version %d, want %d", what, v, wireVersion)
	}
}

func (r *reader) end(what string) error { return r.At(what).Done() }

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// frame is a direct message: a topic and its payload.
type frame struct {
	Topic string
	Data  []byte
}

func encodeFrame(f frame) ([]byte, error) {
	if len(f.Topic) == 0 || len(f.Topic) > MaxTopicLen {
		return nil, fmt.Errorf("p2p: direct frame: topic length %d not in 1..%d", len(f.Topic), MaxTopicLen)
	}
	if len(f.Data) > MaxMessageSize {
		return nil, fmt.Errorf("%w: direct frame of %d bytes, limit %d", ErrTooLarge, len(f.Data), MaxMessageSize)
	}
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(f.Topic)+len(f.Data))
	b = append(b, wireVersion)
	b = appendBytes(b, []byte(f.Topic))
	return appendBytes(b, f.Data), nil
}

func decodeFrame(b []byte) (frame, error) {
	r := newReader(b)
	r.version("direct frame")
	topic := r.bytes("direct frame topic", MaxTopicLen)
	data := r.bytes("direct frame data", MaxMessageSize)
	if err := r.end("direct frame"); err != nil {
		return frame{}, err
	}
	if len(topic) == 0 {
		return frame{}, malformed("direct frame: empty topic")
	}
	return frame{Topic: string(topic), Data: data}, nil
}

// syncRequest asks for count blocks starting at height From.
type syncRequest struct {
	From  uint64
	Count int
}

func encodeSyncRequest(q syncRequest) []byte {
	b := []byte{wireVersion}
	b = binary.AppendUvarint(b, q.From)
	return binary.AppendUvarint(b, uint64(q.Count))
}

func decodeSyncRequest(b []byte) (syncRequest, error) {
	r := newReader(b)
	r.version("sync request")
	from := r.uvarint("sync request from")
	count := r.uvarint("sync request count")
	if err := r.end("sync request"); err != nil {
		return syncRequest{}, err
	}
	if count == 0 || count > MaxBatchBlocks {
		return syncRequest{}, malformed("sync request: count %d not in 1..%d", count, MaxBatchBlocks)
	}
	return syncRequest{From: from, Count: int(count)}, nil
}

// syncResponse is either blocks (Err empty) or a server-side error.
type syncResponse struct {
	Blocks []SyncedBlock
	Err    string
}

const (
	respOK    byte = 0
	respError byte = 1
)

func encodeSyncResponse(p syncResponse) ([]byte, error) {
	if p.Err != "" {
		msg := p.Err
		if len(msg) > maxErrorLen {
			msg = msg[:maxErrorLen]
		}
		return appendBytes([]byte{wireVersion, respError}, []byte(msg)), nil
	}
	if len(p.Blocks) > MaxBatchBlocks {
		return nil, fmt.Errorf("p2p: sync response: %d blocks, limit %d", len(p.Blocks), MaxBatchBlocks)
	}
	size := 3
	for i, blk := range p.Blocks {
		if len(blk.Encoded) > MaxBlockBytes || len(blk.Certificate) > MaxCertBytes {
			return nil, fmt.Errorf("%w: sync response block %d: %d/%d bytes, limits %d/%d",
				ErrTooLarge, i, len(blk.Encoded), len(blk.Certificate), MaxBlockBytes, MaxCertBytes)
		}
		size += len(blk.Encoded) + len(blk.Certificate) + 2*binary.MaxVarintLen64
	}
	if size > MaxResponseBytes {
		return nil, fmt.Errorf("%w: sync response of %d bytes, limit %d", ErrTooLarge, size, MaxResponseBytes)
	}
	b := make([]byte, 0, size)
	b = append(b, wireVersion, respOK)
	b = binary.AppendUvarint(b, uint64(len(p.Blocks)))
	for _, blk := range p.Blocks {
		b = appendBytes(b, blk.Encoded)
		b = appendBytes(b, blk.Certificate)
	}
	return b, nil
}

func decodeSyncResponse(b []byte) (syncResponse, error) {
	if len(b) > MaxResponseBytes {
		return syncResponse{}, malformed("sync response: %d bytes, limit %d", len(b), MaxResponseBytes)
	}
	r := newReader(b)
	r.version("sync response")
	code := r.byte1("sync response code")
	if err := r.Err(); err != nil {
		return syncResponse{}, err
	}
	switch code {
	case respError:
		msg := r.bytes("sync response error", maxErrorLen)
		if err := r.end("sync response"); err != nil {
			return syncResponse{}, err
		}
		if len(msg) == 0 {
			return syncResponse{}, malformed("sync response: empty error")
		}
		return syncResponse{Err: string(msg)}, nil
	case respOK:
	default:
		return syncResponse{}, malformed("sync response: code %d", code)
	}
	n := r.uvarint("sync response count")
	if r.Err() == nil && n > MaxBatchBlocks {
		r.fail("sync response: %d blocks, limit %d", n, MaxBatchBlocks)
	}
	var blocks []SyncedBlock
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		enc := r.bytes("sync response block", MaxBlockBytes)
		cert := r.bytes("sync response certificate", MaxCertBytes)
		blocks = append(blocks, SyncedBlock{Encoded: enc, Certificate: cert})
	}
	if err := r.end("sync response"); err != nil {
		return syncResponse{}, err
	}
	return syncResponse{Blocks: blocks}, nil
}

func encodeStatus(s Status) ([]byte, error) {
	if len(s.ChainID) > MaxChainIDLen {
		return nil, fmt.Errorf("p2p: status: chain id of %d bytes, limit %d", len(s.ChainID), MaxChainIDLen)
	}
	b := make([]byte, 0, statusBytes)
	b = append(b, wireVersion)
	b = appendBytes(b, []byte(s.ChainID))
	b = append(b, s.Genesis[:]...)
	b = binary.BigEndian.AppendUint64(b, s.Height)
	b = binary.BigEndian.AppendUint64(b, s.Final)
	return append(b, s.Head[:]...), nil
}

func decodeStatus(b []byte) (Status, error) {
	r := newReader(b)
	r.version("status")
	var s Status
	s.ChainID = string(r.bytes("status chain id", MaxChainIDLen))
	r.fixed("status genesis", s.Genesis[:])
	s.Height = r.u64("status height")
	s.Final = r.u64("status final")
	r.fixed("status head", s.Head[:])
	if err := r.end("status"); err != nil {
		return Status{}, err
	}
	if s.Final > s.Height {
		return Status{}, malformed("status: final %d above height %d", s.Final, s.Height)
	}
	return s, nil
}
