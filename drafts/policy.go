// Dynamic draft policies: how many tokens to draft at each verify step, with
// which probability floor and entropy stop, and how that changes with the
// outcome of earlier steps. The textual form (speclab's --dd-policy flag) is
// read by ParsePolicy, whose comment gives the grammar.

package drafts

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// llama.cpp's draft defaults (common_params_speculative_draft in
// common/common.h). Until 2026-05-19 (upstream d14ce3da) they were
// LegacyNMax and LegacyPMin.
const (
	DefaultNMax = 3
	DefaultPMin = 0.0
	LegacyNMax  = 16
	LegacyPMin  = 0.75
)

// Defaults of the adaptive policies.
const (
	StaircaseDefaultMin = 1
	StaircaseDefaultMax = LegacyNMax
	HFDefaultStart      = 5 // transformers' num_assistant_tokens while "heuristic" was its default schedule
	EntropyDefaultNMax  = LegacyNMax
)

// Limits bound one draft.
type Limits struct {
	// NMax is the most tokens to draft; <= 0 drafts nothing.
	NMax int
	// PMin: a draft model stops when its top candidate's probability is
	// below this.
	PMin float32
	// MaxEntropy: a draft model stops when the entropy (in nats) of its
	// distribution for the next token exceeds this; 0 means no entropy stop.
	MaxEntropy float32
}

// Policy chooses the limits of each draft. A Policy belongs to one sequence
// and is not safe for concurrent use.
type Policy interface {
	Name() string
	// Limits gives the draft limits for a verify step at context position pos.
	Limits(pos int) Limits
	// Observe tells the policy the outcome of a verify step: the target
	// accepted accepted of drafted tokens.
	Observe(drafted, accepted int)
}

// Static always gives the same limits: llama.cpp's behaviour
// (--spec-draft-n-max, --spec-draft-p-min).
type Static struct {
	NMax int
	PMin float32
}

// Name returns "static".
func (s Static) Name() string { return "static" }

// Limits returns s's limits wherever pos is.
func (s Static) Limits(pos int) Limits { return Limits{NMax: s.NMax, PMin: s.PMin} }

// Observe does nothing: a static policy does not learn.
func (s Static) Observe(drafted, accepted int) {}

// String gives the form ParsePolicy reads, e.g. "static:n3,p0".
func (s Static) String() string {
	return "static:" + formatLimits(Limits{NMax: s.NMax, PMin: s.PMin})
}

// Segment is a part of a Schedule: from context position Pos on, Limits
// apply.
type Segment struct {
	Pos    int
	Limits Limits
}

// Schedule gives limits by context position, as the seed's --dd-policy
// "0:n4,p0.25;49152:n4,p0.0" does: up to position 49151 draft at most 4
// tokens with p_min 0.25, from 49152 on at most 4 with no floor. The segments
// are in increasing order of Pos and the first is at 0 (ParsePolicy
// ensures it).
type Schedule []Segment

// Name returns "schedule".
func (s Schedule) Name() string { return "schedule" }

// Limits returns the limits of the last segment that starts at or before
// pos (the first segment's before it; none for an empty schedule).
func (s Schedule) Limits(pos int) Limits {
	if len(s) == 0 {
		return Limits{}
	}
	i := sort.Search(len(s), func(i int) bool { return s[i].Pos > pos })
	return s[max(i-1, 0)].Limits
}

// Observe does nothing: a schedule depends on the position only.
func (s Schedule) Observe(drafted, accepted int) {}

// String gives the form ParsePolicy reads, e.g. "0:n4,p0.25;49152:n4,p0".
func (s Schedule) String() string {
	parts := make([]string, len(s))
	for i, seg := range s {
		parts[i] = strconv.Itoa(seg.Pos) + ":" + formatLimits(seg.Limits)
	}
	return strings.Join(parts, ";")
}

// Staircase moves NMax one step up after a fully accepted draft and one step
// down after a draft the target rejected in part, within [min, max]; it starts
// at llama.cpp's default NMax (3) brought into that range. PMin is 0.
//
// llama.cpp has no such controller: neither common/speculative.cpp nor the
// server of upstream 3f545bec adapts the draft length across steps (the only
// adaptive length there is ngram-map's per key: min(m, tokens accepted the
// last time the key drafted)). This policy implements the staircase the
// project's reference describes, not code of llama.cpp.
type Staircase struct {
	min, max, n int
}

// NewStaircase returns a staircase between min (at least 1) and max.
func NewStaircase(min, max int) (*Staircase, error) {
	if min < 1 {
		return nil, fmt.Errorf("staircase: min %d must be at least 1", min)
	}
	if max < min {
		return nil, fmt.Errorf("staircase: max %d is below min %d", max, min)
	}
	s := &Staircase{min: min, max: max}
	s.Reset()
	return s, nil
}

