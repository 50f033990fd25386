package drafts

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// Literal ports of llama.cpp's loops (the whole-history scans included), as
// references for the indexed proposers: on the same calls both must draft
// the same tokens.

// refSimple is common_ngram_simple_draft.
func refSimple(n, m int, tokens []Token, sampled Token) []Token {
	cur := len(tokens)
	if cur <= n+m+1 {
		return nil
	}
	pattern := append(slices.Clone(tokens[cur-n+1:]), sampled)
	match := 0
	for j := cur - n - 1; j > 0; j-- {
		if slices.Equal(tokens[j:j+n], pattern) {
			match = j
			break
		}
	}
	if match == 0 {
		return nil
	}
	copyMax := min(m, cur-(match+n))
	if copyMax < n {
		return nil
	}
	return slices.Clone(tokens[match+n : match+n+copyMax])
}

// refMap is common_ngram_map for one sequence that begins once.
type refMap struct {
	n, m, minHits  int
	keyOnly        bool
	sizeLastBegin  int
	keyMap         []uint32
	keyMapLastIdx  int
	keys           []mapKey
	created        bool
	lastKey, lastV int
}

func (r *refMap) draft(inp []Token, sampled Token) []Token {
	r.created, r.lastKey, r.lastV = false, 0, 0
	n, m, cur := r.n, r.m, len(inp)
	if cur < 2*n+m {
		return nil
	}
	key := append(slices.Clone(inp[cur-n+1:]), sampled)
	eq := func(j int) bool { return slices.Equal(inp[j:j+n], key) }
	match := 0
	if k := int(r.keyMap[mapHash(key)]); k != 0 && k < cur-n-m-1 && eq(k) {
		match = k
	}
	if match == 0 && r.sizeLastBegin > n+m+1 {
		for j := r.sizeLastBegin - n - m - 1; j > r.keyMapLastIdx; j-- {
			if eq(j) {
				match = j
				break
			}
		}
	}
	if match == 0 {
		for j := cur - n - m - 1; j > r.sizeLastBegin && j > r.keyMapLastIdx; j-- {
			if eq(j) {
				match = j
				break
			}
		}
	}
	add := func(j int) {
		if s := mapHash(inp[j : j+n]); r.keyMap[s] == 0 {
			r.keyMap[s] = uint32(j)
		}
	}
	if r.sizeLastBegin > n+m+1 {
		for j := r.sizeLastBegin - n - m - 1; j > r.keyMapLastIdx; j-- {
			add(j)
		}
	}
	for j := cur - n - m - 1; j > r.sizeLastBegin && j > r.keyMapLastIdx; j-- {
		add(j)
	}
	r.keyMapLastIdx = max(cur-n-m-1, r.keyMapLastIdx)
	if match == 0 {
		return nil
	}
	off := len(r.keys)
	for i, k := range r.keys {
		if eq(k.idx) {
			off = i
			break
		}
	}
	if off == len(r.keys) {
		k := mapKey{idx: match}
		for v := range k.values {
			k.values[v].accepted = m
		}
		r.keys = append(r.keys, k)
	}
	k := &r.keys[off]
	k.num = min(k.num+1, mapMaxCount)
	if r.keyOnly {
		r.created, r.lastKey, r.lastV = true, off, 0
		return slices.Clone(inp[match+n : match+n+max(0, min(m, k.values[0].accepted))])
	}
	if k.num < r.minHits {
		return nil
	}
	for i := k.stat; i <= match; i++ {
		if !eq(i) {
			continue
		}
		iv := -1
		for v := range k.values {
			if k.values[v].idx == 0 {
				k.values[v] = mapValue{idx: i + n, accepted: m}
				iv = v
				break
			}
			if slices.Equal(inp[i+n:i+n+m], inp[k.values[v].idx:k.values[v].idx+m]) {
				iv = v
				break
			}
		}
		if iv >= 0 {
			k.values[iv].num = min(k.values[iv].num+1, mapMaxCount)
		}
	}
	k.stat = match
	maxOcc, slot := 0, 0
	for v, val := range k.values {
		if val.num > maxOcc {
			maxOcc, slot = val.num, v
		}
	}
	sum := 0
	for v, val := range k.values {
		if v != slot {
			sum += val.num
		}
	}
	if sum > 0 && maxOcc < 2*sum {
		return nil
	}
	r.created, r.lastKey, r.lastV = true, off, slot
	return slices.Clone(inp[match+n : match+n+max(0, min(m, k.values[slot].accepted))])
}

func (r *refMap) accept(a int) {
	if r.created {
		r.keys[r.lastKey].values[r.lastV].accepted = a
	}
}

// refMod is common_speculative_impl_ngram_mod for one sequence; its pool, a
// map from slot to token, is really emptied.
type refMod struct {
	n, nMin, nMax int
	pool          map[uint64]Token
	iLast, nLast  int
	nLow          int
}

func (r *refMod) idx(ts []Token) uint64 {
	var h uint64
	for _, t := range ts[:r.n] {
		h = h*modMul + uint64(int64(t))
	}
	return h % modPoolSize
}

func (r *refMod) reset() { r.pool = make(map[uint64]Token) }

