package engine

import (
	"fmt"
	"reflect"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/speclab/speclab/engine/releases"
)

// api holds the C functions of libllama and libggml that the engine calls.
// Every field is bound by name in bindAPI; names follow the C symbols.
type api struct {
	// version and process set-up
	llamaVersion             func() string
	ggmlVersion              func() string
	llamaBackendInit         func()
	llamaLogSet              func(cb uintptr, ud uintptr)
	llamaPrintSystemInfo     func() string
	llamaSupportsGPU         func() bool
	ggmlLoadAllFromPath      func(dir string)
	ggmlBackendRegCount      func() uint64
	ggmlBackendRegGet        func(i uint64) uintptr
	ggmlBackendRegName       func(reg uintptr) string
	ggmlBackendDevCount      func() uint64
	ggmlBackendDevGet        func(i uint64) uintptr
	ggmlBackendDevName       func(dev uintptr) string
	ggmlBackendDevDesc       func(dev uintptr) string
	ggmlBackendDevType       func(dev uintptr) int32
	ggmlBackendDevMemory     func(dev uintptr, free, total *uint64)
	ggmlTypeName             func(t int32) string
	ggmlBlckSize             func(t int32) int64
	ggmlTypeSize             func(t int32) uint64
	llamaSamplerTopK         func(k int32) uintptr
	llamaSamplerTopP         func(p float32, minKeep uint64) uintptr
	llamaSamplerMinP         func(p float32, minKeep uint64) uintptr
	llamaSamplerTemp         func(t float32) uintptr
	llamaSamplerApply        func(smpl uintptr, cur unsafe.Pointer)
	llamaSamplerFree         func(smpl uintptr)
	ggmlBackendDevByType     func(t int32) uintptr
	ggmlBackendDevBackendReg func(dev uintptr) uintptr
	ggmlBackendRegGetProc    func(reg uintptr, name string) uintptr
	ggmlThreadpoolParamsInit func(p unsafe.Pointer, n int32)
	llamaAttachThreadpool    func(c, tp, tpBatch uintptr)
	llamaDetachThreadpool    func(c uintptr)
	llamaModelFree           func(m uintptr)
	llamaModelGetVocab       func(m uintptr) uintptr
	llamaModelDesc           func(m uintptr, buf *byte, n uint64) int32
	llamaModelSize           func(m uintptr) uint64
	llamaModelNParams        func(m uintptr) uint64
	llamaModelNCtxTrain      func(m uintptr) int32
	llamaModelNEmbd          func(m uintptr) int32
	llamaModelNLayer         func(m uintptr) int32
	llamaModelNHead          func(m uintptr) int32
	llamaModelNHeadKV        func(m uintptr) int32
	llamaModelIsRecurrent    func(m uintptr) bool
	llamaModelIsHybrid       func(m uintptr) bool
	llamaModelChatTmpl       func(m uintptr, name *byte) string
	llamaChatApply           func(tmpl *byte, chat unsafe.Pointer, n uint64, addAss bool, buf unsafe.Pointer, length int32) int32
	llamaModelMetaValStr     func(m uintptr, key string, buf *byte, n uint64) int32
	llamaModelMetaCount      func(m uintptr) int32
	llamaModelMetaKeyIdx     func(m uintptr, i int32, buf *byte, n uint64) int32
	llamaModelMetaValIdx     func(m uintptr, i int32, buf *byte, n uint64) int32

	// vocabulary
	llamaVocabType    func(v uintptr) int32
	llamaVocabNTokens func(v uintptr) int32
	llamaVocabGetText func(v uintptr, t int32) string
	llamaVocabGetAttr func(v uintptr, t int32) int32
	llamaVocabIsEOG   func(v uintptr, t int32) bool
	llamaVocabIsCtrl  func(v uintptr, t int32) bool
	llamaVocabBOS     func(v uintptr) int32
	llamaVocabEOS     func(v uintptr) int32
	llamaVocabEOT     func(v uintptr) int32
	llamaVocabNL      func(v uintptr) int32
	llamaVocabPad     func(v uintptr) int32
	llamaVocabAddBOS  func(v uintptr) bool
	llamaVocabAddEOS  func(v uintptr) bool
	llamaTokenize     func(v uintptr, text unsafe.Pointer, n int32, out unsafe.Pointer, max int32, addSpecial, parseSpecial bool) int32
	llamaTokenToPiece func(v uintptr, t int32, buf unsafe.Pointer, n int32, lstrip int32, special bool) int32
	llamaDetokenize   func(v uintptr, toks unsafe.Pointer, n int32, buf unsafe.Pointer, max int32, removeSpecial, unparseSpecial bool) int32

	// context
	llamaFree         func(c uintptr)
	llamaNCtx         func(c uintptr) uint32
	llamaNBatch       func(c uintptr) uint32
	llamaNUBatch      func(c uintptr) uint32
	llamaNSeqMax      func(c uintptr) uint32
	llamaSetNThreads  func(c uintptr, n, nb int32)
	llamaBatchInit    func(n, embd, nSeqMax int32) cBatch
	llamaBatchFree    func(b cBatch)
	llamaDecode       func(c uintptr, b cBatch) int32
	llamaGetLogitsIth func(c uintptr, i int32) unsafe.Pointer
	llamaGetMemory    func(c uintptr) uintptr
	llamaMemoryClear  func(mem uintptr, data bool)
	llamaMemorySeqRm  func(mem uintptr, seq, p0, p1 int32) bool
	llamaMemorySeqCp  func(mem uintptr, src, dst, p0, p1 int32)
	llamaMemoryPosMin func(mem uintptr, seq int32) int32
	llamaMemoryPosMax func(mem uintptr, seq int32) int32
	llamaStateSeqSize func(c uintptr, seq int32) uint64
	llamaStateSeqGet  func(c uintptr, dst unsafe.Pointer, n uint64, seq int32) uint64
	llamaStateSeqSet  func(c uintptr, src unsafe.Pointer, n uint64, seq int32) uint64
	// The _ext calls take llama_state_seq_flags; nil where the library
	// lacks them (older releases).
	llamaStateSeqSizeExt func(c uintptr, seq int32, flags uint32) uint64
	llamaStateSeqGetExt  func(c uintptr, dst unsafe.Pointer, n uint64, seq int32, flags uint32) uint64
	llamaStateSeqSetExt  func(c uintptr, src unsafe.Pointer, n uint64, seq int32, flags uint32) uint64
	llamaPerfContext     func(c uintptr) cPerfContextData
	llamaPerfCtxReset    func(c uintptr)

	// Raw addresses of the functions called once or more per token. They
	// are called with purego.SyscallN, about 120 ns a call against 540 ns
	// through the reflective wrappers above (measured on the CI machine).
	symDecode, symLogitsIth, symSeqRm, symSync uintptr

	// Functions that take or return a parameter struct by value, whose
	// layout is known only at run time (see callWithStruct).
	symModelDefaults, symContextDefaults, symModelLoad, symInitFromModel uintptr
}

