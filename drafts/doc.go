// Package drafts owns the proposers: llama.cpp's n-gram methods
// (ngram-simple, ngram-map-k, ngram-map-k4v, ngram-mod) with their exact
// semantics, each in a file of its own that names its llama.cpp source; the
// draft-model proposer (draft-simple, model.go, the one proposer that drives
// a model through the engine); drafting with a draft of another vocabulary
// (crossvocab.go: the shared tokens, the overlap speclab compat prints and
// the history's translation; slem.go and tli.go, Timor et al. 2025's
// string-level exact match and token-level intersection, both wrapping the
// draft-model proposer); dynamic draft policies (policy.go); the
// combination of several methods in llama.cpp's priority order (setup.go);
// and the vocabulary rules that decide whether a draft model may serve a
// target (compat.go), with the reason for every empty draft (drafts.go).
//
// It must not verify drafts or touch the target's memory: that is package
// spec's work.
package drafts
