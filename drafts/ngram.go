// This file and the other ngram*.go files own llama.cpp's n-gram proposers
// (ngram-simple, ngram-map-k, ngram-map-k4v, ngram-mod), ported from
// common/ngram-map.cpp, common/ngram-mod.cpp and common/speculative.cpp of
// llama.cpp 3f545bec. They must not touch drafts.go (the interface) or the
// policy, compat and model files.
//
// How llama.cpp's calls map onto Proposer:
//
//   - llama.cpp passes the history without the token just sampled (its
//     "prompt", of length cur_len) plus that token (id_last). Here both are in
//     Request.History: cur_len = len(History) - 1 and id_last =
//     History[len(History)-1]. Every threshold below is stated both ways.
//   - llama.cpp calls begin(prompt) once per request, after the prompt is
//     processed. Here the first Draft after Reset (or after History got
//     shorter, which means a new sequence) does it with History minus its last
//     token. NgramMap.Begin and NgramMod.Begin do it explicitly, keeping what
//     llama.cpp keeps across requests.
//   - The server truncates every draft to its n_max, the room left in the
//     context and in n_predict (n_ctx - n_past - 2 and n_remaining - 1).
//     Request.Room plays that part; Room <= 0 means the server does not
//     draft at all (NoRoom).
//   - Request.NMax, NMin, PMin and Sample are not used by n-gram methods:
//     llama.cpp applies --spec-draft-n-max, n-min and p-min to draft models
//     only (ngram-mod has its own n_max and n_min).
//   - The server calls accept only after a non-empty draft, so Accepted after
//     an empty draft is ignored. Its argument is clamped to [0, len(draft)].
//
// Indexing is incremental: each proposer remembers how much of History it has
// seen and looks only at the new part, so a call's work does not grow with
// the history (except k4v's statistics, which visit every earlier occurrence
// of a key once, as llama.cpp does). History must only grow within a sequence (new
// tokens appended); when it is shorter than the last call's, the proposer
// resets itself and begins a new sequence.

package drafts

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/speclab/speclab/terms"
)

// Defaults of llama.cpp's n-gram flags (common/common.h), from package terms.
const (
	DefaultNgramSizeN     = terms.NgramSizeN
	DefaultNgramSizeM     = terms.NgramSizeM
	DefaultNgramMinHits   = terms.NgramMinHits
	DefaultNgramModNMatch = terms.NgramModNMatch
	DefaultNgramModNMin   = terms.NgramModNMin
	DefaultNgramModNMax   = terms.NgramModNMax
)

// ngramTypes are the --spec-type names this file implements, in llama.cpp's
// priority order.
var ngramTypes = []string{terms.NgramSimple, terms.NgramMapK, terms.NgramMapK4V, terms.NgramMod}

// NgramFlags lists the option names NewNgram accepts, as llama.cpp's arg.cpp
// spells them.
func NgramFlags() []string {
	var names []string
	for _, t := range ngramTypes[:3] {
		for _, f := range []string{"size-n", "size-m", "min-hits"} {
			names = append(names, "--spec-"+t+"-"+f)
		}
	}
	return append(names, "--spec-ngram-mod-n-match", "--spec-ngram-mod-n-min", "--spec-ngram-mod-n-max")
}

