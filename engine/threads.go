package engine

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"unsafe"

	"github.com/ebitengine/purego"
)

// Persistent CPU threadpools, as llama.cpp's common code attaches them
// (common/common.cpp, common_threadpools::init): without one, ggml's CPU
// backend creates its worker threads on every llama_decode, which at 2
// threads costs more than a small model's arithmetic.
//
// ggml_threadpool_params is a ggml.h struct (bool cpumask[512]; int
// n_threads; int prio; uint32_t poll; bool strict_cpu; bool paused), filled
// here by ggml_threadpool_params_init into a buffer larger than it and
// checked by reading n_threads back at its offset before use. The
// threadpool functions live in the CPU backend, which is loaded
// dynamically: they are found with ggml_backend_reg_get_proc_address.

const (
	ggmlMaxNThreads = 512 // GGML_MAX_N_THREADS, unchanged in every release of 2026
	tppNThreads     = ggmlMaxNThreads
	tppPoll         = ggmlMaxNThreads + 8
	tppPaused       = ggmlMaxNThreads + 13
	tppBufSize      = 1024
)

// threadpool is a pool of CPU threads attached to one context.
type threadpool struct {
	lib  *Lib
	ptr  uintptr
	free uintptr
}

// newThreadpool creates a pool of n threads polling at poll (0: none,
// 100: aggressive; ggml's default is 50). It returns nil, with the reason,
// when the library has no CPU backend or the struct does not look as
// expected: the context then runs as before, with ggml's per-call threads.
func (l *Lib) newThreadpool(n, poll int) (*threadpool, error) {
	if l.c.ggmlThreadpoolParamsInit == nil {
		return nil, fmt.Errorf("no ggml_threadpool_params_init")
	}
	dev := l.c.ggmlBackendDevByType(int32(DeviceCPU))
	if dev == 0 {
		return nil, fmt.Errorf("no CPU device")
	}
	reg := l.c.ggmlBackendDevBackendReg(dev)
	newFn := l.c.ggmlBackendRegGetProc(reg, "ggml_threadpool_new")
	freeFn := l.c.ggmlBackendRegGetProc(reg, "ggml_threadpool_free")
	if newFn == 0 || freeFn == 0 {
		return nil, fmt.Errorf("the CPU backend exports no ggml_threadpool_new")
	}
	buf := make([]byte, tppBufSize)
	l.c.ggmlThreadpoolParamsInit(unsafe.Pointer(&buf[0]), int32(n))
	if got := int32(binary.LittleEndian.Uint32(buf[tppNThreads:])); got != int32(n) ||
		binary.LittleEndian.Uint32(buf[tppPoll:]) != 50 {
		return nil, fmt.Errorf("ggml_threadpool_params is not laid out as speclab expects (n_threads reads %d)", got)
	}
	binary.LittleEndian.PutUint32(buf[tppPoll:], uint32(poll))
	var pin runtime.Pinner
	pin.Pin(&buf[0])
	ptr := l.callPtr(newFn, unsafe.Pointer(&buf[0]))
	pin.Unpin()
	if ptr == 0 {
		return nil, fmt.Errorf("ggml_threadpool_new(%d threads) failed", n)
	}
	return &threadpool{lib: l, ptr: ptr, free: freeFn}, nil
}

func (t *threadpool) close() {
	if t != nil && t.ptr != 0 {
		purego.SyscallN(t.free, t.ptr)
		t.ptr = 0
	}
}

// callPtr calls fn(arg) and returns its pointer result.
func (l *Lib) callPtr(fn uintptr, arg unsafe.Pointer) uintptr {
	r, _, _ := purego.SyscallN(fn, uintptr(arg))
	return r
}
