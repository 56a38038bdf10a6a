// Package leader is the slot-leader lottery of the longest-chain
// consensus (Ouroboros Praos): a validator with relative stake σ leads a
// slot when its VRF output, read as a number in [0, 1), is below
// φ(σ) = 1 − (1 − f)^σ, where f is the active-slot coefficient. φ is the
// only threshold under which a stake's chance to lead does not depend on
// how it is split among keys: 1 − φ(σ1+σ2) = (1 − φ(σ1))(1 − φ(σ2)).
//
// The VRF is a BLS signature: BLS signatures are unique, so the hash of a
// validator's signature on (chain, epoch nonce, slot) is an output nobody
// can predict without its key and anybody can check with its public key.
//
// Every node must reach the same verdict, so the threshold is computed
// with math/big at a fixed precision and a fixed number of series terms:
// pure integer arithmetic, the same bits on every platform, unlike float64
// exp and log.
package leader
