package testnet

import (
	"encoding/binary"
	"net"
	"testing"
	"time"
)

// echoBehindRelay starts a UDP echo server and a relay in front of it,
// and returns a client socket connected to the relay.
func echoBehindRelay(t *testing.T, shape LinkShape) (*net.UDPConn, *relay) {
	t.Helper()
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := srv.ReadFromUDP(buf)
			if err != nil {
				return
			}
			_, _ = srv.WriteToUDP(buf[:n], from)
		}
	}()
	r, err := startRelay("127.0.0.1:0", srv.LocalAddr().String(), shape, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	c, err := net.DialUDP("udp", nil, r.front.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, r
}

// TestRelayDelaysInOrder: every round trip through the relay takes at
// least twice the one-way delay less the jitter, and datagrams come back
// in the order they were sent.
func TestRelayDelaysInOrder(t *testing.T) {
	shape := LinkShape{Delay: 40 * time.Millisecond, Jitter: 10 * time.Millisecond}
	c, _ := echoBehindRelay(t, shape)
	const n = 50
	sent := make([]time.Time, n)
	for i := range n {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(i))
		sent[i] = time.Now()
		if _, err := c.Write(b[:]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64)
	for want := range n {
		k, err := c.Read(buf)
		if err != nil || k != 8 {
			t.Fatalf("datagram %d: %v", want, err)
		}
		got := int(binary.BigEndian.Uint64(buf[:8]))
		if got != want {
			t.Fatalf("datagram %d came back as the %dth: reordered", got, want)
		}
		if rtt := time.Since(sent[got]); rtt < 2*(shape.Delay-shape.Jitter) {
			t.Fatalf("datagram %d: round trip %s, less than the shape allows", got, rtt)
		}
	}
}

// TestRelayLoses: with loss p each way, about (1-p)² of the datagrams
// complete a round trip, and the relay counts the drops.
func TestRelayLoses(t *testing.T) {
	c, r := echoBehindRelay(t, LinkShape{Loss: 0.3})
	const n = 2000
	got := make(chan int)
	go func() { // read as they come: a small socket buffer would drop them
		k := 0
		buf := make([]byte, 16)
		for {
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := c.Read(buf); err != nil {
				got <- k
				return
			}
			k++
		}
	}()
	for i := range n {
		if _, err := c.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	back := <-got
	frac := float64(back) / n
	if frac < 0.40 || frac > 0.58 {
		t.Fatalf("%d of %d came back (%.2f), want about 0.49", back, n, frac)
	}
	if d := r.Dropped.Load(); d < int64(n-back)*8/10 {
		t.Fatalf("relay counted %d drops, %d did not come back", d, n-back)
	}
}
