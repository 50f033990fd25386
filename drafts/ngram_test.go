package drafts

import (
	"slices"
	"strings"
	"testing"
)

// The expected drafts below are worked out by hand from llama.cpp's rules
// (common/ngram-map.cpp, common/ngram-mod.cpp, common/speculative.cpp); the
// comments give the reasoning. cur is llama.cpp's cur_len = len(History)-1.

func tk(ts ...Token) []Token { return ts }

// rng returns a, a+1, ..., b-1.
func rng(a, b Token) []Token {
	var ts []Token
	for t := a; t < b; t++ {
		ts = append(ts, t)
	}
	return ts
}

func cat(parts ...[]Token) []Token {
	var ts []Token
	for _, p := range parts {
		ts = append(ts, p...)
	}
	return ts
}

func accept(n int) *int { return &n }

// step is one verify step of a scenario: optional Reset or Begin, a Draft,
// the checks, then optional feedback.
type step struct {
	reset  bool
	begin  []Token // when set, Begin(begin) before the Draft
	hist   []Token
	room   int // Request.Room; 0: 1000; negative: passed as is
	want   []Token
	why    Reason
	detail string // NgramMap only: expected Detail()
	acc    *int   // when set, Accepted(*acc) after the Draft
}

func runSteps(t *testing.T, p Proposer, steps []step) {
	t.Helper()
	for i, s := range steps {
		if s.reset {
			p.Reset()
		}
		if s.begin != nil {
			b, ok := p.(interface{ Begin([]Token) error })
			if !ok {
				t.Fatalf("step %d: %s has no Begin", i, p.Name())
			}
			if err := b.Begin(s.begin); err != nil {
				t.Fatalf("step %d: Begin: %v", i, err)
			}
		}
		room := s.room
		if room == 0 {
			room = 1000
		}
		// NMax is --spec-draft-n-max (default 3), which n-gram methods ignore.
		d, err := p.Draft(Request{History: s.hist, NMax: 3, Room: room})
		if err != nil {
			t.Fatalf("step %d: Draft: %v", i, err)
		}
		if !slices.Equal(d.Tokens, s.want) || d.Reason != s.why {
			t.Fatalf("step %d (history of %d): got %v (reason %q), want %v (reason %q)", i, len(s.hist), d.Tokens, d.Reason, s.want, s.why)
		}
		if d.Source != p.Name() || d.Q != nil || d.Dist != nil || d.Entropy != nil {
			t.Fatalf("step %d: Source %q, Q %v, Dist %v, Entropy %v; want Source %q and no distributions", i, d.Source, d.Q, d.Dist, d.Entropy, p.Name())
		}
		if m, ok := p.(*NgramMap); ok && m.Detail() != s.detail {
			t.Fatalf("step %d: Detail() = %q, want %q", i, m.Detail(), s.detail)
		}
		if s.acc != nil {
			p.Accepted(*s.acc)
		}
	}
}

var (
	a12 = rng(1, 13) // a 12-token pattern
	// Default-size histories: [100] A B A, the pattern A at 1 and at the end.
	simple62 = cat(tk(100), a12, rng(200, 237), a12) // cur = 61 = n+m+1
	simple63 = cat(tk(100), a12, rng(200, 238), a12) // cur = 62
	map72    = cat(tk(100), a12, rng(200, 247), a12) // cur = 71 = 2n+m-1
	map73    = cat(tk(100), a12, rng(200, 248), a12) // cur = 72 = 2n+m
)

func TestNgramSimple(t *testing.T) {
	def := NgramSimple{N: 12, M: 48, MinHits: 1}
	small := NgramSimple{N: 3, M: 4, MinHits: 1}
	pair := NgramSimple{N: 2, M: 2, MinHits: 1}
	// Occurrences of [1 2] at 1, 5, 12, 17 and at the end (24).
	latest := tk(9, 1, 2, 3, 4, 1, 2, 5, 6, 40, 41, 42, 1, 2, 5, 6, 7, 1, 2, 8, 9, 50, 51, 52, 1, 2)
	tests := []struct {
		name string
		p    NgramSimple
		s    step
	}{
		// cur must exceed n+m+1 = 61.
		{"defaults/62 tokens: too few", def, step{hist: simple62, why: NoHistory}},
		// A at 1; 62-13 = 49 >= 12 tokens follow it; up to 48: B (38) then A[0:10].
		{"defaults/63 tokens: draft", def, step{hist: simple63, want: cat(rng(200, 238), rng(1, 11))}},
		{"defaults/room caps", def, step{hist: simple63, room: 5, want: rng(200, 205)}},
		{"defaults/no room", def, step{hist: simple63, room: -1, why: NoRoom}},
		// n=3, m=4: cur must exceed 8.
		{"small/9 tokens: too few", small, step{hist: tk(0, 1, 2, 3, 4, 5, 1, 2, 3), why: NoHistory}},
		// cur = 9; [1 2 3] at 1 (latest start allowed: cur-n-1 = 5); 5 tokens follow, take 4.
		{"small/10 tokens: draft", small, step{hist: tk(0, 1, 2, 3, 4, 5, 6, 1, 2, 3), want: tk(4, 5, 6, 1)}},
		// [1 2 3] at 9 (latest allowed start 11); 15-12 = 3 tokens follow: a 3-token draft.
		{"small/short tail", small, step{hist: tk(0, 1, 2, 3, 10, 11, 12, 13, 14, 1, 2, 3, 7, 1, 2, 3), want: tk(7, 1, 2)}},
		// [1 2 3] at 10: only 15-13 = 2 < n tokens follow: nothing, though the one at 1 had plenty.
		{"small/latest too close", small, step{hist: tk(0, 1, 2, 3, 20, 21, 22, 23, 24, 25, 1, 2, 3, 1, 2, 3), why: NoMatch}},
		{"small/position 0 never matches", small, step{hist: tk(1, 2, 3, 10, 11, 12, 13, 14, 15, 16, 1, 2, 3), why: NoMatch}},
		{"small/no occurrence", small, step{hist: rng(0, 20), why: NoMatch}},
		// Latest start allowed: 25-2-1 = 22; [1 2] at 17 is followed by [8 9].
		{"pair/most recent occurrence", pair, step{hist: latest, want: tk(8, 9)}},
		{"pair/room caps", pair, step{hist: latest, room: 1, want: tk(8)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			runSteps(t, &p, []step{tc.s})
		})
	}
}