// Name returns "staircase".
func (s *Staircase) Name() string { return "staircase" }

// Limits returns the current step; pos does not matter.
func (s *Staircase) Limits(pos int) Limits { return Limits{NMax: s.n, PMin: DefaultPMin} }

// Observe steps up when every drafted token was accepted and down otherwise.
// A step with an empty draft tells nothing and changes nothing; accepted is
// taken as at most drafted.
func (s *Staircase) Observe(drafted, accepted int) {
	switch {
	case drafted <= 0:
	case accepted >= drafted:
		s.n = min(s.n+1, s.max)
	default:
		s.n = max(s.n-1, s.min)
	}
}

// Reset returns to the starting step.
func (s *Staircase) Reset() { s.n = min(max(DefaultNMax, s.min), s.max) }

// String gives the form ParsePolicy reads, e.g. "staircase:1,16" (the
// configuration, not the current step).
func (s *Staircase) String() string { return fmt.Sprintf("staircase:%d,%d", s.min, s.max) }

// HF is Hugging Face transformers' num_assistant_tokens_schedule="heuristic"
// (AssistedCandidateGenerator.update_candidate_strategy): after a verify
// step whose draft was accepted in full NMax grows by 2, otherwise it shrinks
// by 1, never below 1. It starts at start (5 in transformers when this was
// its default schedule; newer releases default to 20 tokens, "constant") and
// has no ceiling unless max > 0. PMin is 0.
//
// One difference: transformers counts a verify step with no candidates as
// fully accepted (0 of 0) and adds 2; here an empty draft changes nothing,
// because proposers such as the n-gram methods return empty drafts often.
type HF struct {
	start, max, n int
}

// NewHF returns the heuristic starting at start (at least 1), capped at max
// (0: no cap, as in transformers).
func NewHF(start, max int) (*HF, error) {
	if start < 1 {
		return nil, fmt.Errorf("hf: start %d must be at least 1", start)
	}
	if max < 0 || (max > 0 && max < start) {
		return nil, fmt.Errorf("hf: max %d must be 0 (no cap) or at least start %d", max, start)
	}
	h := &HF{start: start, max: max}
	h.Reset()
	return h, nil
}

// Name returns "hf".
func (h *HF) Name() string { return "hf" }

// Limits returns the current number of assistant tokens; pos does not
// matter.
func (h *HF) Limits(pos int) Limits { return Limits{NMax: h.n, PMin: DefaultPMin} }

// Observe applies the heuristic; accepted is taken as at most drafted.
func (h *HF) Observe(drafted, accepted int) {
	switch {
	case drafted <= 0:
	case accepted >= drafted:
		h.n += 2
		if h.max > 0 {
			h.n = min(h.n, h.max)
		}
	default:
		h.n = max(h.n-1, 1)
	}
}

// Reset returns to the start.
func (h *HF) Reset() { h.n = h.start }

// String gives the form ParsePolicy reads, e.g. "hf:5" or "hf:5,32" (the
// configuration, not the current value).
func (h *HF) String() string {
	if h.max > 0 {
		return fmt.Sprintf("hf:%d,%d", h.start, h.max)
	}
	return fmt.Sprintf("hf:%d", h.start)
}

// Entropy is a training-free entropy stop, a simplification of AdaEDL: a
// draft model drafts up to NMax tokens and stops as soon as the entropy of
// its distribution for the next token exceeds MaxEntropy nats (the
// draft-model proposer applies Limits.MaxEntropy). AdaEDL proper derives the
// threshold from a lower bound on the acceptance probability and adapts it;
// here it is fixed.
type Entropy struct {
	MaxEntropy float32
	NMax       int
	PMin       float32
}

// Name returns "entropy".
func (e Entropy) Name() string { return "entropy" }

// Limits returns e's limits wherever pos is.
func (e Entropy) Limits(pos int) Limits {
	return Limits{NMax: e.NMax, PMin: e.PMin, MaxEntropy: e.MaxEntropy}
}

// Observe does nothing: the threshold is fixed.
func (e Entropy) Observe(drafted, accepted int) {}

// String gives the form ParsePolicy reads, e.g. "entropy:n16,p0,e2.5".
func (e Entropy) String() string { return "entropy:" + formatLimits(e.Limits(0)) }

// ParseError is a policy that ParsePolicy could not read.
type ParseError struct {
	Input  string // the whole policy as given
	Detail string // the bad part and what is wrong with it
}

