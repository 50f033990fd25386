// Package spec owns the speculative loop: each verify step decodes the last
// token and a draft in one batch, accepts a prefix of the draft, emits one
// token of the target's own, and rolls the target's memory back to the
// accepted prefix — by dropping the KV tail, or, for recurrent and hybrid
// targets whose memory cannot drop a tail, by restoring a state checkpoint
// and replaying the accepted tokens.
//
// Verification is one of three modes: greedy (exact match with the argmax),
// rejection (lossless rejection sampling, Chen et al. 2023) and match
// (llama.cpp's sample-and-compare). Every verify step and every drafted token
// is an event handed to a Sink, so that each empty draft carries its reason
// and speculation that never ran cannot be mistaken for zero acceptance.
//
// The loop drives the target through the small Target interface (package
// engine's Context adapts to it with NewTarget) and gets drafts through
// drafts.Proposer; it must not know a proposer's internals, and it writes no
// files: sinks do that (package experiments writes Parquet).
package spec