func TestNgramSimpleIncremental(t *testing.T) {
	// One proposer over a growing history, then a new, shorter sequence.
	p := &NgramSimple{N: 2, M: 2, MinHits: 1}
	runSteps(t, p, []step{
		{hist: tk(9, 1, 2, 3, 4, 5, 6, 1, 2), want: tk(3, 4)},
		{hist: tk(9, 1, 2, 3, 4, 5, 6, 1, 2, 3, 8, 7), why: NoMatch},
		// [1 2] at 1, 7 and 12 (the end): 7 is the latest start <= cur-3 = 10.
		{hist: tk(9, 1, 2, 3, 4, 5, 6, 1, 2, 3, 8, 7, 1, 2), want: tk(3, 8)},
		{hist: tk(9, 1, 2, 3, 4, 5, 6, 1, 2, 3, 8, 7, 1, 2, 3, 5, 9, 1, 2), want: tk(3, 5)},
		// A new sequence: [1 2] appears only at the end; a stale index would match.
		{hist: tk(50, 51, 52, 53, 54, 55, 56, 1, 2), why: NoMatch},
	})
}

func TestNgramMap(t *testing.T) {
	type cfg struct{ n, m, minHits int }
	tests := []struct {
		name  string
		cfg   cfg
		k, k4 []step // the scenario for ngram-map-k and for ngram-map-k4v (nil: skipped)
	}{
		{
			// cur must reach 2n+m = 72.
			name: "defaults/72 tokens: too few", cfg: cfg{12, 48, 1},
			k:  []step{{hist: map72, why: NoHistory}},
			k4: []step{{hist: map72, why: NoHistory}},
		},
		{
			// cur = 72: the scan of the prompt from cur-n-m-1 = 11 down finds A at 1;
			// k4v: one occurrence, one value (count 1): dominant.
			name: "defaults/73 tokens: draft", cfg: cfg{12, 48, 1},
			k:  []step{{hist: map73, want: rng(200, 248)}},
			k4: []step{{hist: map73, want: rng(200, 248)}},
		},
		{
			name: "defaults/room", cfg: cfg{12, 48, 1},
			k:  []step{{hist: map73, room: 5, want: rng(200, 205)}, {hist: map73, room: -1, why: NoRoom}},
			k4: []step{{hist: map73, room: 5, want: rng(200, 205)}},
		},
		{
			name: "pair/no occurrence", cfg: cfg{2, 2, 1},
			k:  []step{{hist: rng(0, 20), why: NoMatch, detail: MapNoKey}},
			k4: []step{{hist: rng(0, 20), why: NoMatch, detail: MapNoKey}},
		},
		{
			// [1 2] at 1 (followed by 3 4) and 5 (by 5 6); the scan from cur-n-m-1 = 8
			// down finds 5. k4v: values [3 4] and [5 6] counted once each: 1 < 2*1.
			name: "pair/prompt scan finds the latest", cfg: cfg{2, 2, 1},
			k:  []step{{hist: tk(9, 1, 2, 3, 4, 1, 2, 5, 6, 40, 41, 42, 1, 2), want: tk(5, 6)}},
			k4: []step{{hist: tk(9, 1, 2, 3, 4, 1, 2, 5, 6, 40, 41, 42, 1, 2), why: NoMatch, detail: MapNotDominant}},
		},
		{
			// The prompt hashed [1 2] at 5. Later occurrences (12, in the never
			// hashed end of the prompt, and 17, followed by 8 9) are not used.
			name: "pair/a hashed key keeps its position", cfg: cfg{2, 2, 1},
			k: []step{
				{hist: tk(9, 1, 2, 3, 4, 1, 2, 5, 6, 40, 41, 42, 1, 2), want: tk(5, 6), acc: accept(2)},
				{hist: tk(9, 1, 2, 3, 4, 1, 2, 5, 6, 40, 41, 42, 1, 2, 5, 6, 7, 1, 2, 8, 9, 50, 51, 52, 1, 2), want: tk(5, 6)},
			},
		},
		{
			// The first call (cur 11) hashes positions 1..6; [1 2] at 7 lies in
			// the end of the prompt (7..11), never hashed nor scanned: the key is
			// not found later either (ngram-simple would draft [7 8]).
			name: "pair/the end of the prompt is never indexed", cfg: cfg{2, 2, 1},
			k:  promptEnd,
			k4: promptEnd,
		},
		{
			// [1 2] at 1, 5, 9 followed by [5 6], [5 6], [7 8]: 2 >= 2*1, dominant.
			// k4v still drafts what follows the match (9): [7 8], not [5 6].
			name: "pair/dominant by exactly twice", cfg: cfg{2, 2, 1},
			k:  []step{{hist: tk(9, 1, 2, 5, 6, 1, 2, 5, 6, 1, 2, 7, 8, 30, 31, 32, 33, 1, 2), want: tk(7, 8)}},
			k4: []step{{hist: tk(9, 1, 2, 5, 6, 1, 2, 5, 6, 1, 2, 7, 8, 30, 31, 32, 33, 1, 2), want: tk(7, 8)}},
		},
		{
			// [1 2] at 1 and 5 followed by [5 6] and [7 8]: 1 < 2*1. When the key
			// comes back, the statistics run from stat_idx = 5 to the match (5)
			// again: [7 8] counts 2 against 1 and the key drafts.
			name: "pair/not dominant, then the match counted again", cfg: cfg{2, 2, 1},
			k: []step{{hist: tk(9, 1, 2, 5, 6, 1, 2, 7, 8, 30, 31, 32, 33, 1, 2), want: tk(7, 8)}},
			k4: []step{
				{hist: tk(9, 1, 2, 5, 6, 1, 2, 7, 8, 30, 31, 32, 33, 1, 2), why: NoMatch, detail: MapNotDominant},
				{hist: tk(9, 1, 2, 5, 6, 1, 2, 7, 8, 30, 31, 32, 33, 1, 2, 40), why: NoMatch, detail: MapNoKey},
				{hist: tk(9, 1, 2, 5, 6, 1, 2, 7, 8, 30, 31, 32, 33, 1, 2, 40, 1), why: NoMatch, detail: MapNoKey},
				{hist: tk(9, 1, 2, 5, 6, 1, 2, 7, 8, 30, 31, 32, 33, 1, 2, 40, 1, 2), want: tk(7, 8)},
			},
		},
		{
			// min_hits 2: the first hit of [1 2] drafts nothing in k4v (map-k does
			// not check it); the second hit drafts.
			name: "pair/min hits", cfg: cfg{2, 2, 2},
			k: []step{{hist: tk(9, 1, 2, 5, 6, 30, 31, 32, 33, 1, 2), want: tk(5, 6)}},
			k4: []step{
				{hist: tk(9, 1, 2, 5, 6, 30, 31, 32, 33, 1, 2), why: NoMatch, detail: MapBelowMinHits},
				{hist: tk(9, 1, 2, 5, 6, 30, 31, 32, 33, 1, 2, 40), why: NoMatch, detail: MapNoKey},
				{hist: tk(9, 1, 2, 5, 6, 30, 31, 32, 33, 1, 2, 40, 1), why: NoMatch, detail: MapNoKey},
				{hist: tk(9, 1, 2, 5, 6, 30, 31, 32, 33, 1, 2, 40, 1, 2), want: tk(5, 6)},
			},
		},
		{
			// n=2, m=4: [1 2] at 1 drafts [3 4 5 6]; 2 accepted, then [1 2] again
			// drafts min(4, 2) tokens. The steps between find no key: their
			// positions (4..10) lie in the never hashed end of the prompt.
			name: "pair/accepted 2 shortens the key's draft", cfg: cfg{2, 4, 1},
			k:  feedback2,
			k4: feedback2,
		},
		{
			name: "pair/accepted 0 kills the key", cfg: cfg{2, 4, 1},
			k:  feedback0,
			k4: feedback0,
		},
		{
			// A new, shorter sequence resets the map: a stale one would find key
			// [1 2] at 1 with its feedback (2) and draft 2 tokens instead of 4.
			name: "pair/new sequence", cfg: cfg{2, 4, 1},
			k: []step{
				{hist: tk(9, 1, 2, 3, 4, 5, 6, 20, 21, 1, 2), want: tk(3, 4, 5, 6), acc: accept(2)},
				{hist: tk(50, 1, 2, 60, 61, 62, 63, 70, 1, 2), want: tk(60, 61, 62, 63)},
			},
			k4: []step{
				{hist: tk(9, 1, 2, 3, 4, 5, 6, 20, 21, 1, 2), want: tk(3, 4, 5, 6), acc: accept(2)},
				{hist: tk(50, 1, 2, 60, 61, 62, 63, 70, 1, 2), want: tk(60, 61, 62, 63)},
			},
		},
		{
			// Reset forgets the feedback: the same history drafts 4 tokens again.
			name: "pair/reset", cfg: cfg{2, 4, 1},
			k: []step{
				{hist: tk(9, 1, 2, 3, 4, 5, 6, 20, 21, 1, 2), want: tk(3, 4, 5, 6), acc: accept(0)},
				{reset: true, hist: tk(9, 1, 2, 3, 4, 5, 6, 20, 21, 1, 2), want: tk(3, 4, 5, 6)},
			},
		},
		{
			// Begin with a longer prompt (the next request) keeps every key: the
			// feedback of [1 2] (2 accepted) still holds.
			name: "pair/begin keeps the keys", cfg: cfg{2, 4, 1},
			k:  beginLonger,
			k4: beginLonger,
		},
		{
			// Begin with a prompt (9 tokens) shorter than the last check (10) cleans
			// up from 9-n-m = 3: key [1 2] at 1 stays, and in map-k keeps its
			// feedback; in k4v its only value (at 3) goes, and with it the key,
			// which then starts afresh with a draft of m tokens.
			name: "pair/begin shorter cleans up", cfg: cfg{2, 4, 1},
			k: []step{
				{hist: tk(9, 1, 2, 3, 4, 5, 6, 20, 21, 1, 2), want: tk(3, 4, 5, 6), acc: accept(2)},
				{begin: tk(9, 1, 2, 3, 4, 5, 6, 20, 21), hist: tk(9, 1, 2, 3, 4, 5, 6, 20, 21, 1, 2), want: tk(3, 4)},
			},
			k4: []step{
				{hist: tk(9, 1, 2, 3, 4, 5, 6, 20, 21, 1, 2), want: tk(3, 4, 5, 6), acc: accept(2)},
				{begin: tk(9, 1, 2, 3, 4, 5, 6, 20, 21), hist: tk(9, 1, 2, 3, 4, 5, 6, 20, 21, 1, 2), want: tk(3, 4, 5, 6)},
			},
		},
	}
	for _, tc := range tests {
		for _, k4v := range []bool{false, true} {
			steps := tc.k
			if k4v {
				steps = tc.k4
			}
			if steps == nil {
				continue
			}
			p := &NgramMap{N: tc.cfg.n, M: tc.cfg.m, MinHits: tc.cfg.minHits, K4V: k4v}
			t.Run(p.Name()+"/"+tc.name, func(t *testing.T) { runSteps(t, p, steps) })
		}
	}
}

