package synth

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
)

// stream is a deterministic source of weights: one per tensor row, keyed by
// the seed, the tensor name and the row, so a row's leading values do not
// depend on the row's length or on any other tensor.
//
// Values are made with integer arithmetic and a single float multiply, so
// they are the same on every platform and Go version (math/rand/v2's PCG
// is a fixed algorithm; its NormFloat64 and math.Log are not promised to be).
type stream struct{ src *rand.PCG }

func newStream(seed uint64, tensor string, row int) stream {
	h := fnv.New64a()
	h.Write([]byte(tensor))
	return stream{rand.NewPCG(seed^h.Sum64(), uint64(row))}
}

// irwinHallScale turns the centred doubled sum of four uint32 values into a
// unit-variance value: the sum's standard deviation is 2^32/sqrt(3).
var irwinHallScale = math.Sqrt(3) / (1 << 33)

// normal returns an approximately normal value with mean 0 and standard
// deviation std (the sum of four uniforms, bounded by ±3.46 std).
func (s stream) normal(std float64) float32 {
	a, b := s.src.Uint64(), s.src.Uint64()
	sum := int64(a>>32) + int64(a&0xFFFFFFFF) + int64(b>>32) + int64(b&0xFFFFFFFF)
	centred := 2*sum - 4*(1<<32-1)
	return float32(float64(centred) * (irwinHallScale * std))
}

// uniform returns a value uniform in [lo, hi).
func (s stream) uniform(lo, hi float64) float32 {
	u := float64(s.src.Uint64()>>11) * (1.0 / (1 << 53))
	// The conversion rounds the product, so it is never fused into an FMA.
	return float32(lo + float64(u*(hi-lo)))
}
