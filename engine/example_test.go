package engine_test

import (
	"fmt"
	"log"
	"path/filepath"
	"slices"
	"testing"

	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/internal/testenv"
)

// Opening libllama, loading a model and decoding: the first calls a
// library user makes. The library is identified (release table or llama.h)
// before any struct is passed to it; Release and LayoutSource say how.
//
// (It needs libllama and the shipped models, so it has no Output comment;
// TestExample runs it and checks what it prints.)
func Example() {
	lib, err := engine.Open(engine.LibOptions{}) // or Path: "~/llama.cpp/build/bin"
	if err != nil {
		log.Fatal(err)
	}
	m, err := lib.LoadModel(filepath.Join("..", "models", "target.gguf"), engine.ModelParams{LoadMode: engine.LoadAuto})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	ctx, err := m.NewContext(engine.ContextParams{NCtx: 256})
	if err != nil {
		log.Fatal(err)
	}
	defer ctx.Close()
	toks, err := m.Tokenize("package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.", true, false)
	if err != nil {
		log.Fatal(err)
	}
	if err := ctx.Decode(toks, 0, 0, engine.LogitsLast); err != nil {
		log.Fatal(err)
	}
	logits := ctx.Logits(-1) // valid until the next Decode
	next := engine.Token(slices.Index(logits, slices.Max(logits)))
	fmt.Printf("%s, %s model, %d-token vocabulary\n", m.Info.Architecture, m.Info.VocabType, m.Info.VocabSize)
	fmt.Printf("the target's next token: %q\n", m.Text([]engine.Token{next}))
}

func TestExample(t *testing.T) {
	testenv.Lib(t)
	got := testenv.CaptureStdout(t, Example)
	want := "llama, BPE model, 8192-token vocabulary\nthe target's next token: \"Fprintf\"\n"
	if got != want {
		t.Errorf("Example printed\n%s\nwant\n%s", got, want)
	}
}
