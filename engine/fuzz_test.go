package engine_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/internal/mutants"
	"github.com/speclab/speclab/internal/testenv"
	"github.com/speclab/speclab/spec"
)

// FuzzLoadModel mutates the synthetic models semantically (package
// mutants: a base, a category, a seed) and loads each mutant into the real
// libllama, through speclab's validator, then generates two tokens. Any
// outcome but a crash passes: a libllama abort kills the fuzzing process.
// `make fuzz` runs it briefly.
func FuzzLoadModel(f *testing.F) {
	set := testenv.Models(f, gguf.TypeQ8_0)
	var bases []mutants.Base
	for _, p := range []string{set.Target, set.Recurrent, set.Hybrid} {
		b, err := mutants.Read(p, filepath.Base(p))
		if err != nil {
			f.Fatal(err)
		}
		bases = append(bases, b)
	}
	for cat := range len(mutants.Categories) {
		f.Add(uint8(cat%len(bases)), uint8(cat), uint64(cat))
	}
	lib := testenv.Lib(f)
	f.Fuzz(func(t *testing.T, base, cat uint8, seed uint64) {
		m, ok := mutants.One(bases[int(base)%len(bases)], int(cat), seed)
		if !ok {
			return
		}
		path := filepath.Join(t.TempDir(), "m.gguf")
		if err := m.Write(path); err != nil {
			return // not even writable: not a model
		}
		model, err := lib.LoadModel(path, engine.ModelParams{})
		if err != nil {
			if errors.Is(err, engine.ErrUnsafeModel) || errors.Is(err, engine.ErrLoad) {
				return
			}
			return // a structural error from the GGUF reader
		}
		defer model.Close()
		ctx, err := model.NewContext(engine.ContextParams{NCtx: 64})
		if err != nil {
			return
		}
		defer ctx.Close()
		toks, err := model.Tokenize("func main() {", true, false)
		if err != nil || len(toks) == 0 {
			return
		}
		tg, err := spec.NewTarget(ctx)
		if err != nil {
			return
		}
		spec.Generate(t.Context(), tg, nil, toks, spec.Config{NPredict: 2}, nil)
	})
}
