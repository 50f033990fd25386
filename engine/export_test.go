package engine

import (
	"github.com/ebitengine/purego"

	"github.com/speclab/speclab/engine/llamalib"
)

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

// CheckLibrary runs the ABI guard on the library at path (a file) with
// opt's header and override, without starting it: a test may check a
// library other than the one the process has loaded.
func CheckLibrary(path string, opt LibOptions) (*Lib, error) {
	loc, err := llamalib.Locate(path, "")
	if err != nil {
		return nil, err
	}
	return check(loc, opt)
}

// ModelDefaultBytes is llama_model_default_params as the library filled
// it through SyscallN, for comparison with other ways of calling it.
func (l *Lib) ModelDefaultBytes() []byte { return l.modelDefault.buf[:l.modelDefault.rec.Size] }

// Symbol is the address of a function of the library.
func (l *Lib) Symbol(name string) uintptr {
	sym, _ := purego.Dlsym(l.handle, name)
	return sym
}

// HasThreadpool reports whether c runs on a persistent threadpool.
func HasThreadpool(c *Context) bool { return c.pool != nil }
