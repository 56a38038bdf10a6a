package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// multiaddr protocols the syntax check knows, and whether each takes a value.
// The check is syntactic only: the p2p layer still has the last word.
var multiaddrProtocols = map[string]bool{
	"ip4": true, "ip6": true, "ip6zone": true, "dns": true, "dns4": true, "dns6": true, "dnsaddr": true,
	"tcp": true, "udp": true, "p2p": true, "ipfs": true, "certhash": true, "sni": true, "unix": true,
	"quic": false, "quic-v1": false, "webtransport": false, "webrtc": false, "webrtc-direct": false,
	"ws": false, "wss": false, "tls": false, "noise": false, "yamux": false, "http": false, "https": false,
	"p2p-circuit": false,
}

// checkMultiaddr checks the syntax of a libp2p multiaddr such as
// /ip4/127.0.0.1/tcp/26656 or /dns4/seed.example.org/tcp/26656/p2p/12D3Koo...;
// wantPeer requires a /p2p/<peer id> component (bootstrap peers).
func checkMultiaddr(s string, wantPeer bool) error {
	if s == "" {
		return errors.New("empty address")
	}
	if !strings.HasPrefix(s, "/") {
		return fmt.Errorf("%q is not a multiaddr: it must start with '/', e.g. /ip4/127.0.0.1/tcp/26656", s)
	}
	parts := strings.Split(s[1:], "/")
	hasTransport, hasPeer := false, false
	for i := 0; i < len(parts); i++ {
		proto := parts[i]
		takesValue, known := multiaddrProtocols[proto]
		if !known {
			if proto == "" {
				return fmt.Errorf("%q has an empty component", s)
			}
			return fmt.Errorf("%q: unknown protocol %q", s, proto)
		}
		if !takesValue {
			continue
		}
		if proto == "unix" { // the rest of the address is a path
			if i+1 >= len(parts) {
				return fmt.Errorf("%q: /unix needs a path", s)
			}
			hasTransport = true
			break
		}
		if i+1 >= len(parts) || parts[i+1] == "" {
			return fmt.Errorf("%q: /%s needs a value", s, proto)
		}
		i++
		val := parts[i]
		switch proto {
		case "ip4":
			if a, err := netip.ParseAddr(val); err != nil || !a.Is4() {
				return fmt.Errorf("%q: %q is not an IPv4 address", s, val)
			}
		case "ip6":
			if a, err := netip.ParseAddr(val); err != nil || !a.Is6() {
				return fmt.Errorf("%q: %q is not an IPv6 address", s, val)
			}
		case "dns", "dns4", "dns6", "dnsaddr", "sni":
			if !validHostname(val) {
				return fmt.Errorf("%q: %q is not a valid host name", s, val)
			}
		case "tcp", "udp":
			if _, err := parsePort(val); err != nil {
				return fmt.Errorf("%q: %v", s, err)
			}
			hasTransport = true
		case "p2p", "ipfs":
			if !validPeerID(val) {
				return fmt.Errorf("%q: %q is not a peer ID (base58 or base32 multibase)", s, val)
			}
			hasPeer = true
		}
	}
	if !hasTransport && !(hasPeer && wantPeer) {
		return fmt.Errorf("%q has no /tcp, /udp or /unix component to connect to", s)
	}
	if wantPeer && !hasPeer {
		return fmt.Errorf("%q has no /p2p/<peer id> component; bootstrap peers must name the peer they expect", s)
	}
	return nil
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 0 || p > 65535 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%q is not a port number (0-65535)", s)
	}
	return p, nil
}

func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// validPeerID accepts the textual forms of libp2p peer IDs: base58btc
// (Qm..., 12D3Koo...) and CIDv1 in a multibase (bafz..., k51...).
func validPeerID(id string) bool {
	if len(id) < 8 || len(id) > 128 {
		return false
	}
	const base58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	for _, c := range id {
		if !strings.ContainsRune(base58, c) && !(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// checkHostPort checks a TCP listen address such as 127.0.0.1:8545, [::1]:8545
// or :8545 (all interfaces).
func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %v", s, err)
	}
	if _, err := parsePort(port); err != nil {
		return fmt.Errorf("%q: %v", s, err)
	}
	if host == "" {
		return nil
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if !validHostname(host) {
		return fmt.Errorf("%q: %q is neither an IP address nor a host name", s, host)
	}
	return nil
}