func (e *ParseError) Error() string { return fmt.Sprintf("policy %q: %s", e.Input, e.Detail) }

// ParsePolicy reads a policy. The grammar (spaces around the parts are
// ignored):
//
//	policy    = static | schedule | staircase | hf | entropy
//	static    = "static" [ ":" limits ]               static:n4,p0.25
//	schedule  = segment { ";" segment }                0:n4,p0.25;49152:n4,p0.0
//	segment   = position ":" limits
//	staircase = "staircase" [ ":" min "," max ]        staircase:1,8
//	hf        = "hf" [ ":" start [ "," max ] ]         hf:5   hf:5,32
//	entropy   = "entropy" ":" limits                   entropy:e2.5,n8
//	limits    = limit { "," limit }
//	limit     = "n" int | "p" float | "e" float
//
// In limits, n is NMax (at least 0), p is PMin (0..1), e is MaxEntropy in
// nats (0 = no entropy stop); each may be given once and in any order. A
// missing n is DefaultNMax (EntropyDefaultNMax for entropy), a missing p is
// DefaultPMin, a missing e is 0. static takes n and p; entropy needs e above
// 0. A schedule's first position is 0 and later positions increase strictly;
// from each position on, its segment's limits apply. Bare "static",
// "staircase" and "hf" take the defaults (DefaultNMax/DefaultPMin,
// StaircaseDefaultMin..StaircaseDefaultMax, HFDefaultStart).
//
// Errors are *ParseError and name the bad part, e.g.
//
//	policy "0:n4,p0.25;4915x:n4": segment 2 "4915x:n4": position "4915x" is not a number
func ParsePolicy(s string) (Policy, error) {
	p, err := parsePolicy(strings.TrimSpace(s))
	if err != nil {
		return nil, &ParseError{Input: s, Detail: err.Error()}
	}
	return p, nil
}

const policyKinds = `static, staircase, hf, entropy or a schedule such as "0:n4,p0.25;49152:n4,p0.0"`

func parsePolicy(s string) (Policy, error) {
	if s == "" {
		return nil, errors.New("empty policy: want " + policyKinds)
	}
	kind, args, hasArgs := strings.Cut(s, ":")
	kind = strings.TrimSpace(kind)
	args = strings.TrimSpace(args)
	switch kind {
	case "static":
		if !hasArgs {
			return Static{NMax: DefaultNMax, PMin: DefaultPMin}, nil
		}
		l, err := parseLimits(args, "np", Limits{NMax: DefaultNMax, PMin: DefaultPMin})
		if err != nil {
			return nil, fmt.Errorf("static: %w", err)
		}
		return Static{NMax: l.NMax, PMin: l.PMin}, nil
	case "staircase":
		lo, hi := StaircaseDefaultMin, StaircaseDefaultMax
		if hasArgs {
			a, b, ok := strings.Cut(args, ",")
			if !ok || strings.Contains(b, ",") {
				return nil, fmt.Errorf("staircase %q: want staircase:MIN,MAX, e.g. staircase:1,8", args)
			}
			var err error
			if lo, err = parseCount("min", a); err != nil {
				return nil, fmt.Errorf("staircase: %w", err)
			}
			if hi, err = parseCount("max", b); err != nil {
				return nil, fmt.Errorf("staircase: %w", err)
			}
		}
		return NewStaircase(lo, hi)
	case "hf":
		start, hi := HFDefaultStart, 0
		if hasArgs {
			a, b, hasMax := strings.Cut(args, ",")
			var err error
			if start, err = parseCount("start", a); err != nil {
				return nil, fmt.Errorf("hf: %w", err)
			}
			if hasMax {
				if strings.Contains(b, ",") {
					return nil, fmt.Errorf("hf %q: want hf:START or hf:START,MAX, e.g. hf:5", args)
				}
				if hi, err = parseCount("max", b); err != nil {
					return nil, fmt.Errorf("hf: %w", err)
				}
			}
		}
		return NewHF(start, hi)
	case "entropy":
		if !hasArgs {
			return nil, errors.New("entropy needs a threshold, e.g. entropy:e2.5")
		}
		l, err := parseLimits(args, "npe", Limits{NMax: EntropyDefaultNMax, PMin: DefaultPMin})
		if err != nil {
			return nil, fmt.Errorf("entropy: %w", err)
		}
		if !(l.MaxEntropy > 0) {
			return nil, fmt.Errorf("entropy %q: needs e above 0, e.g. entropy:e2.5", args)
		}
		return Entropy{MaxEntropy: l.MaxEntropy, NMax: l.NMax, PMin: l.PMin}, nil
	}
	if strings.Contains(s, ";") || (kind != "" && strings.ContainsRune("0123456789+-", rune(kind[0]))) {
		return parseSchedule(s)
	}
	return nil, fmt.Errorf("unknown policy %q: want %s", kind, policyKinds)
}

