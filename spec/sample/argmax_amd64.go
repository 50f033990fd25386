package sample

import (
	"math"

	"golang.org/x/sys/cpu"
)

var useAVX2 = cpu.X86.HasAVX2

//go:noescape
func maxAVX2(p *float32, n int) float32

//go:noescape
func findAVX2(p *float32, n int, v float32) int

// argmaxFast is Argmax with AVX2: a vector maximum, then a vector search
// for its first occurrence. ok is false when it cannot answer (no AVX2, a
// short slice, NaN), and the portable loop must.
func argmaxFast(x []float32) (int32, bool) {
	if !useAVX2 || len(x) < 64 {
		return 0, false
	}
	n8 := len(x) &^ 7
	m := maxAVX2(&x[0], n8)
	for _, v := range x[n8:] {
		m = max(m, v)
	}
	if m != m { // NaN
		return 0, false
	}
	if i := findAVX2(&x[0], n8, m); i >= 0 {
		return int32(i), true
	}
	for i := n8; i < len(x); i++ {
		if x[i] == m {
			return int32(i), true
		}
	}
	return 0, false
}

var useFMA = useAVX2 && cpu.X86.HasFMA

//go:noescape
func sumExpAVX2(p *float32, n int, m float32) float32

// sumExpFast is Σ exp(x[i] − m) with AVX2 and FMA, for m = max(x).
func sumExpFast(x []float32, m float32) (float64, bool) {
	if !useFMA || len(x) < 64 {
		return 0, false
	}
	n8 := len(x) &^ 7
	s := float64(sumExpAVX2(&x[0], n8, m))
	for _, v := range x[n8:] {
		s += math.Exp(float64(v - m))
	}
	return s, true
}