// bindAPI resolves every function of a against the library handle and
// checks each llama_* function's ABI signature against abi, the library's
// llama.h: the signature speclab calls is read off the Go function type (or
// stated, for the calls made through SyscallN). A missing symbol, or one the
// header declares differently, is an error naming it. llama_version (absent
// before v0.4.0) and the llama_state_seq_*_ext calls are optional: left nil
// when absent.
func bindAPI(h uintptr, a *api, abi *releases.ABI) error {
	optional := map[string]bool{
		"llama_version":                true,
		"llama_state_seq_get_size_ext": true,
		"llama_state_seq_get_data_ext": true,
		"llama_state_seq_set_data_ext": true,
	}
	table := []struct {
		fn   any
		name string
	}{
		{&a.llamaVersion, "llama_version"},
		{&a.ggmlVersion, "ggml_version"},
		{&a.llamaBackendInit, "llama_backend_init"},
		{&a.llamaLogSet, "llama_log_set"},
		{&a.llamaPrintSystemInfo, "llama_print_system_info"},
		{&a.llamaSupportsGPU, "llama_supports_gpu_offload"},
		{&a.ggmlLoadAllFromPath, "ggml_backend_load_all_from_path"},
		{&a.ggmlBackendRegCount, "ggml_backend_reg_count"},
		{&a.ggmlBackendRegGet, "ggml_backend_reg_get"},
		{&a.ggmlBackendRegName, "ggml_backend_reg_name"},
		{&a.ggmlBackendDevCount, "ggml_backend_dev_count"},
		{&a.ggmlBackendDevGet, "ggml_backend_dev_get"},
		{&a.ggmlBackendDevName, "ggml_backend_dev_name"},
		{&a.ggmlBackendDevDesc, "ggml_backend_dev_description"},
		{&a.ggmlBackendDevType, "ggml_backend_dev_type"},
		{&a.ggmlBackendDevMemory, "ggml_backend_dev_memory"},
		{&a.ggmlTypeName, "ggml_type_name"},
		{&a.ggmlBlckSize, "ggml_blck_size"},
		{&a.ggmlTypeSize, "ggml_type_size"},
		{&a.llamaSamplerTopK, "llama_sampler_init_top_k"},
		{&a.llamaSamplerTopP, "llama_sampler_init_top_p"},
		{&a.llamaSamplerMinP, "llama_sampler_init_min_p"},
		{&a.llamaSamplerTemp, "llama_sampler_init_temp"},
		{&a.llamaSamplerApply, "llama_sampler_apply"},
		{&a.llamaSamplerFree, "llama_sampler_free"},
		{&a.ggmlBackendDevByType, "ggml_backend_dev_by_type"},
		{&a.ggmlBackendDevBackendReg, "ggml_backend_dev_backend_reg"},
		{&a.ggmlBackendRegGetProc, "ggml_backend_reg_get_proc_address"},
		{&a.ggmlThreadpoolParamsInit, "ggml_threadpool_params_init"},
		{&a.llamaAttachThreadpool, "llama_attach_threadpool"},
		{&a.llamaDetachThreadpool, "llama_detach_threadpool"},
		{&a.llamaModelFree, "llama_model_free"},
		{&a.llamaModelGetVocab, "llama_model_get_vocab"},
		{&a.llamaModelDesc, "llama_model_desc"},
		{&a.llamaModelSize, "llama_model_size"},
		{&a.llamaModelNParams, "llama_model_n_params"},
		{&a.llamaModelNCtxTrain, "llama_model_n_ctx_train"},
		{&a.llamaModelNEmbd, "llama_model_n_embd"},
		{&a.llamaModelNLayer, "llama_model_n_layer"},
		{&a.llamaModelNHead, "llama_model_n_head"},
		{&a.llamaModelNHeadKV, "llama_model_n_head_kv"},
		{&a.llamaModelIsRecurrent, "llama_model_is_recurrent"},
		{&a.llamaModelIsHybrid, "llama_model_is_hybrid"},
		{&a.llamaModelChatTmpl, "llama_model_chat_template"},
		{&a.llamaChatApply, "llama_chat_apply_template"},
		{&a.llamaModelMetaValStr, "llama_model_meta_val_str"},
		{&a.llamaModelMetaCount, "llama_model_meta_count"},
		{&a.llamaModelMetaKeyIdx, "llama_model_meta_key_by_index"},
		{&a.llamaModelMetaValIdx, "llama_model_meta_val_str_by_index"},
		{&a.llamaVocabType, "llama_vocab_type"},
		{&a.llamaVocabNTokens, "llama_vocab_n_tokens"},
		{&a.llamaVocabGetText, "llama_vocab_get_text"},
		{&a.llamaVocabGetAttr, "llama_vocab_get_attr"},
		{&a.llamaVocabIsEOG, "llama_vocab_is_eog"},
		{&a.llamaVocabIsCtrl, "llama_vocab_is_control"},
		{&a.llamaVocabBOS, "llama_vocab_bos"},
		{&a.llamaVocabEOS, "llama_vocab_eos"},
		{&a.llamaVocabEOT, "llama_vocab_eot"},
		{&a.llamaVocabNL, "llama_vocab_nl"},
		{&a.llamaVocabPad, "llama_vocab_pad"},
		{&a.llamaVocabAddBOS, "llama_vocab_get_add_bos"},
		{&a.llamaVocabAddEOS, "llama_vocab_get_add_eos"},
		{&a.llamaTokenize, "llama_tokenize"},
		{&a.llamaTokenToPiece, "llama_token_to_piece"},
		{&a.llamaDetokenize, "llama_detokenize"},
		{&a.llamaFree, "llama_free"},
		{&a.llamaNCtx, "llama_n_ctx"},
		{&a.llamaNBatch, "llama_n_batch"},
		{&a.llamaNUBatch, "llama_n_ubatch"},
		{&a.llamaNSeqMax, "llama_n_seq_max"},
		{&a.llamaSetNThreads, "llama_set_n_threads"},
		{&a.llamaBatchInit, "llama_batch_init"},
		{&a.llamaBatchFree, "llama_batch_free"},
		{&a.llamaDecode, "llama_decode"},
		{&a.llamaGetLogitsIth, "llama_get_logits_ith"},
		{&a.llamaGetMemory, "llama_get_memory"},
		{&a.llamaMemoryClear, "llama_memory_clear"},
		{&a.llamaMemorySeqRm, "llama_memory_seq_rm"},
		{&a.llamaMemorySeqCp, "llama_memory_seq_cp"},
		{&a.llamaMemoryPosMin, "llama_memory_seq_pos_min"},
		{&a.llamaMemoryPosMax, "llama_memory_seq_pos_max"},
		{&a.llamaStateSeqSize, "llama_state_seq_get_size"},
		{&a.llamaStateSeqGet, "llama_state_seq_get_data"},
		{&a.llamaStateSeqSet, "llama_state_seq_set_data"},
		{&a.llamaStateSeqSizeExt, "llama_state_seq_get_size_ext"},
		{&a.llamaStateSeqGetExt, "llama_state_seq_get_data_ext"},
		{&a.llamaStateSeqSetExt, "llama_state_seq_set_data_ext"},
		{&a.llamaPerfContext, "llama_perf_context"},
		{&a.llamaPerfCtxReset, "llama_perf_context_reset"},
	}
	for _, e := range table {
		sym, err := purego.Dlsym(h, e.name)
		if err != nil || sym == 0 {
			if optional[e.name] {
				continue
			}
			return fmt.Errorf("symbol %s not found: %w", e.name, ErrWrongLibrary)
		}
		_, declared := abi.Functions[e.name]
		if strings.HasPrefix(e.name, "llama_") && (declared || !optional[e.name]) {
			if err := checkSignature(abi, e.name, goABI(reflect.TypeOf(e.fn).Elem())); err != nil {
				return err
			}
		}
		purego.RegisterFunc(e.fn, sym)
	}
	raw := []struct {
		sym  *uintptr
		name string
		abi  string // what speclab passes: structs by value through SyscallN
	}{
		{&a.symDecode, "llama_decode", "i32(ptr,struct llama_batch)"},
		{&a.symLogitsIth, "llama_get_logits_ith", "ptr(ptr,i32)"},
		{&a.symSeqRm, "llama_memory_seq_rm", "bool(ptr,i32,i32,i32)"},
		{&a.symSync, "llama_synchronize", "void(ptr)"},
		{&a.symModelDefaults, "llama_model_default_params", "struct llama_model_params()"},
		{&a.symContextDefaults, "llama_context_default_params", "struct llama_context_params()"},
		{&a.symModelLoad, "llama_model_load_from_file", "ptr(ptr,struct llama_model_params)"},
		{&a.symInitFromModel, "llama_init_from_model", "ptr(ptr,struct llama_context_params)"},
	}
	for _, e := range raw {
		sym, err := purego.Dlsym(h, e.name)
		if err != nil || sym == 0 {
			return fmt.Errorf("symbol %s not found: %w", e.name, ErrWrongLibrary)
		}
		if err := checkSignature(abi, e.name, e.abi); err != nil {
			return err
		}
		*e.sym = sym
	}
	return nil
}