func parseSchedule(s string) (Schedule, error) {
	var sched Schedule
	for i, seg := range strings.Split(s, ";") {
		seg = strings.TrimSpace(seg)
		if seg == "" {
			return nil, fmt.Errorf("segment %d is empty", i+1)
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("segment %d %q: %s", i+1, seg, fmt.Sprintf(format, args...))
		}
		p, limits, ok := strings.Cut(seg, ":")
		if !ok {
			return nil, bad("want POSITION:LIMITS, e.g. 49152:n4,p0.0")
		}
		p = strings.TrimSpace(p)
		pos, err := strconv.Atoi(p)
		switch {
		case err != nil:
			return nil, bad("position %q is not a number", p)
		case pos < 0:
			return nil, bad("position %d is negative", pos)
		case i == 0 && pos != 0:
			return nil, bad("the first position must be 0, not %d", pos)
		case i > 0 && pos <= sched[i-1].Pos:
			return nil, bad("position %d does not follow %d (positions must increase)", pos, sched[i-1].Pos)
		}
		l, err := parseLimits(limits, "npe", Limits{NMax: DefaultNMax, PMin: DefaultPMin})
		if err != nil {
			return nil, bad("%v", err)
		}
		sched = append(sched, Segment{Pos: pos, Limits: l})
	}
	return sched, nil
}

// parseLimits reads "n4,p0.25,e2" allowing the keys in allowed; missing keys
// keep def's values.
func parseLimits(s, allowed string, def Limits) (Limits, error) {
	l := def
	s = strings.TrimSpace(s)
	if s == "" {
		return l, errors.New("no limits: want n<int>, p<float> or e<float>, e.g. n4,p0.25")
	}
	seen := ""
	for i, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			return l, fmt.Errorf("limit %d is empty", i+1)
		}
		r, size := utf8.DecodeRuneInString(f)
		key, val := string(r), strings.TrimSpace(f[size:])
		bad := func(format string, args ...any) error {
			return fmt.Errorf("limit %q: %s", f, fmt.Sprintf(format, args...))
		}
		switch {
		case !strings.Contains("npe", key):
			return l, bad("unknown limit %q: want n<int>, p<float> or e<float>", key)
		case !strings.Contains(allowed, key):
			return l, bad("%s is not allowed here (allowed: %s)", key, strings.Join(strings.Split(allowed, ""), ", "))
		case strings.Contains(seen, key):
			return l, bad("%s is given twice", key)
		case val == "":
			return l, bad("%s needs a value, e.g. %s", key, map[string]string{"n": "n4", "p": "p0.25", "e": "e2.5"}[key])
		}
		seen += key
		switch key {
		case "n":
			n, err := parseCount("n", val)
			if err != nil {
				return l, bad("%v", err)
			}
			l.NMax = n
		case "p":
			p, err := parseFloat("p", val)
			if err != nil {
				return l, bad("%v", err)
			}
			if p < 0 || p > 1 {
				return l, bad("p %s is outside 0..1", val)
			}
			l.PMin = p
		case "e":
			e, err := parseFloat("e", val)
			if err != nil {
				return l, bad("%v", err)
			}
			if e < 0 {
				return l, bad("e %s is negative", val)
			}
			l.MaxEntropy = e
		}
	}
	return l, nil
}

// parseCount reads a whole number of at least 0.
func parseCount(name, s string) (int, error) {
	s = strings.TrimSpace(s)
	n, err := strconv.Atoi(s)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, fmt.Errorf("%s %q is too large", name, s)
	case err != nil:
		return 0, fmt.Errorf("%s %q is not a whole number", name, s)
	case n < 0:
		return 0, fmt.Errorf("%s %d is negative", name, n)
	}
	return n, nil
}

// parseFloat reads a finite float32.
func parseFloat(name, s string) (float32, error) {
	f, err := strconv.ParseFloat(s, 32)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%s %q is not a finite number", name, s)
	}
	return float32(f), nil
}

// formatLimits writes l as parseLimits reads it; e only when set.
func formatLimits(l Limits) string {
	s := "n" + strconv.Itoa(l.NMax) + ",p" + formatFloat(l.PMin)
	if l.MaxEntropy != 0 {
		s += ",e" + formatFloat(l.MaxEntropy)
	}
	return s
}

func formatFloat(f float32) string { return strconv.FormatFloat(float64(f), 'g', -1, 32) }
