// Package proving is the node's side of the proof market: with a prover
// plugin configured and the node's account registered as a prover, a
// worker proves the jobs assigned to it (and unassigned ones in its turn,
// or once they have waited a whole deadline), checks every proof with
// protocol/batch before it leaves the node, and submits it as a proof
// transaction, resubmitting the same proof if the transaction is dropped.
// In BFT mode every validator runs one, which is how "every sequencer
// proves".
package proving
