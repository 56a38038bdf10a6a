// Package rpc is a node's user API: JSON-RPC 2.0 over HTTP, the same calls
// and subscriptions over WebSocket, and a Go client for both.
//
// The server never touches the chain: it speaks to a Backend the node
// implements, so the API can be tested against a fake and the node can change
// underneath it. Every Go error becomes an API error in one table
// (errorTable), so a wallet sees stable codes and reason strings
// ("nonce_gap", "insufficient_funds") rather than Go error texts it would
// have to parse. Amounts, fees and nonces are decimal strings because
// JavaScript numbers lose precision above 2^53; heights stay numbers.
//
// docs/rpc.md is the reference for every method, shape and error code.
package rpc
