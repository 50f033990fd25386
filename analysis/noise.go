package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// This file holds the statistics that say how far a speedup can be
// trusted: the noise floor of a run (its A/A cells, the baseline timed
// twice in one block), Spec-Bench's speedup with a bootstrap interval, and
// the warning for cells too short to time.

// Verdicts on a speedup.
const (
	// VerdictNoise: noise can explain the speedup (it lies within the noise
	// floor, or its interval holds 1).
	VerdictNoise = "noise"
	// VerdictBeyondNoise: the speedup lies outside the noise floor and its
	// interval does not hold 1.
	VerdictBeyondNoise = "beyond-noise"
	// VerdictNothingDrafted: nothing was drafted, so the configuration did
	// the baseline's work and its "speedup" is noise by construction.
	VerdictNothingDrafted = "nothing-drafted"
	// VerdictUnknown: no A/A cells and no interval (a single repeat).
	VerdictUnknown = "unknown"
)

// Noise is the verdict on one group's speedup.
type Noise struct {
	Verdict string `json:"verdict"`
	// Floor is the factor within which noise moves a speedup like this
	// group's (same number of cells): a speedup S is noise when
	// 1/Floor ≤ S ≤ Floor. Missing without A/A cells.
	Floor Num `json:"floor"`
	// AACells are the A/A comparisons the floor was estimated from.
	AACells int `json:"aa_cells"`
}

// String is the verdict in a few words ("noise (floor ±3.1%)").
func (n Noise) String() string {
	switch n.Verdict {
	case "":
		return ""
	case VerdictNothingDrafted:
		return "noise: nothing drafted"
	}
	s := n.Verdict
	if n.Floor.OK() {
		s += fmt.Sprintf(" (floor ±%.1f%%)", 100*(float64(n.Floor)-1))
	}
	return s
}

// noiseModel is a run's A/A comparisons: the log-ratio of the second
// baseline's tokens/s over the first's, per block.
type noiseModel struct{ d []float64 }

func newNoiseModel(cells []*Cell, base *baselines) *noiseModel {
	nm := &noiseModel{}
	for _, c := range cells {
		if b := base.of(c); c.AA && b != nil && c.GenTPS > 0 {
			nm.d = append(nm.d, math.Log(c.GenTPS/b.GenTPS))
		}
	}
	return nm
}

// floor is the factor noise can reach on the geometric mean of m cell
// speedups: the A/A comparisons' mean log-ratio (a drift between the
// first and the second cell of a block) plus the 95% t half-width of a
// mean of m of them. NaN with fewer than two A/A cells.
func (nm *noiseModel) floor(m int) float64 {
	n := len(nm.d)
	if n < 2 || m < 1 {
		return math.NaN()
	}
	mu := mean(nm.d)
	var ss float64
	for _, x := range nm.d {
		ss += (x - mu) * (x - mu)
	}
	sd := math.Sqrt(ss / float64(n-1))
	return math.Exp(math.Abs(mu) + TQuantile975(n-1)*sd/math.Sqrt(float64(m)))
}

// verdict judges a group's speedup from m cell speedups.
func (nm *noiseModel) verdict(s *Summary, m int) Noise {
	if s.Baseline {
		return Noise{}
	}
	n := Noise{Floor: Num(nm.floor(m)), AACells: len(nm.d)}
	sp := s.Speedup
	switch {
	case !sp.Mean.OK():
		n.Verdict = ""
	case s.Drafted == 0 && !s.AA:
		n.Verdict = VerdictNothingDrafted
	case sp.Lo.OK() && sp.Hi.OK() && sp.Lo <= 1 && 1 <= sp.Hi:
		n.Verdict = VerdictNoise
	case n.Floor.OK():
		if math.Abs(math.Log(float64(sp.Mean))) <= math.Log(float64(n.Floor)) {
			n.Verdict = VerdictNoise
		} else {
			n.Verdict = VerdictBeyondNoise
		}
	case sp.Lo.OK():
		n.Verdict = VerdictBeyondNoise // the interval excludes 1
	default:
		n.Verdict = VerdictUnknown
	}
	return n
}

