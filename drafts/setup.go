package drafts

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/speclab/speclab/engine"

	"github.com/speclab/speclab/terms"
)

// Priority is llama.cpp's order among the --spec-type methods speclab
// implements: for each step the first that returns a draft wins.
var Priority = []string{terms.NgramSimple, terms.NgramMapK, terms.NgramMapK4V, terms.NgramMod, terms.DraftSimple, terms.DraftSLEM, terms.DraftTLI}

// DraftModelTypes are the methods that drive a draft model.
var DraftModelTypes = []string{terms.DraftSimple, terms.DraftSLEM, terms.DraftTLI}

// Setup describes the proposers of a run, as llama.cpp's flags do.
type Setup struct {
	// Types are --spec-type names; "none" or empty means no speculation.
	Types []string
	// Ngram holds n-gram options by llama.cpp flag name (see NgramFlags).
	Ngram map[string]int
	// Target is the target's vocabulary, for the draft model's checks
	// (and, for draft-slem and draft-tli, a TextVocab to translate with).
	Target Vocab
	// DraftCtx is a context of the draft model (draft-simple only).
	DraftCtx *engine.Context
	// Seed seeds the draft model's own sampling.
	Seed uint64
	// PerMethod reads a refused draft model as speclab's per-method
	// semantics do (terms.SemanticsPerMethod): only the draft model is left
	// out. By default llama-server's semantics apply: speculation is
	// switched off altogether, the n-gram methods of the same list
	// included.
	PerMethod bool
}

// ParseTypes splits a --spec-type list and checks the names, with
// llama-server's semantics: "none" anywhere turns speculation off (no
// types).
func ParseTypes(s string) ([]string, error) { return parseTypes(s, false) }

// ParseTypesPerMethod is ParseTypes with speclab's per-method semantics:
// "none" in a list is skipped.
func ParseTypesPerMethod(s string) ([]string, error) { return parseTypes(s, true) }

func parseTypes(s string, perMethod bool) ([]string, error) {
	var out []string
	none := false
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		switch {
		case t == "":
			continue
		case t == "none":
			none = true
			continue
		case slices.Contains(Priority, t):
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		case slices.Contains([]string{"draft-eagle3", "draft-mtp", "draft-dflash", "draft-dspark", "ngram-cache"}, t):
			return nil, fmt.Errorf("--spec-type %s: a llama.cpp method speclab does not implement (implemented: %s)", t, strings.Join(Priority, ", "))
		default:
			return nil, fmt.Errorf("--spec-type %q: unknown method (known: none, %s)", t, strings.Join(Priority, ", "))
		}
	}
	if none && !perMethod {
		return nil, nil // llama.cpp's common_speculative_types_from_names
	}
	return out, nil
}

// New builds the proposer of s: nil when no method is configured, a single
// proposer, or a Multi in llama.cpp's priority order. A draft model that
// llama.cpp's vocabulary rules refuse does not fail the run: as in
// llama-server the whole list becomes a Refused proposer whose every draft
// is empty with the reason vocab-refused (with PerMethod, only the draft
// model's member); RefusalOf returns the refusal, naming the rule that
// failed and what the other semantics would have run.
func New(s Setup) (Proposer, error) {
	types := slices.Clone(s.Types)
	slices.SortStableFunc(types, func(a, b string) int {
		return slices.Index(Priority, a) - slices.Index(Priority, b)
	})
	var members []Proposer
	var refusal error
	for _, t := range types {
		if !slices.Contains(DraftModelTypes, t) {
			p, err := NewNgram(t, s.Ngram)
			if err != nil {
				return nil, err
			}
			members = append(members, p)
			continue
		}
		if s.DraftCtx == nil {
			return nil, fmt.Errorf("--spec-type %s needs a draft model (--draft / -md)", t)
		}
		if t != terms.DraftSimple {
			tv, ok := s.Target.(TextVocab)
			if !ok {
				return nil, fmt.Errorf("--spec-type %s: the target's vocabulary has no tokenizer to translate with", t)
			}
			var p Proposer
			var err error
			if t == terms.DraftSLEM {
				p, err = NewSLEM(tv, s.DraftCtx, s.Seed)
			} else {
				p, err = NewTLI(tv, s.DraftCtx, s.Seed)
			}
			if err != nil {
				return nil, err // no shared text: a refusal of the user's set-up, not llama.cpp's
			}
			members = append(members, p)
			continue
		}
		p, err := NewDraftModel(s.Target, s.DraftCtx, s.Seed)
		var ie *IncompatibleError
		switch {
		case errors.As(err, &ie):
			refusal = err
			members = append(members, &Refused{Method: t, Why: VocabRefused, Err: err})
		case err != nil:
			return nil, err
		default:
			members = append(members, p)
		}
	}
	if refusal != nil && !s.PerMethod {
		if others := slices.DeleteFunc(slices.Clone(types), func(t string) bool { return t == terms.DraftSimple }); len(others) > 0 {
			refusal = fmt.Errorf("%w; as in llama-server, every method of the list is off (--semantics %s would still run %s)",
				refusal, terms.SemanticsPerMethod, strings.Join(others, ","))
		}
		return &Refused{Method: strings.Join(types, ","), Why: VocabRefused, Err: refusal}, nil
	}
	switch len(members) {
	case 0:
		return nil, nil
	case 1:
		return members[0], nil
	}
	return &Multi{Members: members}, nil
}

// RefusalOf returns the error of the first Refused proposer in p (p itself
// or a member of a Multi), or nil.
func RefusalOf(p Proposer) error {
	switch p := p.(type) {
	case *Refused:
		return p.Err
	case *Multi:
		for _, m := range p.Members {
			if err := RefusalOf(m); err != nil {
				return err
			}
		}
	}
	return nil
}