// NewNgram returns the n-gram proposer that llama.cpp's --spec-type names
// (ngram-simple, ngram-map-k, ngram-map-k4v or ngram-mod), configured by
// opts, whose keys are llama.cpp's flag names (see NgramFlags; the leading
// "--" may be left out). Flags missing from opts take llama.cpp's defaults.
// As on llama.cpp's command line, the flags of the other n-gram types are
// accepted and ignored, so one option set can configure several proposers;
// an unknown name or a value outside llama.cpp's range is an error.
func NewNgram(specType string, opts map[string]int) (Proposer, error) {
	known := NgramFlags()
	norm := make(map[string]int, len(opts))
	names := make([]string, 0, len(opts))
	for k := range opts {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		flag := "--" + strings.TrimPrefix(k, "--")
		if !slices.Contains(known, flag) {
			return nil, fmt.Errorf("n-gram option %q: unknown (known: %s)", k, strings.Join(known, ", "))
		}
		if _, dup := norm[flag]; dup {
			return nil, fmt.Errorf("n-gram option %q: given twice (with and without \"--\")", flag)
		}
		norm[flag] = opts[k]
	}
	val := func(flag string, def int) int {
		if v, ok := norm[flag]; ok {
			return v
		}
		return def
	}
	var p interface {
		Proposer
		check() error
	}
	switch specType {
	case terms.NgramSimple, terms.NgramMapK, terms.NgramMapK4V:
		pre := "--spec-" + specType + "-"
		n := val(pre+"size-n", DefaultNgramSizeN)
		m := val(pre+"size-m", DefaultNgramSizeM)
		h := val(pre+"min-hits", DefaultNgramMinHits)
		if specType == terms.NgramSimple {
			p = &NgramSimple{N: n, M: m, MinHits: h}
		} else {
			p = &NgramMap{N: n, M: m, MinHits: h, K4V: specType == terms.NgramMapK4V}
		}
	case terms.NgramMod:
		p = &NgramMod{
			NMatch: val("--spec-ngram-mod-n-match", DefaultNgramModNMatch),
			NMin:   val("--spec-ngram-mod-n-min", DefaultNgramModNMin),
			NMax:   val("--spec-ngram-mod-n-max", DefaultNgramModNMax),
		}
	case "ngram-cache":
		return nil, fmt.Errorf("spec type %q: not implemented (n-gram types: %s)", specType, strings.Join(ngramTypes, ", "))
	default:
		return nil, fmt.Errorf("spec type %q: not an n-gram method (n-gram types: %s)", specType, strings.Join(ngramTypes, ", "))
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return p, nil
}

// checkMap checks an n-gram size pair and min_hits against arg.cpp's ranges.
// min_hits is a uint16 in llama.cpp; larger values, which llama.cpp would
// silently truncate, are refused.
func checkMap(name string, n, m, minHits int) error {
	switch {
	case n < 1 || n > 1024:
		return fmt.Errorf("%s: size N = %d: ngram size N must be between 1 and 1024 inclusive (--spec-%s-size-n)", name, n, name)
	case m < 1 || m > 1024:
		return fmt.Errorf("%s: size M = %d: ngram size M must be between 1 and 1024 inclusive (--spec-%s-size-m)", name, m, name)
	case minHits < 1 || minHits > math.MaxUint16:
		return fmt.Errorf("%s: min hits = %d: must be between 1 and 65535 (--spec-%s-min-hits)", name, minHits, name)
	}
	return nil
}

// seqTrack follows the growth of one sequence's history: it notices when a
// new sequence starts without Reset and checks each new token once.
type seqTrack struct {
	seen int // len(History) at the last call
}

// advance records h. It reports shrunk when h is shorter than the last
// history seen (the caller resets and calls again).
func (s *seqTrack) advance(h []Token) (shrunk bool, err error) {
	if len(h) < s.seen {
		return true, nil
	}
	if len(h) >= math.MaxInt32 {
		return false, fmt.Errorf("history of %d tokens: at most %d are supported", len(h), math.MaxInt32-1)
	}
	for i := s.seen; i < len(h); i++ {
		if h[i] < 0 {
			return false, fmt.Errorf("history[%d] = %d: token ids are never negative", i, h[i])
		}
	}
	s.seen = len(h)
	return false, nil
}

// chainIndex indexes every n-gram of a growing token sequence by content, so
// that the earlier occurrences of an n-gram are walked newest first: prev[p]
// is the previous start position whose n-gram has the same 64-bit hash as
// the one at p (-1 if none). Equal hashes do not prove equal content: callers
// compare tokens.
type chainIndex struct {
	n    int
	pow  uint64 // chainBase^(n-1)
	h    uint64 // hash of the n-gram at done-1
	done int    // n-grams starting before done are indexed
	prev []int32
	head headTable
}

const chainBase = 0x9E3779B97F4A7C15

func (c *chainIndex) reset(n int) {
	c.n, c.done, c.h = n, 0, 0
	c.pow = 1
	for range n - 1 {
		c.pow *= chainBase
	}
	c.prev = c.prev[:0]
	c.head.reset()
}

// extend indexes the n-grams of h not indexed yet. h must extend the
// sequence indexed so far.
func (c *chainIndex) extend(h []Token) {
	n := c.n
	for p := c.done; p+n <= len(h); p++ {
		if p == 0 {
			c.h = hashTokens(h[:n])
		} else {
			c.h = (c.h-chainTok(h[p-1])*c.pow)*chainBase + chainTok(h[p+n-1])
		}
		c.prev = append(c.prev, c.head.swap(c.h, int32(p)))
		c.done = p + 1
	}
}

// headTable maps an n-gram hash to the latest position with that hash: an
// open-addressing table with linear probing, cheaper than a Go map here.
type headTable struct {
	slots []headSlot // len is a power of 2, at most half full
	used  int
}

type headSlot struct {
	h   uint64
	pos int32 // 0: empty, else position+1
}

func (t *headTable) reset() {
	clear(t.slots)
	t.used = 0
}

// swap stores pos for h and returns the position stored before (-1: none).
func (t *headTable) swap(h uint64, pos int32) int32 {
	if 2*(t.used+1) > len(t.slots) {
		t.grow()
	}
	mask := uint64(len(t.slots) - 1)
	for i := (h * chainBase) >> 32 & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.pos == 0 {
			s.h, s.pos = h, pos+1
			t.used++
			return -1
		}
		if s.h == h {
			old := s.pos - 1
			s.pos = pos + 1
			return old
		}
	}
}

func (t *headTable) grow() {
	old := t.slots
	t.slots = make([]headSlot, max(1024, 2*len(old)))
	t.used = 0
	for _, s := range old {
		if s.pos != 0 {
			t.swap(s.h, s.pos-1)
		}
	}
}

func chainTok(t Token) uint64 { return uint64(uint32(t)) + 1 }

// hashTokens is chainIndex's hash of one n-gram.
func hashTokens(ts []Token) uint64 {
	var h uint64
	for _, t := range ts {
		h = h*chainBase + chainTok(t)
	}
	return h
}

// equalAt reports whether h[i:i+len(pat)] equals pat; out of range is false.
func equalAt(h []Token, i int, pat []Token) bool {
	if i < 0 || i+len(pat) > len(h) {
		return false
	}
	return slices.Equal(h[i:i+len(pat)], pat)
}

// noDraft is an empty draft of source that says why.
func noDraft(source string, why Reason) Draft {
	return Draft{Reason: why, Source: source}
}

// clampAccepted brings Accepted's argument into [0, last].
func clampAccepted(n, last int) int {
	return max(0, min(n, last))
}
