package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/engine/bpe"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/internal/testenv"
)

// safetensors encodes tensors (name -> shape and float32 data) as BF16,
// or F32 for 1-D ones, as train.py writes them.
func safetensors(t *testing.T, ts map[string]tensor) []byte {
	t.Helper()
	header := map[string]any{"__metadata__": map[string]string{"role": "test"}}
	var data bytes.Buffer
	for name, w := range ts {
		start := data.Len()
		dt := "BF16"
		if len(w.Shape) == 1 {
			dt = "F32"
			for _, v := range w.Data {
				binary.Write(&data, binary.LittleEndian, v)
			}
		} else {
			for _, v := range w.Data {
				binary.Write(&data, binary.LittleEndian, uint16(math.Float32bits(v)>>16))
			}
		}
		header[name] = map[string]any{"dtype": dt, "shape": w.Shape, "data_offsets": []int{start, data.Len()}}
	}
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	return append(append(out, h...), data.Bytes()...)
}

// bf16 rounds v toward zero to a bf16 value, so that values survive the
// transfer format exactly.
func bf16(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ 0xFFFF) }

// tinyWeights returns the weights of a one-layer llama of config c; the
// block matrices hold exact MXFP4 values when mx is set.
func tinyWeights(c config, mx bool) map[string]tensor {
	r := rand.New(rand.NewPCG(1, 2))
	mat := func(rows, cols int, exact bool) tensor {
		d := make([]float32, rows*cols)
		for i := range d {
			d[i] = bf16(float32(r.NormFloat64() * 0.05))
		}
		if exact {
			b, _ := gguf.Encode(gguf.TypeMXFP4, d)
			d, _ = gguf.Decode(gguf.TypeMXFP4, b)
		}
		return tensor{Shape: []int{rows, cols}, Data: d}
	}
	ones := func(n int) tensor {
		d := make([]float32, n)
		for i := range d {
			d[i] = 1
		}
		return tensor{Shape: []int{n}, Data: d}
	}
	kv := c.Embd / c.Heads * c.HeadsKV
	ts := map[string]tensor{
		"token_embd.weight":  mat(c.Vocab, c.Embd, false),
		"output_norm.weight": ones(c.Embd),
	}
	if !c.Tied {
		ts["output.weight"] = mat(c.Vocab, c.Embd, false)
	}
	for i := range c.Layers {
		p := fmt.Sprintf("blk.%d.", i)
		ts[p+"attn_norm.weight"] = ones(c.Embd)
		ts[p+"ffn_norm.weight"] = ones(c.Embd)
		ts[p+"attn_q.weight"] = mat(c.Embd, c.Embd, mx)
		ts[p+"attn_k.weight"] = mat(kv, c.Embd, mx)
		ts[p+"attn_v.weight"] = mat(kv, c.Embd, mx)
		ts[p+"attn_output.weight"] = mat(c.Embd, c.Embd, mx)
		ts[p+"ffn_gate.weight"] = mat(c.FF, c.Embd, mx)
		ts[p+"ffn_up.weight"] = mat(c.FF, c.Embd, mx)
		ts[p+"ffn_down.weight"] = mat(c.Embd, c.FF, mx)
	}
	return ts
}

