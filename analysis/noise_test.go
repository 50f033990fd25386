package analysis

import (
	"math"
	"strings"
	"testing"
)

func TestBootstrapCI(t *testing.T) {
	xs := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	meanOf := func(idx []int) float64 {
		var s float64
		for _, i := range idx {
			s += xs[i]
		}
		return s / float64(len(idx))
	}
	lo, hi := BootstrapCI(len(xs), 4000, 1, meanOf)
	// The normal approximation: 5.5 ± 1.96 · 3.03/√10 = [3.62, 7.38]; the
	// percentile bootstrap is a little narrower (it uses n, not n−1).
	if !(lo > 3.4 && lo < 4.0 && hi > 7.0 && hi < 7.6) {
		t.Errorf("mean of 1..10: [%.3f, %.3f], want about [3.7, 7.3]", lo, hi)
	}
	lo2, hi2 := BootstrapCI(len(xs), 4000, 1, meanOf)
	if lo2 != lo || hi2 != hi {
		t.Errorf("seed 1 twice: [%v, %v] then [%v, %v]", lo, hi, lo2, hi2)
	}
	if lo3, hi3 := BootstrapCI(len(xs), 4000, 2, meanOf); lo3 == lo && hi3 == hi {
		t.Errorf("seeds 1 and 2 gave the same interval [%v, %v]", lo, hi)
	}
	for _, tc := range []struct {
		name string
		n, b int
	}{{"one value", 1, 100}, {"no resamples", 10, 0}} {
		if lo, hi := BootstrapCI(tc.n, tc.b, 1, meanOf); !math.IsNaN(lo) || !math.IsNaN(hi) {
			t.Errorf("%s: [%v, %v], want NaN", tc.name, lo, hi)
		}
	}
	// A ratio's interval stays positive however skewed the sample.
	ratios := []float64{0.01, 0.02, 5, 0.03, 0.01}
	lo, _ = BootstrapCI(len(ratios), 2000, 3, func(idx []int) float64 {
		var s float64
		for _, i := range idx {
			s += ratios[i]
		}
		return s / float64(len(idx))
	})
	if !(lo > 0) {
		t.Errorf("skewed ratios: lower bound %v", lo)
	}
}

// noiseRun writes a run with A/A cells: the baseline timed twice per block
// (the second within ±2%), a configuration 1.5× faster, one 1% faster,
// and one that drafted nothing.
func noiseRun(t *testing.T, dir string) *Data {
	t.Helper()
	wobble := []float64{0.98, 1.015, 0.99, 1.02, 1.005, 0.985, 1.01, 0.995}
	var cells []cellSpec
	drafting := []st{{k: 3, j: 2}, {k: 3, j: 3}, {k: 2, j: 0}}
	i := 0
	for _, task := range []string{"t1", "t2", "t3", "t4"} {
		for rep := int32(1); rep <= 2; rep++ {
			base := 100 + 10*float64(i)
			w := wobble[i%len(wobble)]
			i++
			aa := cell("base"+"~aa", task, rep, false, base*w)
			aa.AA = true
			cells = append(cells,
				cellSpec{run: cell("base", task, rep, true, base)},
				cellSpec{run: aa},
				cellSpec{run: cell("fast", task, rep, false, base*1.5*w), steps: drafting},
				cellSpec{run: cell("same", task, rep, false, base*1.01/w), steps: drafting},
				cellSpec{run: cell("idle", task, rep, false, base*1.3)},
			)
		}
	}
	writeRun(t, dir, "1of1", cells...)
	return load(t, dir)
}

func TestNoiseVerdicts(t *testing.T) {
	d := noiseRun(t, t.TempDir())
	got := map[string]*Summary{}
	for _, s := range Summarize(d, []Dim{ByConfig}) {
		got[s.Config] = s
	}
	for _, tc := range []struct{ config, verdict string }{
		{"base~aa", VerdictNoise}, // an A/A run flags its own "speedup" as noise
		{"fast", VerdictBeyondNoise},
		{"same", VerdictNoise},
		{"idle", VerdictNothingDrafted},
	} {
		s := got[tc.config]
		if s == nil {
			t.Fatalf("no group %s", tc.config)
		}
		if s.Noise.Verdict != tc.verdict {
			t.Errorf("%s: speedup %s, verdict %q (floor %v), want %q", tc.config, s.Speedup.FormatUnit("%.3f", "×"), s.Noise.Verdict, s.Noise.Floor, tc.verdict)
		}
		if s.Noise.AACells != 8 {
			t.Errorf("%s: %d A/A cells, want 8", tc.config, s.Noise.AACells)
		}
		for _, iv := range []Interval{s.Speedup, s.SpeedupSpecBench, s.TPS} {
			if iv.Lo.OK() && iv.Lo < 0 {
				t.Errorf("%s: interval below 0: %+v", tc.config, iv)
			}
		}
	}
	if !got["base~aa"].AA || got["base"].Noise.Verdict != "" {
		t.Errorf("A/A group %+v, baseline verdict %q", got["base~aa"].Noise, got["base"].Noise.Verdict)
	}
	// The floor shrinks with the cells averaged: one cell's floor is wider
	// than the 8-cell group's.
	perCell := Summarize(d, []Dim{ByConfig, ByTask, ByRun})
	for _, s := range perCell {
		if s.Config == "fast" && !(s.Noise.Floor > got["fast"].Noise.Floor) {
			t.Errorf("floor of %d cells %v, of 8 cells %v", s.Cells, s.Noise.Floor, got["fast"].Noise.Floor)
		}
	}
	// Spec-Bench's speedup of fast: per repeat, mean tok/s over mean
	// baseline tok/s.
	f := got["fast"].SpeedupSpecBench
	if !(f.Mean > 1.45 && f.Mean < 1.55) || !(f.Lo <= f.Mean && f.Mean <= f.Hi) {
		t.Errorf("Spec-Bench speedup of fast: %+v", f)
	}
}

func TestNoiseWithoutAA(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir, "1of1",
		cellSpec{run: cell("base", "t1", 1, true, 100)},
		cellSpec{run: cell("spec", "t1", 1, false, 150), steps: []st{{k: 2, j: 2}}},
	)
	s := Summarize(load(t, dir), []Dim{ByConfig})
	if v := s[1].Noise; v.Verdict != VerdictUnknown || v.Floor.OK() {
		t.Errorf("one repeat, no A/A: %+v, want unknown", v)
	}
}

// The seed's figures: 212 GB/s over 14 GB a token is a ceiling of 15.1
// tokens/s, and a baseline at 13.8 is at 91% of it: memory-bound.
func TestCeilingLine(t *testing.T) {
	dir := t.TempDir()
	base := cell("base", "t1", 1, true, 13.8)
	base.BandwidthGBs, base.BandwidthSource, base.TargetBytesPerToken = 212, "hip", 14e9
	writeRun(t, dir, "1of1", cellSpec{run: base})
	line := CeilingLine(load(t, dir))
	for _, want := range []string{"212.0 GB/s", "hip", "is 15 tokens/s", "91% of it: memory-bound"} {
		if !strings.Contains(line, want) {
			t.Errorf("ceiling line lacks %q:\n%s", want, line)
		}
	}
	old := t.TempDir()
	writeRun(t, old, "1of1", cellSpec{run: cell("base", "t1", 1, true, 13.8)}) // a folder without a bandwidth
	if line := CeilingLine(load(t, old)); line != "" {
		t.Errorf("no bandwidth logged, yet: %s", line)
	}
}