var (
	feedback2 = []step{
		{hist: tk(9, 1, 2, 3, 4, 5, 6, 20, 21, 1, 2), want: tk(3, 4, 5, 6), acc: accept(2)},
		{hist: tk(9, 1, 2, 3, 4, 5, 6, 20, 21, 1, 2, 3, 4, 7), why: NoMatch, detail: MapNoKey},
		{hist: tk(9, 1, 2, 3, 4, 5, 6, 20, 21, 1, 2, 3, 4, 7, 1), why: NoMatch, detail: MapNoKey},
		{hist: tk(9, 1, 2, 3, 4, 5, 6, 20, 21, 1, 2, 3, 4, 7, 1, 2), want: tk(3, 4), acc: accept(1)},
		// Accepted 1 (history + [3 8]); the key's feedback is now 1.
		{hist: tk(9, 1, 2, 3, 4, 5, 6, 20, 21, 1, 2, 3, 4, 7, 1, 2, 3, 8), why: NoMatch, detail: MapNoKey},
		{hist: tk(9, 1, 2, 3, 4, 5, 6, 20, 21, 1, 2, 3, 4, 7, 1, 2, 3, 8, 1), why: NoMatch, detail: MapNoKey},
		{hist: tk(9, 1, 2, 3, 4, 5, 6, 20, 21, 1, 2, 3, 4, 7, 1, 2, 3, 8, 1, 2), want: tk(3)},
	}
	feedback0 = []step{
		{hist: tk(9, 1, 2, 3, 4, 5, 6, 20, 21, 1, 2), want: tk(3, 4, 5, 6), acc: accept(0)},
		{hist: tk(9, 1, 2, 3, 4, 5, 6, 20, 21, 1, 2, 1), why: NoMatch, detail: MapNoKey},
		{hist: tk(9, 1, 2, 3, 4, 5, 6, 20, 21, 1, 2, 1, 2), why: NoMatch, detail: MapDeadKey},
		{hist: tk(9, 1, 2, 3, 4, 5, 6, 20, 21, 1, 2, 1, 2, 1), why: NoMatch, detail: MapNoKey},
		{hist: tk(9, 1, 2, 3, 4, 5, 6, 20, 21, 1, 2, 1, 2, 1, 2), why: NoMatch, detail: MapDeadKey},
	}
	promptEnd = []step{
		{hist: tk(9, 30, 31, 32, 33, 34, 35, 1, 2, 7, 8, 41), why: NoMatch, detail: MapNoKey},
		{hist: tk(9, 30, 31, 32, 33, 34, 35, 1, 2, 7, 8, 41, 50, 1, 2), why: NoMatch, detail: MapNoKey},
	}
	beginLonger = []step{
		{hist: tk(9, 1, 2, 3, 4, 5, 6, 20, 21, 1, 2), want: tk(3, 4, 5, 6), acc: accept(2)},
		{
			begin: tk(9, 1, 2, 3, 4, 5, 6, 20, 21, 1, 2, 3, 4, 7, 80, 81, 1),
			hist:  tk(9, 1, 2, 3, 4, 5, 6, 20, 21, 1, 2, 3, 4, 7, 80, 81, 1, 2),
			want:  tk(3, 4),
		},
	}
)