func tinyTokenizer(t *testing.T) *bpe.Tokenizer {
	t.Helper()
	tok, err := bpe.Train([]string{"package main\n\nfunc main() {\n\tfmt.Println(\"hello\")\n}\n"}, 320)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestBuildLoads: a model built by export loads into libllama, which sees
// its shape, and decodes; the MXFP4 and tied variants included.
func TestBuildLoads(t *testing.T) {
	lib := testenv.Lib(t)
	tok := tinyTokenizer(t)
	tests := []struct {
		name   string
		layers gguf.Type
		c      config
	}{
		{"target", gguf.TypeMXFP4, config{Vocab: 320, Embd: 64, Layers: 2, Heads: 2, HeadsKV: 1, FF: 128}},
		{"draft", gguf.TypeQ8_0, config{Vocab: 320, Embd: 32, Layers: 1, Heads: 1, HeadsKV: 1, FF: 64, Tied: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, _, err := parseSafetensors(safetensors(t, tinyWeights(tt.c, tt.layers == gguf.TypeMXFP4)))
			if err != nil {
				t.Fatal(err)
			}
			s := spec{role: tt.name, layers: tt.layers, m: modelMetrics{Config: tt.c, Params: 1000}}
			kv, tensors, err := build(s, tok, ts, "go1.99")
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "m.gguf")
			if err := gguf.WriteFile(path, kv, tensors); err != nil {
				t.Fatal(err)
			}
			m, err := lib.LoadModel(path, engine.ModelParams{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			in := m.Info
			if in.Embd != tt.c.Embd || in.Layers != tt.c.Layers || in.HeadsKV != tt.c.HeadsKV || in.VocabSize != tt.c.Vocab {
				t.Errorf("libllama sees %+v", in)
			}
			if _, ok := m.File.Tensor("output.weight"); ok == tt.c.Tied {
				t.Errorf("output.weight present = %v with tied = %v", ok, tt.c.Tied)
			}
			c, err := m.NewContext(engine.ContextParams{NCtx: 64})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Decode(tok.Tokenize("func main", true, false), 0, 0, engine.LogitsLast); err != nil {
				t.Fatal(err)
			}
			for _, v := range c.Logits(-1) {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatal("non-finite logits")
				}
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	tok := tinyTokenizer(t)
	c := config{Vocab: 320, Embd: 32, Layers: 1, Heads: 1, HeadsKV: 1, FF: 64}
	tests := []struct {
		name   string
		layers gguf.Type
		c      config
		edit   func(map[string]tensor)
		want   string
	}{
		{"not MXFP4 values", gguf.TypeMXFP4, c, nil, "not an MXFP4 value"},
		{"missing tensor", gguf.TypeQ8_0, c, func(m map[string]tensor) { delete(m, "blk.0.ffn_up.weight") }, "missing"},
		{"extra tensor", gguf.TypeQ8_0, c, func(m map[string]tensor) { m["blk.9.x.weight"] = tensor{Shape: []int{1}, Data: []float32{0}} }, "no place"},
		{"wrong shape", gguf.TypeQ8_0, c, func(m map[string]tensor) {
			m["blk.0.attn_q.weight"] = tensor{Shape: []int{64, 16}, Data: make([]float32, 1024)}
		}, "shape"},
		{"vocabulary", gguf.TypeQ8_0, config{Vocab: 512, Embd: 32, Layers: 1, Heads: 1, HeadsKV: 1, FF: 64}, nil, "tokenizer"},
		{"heads", gguf.TypeQ8_0, config{Vocab: 320, Embd: 32, Layers: 1, Heads: 3, HeadsKV: 1, FF: 64}, nil, "head"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := tinyWeights(c, false)
			if tt.edit != nil {
				tt.edit(ts)
			}
			_, _, err := build(spec{role: "x", layers: tt.layers, m: modelMetrics{Config: tt.c}}, tok, ts, "go1.99")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseSafetensorsErrors(t *testing.T) {
	good := safetensors(t, map[string]tensor{"a": {Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}}})
	tests := []struct {
		name string
		raw  []byte
		want string
	}{
		{"short", []byte{1, 2}, "too short"},
		{"header past end", binary.LittleEndian.AppendUint64(nil, 100), "header of 100 bytes"},
		{"bad json", append(binary.LittleEndian.AppendUint64(nil, 2), '{', '!'), "header"},
		{"truncated data", good[:len(good)-2], "offsets"},
		{"dtype", []byte(strings.Replace(string(good), "BF16", "I64\x20", 1)), "dtype"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseSafetensors(tt.raw)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
	ts, meta, err := parseSafetensors(good)
	if err != nil {
		t.Fatal(err)
	}
	if got := ts["a"].Data; fmt.Sprint(got) != "[1 2 3 4]" || meta["role"] != "test" {
		t.Errorf("parsed %v, metadata %v", got, meta)
	}
}

func TestReadParts(t *testing.T) {
	dir := t.TempDir()
	raw := bytes.Repeat([]byte("speclab "), 1000)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(raw)
	zw.Close()
	b := z.Bytes()
	half := len(b) / 2
	os.WriteFile(filepath.Join(dir, "m.st.gz.00"), b[:half], 0o644)
	os.WriteFile(filepath.Join(dir, "m.st.gz.01"), b[half:], 0o644)
	got, err := readParts(dir, "m")
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("readParts: %d bytes, err %v", len(got), err)
	}
	os.Rename(filepath.Join(dir, "m.st.gz.01"), filepath.Join(dir, "m.st.gz.02"))
	if _, err := readParts(dir, "m"); err == nil || !strings.Contains(err.Error(), "m.st.gz.01") {
		t.Errorf("a missing part: err = %v", err)
	}
	if _, err := readParts(dir, "none"); err == nil {
		t.Error("no parts: no error")
	}
}
