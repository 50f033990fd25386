package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/internal/testenv"
)

// disjointVocab writes a vocabulary that shares no token text with any
// other: llama.cpp's SPM test vocabulary with a snowman before every token
// (byte tokens made normal ones, so that their texts need not be <0xXX>).
// No tokenizer libllama can run shares nothing (each must spell every
// byte), so speclab's model check refuses it before libllama would throw;
// the drafts package tests the no-shared-text refusal itself on
// vocabularies that need no library.
func disjointVocab(t *testing.T) string {
	t.Helper()
	src := filepath.Join(testenv.SharedDir(t, "vocabs"), "ggml-vocab-llama-spm.gguf")
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	var kv []gguf.KV
	for _, e := range f.KV {
		switch e.Key {
		case "tokenizer.ggml.tokens":
			toks := e.Value.([]string)
			out := make([]string, len(toks))
			for i, s := range toks {
				out[i] = "☃" + s
			}
			e.Value = out
		case "tokenizer.ggml.token_type":
			types := append([]int32{}, e.Value.([]int32)...)
			for i, ty := range types {
				if ty == 6 { // BYTE
					types[i] = 1
				}
			}
			e.Value = types
		}
		kv = append(kv, e)
	}
	path := filepath.Join(t.TempDir(), "disjoint-vocab.gguf")
	if err := gguf.WriteFile(path, kv, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

// compat on the shipped pairs gives their known figures: the matched pair
// is the same vocabulary; the mismatched one is refused by llama.cpp's
// token-text rule at id 256, shares 6,053 token texts and 269 ids, and
// both cross-vocabulary modes work with it. A draft that shares no text is
// refused by every mode.
func TestCompat(t *testing.T) {
	lib := testenv.Lib(t)
	models := filepath.Join(testenv.RepoRoot(), "models")
	target := filepath.Join(models, "target.gguf")
	for _, tc := range []struct {
		name, draft  string
		llama        string
		shared, same int
		works        map[string]bool
		texts        string
	}{
		{"matched", filepath.Join(models, "draft.gguf"), "accepted", 8190, 8192,
			map[string]bool{"draft-simple": true, "draft-tli": true, "draft-slem": true}, "17 of 17 sample texts tokenized alike"},
		{"mismatched", filepath.Join(models, "draft-othervocab.gguf"), "refused: token-text", 6053, 269,
			map[string]bool{"draft-simple": false, "draft-tli": true, "draft-slem": true}, "5 of 17 sample texts tokenized alike"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := speclab(t, "--llama-lib", lib.Location.Lib, "compat", "-m", target, "-md", tc.draft, "--json")
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, errs)
			}
			var r compatReport
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("%v\n%s\n%s", err, out, errs)
			}
			if r.Llama != tc.llama || r.Overlap.SharedTexts != tc.shared || r.Overlap.SameID != tc.same || r.Schema != SchemaVersion {
				t.Errorf("verdict %q, %d shared texts, %d same ids; want %q, %d, %d", r.Llama, r.Overlap.SharedTexts, r.Overlap.SameID, tc.llama, tc.shared, tc.same)
			}
			for _, m := range r.Modes {
				if want, ok := tc.works[m.SpecType]; !ok || m.Works != want {
					t.Errorf("%s works %v, want %v (%s)", m.SpecType, m.Works, want, m.Why)
				}
			}
			_, text, _ := speclab(t, "--llama-lib", lib.Location.Lib, "compat", "-m", target, "-md", tc.draft)
			if !strings.Contains(text, tc.texts) {
				t.Errorf("text output lacks %q:\n%s", tc.texts, text)
			}
		})
	}
	code, _, errs := speclab(t, "--llama-lib", lib.Location.Lib, "compat", "-m", target, "-md", disjointVocab(t))
	if code != 1 || !strings.Contains(errs, "unsafe model") || !strings.Contains(errs, "byte-fallback") {
		t.Errorf("a vocabulary of no shared text: exit %d\n%s", code, errs)
	}
}

// reproduce --cross-vocab adds the refused draft drafting across
// vocabularies, and both rows draft.
func TestReproduceCrossVocab(t *testing.T) {
	lib := testenv.Lib(t)
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, errs := speclab(t, "--llama-lib", lib.Location.Lib, "reproduce", "--out", out, "--cross-vocab", "--no-counterfactuals",
		"--n-predict-scale", "0.1", "--progress", "none")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	for _, want := range []string{"draft-tli@checkpoint: applied", "draft-slem@checkpoint: applied", "translation between the vocabularies"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// A release that translated tokens for a draft of another vocabulary
// (b7836) runs the seed's draft-simple rows through text, and says so;
// the seed's release (b8390) refuses the same draft.
func TestReproduceTranslatingRelease(t *testing.T) {
	lib := testenv.Lib(t)
	for _, tc := range []struct {
		behaviour, row string
		translated     bool
	}{
		{"b7836", "draft-simple: applied", true},
		{"b8390", "draft-simple: NOT APPLIED", false},
	} {
		out := filepath.Join(t.TempDir(), "run")
		code, stdout, errs := speclab(t, "--llama-lib", lib.Location.Lib, "reproduce", "--out", out, "--llama-behaviour", tc.behaviour,
			"--no-counterfactuals", "--n-predict-scale", "0.05", "--progress", "none")
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s", tc.behaviour, code, errs)
		}
		if !strings.Contains(stdout, tc.row) || strings.Contains(errs, "translated its tokens through text") != tc.translated {
			t.Errorf("%s: want %q and translation %v\n%s\n%s", tc.behaviour, tc.row, tc.translated, errs, stdout)
		}
	}
}
