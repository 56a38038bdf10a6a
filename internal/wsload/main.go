// Command wsload holds WebSocket subscriptions open against a node without
// reading them, to measure what idle subscribers cost the node:
//
//	go run ./internal/wsload ws://127.0.0.1:8545/ws CONNECTIONS SUBSCRIPTIONS SECONDS
//
// It opens CONNECTIONS connections, subscribes each to newHeads
// SUBSCRIPTIONS times, holds them for SECONDS and closes them. Loopback
// only: it is a measuring tool for a node you run.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/coder/websocket"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: wsload WS_URL CONNECTIONS SUBSCRIPTIONS SECONDS")
		os.Exit(2)
	}
	n, err1 := strconv.Atoi(os.Args[2])
	subs, err2 := strconv.Atoi(os.Args[3])
	secs, err3 := strconv.Atoi(os.Args[4])
	if err1 != nil || err2 != nil || err3 != nil || n < 1 || subs < 0 || secs < 0 {
		fmt.Fprintln(os.Stderr, "wsload: CONNECTIONS, SUBSCRIPTIONS and SECONDS must be whole numbers")
		os.Exit(2)
	}
	ctx := context.Background()
	var conns []*websocket.Conn
	for i := range n {
		c, _, err := websocket.Dial(ctx, os.Args[1], nil)
		if err != nil {
			fmt.Printf("connection %d refused: %v\n", i, err)
			break
		}
		conns = append(conns, c)
		for j := range subs {
			msg := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"trellis_subscribe","params":["newHeads"]}`, j)
			if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				fmt.Printf("connection %d: %v\n", i, err)
				break
			}
		}
	}
	fmt.Printf("opened %d connections with %d subscriptions each; holding them %d s\n", len(conns), subs, secs)
	time.Sleep(time.Duration(secs) * time.Second)
	for _, c := range conns {
		_ = c.CloseNow()
	}
}
