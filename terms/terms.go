// Package terms is speclab's shared vocabulary, one table per kind of name,
// as go/token is the Go tree's: the reasons of an empty draft (what the loop
// records, the log stores, the diagnosis explains and the figures draw), and
// the n-gram methods' names and llama.cpp's defaults for them (what the
// proposers use and the diagnosis quotes).
//
// It is a leaf: it imports nothing of speclab, so that every package (the
// proposers, the run log, the analysis that may import nothing else) can
// use it. It holds names and their meaning only, no behaviour.
package terms

// Reason says why a draft is empty. Every empty draft carries one, so that
// "speculation never ran" cannot be mistaken for "every draft was rejected".
// Its value is what the run log stores.
type Reason string

// Reasons for an empty draft.
const (
	None                 Reason = ""                       // the draft is not empty
	NoHistory            Reason = "no-history"             // too few tokens of history for the method
	NoMatch              Reason = "no-match"               // the pattern was not found (or the key's entry gives nothing)
	BelowPMin            Reason = "below-p-min"            // the first drafted token's probability was under p_min
	BelowNMin            Reason = "below-n-min"            // the draft was shorter than n_min and was thrown away
	NoRoom               Reason = "no-room"                // n_max <= 0: the context or n_predict is nearly used up
	VocabRefused         Reason = "vocab-refused"          // the draft model's vocabulary is incompatible with the target's
	TargetCannotRollback Reason = "target-cannot-rollback" // the target cannot drop a tail and checkpoints were refused
	Disabled             Reason = "disabled"               // speculation is configured off (or a policy turned it off)
	// Unknown stands, in reports, for empty drafts whose reason the log
	// does not have (it is never recorded).
	Unknown Reason = "unknown"
)

// reasonInfo is one row of the table of reasons.
type reasonInfo struct {
	reason  Reason
	meaning string // what it says, in the diagnosis's words
}

// reasons is the table, in the order reports and figures use.
var reasons = []reasonInfo{
	{NoHistory, "too little history for the method"},
	{NoMatch, "the last n tokens never occurred earlier in the context, or too little followed them"},
	{BelowPMin, "the draft model's first token fell below p_min"},
	{BelowNMin, "drafts shorter than n_min were thrown away"},
	{NoRoom, "no room left to draft (context or n_predict nearly used up)"},
	{VocabRefused, "the draft model's vocabulary was refused"},
	{TargetCannotRollback, "the target's memory cannot roll back and state checkpoints were not allowed"},
	{Disabled, "speculation was switched off by the configuration or the draft policy"},
	{Unknown, "no reason was logged"},
}

// Reasons lists every reason the loop records, in a stable order (Unknown
// is not one of them).
func Reasons() []Reason {
	out := make([]Reason, 0, len(reasons)-1)
	for _, r := range reasons {
		if r.reason != Unknown {
			out = append(out, r.reason)
		}
	}
	return out
}

// ReportOrder is the order of reasons in tables and figures: Reasons, then
// Unknown.
func ReportOrder() []Reason {
	out := make([]Reason, len(reasons))
	for i, r := range reasons {
		out[i] = r.reason
	}
	return out
}

// Meaning says what the reason means, in a sentence fragment.
func (r Reason) Meaning() string {
	for _, x := range reasons {
		if x.reason == r {
			return x.meaning
		}
	}
	return string(r)
}

func (r Reason) String() string { return string(r) }

// The n-gram methods of llama.cpp's --spec-type, in its priority order.
const (
	NgramSimple = "ngram-simple"
	NgramMapK   = "ngram-map-k"
	NgramMapK4V = "ngram-map-k4v"
	NgramMod    = "ngram-mod"
	DraftSimple = "draft-simple" // the draft-model method
	// speclab's own: a draft model with another vocabulary (Timor et al.
	// 2025), after llama.cpp's methods in the priority order
	DraftSLEM = "draft-slem" // string-level exact match
	DraftTLI  = "draft-tli"  // token-level intersection
)

// Defaults of llama.cpp's n-gram flags (common/common.h).
const (
	NgramSizeN     = 12 // --spec-ngram-{simple,map-k,map-k4v}-size-n
	NgramSizeM     = 48 // --spec-ngram-{simple,map-k,map-k4v}-size-m
	NgramMinHits   = 1  // --spec-ngram-{simple,map-k,map-k4v}-min-hits
	NgramModNMatch = 24 // --spec-ngram-mod-n-match
	NgramModNMin   = 48 // --spec-ngram-mod-n-min
	NgramModNMax   = 64 // --spec-ngram-mod-n-max
)

// Semantics says how the flags that speclab shares with llama-server are
// read.
const (
	// SemanticsServer reads them as llama-server does (the default): a draft
	// model whose vocabulary is refused switches every method of the list
	// off; -md without --spec-type runs no speculation; "none" anywhere in a
	// --spec-type list turns speculation off.
	SemanticsServer = "llama-server"
	// SemanticsPerMethod is speclab's own reading: a refused draft model
	// leaves out that method only; -md alone turns draft-simple on; "none"
	// in a list is skipped.
	SemanticsPerMethod = "per-method"
)
