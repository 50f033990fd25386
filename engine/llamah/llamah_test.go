package llamah_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/speclab/speclab/engine/llamah"
	"github.com/speclab/speclab/internal/testenv"
)

// field is one expected member: name, offset, size.
type field struct {
	name      string
	off, size int64
}

// pinned are the layouts of llama.cpp v0.5.0 (@node-llama-cpp/linux-x64
// 3.22.1) as verified by hand against the library in the first release of
// speclab (and against unsafe.Offsetof of its Go mirrors).
var pinned = map[string]struct {
	size   int64
	fields []field
}{
	"llama_model_params": {80, []field{
		{"devices", 0, 8}, {"tensor_buft_overrides", 8, 8}, {"n_gpu_layers", 16, 4}, {"split_mode", 20, 4},
		{"load_mode", 24, 4}, {"lazy_mode", 28, 4}, {"main_gpu", 32, 4}, {"tensor_split", 40, 8},
		{"progress_callback", 48, 8}, {"progress_callback_user_data", 56, 8}, {"kv_overrides", 64, 8},
		{"vocab_only", 72, 1}, {"check_tensors", 73, 1}, {"use_extra_bufts", 74, 1}, {"no_host", 75, 1},
		{"no_alloc", 76, 1}, {"load_mtp", 77, 1},
	}},
	"llama_context_params": {160, []field{
		{"n_ctx", 0, 4}, {"n_batch", 4, 4}, {"n_ubatch", 8, 4}, {"n_seq_max", 12, 4}, {"n_rs_seq", 16, 4},
		{"n_outputs_max", 20, 4}, {"n_outputs_max_per_seq", 24, 4}, {"n_threads", 28, 4}, {"n_threads_batch", 32, 4},
		{"ctx_type", 36, 4}, {"rope_scaling_type", 40, 4}, {"pooling_type", 44, 4}, {"attention_type", 48, 4},
		{"flash_attn_type", 52, 4}, {"rope_freq_base", 56, 4}, {"rope_freq_scale", 60, 4}, {"yarn_ext_factor", 64, 4},
		{"yarn_attn_factor", 68, 4}, {"yarn_beta_fast", 72, 4}, {"yarn_beta_slow", 76, 4}, {"yarn_orig_ctx", 80, 4},
		{"defrag_thold", 84, 4}, {"cb_eval", 88, 8}, {"cb_eval_user_data", 96, 8}, {"type_k", 104, 4}, {"type_v", 108, 4},
		{"abort_callback", 112, 8}, {"abort_callback_data", 120, 8}, {"embeddings", 128, 1}, {"offload_kqv", 129, 1},
		{"no_perf", 130, 1}, {"op_offload", 131, 1}, {"swa_full", 132, 1}, {"kv_unified", 133, 1},
		{"samplers", 136, 8}, {"n_samplers", 144, 8}, {"ctx_other", 152, 8},
	}},
	"llama_batch": {56, []field{
		{"n_tokens", 0, 4}, {"token", 8, 8}, {"embd", 16, 8}, {"pos", 24, 8}, {"n_seq_id", 32, 8}, {"seq_id", 40, 8}, {"logits", 48, 8},
	}},
	"llama_perf_context_data": {48, []field{
		{"t_start_ms", 0, 8}, {"t_load_ms", 8, 8}, {"t_p_eval_ms", 16, 8}, {"t_eval_ms", 24, 8},
		{"n_p_eval", 32, 4}, {"n_eval", 36, 4}, {"n_reused", 40, 4},
	}},
	"llama_model_quantize_params": {64, []field{
		{"nthread", 0, 4}, {"ftype", 4, 4}, {"output_tensor_type", 8, 4}, {"token_embedding_type", 12, 4},
		{"allow_requantize", 16, 1}, {"quantize_output_tensor", 17, 1}, {"only_copy", 18, 1}, {"pure", 19, 1},
		{"keep_split", 20, 1}, {"dry_run", 21, 1}, {"imatrix", 24, 8}, {"kv_overrides", 32, 8},
		{"tt_overrides", 40, 8}, {"prune_layers", 48, 8}, {"max_buf_size", 56, 8},
	}},
	"llama_token_data": {12, []field{{"id", 0, 4}, {"logit", 4, 4}, {"p", 8, 4}}},
}