// BootstrapCI is the percentile bootstrap 95% interval of stat: it draws
// resamples of n indices with replacement (a PCG stream seeded with seed,
// so the interval is reproducible) and returns the 2.5% and 97.5%
// quantiles of stat over them. Resamples where stat is not finite are left
// out; NaN, NaN when n < 2 or none is finite.
func BootstrapCI(n, resamples int, seed uint64, stat func(idx []int) float64) (lo, hi float64) {
	if n < 2 || resamples < 1 {
		return math.NaN(), math.NaN()
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	idx := make([]int, n)
	var vals []float64
	for range resamples {
		for i := range idx {
			idx[i] = rng.IntN(n)
		}
		if v := stat(idx); !math.IsNaN(v) && !math.IsInf(v, 0) {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return math.NaN(), math.NaN()
	}
	slices.Sort(vals)
	return quantile(vals, 0.025), quantile(vals, 0.975)
}

// quantile of sorted values, linear between order statistics (numpy's
// default).
func quantile(sorted []float64, q float64) float64 {
	h := q * float64(len(sorted)-1)
	i := int(math.Floor(h))
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (h-float64(i))*(sorted[i+1]-sorted[i])
}

// BootstrapResamples and BootstrapSeed fix the report's bootstrap, so a
// report of the same folders prints the same intervals.
const (
	BootstrapResamples = 2000
	BootstrapSeed      = 2026
)

// specBench computes Spec-Bench's speedup of the cells against their
// baselines (hemingkx/Spec-Bench, evaluation/speed.py): per repeat, the
// mean over tasks of the configuration's tokens/s divided by the mean over
// the same tasks of the baseline's, then the arithmetic mean over repeats
// (as its --mean-report does). The interval is a percentile bootstrap over
// the repeats and, within each, the matched (cell, baseline) pairs.
func specBench(pairs map[int32][][2]float64) Interval {
	nan := Num(math.NaN())
	iv := Interval{Mean: nan, Lo: nan, Hi: nan, N: len(pairs)}
	reps := make([]int32, 0, len(pairs))
	for r := range pairs {
		reps = append(reps, r)
	}
	slices.Sort(reps)
	ratioOf := func(p [][2]float64, idx []int) float64 {
		var a, b float64
		for _, i := range idx {
			a += p[i][0]
			b += p[i][1]
		}
		return a / b // the means' ratio: the counts cancel
	}
	all := func(n int) []int {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	var per []float64
	for _, r := range reps {
		per = append(per, ratioOf(pairs[r], all(len(pairs[r]))))
	}
	if len(per) == 0 {
		return iv
	}
	iv.Mean = Num(mean(per))
	// A two-stage bootstrap: draw the repeats with replacement, then within
	// each drawn repeat as many pairs as it has, from its own. With one
	// pair per repeat it resamples the repeats; with one repeat, the tasks.
	informative := len(reps) > 1
	for _, r := range reps {
		informative = informative || len(pairs[r]) > 1
	}
	if !informative {
		return iv
	}
	rng := rand.New(rand.NewPCG(BootstrapSeed, 0x5eed))
	vals := make([]float64, 0, BootstrapResamples)
	for range BootstrapResamples {
		var sum float64
		for range reps {
			p := pairs[reps[rng.IntN(len(reps))]]
			idx := make([]int, len(p))
			for i := range idx {
				idx[i] = rng.IntN(len(p))
			}
			sum += ratioOf(p, idx)
		}
		vals = append(vals, sum/float64(len(reps)))
	}
	slices.Sort(vals)
	iv.Lo, iv.Hi = Num(quantile(vals, 0.025)), Num(quantile(vals, 0.975))
	return iv
}

// Cells shorter than these are too short to time: the clock's and the
// scheduler's noise is then a large share of the cell's time.
const (
	ShortCellTokens = 32
	ShortCellS      = 0.1
)

// isShort reports whether a cell is too short to time.
func isShort(c *Cell) bool {
	if c.Generated < ShortCellTokens {
		return true
	}
	return c.GenTPS > 0 && float64(c.Generated)/c.GenTPS < ShortCellS
}
