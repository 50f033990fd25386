// Package sample turns logits into token distributions and draws from them,
// the same way for a target and for a draft model, so that verification by
// rejection sampling compares like with like.
//
// It owns temperature, top-k, top-p and min-p filtering in the order of
// llama.cpp's default sampler chain (checked against libllama's own
// samplers in llama_test.go: total variation under 1e-4), a sparse
// distribution type, argmax, entropy and the residual distribution of
// rejection sampling. It knows nothing of models or of the speculative loop.
package sample

import (
	"fmt"
	"math"
	"slices"
)

// Params are the sampling settings, applied in the order of llama.cpp's
// default sampler chain (common/common.h; the penalties, DRY, top-n-sigma,
// typical-p and XTC samplers before and between them are off by default):
// top-k, top-p and min-p on the logits as they are, then the temperature,
// then the softmax that llama.cpp's dist sampler draws from. Temp <= 0
// means greedy (argmax); the other fields are then ignored.
type Params struct {
	Temp float32
	TopK int     // keep the k most likely tokens; <= 0 keeps all
	TopP float32 // keep the smallest set whose probability reaches TopP; >= 1 or <= 0 keeps all
	MinP float32 // drop tokens below MinP × the top probability; <= 0 keeps all
}

// Greedy reports whether p means argmax decoding.
func (p Params) Greedy() bool { return p.Temp <= 0 }

// Validate reports settings that cannot be applied.
func (p Params) Validate() error {
	switch {
	case !(p.Temp >= 0) || math.IsInf(float64(p.Temp), 1):
		return fmt.Errorf("temperature %v: want a finite number >= 0", p.Temp)
	case !(p.TopP >= 0 && p.TopP <= 1):
		return fmt.Errorf("top-p %v: want 0..1", p.TopP)
	case !(p.MinP >= 0 && p.MinP <= 1):
		return fmt.Errorf("min-p %v: want 0..1", p.MinP)
	}
	return nil
}

func (p Params) String() string {
	if p.Greedy() {
		return "greedy"
	}
	return fmt.Sprintf("temp %g, top-k %d, top-p %g, min-p %g", p.Temp, p.TopK, p.TopP, p.MinP)
}

// Dist is a probability distribution over token ids, sorted by probability
// (highest first). Ids not listed have probability zero. Its slices are
// reused by the functions that fill it.
type Dist struct {
	IDs []int32
	P   []float32
}

// Len is the number of tokens with non-zero probability.
func (d *Dist) Len() int { return len(d.IDs) }

// Prob returns the probability of id.
func (d *Dist) Prob(id int32) float32 {
	for i, x := range d.IDs {
		if x == id {
			return d.P[i]
		}
	}
	return 0
}

// Top is the most likely token and its probability.
func (d *Dist) Top() (int32, float32) {
	if len(d.IDs) == 0 {
		return -1, 0
	}
	return d.IDs[0], d.P[0]
}

// Sample draws a token with u uniform in [0, 1).
func (d *Dist) Sample(u float64) int32 {
	acc := 0.0
	for i, p := range d.P {
		acc += float64(p)
		if u < acc {
			return d.IDs[i]
		}
	}
	return d.IDs[len(d.IDs)-1] // rounding: the sum fell short of 1
}

// Entropy is the distribution's entropy in nats.
func (d *Dist) Entropy() float32 {
	h := 0.0
	for _, p := range d.P {
		if p > 0 {
			h -= float64(p) * math.Log(float64(p))
		}
	}
	return float32(h)
}

// TotalVariation is half the L1 distance between d and the distribution
// that gives ids[i] the probability p[i] (ids not listed: zero).
func (d *Dist) TotalVariation(ids []int32, p []float64) float64 {
	ref := make(map[int32]float64, len(ids))
	for i, id := range ids {
		ref[id] += p[i]
	}
	tv := 0.0
	for i, id := range d.IDs {
		tv += math.Abs(float64(d.P[i]) - ref[id])
		delete(ref, id)
	}
	for _, q := range ref {
		tv += q
	}
	return tv / 2
}

