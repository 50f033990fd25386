package releases

import (
	"strings"
	"testing"

	"github.com/speclab/speclab/engine/llamah"
)

// TestTable checks what the generator wrote: every release with both
// packages' integrities, the structs the engine passes, defaults for every
// field of the parameter structs, and llama_version exactly where the
// release exports it.
func TestTable(t *testing.T) {
	if len(All()) < 13 {
		t.Fatalf("%d releases", len(All()))
	}
	for _, r := range All() {
		for _, p := range []string{PackageCPU, PackageVulkan} {
			if !strings.HasPrefix(r.Integrity[p], "sha512-") {
				t.Errorf("%s: no integrity for %s", r.Runtime, p)
			}
		}
		for _, s := range Structs {
			if r.ABI.Records[s] == nil {
				t.Errorf("%s: no layout of %s", r.Runtime, s)
			}
		}
		for _, s := range []string{"llama_model_params", "llama_context_params"} {
			if got, want := len(r.ABI.Defaults[s]), len(r.ABI.Records[s].Fields); got != want {
				t.Errorf("%s: %d defaults of %s for %d fields", r.Runtime, got, s, want)
			}
		}
		_, hasVersion := r.ABI.Functions["llama_version"]
		if hasVersion != (r.LlamaVersion != "") {
			t.Errorf("%s: llama_version declared %v, LlamaVersion %q", r.Runtime, hasVersion, r.LlamaVersion)
		}
		if !strings.Contains(r.ABI.Source, "node-llama-cpp@") || len(r.ABI.SHA256) != 64 {
			t.Errorf("%s: source %q sha %q", r.Runtime, r.ABI.Source, r.ABI.SHA256)
		}
	}
	pinned, ok := ByRuntime("3.22.1")
	if !ok || pinned.LlamaCpp != "v0.5.0" || pinned.LlamaVersion != "0.5.0-dev" || pinned.Lib != "libllama.v0.5.0.so" {
		t.Fatalf("3.22.1: %+v", pinned)
	}
	if got := pinned.ABI.Records["llama_context_params"].Size; got != 160 {
		t.Errorf("3.22.1 llama_context_params is %d bytes, want 160", got)
	}
	if got := len(ByLlamaVersion("0.5.0-dev")); got != 2 {
		t.Errorf("%d releases with llama_version 0.5.0-dev, want 2 (3.22.0 and 3.22.1)", got)
	}
}

// TestBySymbols: the exported functions of a release find it and the
// releases that share its header, and nothing else.
func TestBySymbols(t *testing.T) {
	r, _ := ByRuntime("3.18.1")
	exported := map[string]bool{}
	for f := range r.ABI.Functions {
		exported[f] = true
	}
	var got []string
	for _, m := range BySymbols(exported) {
		got = append(got, m.Runtime)
	}
	if strings.Join(got, ",") != "3.18.0,3.18.1" {
		t.Errorf("BySymbols(3.18.1's functions) = %v", got)
	}
	exported["llama_something_new"] = true
	if m := BySymbols(exported); len(m) != 0 {
		t.Errorf("an extra function still matched %v", m)
	}
	if near, d := Nearest(exported); near.ABI != r.ABI || d != 1 {
		t.Errorf("Nearest = %s, %d", near, d)
	}
}

func TestFormatValue(t *testing.T) {
	f := func(kind llamah.Kind, size int64) llamah.Field {
		return llamah.Field{Offset: 0, Type: &llamah.Type{Kind: kind, Size: size}}
	}
	tests := []struct {
		field llamah.Field
		buf   []byte
		want  string
	}{
		{f(llamah.Int, 4), []byte{0xff, 0xff, 0xff, 0xff}, "-1"},
		{f(llamah.Uint, 4), []byte{0x00, 0x08, 0, 0}, "2048"},
		{f(llamah.Enum, 4), []byte{1, 0, 0, 0}, "1"},
		{f(llamah.Bool, 1), []byte{1}, "true"},
		{f(llamah.Float, 4), []byte{0, 0, 0x80, 0xbf}, "-1"},
		{f(llamah.Float, 8), []byte{0, 0, 0, 0, 0, 0, 0xe0, 0x3f}, "0.5"},
		{f(llamah.Pointer, 8), make([]byte, 8), "null"},
		{f(llamah.Pointer, 8), []byte{1, 0, 0, 0, 0, 0, 0, 0}, "ptr"},
	}
	for _, tt := range tests {
		if got := FormatValue(tt.field, tt.buf); got != tt.want {
			t.Errorf("FormatValue(%v, %x) = %q, want %q", tt.field.Type.Kind, tt.buf, got, tt.want)
		}
	}
}

func TestHeaderDefaults(t *testing.T) {
	d := HeaderDefaults()
	if d["llama_context_params"]["n_ctx"] != "512" || d["llama_model_params"]["devices"] != "null" {
		t.Errorf("header defaults lack the stable ones: %v", d)
	}
	if _, ok := d["llama_model_params"]["n_gpu_layers"]; ok {
		t.Error("n_gpu_layers changed its default in llama.cpp's history; it must not be checked for a header")
	}
}