func (r *refMod) add(ts []Token) { r.pool[r.idx(ts)] = ts[r.n] }

func (r *refMod) begin(prompt []Token) {
	r.reset()
	if len(prompt) < r.n {
		return
	}
	for i := 0; i < len(prompt)-r.n; i++ {
		r.add(prompt[i:])
	}
	r.iLast = len(prompt) - r.n
	if float64(len(r.pool))/modPoolSize > 0.25 {
		r.reset()
	}
}

func (r *refMod) draft(prompt []Token, last Token) []Token {
	r.nLast = 0
	cur, n := len(prompt), r.n
	if cur < n {
		return nil
	}
	if r.iLast+32 < cur {
		for i := r.iLast; i < cur-n; i++ {
			r.add(prompt[i:])
		}
		r.iLast = cur - n
	}
	res := append(slices.Clone(prompt[cur-n+1:]), last)
	for i := 0; i < r.nMax; i++ {
		t, ok := r.pool[r.idx(res[i:])]
		if !ok {
			if i < r.nMin {
				return nil
			}
			break
		}
		res = append(res, t)
	}
	res = res[n:]
	r.nLast = len(res)
	return res
}

func (r *refMod) accept(a int) {
	if r.nLast > 0 {
		if float64(a)/float64(r.nLast) < 0.25 {
			r.nLow++
			if r.nLow >= 5 {
				r.reset()
				r.nLow = 0
				r.iLast = 0
			}
		} else {
			r.nLow = 0
		}
	}
}

// TestNgramMatchesReference drives each proposer and its reference through
// the same generations: streams over small vocabularies (many repeats and
// hash collisions), varying room, acceptance from the stream or at random.
func TestNgramMatchesReference(t *testing.T) {
	type ref struct {
		draft  func(prompt []Token, last Token) []Token
		accept func(int)
	}
	type kind struct {
		name string
		mk   func() (Proposer, ref)
	}
	kinds := []kind{
		{"ngram-simple", func() (Proposer, ref) {
			return &NgramSimple{N: 3, M: 5, MinHits: 1}, ref{func(p []Token, l Token) []Token { return refSimple(3, 5, p, l) }, func(int) {}}
		}},
	}
	for _, k4v := range []bool{false, true} {
		for _, minHits := range []int{1, 2} {
			name := fmt.Sprintf("map-k4v=%v/min-hits=%d", k4v, minHits)
			kinds = append(kinds, kind{name, func() (Proposer, ref) {
				r := &refMap{n: 2, m: 3, minHits: minHits, keyOnly: !k4v, keyMap: make([]uint32, mapHashSlots)}
				first := true
				return &NgramMap{N: 2, M: 3, MinHits: minHits, K4V: k4v}, ref{
					func(p []Token, l Token) []Token {
						if first {
							r.sizeLastBegin, first = len(p), false
						}
						return r.draft(p, l)
					},
					r.accept,
				}
			}})
		}
	}
	for _, nm := range [][3]int{{2, 1, 6}, {3, 2, 8}, {1, 3, 5}} {
		kinds = append(kinds, kind{fmt.Sprintf("mod/%v", nm), func() (Proposer, ref) {
			r := &refMod{n: nm[0], nMin: nm[1], nMax: nm[2]}
			first := true
			return &NgramMod{NMatch: nm[0], NMin: nm[1], NMax: nm[2]}, ref{
				func(p []Token, l Token) []Token {
					if first {
						r.begin(p)
						first = false
					}
					return r.draft(p, l)
				},
				r.accept,
			}
		}})
	}
	for _, k := range kinds {
		for seed := range uint64(6) {
			t.Run(fmt.Sprintf("%s/seed=%d", k.name, seed), func(t *testing.T) {
				rnd := rand.New(rand.NewPCG(seed, 7))
				vocab := 4 + int(seed)*3
				stream := make([]Token, 3000)
				for i := range stream {
					if i > 20 && rnd.IntN(3) > 0 {
						stream[i] = stream[i-1-rnd.IntN(20)] // copy from close by
					} else {
						stream[i] = Token(rnd.IntN(vocab))
					}
				}
				p, r := k.mk()
				drafted := 0
				for n := 30 + rnd.IntN(30); n < len(stream)-100; {
					room := 1 + rnd.IntN(12)
					h := stream[:n]
					d, err := p.Draft(Request{History: h, NMax: 3, Room: room})
					if err != nil {
						t.Fatal(err)
					}
					want := r.draft(h[:n-1], h[n-1])
					if len(want) > room {
						want = want[:room]
					}
					if !slices.Equal(d.Tokens, want) {
						t.Fatalf("history %d: drafted %v (%s), reference %v", n, d.Tokens, d.Reason, want)
					}
					a := 0
					if len(want) > 0 {
						drafted++
						for a < len(want) && want[a] == stream[n+a] {
							a++
						}
						if rnd.IntN(4) == 0 {
							a = rnd.IntN(len(want) + 1)
						}
						p.Accepted(a)
						r.accept(a)
					}
					n += a + 1
				}
				t.Logf("%d drafts", drafted)
				if drafted < 10 {
					t.Errorf("only %d drafts: the comparison says little", drafted)
				}
			})
		}
	}
}