// Clone returns a copy that does not share d's slices.
func (d *Dist) Clone() Dist {
	return Dist{IDs: slices.Clone(d.IDs), P: slices.Clone(d.P)}
}

// Argmax returns the index of the largest logit (the lowest index on ties,
// as llama.cpp's greedy sampler). It runs once per verified position, over
// the whole vocabulary: on amd64 with AVX2 it is vectorised.
func Argmax(logits []float32) int32 {
	if i, ok := argmaxFast(logits); ok {
		return i
	}
	return argmaxPortable(logits)
}

func argmaxPortable(logits []float32) int32 {
	if len(logits) == 0 {
		return -1
	}
	// Four independent running maxima let the CPU overlap comparisons.
	var bi [4]int
	var bv [4]float32
	for k := range bv {
		bv[k] = float32(math.Inf(-1))
		bi[k] = k
	}
	n := len(logits) &^ 3
	for i := 0; i < n; i += 4 {
		l := logits[i : i+4 : i+4]
		if l[0] > bv[0] {
			bv[0], bi[0] = l[0], i
		}
		if l[1] > bv[1] {
			bv[1], bi[1] = l[1], i+1
		}
		if l[2] > bv[2] {
			bv[2], bi[2] = l[2], i+2
		}
		if l[3] > bv[3] {
			bv[3], bi[3] = l[3], i+3
		}
	}
	best, bestV := -1, float32(math.Inf(-1))
	for k := range bv {
		if bi[k] < len(logits) && (bv[k] > bestV || (bv[k] == bestV && bi[k] < best)) {
			best, bestV = bi[k], bv[k]
		}
	}
	for i := n; i < len(logits); i++ {
		if logits[i] > bestV {
			best, bestV = i, logits[i]
		}
	}
	if best < 0 { // all -Inf or NaN
		best = 0
	}
	return int32(best)
}

// LogSumExp returns log Σ exp(logits), the normaliser of a softmax at
// temperature 1; the probability of token i is exp(logits[i] − lse).
func LogSumExp(logits []float32) float32 {
	return LogSumExpMax(logits, logits[Argmax(logits)])
}

// LogSumExpMax is LogSumExp for a caller that knows m = max(logits).
func LogSumExpMax(logits []float32, m float32) float32 {
	if math.IsInf(float64(m), -1) || math.IsInf(float64(m), 1) {
		return m
	}
	s, ok := sumExpFast(logits, m)
	if !ok {
		s = 0
		for _, x := range logits {
			s += math.Exp(float64(x - m))
		}
	}
	return m + float32(math.Log(s))
}

// Softmax1 returns the probability of id under a softmax at temperature 1
// over all logits, given their LogSumExp.
func Softmax1(logits []float32, lse float32, id int32) float32 {
	return float32(math.Exp(float64(logits[id] - lse)))
}