func TestNgramMod(t *testing.T) {
	type cfg struct{ nMatch, nMin, nMax int }
	// 1 048 577 distinct tokens 0, 1, ...: with NMatch 1 a token hashes to
	// itself, so the prompt (all but the last) fills exactly 1 048 576 =
	// 25% of the pool: not more than 25%, the pool is kept; one more token
	// and it is emptied.
	quarter := append(rng(0, 1048577), 0)
	over := append(rng(0, 1048578), 0)
	tests := []struct {
		name  string
		cfg   cfg
		steps []step
	}{
		// cur must reach NMatch.
		{"defaults/24 tokens: too few", cfg{24, 48, 64}, []step{{hist: rng(0, 24), why: NoHistory}}},
		{"defaults/25 tokens: no n-gram yet", cfg{24, 48, 64}, []step{{hist: rng(0, 25), why: NoMatch}}},
		{"pair/2 tokens: too few", cfg{2, 1, 5}, []step{{hist: tk(7, 8), why: NoHistory}}},
		{"pair/3 tokens: pool empty", cfg{2, 1, 5}, []step{{hist: tk(7, 8, 7), why: NoMatch}}},
		// The prompt [7 8 7] adds (7 8)→7; then (8 7) is not there.
		{"pair/4 tokens", cfg{2, 1, 5}, []step{{hist: tk(7, 8, 7, 8), want: tk(7)}}},
		// Prompt n-grams (1 2)→3 … (5 6)→1; the chain runs to n_max = 5.
		{"pair/chain", cfg{2, 2, 5}, []step{{hist: tk(1, 2, 3, 4, 5, 6, 1, 2), want: tk(3, 4, 5, 6, 1)}}},
		{"pair/room caps", cfg{2, 2, 5}, []step{{hist: tk(1, 2, 3, 4, 5, 6, 1, 2), room: 2, want: tk(3, 4)}}},
		{"pair/no room", cfg{2, 2, 5}, []step{{hist: tk(1, 2, 3, 4, 5, 6, 1, 2), room: -1, why: NoRoom}}},
		{"pair/n_max 0", cfg{2, 0, 0}, []step{{hist: tk(1, 2, 3, 4, 5, 6, 1, 2), why: Disabled}}},
		// (1 2)→3 (2 3)→4 (3 4)→9 (4 9)→1, and (9 1) is missing: 4 tokens.
		{"pair/chain of n_min", cfg{2, 4, 5}, []step{{hist: tk(1, 2, 3, 4, 9, 1, 2), want: tk(3, 4, 9, 1)}}},
		{"pair/chain below n_min", cfg{2, 5, 5}, []step{{hist: tk(1, 2, 3, 4, 9, 1, 2), why: BelowNMin}}},
		{"pair/no match", cfg{2, 1, 5}, []step{{hist: rng(1, 9), why: NoMatch}}},
		// With NMatch 1 a token t hashes to t mod 2^22: 4194309 lands on 5's
		// slot, and with no key check drafts what followed 5.
		{"one/no key check", cfg{1, 1, 3}, []step{{hist: tk(5, 9, 7, 4194309), want: tk(9, 7)}}},
		{
			// After the prompt [500], i_last = 0; new n-grams are added only once
			// i_last+32 < cur: not at cur = 32, at cur = 33 (all of them).
			"one/chunks", cfg{1, 1, 3}, []step{
				{hist: tk(500, 501), why: NoMatch},
				{hist: cat(tk(500, 501), rng(2, 32), tk(501)), why: NoMatch},
				{hist: cat(tk(500, 501), rng(2, 32), tk(501, 501)), want: tk(2, 3, 4)},
			},
		},
		{
			// The chain is 8 long, cut to 4 by Room; 1 accepted is 1/8 < 25%
			// (llama.cpp divides by the uncut length): the fifth such round
			// empties the pool, and with cur <= 32 nothing is added back.
			"one/five low rounds empty the pool", cfg{1, 1, 8}, []step{
				{hist: tk(1, 2, 3, 4, 5, 6, 7, 8, 9, 1), room: 4, want: tk(2, 3, 4, 5), acc: accept(1)},
				{hist: tk(1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 1), room: 4, want: tk(2, 3, 4, 5), acc: accept(1)},
				{hist: tk(1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 1, 2, 1), room: 4, want: tk(2, 3, 4, 5), acc: accept(1)},
				{hist: tk(1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 1, 2, 1, 2, 1), room: 4, want: tk(2, 3, 4, 5), acc: accept(1)},
				{hist: tk(1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 1, 2, 1, 2, 1, 2, 1), room: 4, want: tk(2, 3, 4, 5), acc: accept(1)},
				{hist: tk(1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1), room: 4, why: NoMatch},
			},
		},
		{
			// The same, then the pool stays empty until cur = 33 adds the whole
			// history: (1) last maps to 200 (position 19).
			"one/after the reset, adding resumes at cur 33", cfg{1, 1, 8}, []step{
				{hist: tk(1, 2, 3, 4, 5, 6, 7, 8, 9, 1), room: 4, want: tk(2, 3, 4, 5), acc: accept(1)},
				{hist: tk(1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 1), room: 4, want: tk(2, 3, 4, 5), acc: accept(1)},
				{hist: tk(1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 1, 2, 1), room: 4, want: tk(2, 3, 4, 5), acc: accept(1)},
				{hist: tk(1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 1, 2, 1, 2, 1), room: 4, want: tk(2, 3, 4, 5), acc: accept(1)},
				{hist: tk(1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 1, 2, 1, 2, 1, 2, 1), room: 4, want: tk(2, 3, 4, 5), acc: accept(1)},
				{hist: cat(tk(1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1), rng(200, 212), tk(1)), room: 4, why: NoMatch},
				{hist: cat(tk(1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1), rng(200, 212), tk(1, 1)), room: 4, want: tk(200, 201, 202, 203)},
			},
		},
		{
			// Begin right after the pool was emptied starts from an empty pool.
			"one/begin after a reset", cfg{1, 1, 2}, []step{
				{hist: tk(1, 2, 3, 1), want: tk(2, 3), acc: accept(0)},
				{hist: tk(1, 2, 3, 1, 1), want: tk(2, 3), acc: accept(0)},
				{hist: tk(1, 2, 3, 1, 1, 1), want: tk(2, 3), acc: accept(0)},
				{hist: tk(1, 2, 3, 1, 1, 1, 1), want: tk(2, 3), acc: accept(0)},
				{hist: tk(1, 2, 3, 1, 1, 1, 1, 1), want: tk(2, 3), acc: accept(0)},
				{begin: tk(5, 6), hist: tk(5, 6, 5), want: tk(6)},
				{hist: tk(5, 6, 5, 1), why: NoMatch},
			},
		},
		{
			// 2/8 is not under 25%: no streak.
			"one/a quarter is not low", cfg{1, 1, 8}, []step{
				{hist: tk(1, 2, 3, 4, 5, 6, 7, 8, 9, 1), room: 4, want: tk(2, 3, 4, 5), acc: accept(2)},
				{hist: tk(1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 1), room: 4, want: tk(2, 3, 4, 5), acc: accept(2)},
				{hist: tk(1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 1, 2, 3, 1), room: 4, want: tk(2, 3, 4, 5), acc: accept(2)},
				{hist: tk(1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1), room: 4, want: tk(2, 3, 4, 5), acc: accept(2)},
				{hist: tk(1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1), room: 4, want: tk(2, 3, 4, 5), acc: accept(2)},
				{hist: tk(1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1), room: 4, want: tk(2, 3, 4, 5)},
			},
		},
		{
			// Four low rounds, one good one (1/2), four low: no reset.
			"one/a good round ends the streak", cfg{1, 1, 2}, []step{
				{hist: tk(1, 2, 3, 1), want: tk(2, 3), acc: accept(0)},
				{hist: tk(1, 2, 3, 1, 1), want: tk(2, 3), acc: accept(0)},
				{hist: tk(1, 2, 3, 1, 1, 1), want: tk(2, 3), acc: accept(0)},
				{hist: tk(1, 2, 3, 1, 1, 1, 1), want: tk(2, 3), acc: accept(0)},
				{hist: tk(1, 2, 3, 1, 1, 1, 1, 1), want: tk(2, 3), acc: accept(1)},
				{hist: tk(1, 2, 3, 1, 1, 1, 1, 1, 2, 1), want: tk(2, 3), acc: accept(0)},
				{hist: tk(1, 2, 3, 1, 1, 1, 1, 1, 2, 1, 1), want: tk(2, 3), acc: accept(0)},
				{hist: tk(1, 2, 3, 1, 1, 1, 1, 1, 2, 1, 1, 1), want: tk(2, 3), acc: accept(0)},
				{hist: tk(1, 2, 3, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1), want: tk(2, 3), acc: accept(0)},
				{hist: tk(1, 2, 3, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1), want: tk(2, 3)},
			},
		},
		{
			// With cur > 32 when the pool is emptied, the next draft adds the
			// whole history back: (1) now maps to 1 (the last write, from the
			// appended 1s), where without the reset it would still map to 2.
			"one/low rounds then the history is added back", cfg{1, 1, 2}, []step{
				{hist: cat(rng(100, 140), tk(1, 2, 3, 1)), want: tk(2, 3), acc: accept(0)},
				{hist: cat(rng(100, 140), tk(1, 2, 3, 1, 1)), want: tk(2, 3), acc: accept(0)},
				{hist: cat(rng(100, 140), tk(1, 2, 3, 1, 1, 1)), want: tk(2, 3), acc: accept(0)},
				{hist: cat(rng(100, 140), tk(1, 2, 3, 1, 1, 1, 1)), want: tk(2, 3), acc: accept(0)},
				{hist: cat(rng(100, 140), tk(1, 2, 3, 1, 1, 1, 1, 1)), want: tk(2, 3), acc: accept(0)},
				{hist: cat(rng(100, 140), tk(1, 2, 3, 1, 1, 1, 1, 1, 1)), want: tk(1, 1)},
			},
		},
		{
			// After Begin the pool also holds the last request's n-grams; the
			// reset drops them ((2)→3), and adding the history back does not
			// bring them back.
			"one/a reset drops the last request's n-grams", cfg{1, 1, 2}, []step{
				{hist: tk(1, 2, 3, 1), want: tk(2, 3), acc: accept(2)},
				{begin: tk(7, 7), hist: tk(7, 7, 1), want: tk(2, 3), acc: accept(0)},
				{hist: tk(7, 7, 1, 1), want: tk(2, 3), acc: accept(0)},
				{hist: tk(7, 7, 1, 1, 1), want: tk(2, 3), acc: accept(0)},
				{hist: tk(7, 7, 1, 1, 1, 1), want: tk(2, 3), acc: accept(0)},
				{hist: tk(7, 7, 1, 1, 1, 1, 1), want: tk(2, 3), acc: accept(0)},
				{hist: cat(tk(7, 7, 1, 1, 1, 1, 1, 1), rng(40, 70), tk(2)), why: NoMatch},
			},
		},
		{"one/prompt at 25% occupancy", cfg{1, 1, 1}, []step{{hist: quarter, want: tk(1)}}},
		{"one/prompt over 25% occupancy", cfg{1, 1, 1}, []step{{hist: over, why: NoMatch}}},
		{
			// A new, shorter sequence empties the pool: a stale one would chain
			// from (1 2).
			"pair/new sequence", cfg{2, 2, 5}, []step{
				{hist: tk(1, 2, 3, 4, 5, 6, 1, 2), want: tk(3, 4, 5, 6, 1), acc: accept(5)},
				{hist: tk(9, 9, 1, 2), why: NoMatch},
			},
		},
		{
			// Begin (a new request) keeps the pool, as llama.cpp's shared pool.
			"pair/begin keeps the pool", cfg{2, 2, 5}, []step{
				{hist: tk(1, 2, 3, 4, 5, 6, 1, 2), want: tk(3, 4, 5, 6, 1), acc: accept(5)},
				{begin: tk(9, 9, 1), hist: tk(9, 9, 1, 2), want: tk(3, 4, 5, 6, 1)},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &NgramMod{NMatch: tc.cfg.nMatch, NMin: tc.cfg.nMin, NMax: tc.cfg.nMax}
			runSteps(t, p, tc.steps)
		})
	}
}

