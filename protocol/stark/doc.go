// Package stark is Trellis's proof system: a STARK over the KoalaBear field
// (p = 2^31 − 2^24 + 1) with challenges in its degree-4 extension E4
// (~124 bits), Poseidon2 Merkle commitments (protocol/hash) and FRI. The host
// verifies every block proof with it; prover plugins differ only in the
// Backend that runs the heavy kernels, and must produce the same bytes.
//
// A statement is an AIR (see the AIR interface): a trace of 2^k rows of base
// field columns, row constraints (every row), transition constraints (row i
// and i+1, all but the last row), boundary constraints (cell = public value)
// and periodic columns. The protocol, in transcript order:
//
//  1. Bind protocol label, parameters, AIR id, shape, public inputs, periodic
//     columns and boundaries into the Fiat–Shamir transcript.
//  2. Interpolate the trace, evaluate it on the coset 3·<ω_{n·B}> (blowup B),
//     commit to the rows (leaf = hash.HashLeaf(row), nodes = hash.HashNode);
//     every tree is committed by its Merkle cap (Params.LogMerkleCap).
//  3. Draw α ∈ E4; evaluate Σ α^i·C_i(x)/Z_i(x) on the n·c-point sub-coset
//     (c = next power of two ≥ degree − 1), interpolate, split into c chunks
//     of degree < n, extend and commit them (4 base columns per chunk).
//  4. Draw z ∈ E4; send every trace column at z and z·g and every chunk at z.
//     The verifier recomputes the composition at z from the AIR (OOD check).
//  5. Draw γ; the DEEP polynomial Σ γ^k (f_k(x) − f_k(z))/(x − z) +
//     Σ γ^(w+k) (T_k(x) − T_k(zg))/(x − zg) has degree < n iff the claims hold.
//  6. FRI on it: fold by 2 or 4 per layer with a fresh β, commit each layer
//     (leaf = the coset that folds together), send the final polynomial's
//     coefficients in clear.
//  7. Grinding: a nonce whose Poseidon2 hash with a transcript seed has
//     GrindingBits leading zeros.
//  8. Draw the query positions; open trace row, composition row and every FRI
//     coset with Merkle paths. The verifier checks paths, recomputes DEEP at
//     the position, folds each coset and compares with the next layer and
//     finally with the final polynomial.
//
// Determinism: every value is a canonical field element before it is hashed
// or encoded, parallel loops write by index, no map order reaches the output,
// and all randomness comes from the transcript, so a proof's bytes depend only
// on (AIR, trace, Params). TestDeterministicAcrossWorkers checks it.
//
// Security parameters and their reasoning are in docs/stark.md.
package stark
