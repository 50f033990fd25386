package drafts

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchStream is a deterministic token stream over a 32000-token vocabulary.
// With repeats, about half of it copies earlier stretches (16 to 128 tokens),
// as code editing or summarising does; without, every token is random, so
// drafts almost never come and each step generates one token.
func benchStream(n int, repeats bool) []Token {
	r := rand.New(rand.NewPCG(1, 2))
	s := make([]Token, 0, n+128)
	for len(s) < n {
		if repeats && len(s) > 256 && r.IntN(2) == 0 {
			l := 16 + r.IntN(113)
			from := r.IntN(len(s) - l)
			s = append(s, s[from:from+l]...)
			continue
		}
		for range 8 + r.IntN(57) {
			s = append(s, Token(r.IntN(32000)))
		}
	}
	return s[:n]
}

// BenchmarkNgram measures a proposer's cost per generated token with hist
// tokens of history: each step drafts (Room 64), accepts the draft's prefix
// that matches the stream, and appends accepted+1 tokens. Every window
// tokens the proposer is rebuilt on the first hist tokens (not timed), so
// the history stays between hist and hist+window. ns/op is per generated
// token; ns/call is per Draft+Accepted; tok/call is tokens generated per
// step.
func BenchmarkNgram(b *testing.B) {
	kinds := []struct {
		name string
		mk   func() Proposer
	}{
		{"ngram-simple", func() Proposer { return &NgramSimple{N: 12, M: 48, MinHits: 1} }},
		{"ngram-map-k", func() Proposer { return &NgramMap{N: 12, M: 48, MinHits: 1} }},
		{"ngram-map-k4v", func() Proposer { return &NgramMap{N: 12, M: 48, MinHits: 1, K4V: true} }},
		{"ngram-mod", func() Proposer { return &NgramMod{NMatch: 24, NMin: 48, NMax: 64} }},
	}
	for _, k := range kinds {
		for _, repeats := range []bool{true, false} {
			for _, hist := range []int{1000, 10000, 100000} {
				text := "random"
				if repeats {
					text = "repeats"
				}
				name := fmt.Sprintf("%s/%s/hist=%dk", k.name, text, hist/1000)
				b.Run(name, func(b *testing.B) { benchProposer(b, k.mk(), hist, repeats) })
			}
		}
	}
}

func benchProposer(b *testing.B, p Proposer, hist int, repeats bool) {
	window := min(hist/2, 4096)
	stream := benchStream(hist+window+256, repeats)
	var n int // history length
	restart := func() {
		p.Reset()
		n = hist
		if _, err := p.Draft(Request{History: stream[:n], Room: 64}); err != nil {
			b.Fatal(err)
		}
	}
	restart()
	b.ResetTimer()
	generated, calls := 0, 0
	for generated < b.N {
		if n >= hist+window {
			b.StopTimer()
			restart()
			b.StartTimer()
		}
		d, err := p.Draft(Request{History: stream[:n], Room: 64})
		if err != nil {
			b.Fatal(err)
		}
		a := 0
		for a < len(d.Tokens) && d.Tokens[a] == stream[n+a] {
			a++
		}
		if len(d.Tokens) > 0 {
			p.Accepted(a)
		}
		n += a + 1
		generated += a + 1
		calls++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(calls), "ns/call")
	b.ReportMetric(float64(generated)/float64(calls), "tok/call")
}
