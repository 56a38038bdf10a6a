// Package backendtest checks a stark.Backend against the reference CPU
// backend and against the mathematical definition of each kernel, so a GPU
// backend can prove in its own tests that it yields byte-identical proofs.
package backendtest