func TestNewNgram(t *testing.T) {
	tests := []struct {
		typ  string
		opts map[string]int
		want Proposer
	}{
		{"ngram-simple", nil, &NgramSimple{N: 12, M: 48, MinHits: 1}},
		{"ngram-map-k", nil, &NgramMap{N: 12, M: 48, MinHits: 1}},
		{"ngram-map-k4v", nil, &NgramMap{N: 12, M: 48, MinHits: 1, K4V: true}},
		{"ngram-mod", nil, &NgramMod{NMatch: 24, NMin: 48, NMax: 64}},
		{"ngram-map-k4v", map[string]int{"--spec-ngram-map-k4v-size-n": 3, "spec-ngram-map-k4v-min-hits": 2}, &NgramMap{N: 3, M: 48, MinHits: 2, K4V: true}},
		{"ngram-simple", map[string]int{"--spec-ngram-simple-size-m": 7, "--spec-ngram-map-k-size-n": 2, "--spec-ngram-mod-n-min": 0}, &NgramSimple{N: 12, M: 7, MinHits: 1}},
		{"ngram-mod", map[string]int{"--spec-ngram-mod-n-match": 16, "--spec-ngram-mod-n-min": 0, "--spec-ngram-mod-n-max": 1024}, &NgramMod{NMatch: 16, NMin: 0, NMax: 1024}},
	}
	for _, tc := range tests {
		p, err := NewNgram(tc.typ, tc.opts)
		if err != nil {
			t.Fatalf("NewNgram(%q, %v): %v", tc.typ, tc.opts, err)
		}
		if p.Name() != tc.typ {
			t.Errorf("NewNgram(%q).Name() = %q", tc.typ, p.Name())
		}
		var same bool
		switch w := tc.want.(type) {
		case *NgramSimple:
			g, ok := p.(*NgramSimple)
			same = ok && g.N == w.N && g.M == w.M && g.MinHits == w.MinHits
		case *NgramMap:
			g, ok := p.(*NgramMap)
			same = ok && g.N == w.N && g.M == w.M && g.MinHits == w.MinHits && g.K4V == w.K4V
		case *NgramMod:
			g, ok := p.(*NgramMod)
			same = ok && g.NMatch == w.NMatch && g.NMin == w.NMin && g.NMax == w.NMax
		}
		if !same {
			t.Errorf("NewNgram(%q, %v) = %+v, want %+v", tc.typ, tc.opts, p, tc.want)
		}
	}
}

