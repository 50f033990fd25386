package experiments_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"testing"

	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/experiments"
	"github.com/speclab/speclab/internal/testenv"
	"github.com/speclab/speclab/spec"
)

// Generating with a proposer, as `speclab run` does: open libllama, load
// speclab's default target and draft, build a configuration and run the
// speculative loop, then see what happened to the drafts.
//
// (It needs libllama, so it has no Output comment; TestExampleGenerate runs
// it and checks what it prints.)
func Example_generate() {
	// --llama-lib, $SPECLAB_LLAMA_LIB or the runtime of `speclab setup`
	lib, err := engine.Open(engine.LibOptions{})
	if err != nil {
		log.Fatal(err)
	}
	target, draft, _, err := experiments.DefaultModels("")
	if err != nil {
		log.Fatal(err)
	}
	s, err := experiments.Open(lib, experiments.Models{Target: target, Draft: draft})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	g, err := s.Generation(experiments.Configuration{Name: "draft", SpecType: "draft-simple"}, experiments.Sampling{}, 1)
	if err != nil {
		log.Fatal(err)
	}
	g.Config.NPredict = 32
	prompt, err := s.Prompt("func main() {", false, "")
	if err != nil {
		log.Fatal(err)
	}
	res, err := spec.Generate(context.Background(), s.Loop, g.Proposer, prompt, g.Config, nil)
	if err != nil {
		log.Fatal(err)
	}
	st := res.Stats
	fmt.Printf("generated %d tokens with %s, verify %s\n", st.Generated, strings.Join(g.Types, ","), g.Config.Verify)
	fmt.Println("speculation applied:", st.Applied(), "- some drafts accepted:", st.Accepted > 0)
}

func TestExampleGenerate(t *testing.T) {
	testenv.Lib(t)
	got := testenv.CaptureStdout(t, Example_generate)
	want := "generated 32 tokens with draft-simple, verify greedy\nspeculation applied: true - some drafts accepted: true\n"
	if got != want {
		t.Errorf("Example_generate printed\n%s\nwant\n%s", got, want)
	}
}
