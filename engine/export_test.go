package engine

// GoSideOfDecode does everything Decode does for one token except the work
// inside llama_decode: the checks, filling the C batch and one purego call
// (llama_n_ctx, a C function that returns at once). Benchmarks compare it
// with a whole Decode.
func GoSideOfDecode(c *Context, tok Token, pos int) uint32 {
	toks := [1]Token{tok}
	if pos < 0 || pos+1 > c.nCtx || tok < 0 || int(tok) >= c.nVocab {
		return 0
	}
	c.fill(toks[:], 0, pos, 0, func(int) bool { return true })
	return c.model.lib.c.llamaNCtx(c.ptr)
}