func TestNewNgramErrors(t *testing.T) {
	tests := []struct {
		typ  string
		opts map[string]int
		want string // in the error
	}{
		{"ngram-cache", nil, "not implemented"},
		{"draft-simple", nil, "not an n-gram method"},
		{"", nil, "not an n-gram method"},
		{"ngram-simple", map[string]int{"--spec-ngram-simple-size": 3}, "unknown"},
		{"ngram-simple", map[string]int{"--spec-ngram-size-n": 3}, "unknown"},
		{"ngram-simple", map[string]int{"--spec-ngram-simple-size-n": 3, "spec-ngram-simple-size-n": 4}, "given twice"},
		{"ngram-simple", map[string]int{"--spec-ngram-simple-size-n": 0}, "between 1 and 1024"},
		{"ngram-map-k", map[string]int{"--spec-ngram-map-k-size-m": 1025}, "between 1 and 1024"},
		{"ngram-map-k4v", map[string]int{"--spec-ngram-map-k4v-min-hits": 0}, "min hits"},
		{"ngram-map-k4v", map[string]int{"--spec-ngram-map-k4v-min-hits": 70000}, "min hits"},
		{"ngram-mod", map[string]int{"--spec-ngram-mod-n-match": 0}, "n-match"},
		{"ngram-mod", map[string]int{"--spec-ngram-mod-n-min": -1}, "n-min"},
		{"ngram-mod", map[string]int{"--spec-ngram-mod-n-max": 1025}, "n-max"},
	}
	for _, tc := range tests {
		_, err := NewNgram(tc.typ, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewNgram(%q, %v) error = %v, want one containing %q", tc.typ, tc.opts, err, tc.want)
		}
	}
}