// checkSignature compares the ABI speclab calls name with to the header's.
func checkSignature(abi *releases.ABI, name, want string) error {
	got, ok := abi.Functions[name]
	if !ok {
		return fmt.Errorf("%s does not declare %s, which speclab calls: %w", abi.Source, name, ErrUnknownBuild)
	}
	if got != want {
		return fmt.Errorf("%s declares %s as %s, speclab calls it as %s: %w", abi.Source, name, got, want, ErrUnknownBuild)
	}
	return nil
}

// goABI renders a Go function type in llamah's ABI classes.
func goABI(t reflect.Type) string {
	class := func(t reflect.Type, result bool) string {
		switch t.Kind() {
		case reflect.Uintptr, reflect.UnsafePointer, reflect.Pointer, reflect.String:
			return "ptr"
		case reflect.Bool:
			return "bool"
		case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return fmt.Sprintf("i%d", t.Size()*8)
		case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			return fmt.Sprintf("u%d", t.Size()*8)
		case reflect.Float32, reflect.Float64:
			return fmt.Sprintf("f%d", t.Size()*8)
		case reflect.Struct:
			switch t {
			case reflect.TypeFor[cBatch]():
				return "struct llama_batch"
			case reflect.TypeFor[cPerfContextData]():
				return "struct llama_perf_context_data"
			}
		}
		return "?" + t.String()
	}
	var parts []string
	for i := range t.NumIn() {
		parts = append(parts, class(t.In(i), false))
	}
	res := "void"
	if t.NumOut() == 1 {
		res = class(t.Out(0), true)
	}
	return res + "(" + strings.Join(parts, ",") + ")"
}

