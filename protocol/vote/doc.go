// Package vote defines the bytes a validator signs for a consensus message
// and the evidence that it signed two different messages for one height,
// round and step. The host's Signer, the state machine's slashing and the
// BFT plugin share it, so all three agree on what was signed.
package vote
