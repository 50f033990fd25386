package engine_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/internal/testenv"
)

// withChatTemplate copies a GGUF model, adding tokenizer.chat_template.
func withChatTemplate(t *testing.T, src, tmpl string) string {
	t.Helper()
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	r, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var tensors []gguf.Tensor
	for _, ti := range f.Tensors {
		data, err := f.TensorData(r, ti)
		if err != nil {
			t.Fatal(err)
		}
		tensors = append(tensors, gguf.Tensor{Name: ti.Name, Shape: ti.Shape, Type: ti.Type, Data: data})
	}
	kv := append(f.KV, gguf.KV{Key: "tokenizer.chat_template", Value: tmpl})
	dst := filepath.Join(t.TempDir(), "chat.gguf")
	if err := gguf.WriteFile(dst, kv, tensors); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestApplyChatTemplate(t *testing.T) {
	lib := testenv.Lib(t)
	set := testenv.Models(t, gguf.TypeQ8_0)
	chatml := "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
	m, err := lib.LoadModel(withChatTemplate(t, set.Target, chatml), engine.ModelParams{VocabOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got, err := m.ApplyChatTemplate([]engine.ChatMessage{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "hello"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	want := "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n"
	if got != want {
		t.Errorf("chatml:\n got %q\nwant %q", got, want)
	}
	plain, err := lib.LoadModel(set.Target, engine.ModelParams{VocabOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.ApplyChatTemplate([]engine.ChatMessage{{Role: "user", Content: "x"}}, true); !errors.Is(err, engine.ErrNoChatTemplate) {
		t.Errorf("model without template: %v", err)
	}
}