// decode is llama_decode(ctx, batch) through SyscallN. The batch is a
// 56-byte struct passed by value: the System V ABI puts such a struct on the
// stack and leaves the integer registers after ctx unused, so the six
// register words are ctx and five zeros and the struct's seven words follow.
//
// The argument words go through args, a buffer owned by the caller (a
// Context): SyscallN's variadic slice escapes, and building it afresh would
// allocate on every token.
func (a *api) decode(args *callArgs, ctx uintptr, b *cBatch) int32 {
	w := (*[7]uintptr)(unsafe.Pointer(b))
	args[0] = ctx
	clear(args[1:6])
	copy(args[6:13], w[:])
	r, _, _ := purego.SyscallN(a.symDecode, args[:13]...)
	return int32(r)
}

// logitsIth is llama_get_logits_ith(ctx, i) through SyscallN.
func (a *api) logitsIth(args *callArgs, ctx uintptr, i int32) unsafe.Pointer {
	args[0], args[1] = ctx, uintptr(uint32(i))
	r, _, _ := purego.SyscallN(a.symLogitsIth, args[:2]...)
	return *(*unsafe.Pointer)(unsafe.Pointer(&r))
}

// seqRm is llama_memory_seq_rm(mem, seq, p0, p1) through SyscallN.
func (a *api) seqRm(args *callArgs, mem uintptr, seq, p0, p1 int32) bool {
	args[0], args[1], args[2], args[3] = mem, uintptr(uint32(seq)), uintptr(uint32(p0)), uintptr(uint32(p1))
	r, _, _ := purego.SyscallN(a.symSeqRm, args[:4]...)
	return r&0xff != 0
}

// synchronize is llama_synchronize(ctx) through SyscallN (once per decode).
func (a *api) synchronize(args *callArgs, ctx uintptr) {
	args[0] = ctx
	purego.SyscallN(a.symSync, args[:1]...)
}

// callArgs holds the argument words of one SyscallN call.
type callArgs [13]uintptr

// hasSymbol reports whether the library exports name.
func hasSymbol(h uintptr, name string) bool {
	sym, err := purego.Dlsym(h, name)
	return err == nil && sym != 0
}