func TestNgramBadInput(t *testing.T) {
	hist := tk(1, 2, 3, 4, 5, 6, 1, 2)
	bad := tk(1, 2, -3, 4, 5, 6, 1, 2)
	tests := []struct {
		p    Proposer
		hist []Token
		want string
	}{
		{&NgramSimple{}, hist, "between 1 and 1024"},
		{&NgramMap{N: 2, M: 2}, hist, "min hits"},
		{&NgramMod{NMatch: 2, NMin: 0, NMax: -1}, hist, "n-max"},
		{&NgramSimple{N: 2, M: 2, MinHits: 1}, bad, "history[2] = -3"},
		{&NgramMap{N: 2, M: 2, MinHits: 1}, bad, "history[2] = -3"},
		{&NgramMod{NMatch: 2, NMin: 0, NMax: 4}, bad, "history[2] = -3"},
	}
	for _, tc := range tests {
		d, err := tc.p.Draft(Request{History: tc.hist, NMax: 4, Room: 4})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%T%+v: Draft error = %v (draft %v), want one containing %q", tc.p, tc.p, err, d, tc.want)
		}
	}
	// Empty histories and feedback out of range are harmless.
	for _, p := range []Proposer{&NgramSimple{N: 2, M: 2, MinHits: 1}, &NgramMap{N: 2, M: 2, MinHits: 1}, &NgramMod{NMatch: 2, NMax: 4}} {
		p.Accepted(7)
		if d, err := p.Draft(Request{NMax: 4, Room: 4}); err != nil || d.Reason != NoHistory {
			t.Errorf("%s: empty history: %v, %v; want NoHistory", p.Name(), d, err)
		}
		p.Accepted(-1)
		p.Accepted(1 << 20)
	}
}