// checkRecord compares a record with the expected size and fields; with
// all, the fields must be every field of the record.
func checkRecord(t *testing.T, h *llamah.Header, name string, size int64, fields []field, all bool) {
	t.Helper()
	r, ok := h.Record(name)
	if !ok {
		t.Fatalf("no struct %s", name)
	}
	if r.Size != size {
		t.Errorf("%s: size %d, want %d", name, r.Size, size)
	}
	if all && len(r.Fields) != len(fields) {
		t.Errorf("%s: %d fields, want %d\n%s", name, len(r.Fields), len(fields), r)
	}
	for _, f := range fields {
		got, ok := r.Field(f.name)
		if !ok {
			t.Errorf("%s: no field %s", name, f.name)
			continue
		}
		if got.Offset != f.off || got.Type.Size != f.size {
			t.Errorf("%s.%s: @%d size %d, want @%d size %d", name, f.name, got.Offset, got.Type.Size, f.off, f.size)
		}
	}
}

// TestPinnedHeader: the header reader on the pinned release's llama.h gives
// exactly the layouts verified by hand, field by field.
func TestPinnedHeader(t *testing.T) {
	h, err := llamah.ParseFile(testenv.Header(t, "3.22.1"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range pinned {
		t.Run(name, func(t *testing.T) { checkRecord(t, h, name, want.size, want.fields, true) })
	}
	sigs := map[string]string{
		"llama_decode":                 "i32(ptr,struct llama_batch)",
		"llama_model_load_from_file":   "ptr(ptr,struct llama_model_params)",
		"llama_context_default_params": "struct llama_context_params()",
		"llama_memory_seq_rm":          "bool(ptr,i32,i32,i32)",
		"llama_token_to_piece":         "i32(ptr,i32,ptr,i32,i32,bool)",
		"llama_log_set":                "void(ptr,ptr)",
		"llama_model_size":             "u64(ptr)",
		"llama_version":                "ptr()",
	}
	for name, want := range sigs {
		f, ok := h.Functions[name]
		if !ok {
			t.Errorf("no function %s", name)
			continue
		}
		if got := f.Sig.ABI(); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	if f := h.Functions["llama_set_warmup"]; f == nil || !f.Deprecated {
		t.Errorf("llama_set_warmup not read as deprecated: %+v", f)
	}
	if v, ok := h.Enums["llama_load_mode"].Value("LLAMA_LOAD_MODE_AUTO"); !ok || v != -1 {
		t.Errorf("LLAMA_LOAD_MODE_AUTO = %d, %v", v, ok)
	}
	if got := h.Constants["LLAMA_ROPE_TYPE_NEOX"]; got != 2 {
		t.Errorf("LLAMA_ROPE_TYPE_NEOX = %d, want 2 (from GGML_ROPE_TYPE_NEOX)", got)
	}
	if got := h.Constants["LLAMA_STATE_SEQ_FLAGS_ON_DEVICE"]; got != 2 {
		t.Errorf("#define LLAMA_STATE_SEQ_FLAGS_ON_DEVICE = %d, want 2", got)
	}
	// The anonymous union of llama_model_kv_override is found by name.
	if f, ok := mustRecord(t, h, "llama_model_kv_override").Field("val_str"); !ok || f.Offset != 136 || f.Type.Size != 128 {
		t.Errorf("llama_model_kv_override.val_str: %+v %v", f, ok)
	}
}

func mustRecord(t *testing.T, h *llamah.Header, name string) *llamah.Record {
	t.Helper()
	r, ok := h.Record(name)
	if !ok {
		t.Fatalf("no struct %s", name)
	}
	return r
}

// TestLayoutsFollowTheHeader: offsets are computed from the text, so a field
// that moves, appears or vanishes moves the others.
func TestLayoutsFollowTheHeader(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		record string
		size   int64
		fields []field
	}{
		{
			name: "pinned model params, fields reordered",
			src: `struct llama_model_params {
				bool vocab_only;
				int32_t n_gpu_layers;
				ggml_backend_dev_t * devices;
				enum llama_split_mode split_mode;
				bool use_extra_bufts;
			};`,
			record: "llama_model_params", size: 24,
			fields: []field{{"vocab_only", 0, 1}, {"n_gpu_layers", 4, 4}, {"devices", 8, 8}, {"split_mode", 16, 4}, {"use_extra_bufts", 20, 1}},
		},
		{
			name: "a field inserted mid-struct (n_rs_seq, b9842)",
			src: `struct llama_context_params {
				uint32_t n_ctx; uint32_t n_batch; uint32_t n_ubatch; uint32_t n_seq_max;
				uint32_t n_rs_seq;
				int32_t n_threads;
				void * cb;
				bool a, b, c;
				size_t n;
			};`,
			record: "llama_context_params", size: 48,
			fields: []field{{"n_rs_seq", 16, 4}, {"n_threads", 20, 4}, {"cb", 24, 8}, {"a", 32, 1}, {"c", 34, 1}, {"n", 40, 8}},
		},
		{
			name: "typedef struct, arrays, function pointers and a union",
			src: `typedef bool (*cb_t)(float progress, void * user_data);
			typedef struct s { char key[3]; double d; cb_t cb; void (*f)(int); union { int64_t i; char s[9]; }; int16_t tail; } s;`,
			record: "s", size: 56, // the union is 9 bytes rounded up to its alignment, 8
			fields: []field{{"key", 0, 3}, {"d", 8, 8}, {"cb", 16, 8}, {"f", 24, 8}, {"i", 32, 8}, {"s", 32, 9}, {"tail", 48, 2}},
		},
		{
			name:   "array length from an enum and a define",
			src:    "#define N 4\nenum e { A = 1 << 1, B = A + N, C };\nstruct t { int8_t x[C]; int32_t y[N]; };",
			record: "t", size: 24,
			fields: []field{{"x", 0, 7}, {"y", 8, 16}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := llamah.Parse("test.h", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			checkRecord(t, h, tt.record, tt.size, tt.fields, false)
		})
	}
}

func TestSignatures(t *testing.T) {
	src := `
	#define LLAMA_API __attribute__ ((visibility ("default")))
	#ifdef __cplusplus
	extern "C" {
	#endif
	typedef int32_t llama_token;
	struct llama_batch { int32_t n; llama_token * token; int8_t * logits; void * a; void * b; };
	struct llama_context;
	LLAMA_API int32_t llama_decode(struct llama_context * ctx, struct llama_batch batch);
	LLAMA_API const char * llama_version(void);
	LLAMA_API void f(float x, double y, unsigned long long z, int arr[4], bool (*cb)(void *), ...);
	DEPRECATED(LLAMA_API int g(enum ggml_type t), "use h");
	LLAMA_API size_t h(const struct llama_context * ctx), k(void);
	#ifdef __cplusplus
	}
	#endif
	`
	h, err := llamah.Parse("sig.h", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"llama_decode":  "i32(ptr,struct llama_batch)",
		"llama_version": "ptr()",
		"f":             "void(f32,f64,u64,ptr,ptr,...)",
		"g":             "i32(i32)",
		"h":             "u64(ptr)",
		"k":             "u64()",
	}
	for name, w := range want {
		f, ok := h.Functions[name]
		if !ok {
			t.Errorf("no function %s", name)
			continue
		}
		if got := f.Sig.ABI(); got != w {
			t.Errorf("%s: %s, want %s", name, got, w)
		}
	}
	if !h.Functions["g"].Deprecated || h.Functions["h"].Deprecated {
		t.Error("deprecation marks wrong")
	}
}

// TestParseErrors: a header that does not parse says where.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src string
		line      int
		msg       string
	}{
		{"unknown type", "struct a { int x; };\n\nstruct b { mystery_t y; };", 3, `unknown type name "mystery_t"`},
		{"unterminated comment", "int f(void);\n/* never closed", 2, "unterminated comment"},
		{"bit-field", "struct a {\n  unsigned x : 3;\n};", 2, "bit-field"},
		{"missing semicolon", "struct a { int x; }\nint f(void)", 2, "missing ';'"},
		{"object declaration", "int counter;", 1, "neither a typedef nor a function"},
		{"incomplete member", "struct a;\nstruct b { struct a inner; };", 2, "incomplete type"},
		{"unknown constant", "enum e { A = B + 1 };", 1, `unknown constant "B"`},
		{"function body", "int f(void) { return 1; }", 1, "function body"},
		{"stray character", "int f(void);\n@", 2, "unexpected character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := llamah.Parse("bad.h", []byte(tt.src))
			var pe *llamah.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *llamah.Error", err)
			}
			if pe.Line != tt.line || !strings.Contains(pe.Msg, tt.msg) {
				t.Errorf("got %q, want line %d and %q", err, tt.line, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "bad.h:") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func BenchmarkParsePinned(b *testing.B) {
	path := testenv.Header(b, "3.22.1")
	for b.Loop() {
		if _, err := llamah.ParseFile(path); err != nil {
			b.Fatal(err)
		}
	}
}
