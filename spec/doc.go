// Package spec will own the speculative loop: verification (greedy exact
// match, lossless rejection sampling, llama.cpp's sample-and-compare), KV
// rollback and state checkpoints for recurrent or hybrid targets, and the
// per-step and per-token events that record the fate of every drafted token.
//
// It drives models only through package engine and gets drafts only through
// the Proposer interface that package drafts implements; it must not know any
// proposer's internals, nor write logs itself (events go to a sink).
//
// Not written yet: see the issue "The speculative loop and its proposers".
package spec
