package engine

import (
	"math"
	"runtime"
	"slices"
	"structs"
	"unsafe"
)

// This file runs llama.cpp's own samplers on a row of logits: the reference
// that speclab's sampler (package spec/sample) is checked against, and a
// way for a user to see the distribution llama.cpp would sample from.

// cTokenData is llama_token_data (12 bytes).
type cTokenData struct {
	_     structs.HostLayout
	ID    int32   // @0
	Logit float32 // @4
	P     float32 // @8
}

// cTokenDataArray is llama_token_data_array (32 bytes), passed by pointer.
type cTokenDataArray struct {
	_        structs.HostLayout
	Data     unsafe.Pointer // @0
	Size     uint64         // @8
	Selected int64          // @16
	Sorted   bool           // @24
	_        [7]byte
}

// SamplerChain is the part of llama.cpp's default sampler chain
// (common/common.h: penalties, dry, top_n_sigma, top_k, typ_p, top_p,
// min_p, xtc, temperature, dist) that the default flags switch on: top-k,
// top-p, min-p and temperature, in that order.
type SamplerChain struct {
	TopK int
	TopP float32
	MinP float32
	Temp float32
}

// LlamaDistribution runs llama.cpp's samplers of ch on logits, in llama.cpp's
// order, then the softmax its dist sampler draws from, and returns the
// candidates left with their probabilities, most likely first.
func (l *Lib) LlamaDistribution(logits []float32, ch SamplerChain) (ids []int32, p []float32) {
	data := make([]cTokenData, len(logits))
	for i, x := range logits {
		data[i] = cTokenData{ID: int32(i), Logit: x}
	}
	arr := &cTokenDataArray{Data: unsafe.Pointer(unsafe.SliceData(data)), Size: uint64(len(data)), Selected: -1}
	var pin runtime.Pinner
	pin.Pin(arr)
	pin.Pin(unsafe.SliceData(data))
	defer pin.Unpin()
	apply := func(smpl uintptr) {
		l.c.llamaSamplerApply(smpl, unsafe.Pointer(arr))
		l.c.llamaSamplerFree(smpl)
	}
	apply(l.c.llamaSamplerTopK(int32(ch.TopK)))
	apply(l.c.llamaSamplerTopP(ch.TopP, 1))
	apply(l.c.llamaSamplerMinP(ch.MinP, 1))
	apply(l.c.llamaSamplerTemp(ch.Temp))
	// The samplers may point Data at their own buffer; read what it says.
	out := unsafe.Slice((*cTokenData)(arr.Data), arr.Size)
	// dist: a softmax over what is left, as llama_sampler_softmax_impl does
	// it (float32).
	maxL := float32(math.Inf(-1))
	for _, t := range out {
		maxL = max(maxL, t.Logit)
	}
	sum := float32(0)
	probs := make([]float32, len(out))
	for i, t := range out {
		probs[i] = float32(math.Exp(float64(t.Logit - maxL)))
		sum += probs[i]
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
		probs[i] /= sum
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case probs[a] > probs[b]:
			return -1
		case probs[a] < probs[b]:
			return 1
		}
		return int(out[a].ID - out[b].ID)
	})
	for _, i := range idx {
		ids = append(ids, out[i].ID)
		p = append(p, probs[i])
	}
	return ids, p
}
