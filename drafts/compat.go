package drafts

import (
	"errors"
	"fmt"
	"strings"
)

// llama.cpp's limits of vocabulary compatibility (SPEC_VOCAB_MAX_SIZE_DIFFERENCE
// and SPEC_VOCAB_CHECK_START_TOKEN_ID in common/speculative.cpp).
const (
	// VocabMaxSizeDifference is the most two vocabularies' sizes may differ.
	VocabMaxSizeDifference = 128
	// VocabCheckStartTokenID is the first id whose text must be equal; ids
	// below it (usually special tokens) are not compared.
	VocabCheckStartTokenID = 5
)

// Names of the compatibility rules, in the order llama.cpp applies them. They
// are stable: tools may match on them.
const (
	RuleVocabType      = "vocab-type"      // llama_vocab_type differs
	RuleAddBOS         = "add-bos"         // one adds BOS to a prompt, the other does not
	RuleBOSID          = "bos-id"          // both add BOS, with different ids
	RuleAddEOS         = "add-eos"         // one adds EOS, the other does not
	RuleEOSID          = "eos-id"          // both add EOS, with different ids
	RuleSizeDifference = "size-difference" // sizes differ by more than VocabMaxSizeDifference
	RuleTokenText      = "token-text"      // a token's text differs
)

// Vocab is what the compatibility rules read from a model's vocabulary.
type Vocab interface {
	VocabType() int // llama_vocab_type: 1 SPM, 2 BPE, 3 WPM, 4 UGM, ...
	VocabSize() int
	AddBOS() bool
	AddEOS() bool
	BOS() Token
	EOS() Token
	// TokenText is the token's text as stored in the vocabulary
	// (llama_vocab_get_text).
	TokenText(id Token) string
}

// IncompatibleError says which of llama.cpp's rules refuses a draft model's
// vocabulary.
type IncompatibleError struct {
	Rule   string // one of the Rule constants
	Detail string // both values; for RuleTokenText the first differing id and both texts
}

func (e *IncompatibleError) Error() string {
	return fmt.Sprintf("draft vocabulary refused by llama.cpp's rule %q: %s", e.Rule, e.Detail)
}

// CheckCompatible applies llama.cpp's rules for whether a draft model may
// serve a target (common_speculative_are_compatible in common/speculative.cpp,
// upstream 3f545bec), in the same order, and reports the first that fails as
// an *IncompatibleError. The rules:
//
//  1. the vocabulary types are equal;
//  2. both add BOS or neither does, and when they do the BOS ids are equal
//     (the ids are not compared when neither adds BOS);
//  3. the same for EOS;
//  4. the sizes differ by at most VocabMaxSizeDifference;
//  5. every id from VocabCheckStartTokenID up to the smaller size has the
//     same text in both (compared as C strings, as strcmp does: up to a NUL).
//
// A nil vocabulary is an error of the caller, reported as a plain error.
func CheckCompatible(target, draft Vocab) error {
	if target == nil || draft == nil {
		return errors.New("check draft vocabulary: nil vocabulary")
	}
	refuse := func(rule, format string, args ...any) error {
		return &IncompatibleError{Rule: rule, Detail: fmt.Sprintf(format, args...)}
	}
	if t, d := target.VocabType(), draft.VocabType(); t != d {
		return refuse(RuleVocabType, "vocabulary type is %s in the target but %s in the draft", vocabTypeName(t), vocabTypeName(d))
	}
	if t, d := target.AddBOS(), draft.AddBOS(); t != d {
		return refuse(RuleAddBOS, "add_bos is %t in the target but %t in the draft", t, d)
	}
	if target.AddBOS() {
		if t, d := target.BOS(), draft.BOS(); t != d {
			return refuse(RuleBOSID, "BOS is token %d in the target but %d in the draft", t, d)
		}
	}
	if t, d := target.AddEOS(), draft.AddEOS(); t != d {
		return refuse(RuleAddEOS, "add_eos is %t in the target but %t in the draft", t, d)
	}
	if target.AddEOS() {
		if t, d := target.EOS(), draft.EOS(); t != d {
			return refuse(RuleEOSID, "EOS is token %d in the target but %d in the draft", t, d)
		}
	}
	nt, nd := target.VocabSize(), draft.VocabSize()
	if diff := max(nt-nd, nd-nt); diff > VocabMaxSizeDifference {
		return refuse(RuleSizeDifference, "the target has %d tokens and the draft %d, a difference of %d (at most %d allowed)",
			nt, nd, diff, VocabMaxSizeDifference)
	}
	for i := VocabCheckStartTokenID; i < min(nt, nd); i++ {
		id := Token(i)
		t, d := target.TokenText(id), draft.TokenText(id)
		if cString(t) != cString(d) {
			return refuse(RuleTokenText, "token %d is %q in the target but %q in the draft", id, t, d)
		}
	}
	return nil
}

// cString cuts s at its first NUL, as C sees it.
func cString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// vocabTypeName spells a llama_vocab_type with its number.
func vocabTypeName(t int) string {
	names := [...]string{"none", "SPM", "BPE", "WPM", "UGM", "RWKV", "PLaMo2"}
	if t >= 0 && t < len(names) {
		return fmt.Sprintf("%d (%s)", t, names[t])
	}
	return fmt.Sprintf("%d", t)
}