// Fill sets d to the distribution that p gives to logits. With greedy
// params it is the point mass on the argmax.
func (p Params) Fill(logits []float32, d *Dist) {
	d.IDs, d.P = d.IDs[:0], d.P[:0]
	if p.Greedy() {
		d.IDs = append(d.IDs, Argmax(logits))
		d.P = append(d.P, 1)
		return
	}
	// Candidates: the top-k (or all) ids, sorted by logit.
	if p.TopK > 0 && p.TopK < len(logits) {
		topK(logits, p.TopK, d)
	} else {
		for i := range logits {
			d.IDs = append(d.IDs, int32(i))
		}
		slices.SortFunc(d.IDs, func(a, b int32) int {
			switch {
			case logits[a] > logits[b]:
				return -1
			case logits[a] < logits[b]:
				return 1
			}
			return int(a - b)
		})
	}
	// llama.cpp's chain: top-p and min-p look at the logits as they are
	// (temperature 1); the temperature only shapes what is left.
	keep := len(d.IDs)
	if p.TopP > 0 && p.TopP < 1 {
		// llama_sampler_top_p: a softmax at temperature 1 over the
		// candidates, then the smallest prefix whose mass reaches TopP.
		m := logits[d.IDs[0]]
		d.P = slices.Grow(d.P[:0], len(d.IDs))[:len(d.IDs)]
		sum := float32(0)
		for i, id := range d.IDs {
			e := float32(math.Exp(float64(logits[id] - m)))
			d.P[i] = e
			sum += e
		}
		acc := float32(0)
		for i := range d.P {
			acc += d.P[i] / sum
			if acc >= p.TopP {
				keep = i + 1
				break
			}
		}
	}
	if p.MinP > 0 {
		// llama_sampler_min_p: keep the logits at least max + log(MinP).
		floor := logits[d.IDs[0]] + float32(math.Log(float64(p.MinP)))
		for i := 1; i < keep; i++ {
			if logits[d.IDs[i]] < floor {
				keep = i
				break
			}
		}
	}
	d.IDs = d.IDs[:keep]
	// llama_sampler_temp, then dist's softmax over what is left.
	m := logits[d.IDs[0]] / p.Temp
	d.P = slices.Grow(d.P[:0], len(d.IDs))[:len(d.IDs)]
	sum := 0.0
	for i, id := range d.IDs {
		e := math.Exp(float64(logits[id]/p.Temp - m))
		d.P[i] = float32(e)
		sum += e
	}
	for i := range d.P {
		d.P[i] = float32(float64(d.P[i]) / sum)
	}
}

// topK puts the k ids with the largest logits into d.IDs, sorted by logit
// (ties by lower id), in one pass with a small sorted buffer.
func topK(logits []float32, k int, d *Dist) {
	ids := d.IDs[:0]
	less := func(a, b int32) bool { // a ranks below b
		return logits[a] < logits[b] || (logits[a] == logits[b] && a > b)
	}
	for i := range logits {
		id := int32(i)
		if len(ids) == k {
			if !less(ids[k-1], id) {
				continue
			}
			ids = ids[:k-1]
		}
		// insertion into the sorted buffer (k is small)
		j := len(ids)
		ids = append(ids, id)
		for j > 0 && less(ids[j-1], id) {
			ids[j] = ids[j-1]
			j--
		}
		ids[j] = id
	}
	d.IDs = ids
}

func renormalise(d *Dist) {
	sum := 0.0
	for _, q := range d.P {
		sum += float64(q)
	}
	if sum <= 0 {
		return
	}
	for i := range d.P {
		d.P[i] = float32(float64(d.P[i]) / sum)
	}
}

// Residual sets out to normalise(max(0, p − q)), the distribution a
// rejection-sampling verifier draws from after rejecting a draft token
// (Chen et al. 2023). When p − q has no positive mass (p == q), out is p.
func Residual(p, q *Dist, out *Dist) {
	out.IDs, out.P = out.IDs[:0], out.P[:0]
	for i, id := range p.IDs {
		r := p.P[i] - q.Prob(id)
		if r > 0 {
			out.IDs = append(out.IDs, id)
			out.P = append(out.P, r)
		}
	}
	if len(out.IDs) == 0 {
		out.IDs = append(out.IDs, p.IDs...)
		out.P = append(out.P, p.P...)
		return
	}
	renormalise(out)
	sortDist(out)
}

func sortDist(d *Dist) {
	idx := make([]int, len(d.IDs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case d.P[a] > d.P[b]:
			return -1
		case d.P[a] < d.P[b]:
			return 1
		}
		return int(d.IDs[a] - d.IDs[b])
	})
	ids, ps := slices.Clone(d.IDs), slices.Clone(d.P)
	for i, j := range idx {
		d.IDs[i], d.P[i] = ids[j], ps[j]
	}
}
