package sample

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestArgmaxMatchesPortable(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	inf := float32(math.Inf(1))
	for _, n := range []int{1, 7, 8, 63, 64, 65, 100, 257, 1000, 32000, 150001} {
		for trial := range 20 {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(r.NormFloat64() * 5)
			}
			switch trial % 5 {
			case 1: // a tie: the lowest index must win
				a, b := r.IntN(n), r.IntN(n)
				x[a], x[b] = 100, 100
			case 2: // the maximum in the tail past the last multiple of 8
				x[n-1] = 1000
			case 3: // all equal
				for i := range x {
					x[i] = -3
				}
			case 4: // infinities
				x[r.IntN(n)] = -inf
				x[r.IntN(n)] = inf
			}
			got, want := Argmax(x), argmaxPortable(x)
			if got != want {
				t.Fatalf("n=%d trial %d: Argmax %d (%v), portable %d (%v)", n, trial, got, x[got], want, x[want])
			}
		}
	}
	if Argmax(nil) != -1 {
		t.Error("Argmax(nil) != -1")
	}
	nan := make([]float32, 100)
	nan[3] = float32(math.NaN())
	nan[50] = 2
	if got := Argmax(nan); got != 50 {
		t.Errorf("NaN input: argmax %d, want 50", got)
	}
}

func sum(d *Dist) float64 {
	s := 0.0
	for _, p := range d.P {
		s += float64(p)
	}
	return s
}

func TestFill(t *testing.T) {
	logits := []float32{1, 3, 2, 3, -1, 0.5}
	tests := []struct {
		p      Params
		ids    []int32
		approx []float64 // expected probabilities, when given
	}{
		{Params{}, []int32{1}, []float64{1}},
		{Params{Temp: 1, TopK: 2}, []int32{1, 3}, []float64{0.5, 0.5}},
		{Params{Temp: 1, TopK: 3}, []int32{1, 3, 2}, nil},
		{Params{Temp: 1}, []int32{1, 3, 2, 0, 5, 4}, nil},
		{Params{Temp: 1, TopP: 0.6}, []int32{1, 3}, []float64{0.5, 0.5}},
		{Params{Temp: 1, MinP: 0.5}, []int32{1, 3}, nil},
		{Params{Temp: 0.01, TopK: 3}, []int32{1, 3, 2}, []float64{0.5, 0.5, 0}},
	}
	for _, tt := range tests {
		var d Dist
		tt.p.Fill(logits, &d)
		if fmt.Sprint(d.IDs) != fmt.Sprint(tt.ids) {
			t.Errorf("%v: ids %v, want %v", tt.p, d.IDs, tt.ids)
		}
		if math.Abs(sum(&d)-1) > 1e-5 {
			t.Errorf("%v: probabilities sum to %v", tt.p, sum(&d))
		}
		for i, want := range tt.approx {
			if math.Abs(float64(d.P[i])-want) > 1e-4 {
				t.Errorf("%v: p[%d] = %v, want %v", tt.p, i, d.P[i], want)
			}
		}
	}
	// softmax at temperature 1 over everything equals exp(l - lse)
	var d Dist
	Params{Temp: 1}.Fill(logits, &d)
	lse := LogSumExp(logits)
	for i, id := range d.IDs {
		if want := Softmax1(logits, lse, id); math.Abs(float64(d.P[i]-want)) > 1e-6 {
			t.Errorf("p(%d) = %v, softmax %v", id, d.P[i], want)
		}
	}
}

func TestResidual(t *testing.T) {
	p := Dist{IDs: []int32{1, 2, 3}, P: []float32{0.5, 0.3, 0.2}}
	q := Dist{IDs: []int32{2, 1, 4}, P: []float32{0.6, 0.3, 0.1}}
	var r Dist
	Residual(&p, &q, &r)
	// max(0, p-q): 1 -> 0.2, 2 -> 0, 3 -> 0.2; normalised 0.5 / 0.5
	if len(r.IDs) != 2 || math.Abs(float64(r.Prob(1))-0.5) > 1e-6 || math.Abs(float64(r.Prob(3))-0.5) > 1e-6 {
		t.Errorf("residual %+v", r)
	}
	Residual(&p, &p, &r) // no positive mass: p itself
	if sum(&r) < 0.999 || r.Prob(1) != 0.5 {
		t.Errorf("residual of p against itself %+v", r)
	}
}

func TestSampleFollowsDist(t *testing.T) {
	d := Dist{IDs: []int32{7, 8, 9}, P: []float32{0.6, 0.3, 0.1}}
	r := rand.New(rand.NewPCG(3, 4))
	counts := map[int32]int{}
	const n = 100000
	for range n {
		counts[d.Sample(r.Float64())]++
	}
	for i, id := range d.IDs {
		if got := float64(counts[id]) / n; math.Abs(got-float64(d.P[i])) > 0.01 {
			t.Errorf("token %d drawn %.3f, want %.2f", id, got, d.P[i])
		}
	}
}

func BenchmarkArgmax(b *testing.B) {
	for _, n := range []int{32000, 150000} {
		x := make([]float32, n)
		r := rand.New(rand.NewPCG(1, 1))
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		b.Run(fmt.Sprintf("vocab=%dk/fast", n/1000), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				Argmax(x)
			}
		})
		b.Run(fmt.Sprintf("vocab=%dk/portable", n/1000), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				argmaxPortable(x)
			}
		})
	}
}

func TestLogSumExp(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{3, 64, 1001, 32000, 150000} {
		for _, scale := range []float64{0.1, 3, 30} {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(r.NormFloat64() * scale)
			}
			s := 0.0
			m := float64(x[argmaxPortable(x)])
			for _, v := range x {
				s += math.Exp(float64(v) - m)
			}
			want := m + math.Log(s)
			if got := float64(LogSumExp(x)); math.Abs(got-want) > 1e-5*math.Max(1, math.Abs(want)) {
				t.Errorf("n=%d scale %v: LogSumExp %v, want %v", n, scale, got, want)
			}
		}
	}
}

func BenchmarkLogSumExp(b *testing.B) {
	for _, n := range []int{32000, 150000} {
		x := make([]float32, n)
		r := rand.New(rand.NewPCG(1, 1))
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		b.Run(fmt.Sprintf("vocab=%dk", n/1000), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				LogSumExp(x)
			}
		})
	}
}
