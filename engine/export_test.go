package engine

import "github.com/ebitengine/purego"

var trivialSym uintptr

// GoSideOfDecode does everything Decode does for one token except the work
// inside llama_decode: the checks, filling the C batch and one call through
// the same SyscallN path to a C function that returns at once
// (llama_supports_mmap). Benchmarks compare it with a whole Decode.
func GoSideOfDecode(c *Context, tok Token, pos int) uintptr {
	if trivialSym == 0 {
		trivialSym, _ = purego.Dlsym(c.model.lib.handle, "llama_supports_mmap")
	}
	toks := [1]Token{tok}
	if pos < 0 || pos+1 > c.nCtx || tok < 0 || int(tok) >= c.nVocab {
		return 0
	}
	c.fill(toks[:], 0, pos, 0, func(int) bool { return true })
	c.args[0] = c.ptr
	r, _, _ := purego.SyscallN(trivialSym, c.args[:13]...)
	return r
}
