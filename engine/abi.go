package engine

import (
	"fmt"
	"structs"
	"unsafe"
)

// The C structs of the pinned build (llama.cpp of @node-llama-cpp/linux-x64
// 3.22.1: llama_version "0.5.0-dev", ggml 0.25.1), System V x86-64. Offsets
// are given in comments; abi_test.go checks every size. A build with other
// layouts must be refused (see checkABI), since passing a struct of the wrong
// shape by value corrupts memory silently.

// cModelParams is llama_model_params (80 bytes).
type cModelParams struct {
	_                        structs.HostLayout
	Devices                  uintptr // @0
	TensorBuftOverrides      uintptr // @8
	NGPULayers               int32   // @16, default -1 (all)
	SplitMode                int32   // @20, default 1
	LoadMode                 int32   // @24, -1 auto, 0 none, 1 mmap, 2 mlock, 3 mmap+mlock, 4 direct io
	LazyMode                 int32   // @28, default 1
	MainGPU                  int32   // @32
	_                        int32   // @36 padding
	TensorSplit              uintptr // @40
	ProgressCallback         uintptr // @48
	ProgressCallbackUserData uintptr // @56
	KVOverrides              uintptr // @64
	VocabOnly                bool    // @72
	CheckTensors             bool    // @73
	UseExtraBufts            bool    // @74, default true
	NoHost                   bool    // @75
	NoAlloc                  bool    // @76
	LoadMTP                  bool    // @77
	_                        [2]byte
}

// cContextParams is llama_context_params (160 bytes).
type cContextParams struct {
	_                 structs.HostLayout
	NCtx              uint32  // @0, default 512
	NBatch            uint32  // @4, default 2048
	NUBatch           uint32  // @8, default 512
	NSeqMax           uint32  // @12, default 1
	NRsSeq            uint32  // @16
	NOutputsMax       uint32  // @20
	NOutputsMaxPerSeq uint32  // @24, default 1
	NThreads          int32   // @28
	NThreadsBatch     int32   // @32
	CtxType           int32   // @36
	RopeScalingType   int32   // @40
	PoolingType       int32   // @44
	AttentionType     int32   // @48
	FlashAttnType     int32   // @52, -1 auto, 0 off, 1 on
	RopeFreqBase      float32 // @56
	RopeFreqScale     float32 // @60
	YarnExtFactor     float32 // @64
	YarnAttnFactor    float32 // @68
	YarnBetaFast      float32 // @72
	YarnBetaSlow      float32 // @76
	YarnOrigCtx       uint32  // @80
	DefragThold       float32 // @84
	CbEval            uintptr // @88
	CbEvalUserData    uintptr // @96
	TypeK             int32   // @104, default 1 (F16)
	TypeV             int32   // @108, default 1 (F16)
	AbortCallback     uintptr // @112
	AbortCallbackData uintptr // @120
	Embeddings        bool    // @128
	OffloadKQV        bool    // @129, default true
	NoPerf            bool    // @130, default true: set false or perf reads zeros
	OpOffload         bool    // @131, default true
	SWAFull           bool    // @132, default true
	KVUnified         bool    // @133
	_                 [2]byte
	Samplers          uintptr // @136
	NSamplers         uint64  // @144
	CtxOther          uintptr // @152
}

// cBatch is llama_batch (56 bytes). Its arrays live in C memory, allocated
// by llama_batch_init.
type cBatch struct {
	_       structs.HostLayout
	NTokens int32          // @0
	_       int32          // @4 padding
	Token   unsafe.Pointer // @8  int32[n]
	Embd    unsafe.Pointer // @16 float[n*embd]
	Pos     unsafe.Pointer // @24 int32[n]
	NSeqID  unsafe.Pointer // @32 int32[n]
	SeqID   unsafe.Pointer // @40 int32*[n]
	Logits  unsafe.Pointer // @48 int8[n]
}

// cPerfContextData is llama_perf_context_data (48 bytes).
type cPerfContextData struct {
	_        structs.HostLayout
	TStartMs float64 // @0
	TLoadMs  float64 // @8
	TPEvalMs float64 // @16
	TEvalMs  float64 // @24
	NPEval   int32   // @32
	NEval    int32   // @36
	NReused  int32   // @40
	_        int32
}

// knownBuild identifies a libllama build whose struct layouts are the ones
// above.
type knownBuild struct {
	llamaVersion string
	ggmlVersion  string
	origin       string
	// symbols that this build exports and whose presence tells it apart
	// from neighbouring releases with other layouts.
	symbols []string
}

var knownBuilds = []knownBuild{{
	llamaVersion: "0.5.0-dev",
	ggmlVersion:  "0.25.1",
	origin:       "@node-llama-cpp/linux-x64@3.22.1 (llama.cpp release v0.5.0)",
	symbols: []string{
		"llama_n_rs_seq",            // n_rs_seq in llama_context_params @16
		"llama_model_n_layer_nextn", // load_mtp in llama_model_params @77
		"llama_load_mode_name",      // load_mode enum @24
		"llama_state_seq_get_size_ext",
		"llama_memory_seq_rm",
	},
}}

// checkDefaults is the second half of the ABI guard: the default parameter
// structs returned by the library must carry the known defaults at the known
// offsets. A library whose version string was edited, or a build with a
// different layout under the same version, fails here.
func checkDefaults(mp cModelParams, cp cContextParams) error {
	type check struct {
		what      string
		got, want any
	}
	checks := []check{
		{"llama_model_params.n_gpu_layers @16", mp.NGPULayers, int32(-1)},
		{"llama_model_params.split_mode @20", mp.SplitMode, int32(1)},
		{"llama_model_params.load_mode @24", mp.LoadMode, int32(-1)},
		{"llama_model_params.vocab_only @72", mp.VocabOnly, false},
		{"llama_model_params.use_extra_bufts @74", mp.UseExtraBufts, true},
		{"llama_context_params.n_ctx @0", cp.NCtx, uint32(512)},
		{"llama_context_params.n_batch @4", cp.NBatch, uint32(2048)},
		{"llama_context_params.n_ubatch @8", cp.NUBatch, uint32(512)},
		{"llama_context_params.n_seq_max @12", cp.NSeqMax, uint32(1)},
		{"llama_context_params.flash_attn_type @52", cp.FlashAttnType, int32(-1)},
		{"llama_context_params.type_k @104", cp.TypeK, int32(1)},
		{"llama_context_params.type_v @108", cp.TypeV, int32(1)},
		{"llama_context_params.offload_kqv @129", cp.OffloadKQV, true},
		{"llama_context_params.no_perf @130", cp.NoPerf, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			return fmt.Errorf("default %s is %v, the known build has %v", c.what, c.got, c.want)
		}
	}
	return nil
}