// Changing a field between calls starts afresh with the new configuration.
func TestNgramReconfigure(t *testing.T) {
	p := &NgramSimple{N: 2, M: 2, MinHits: 1}
	h := tk(9, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2)
	runSteps(t, p, []step{{hist: h, want: tk(3, 4)}})
	p.M = 4
	runSteps(t, p, []step{{hist: h, want: tk(3, 4, 5, 6)}})
	p.N = 3 // [8 1 2] never occurred before
	runSteps(t, p, []step{{hist: h, why: NoMatch}})
}

// The members of a Multi see llama.cpp's priority order and only the member
// that drafted gets the feedback.
func TestNgramMulti(t *testing.T) {
	simple := &NgramSimple{N: 3, M: 4, MinHits: 1}
	mapk := &NgramMap{N: 2, M: 4, MinHits: 1}
	m := &Multi{Members: []Proposer{simple, mapk}}
	// [1 2] at 1: ngram-simple (n=3: [21 1 2]) finds nothing, ngram-map-k does.
	h := tk(9, 1, 2, 3, 4, 5, 6, 20, 21, 1, 2)
	d, err := m.Draft(Request{History: h, NMax: 3, Room: 8})
	if err != nil || d.Source != "ngram-map-k" || !slices.Equal(d.Tokens, tk(3, 4, 5, 6)) {
		t.Fatalf("Multi draft = %+v, %v; want [3 4 5 6] from ngram-map-k", d, err)
	}
	m.Accepted(0)
	h = cat(h, tk(1))
	h = cat(h, tk(2))
	if d, _ = m.Draft(Request{History: h, NMax: 3, Room: 8}); d.Reason != NoMatch || mapk.Detail() != MapDeadKey {
		t.Fatalf("after Accepted(0): %+v, detail %q; want NoMatch, %q", d, mapk.Detail(), MapDeadKey)
	}
}
