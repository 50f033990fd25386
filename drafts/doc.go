// Package drafts will own the proposers: llama.cpp's n-gram methods
// (ngram-simple, ngram-map-k, ngram-map-k4v, ngram-mod) with their exact
// semantics, the draft-model proposer, dynamic draft policies, and the
// tokenizer compatibility rules that decide whether a draft model may serve a
// target.
//
// It must not verify drafts or touch the target's memory: that is package
// spec's work.
//
// Not written yet: see the issue "The speculative loop and its proposers".
package drafts
