package drafts_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/speclab/speclab/drafts"
	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/internal/testenv"
)

// vocab is an in-memory vocabulary: token i's text is "tok<i>" unless
// texts overrides it.
type vocab struct {
	typ            int
	size           int
	addBOS, addEOS bool
	bos, eos       drafts.Token
	texts          map[drafts.Token]string
}

func (v vocab) VocabType() int    { return v.typ }
func (v vocab) VocabSize() int    { return v.size }
func (v vocab) AddBOS() bool      { return v.addBOS }
func (v vocab) AddEOS() bool      { return v.addEOS }
func (v vocab) BOS() drafts.Token { return v.bos }
func (v vocab) EOS() drafts.Token { return v.eos }
func (v vocab) TokenText(id drafts.Token) string {
	if s, ok := v.texts[id]; ok {
		return s
	}
	return fmt.Sprintf("tok%d", id)
}

// base is a llama-like SPM vocabulary of 300 tokens.
func base() vocab {
	return vocab{typ: 1, size: 300, addBOS: true, addEOS: false, bos: 1, eos: 2}
}

func with(f func(*vocab)) vocab {
	v := base()
	f(&v)
	return v
}

func TestCheckCompatible(t *testing.T) {
	tests := []struct {
		name          string
		target, draft vocab
		rule          string // "" = compatible
		detail        string // fragment of the detail
	}{
		{"identical", base(), base(), "", ""},

		{"vocab type differs", base(), with(func(v *vocab) { v.typ = 2 }), drafts.RuleVocabType, "1 (SPM) in the target but 2 (BPE)"},
		{"vocab type checked before everything", base(), with(func(v *vocab) { v.typ = 3; v.addBOS = false; v.size = 10 }), drafts.RuleVocabType, ""},

		{"add_bos differs", base(), with(func(v *vocab) { v.addBOS = false }), drafts.RuleAddBOS, "add_bos is true in the target but false"},
		{"bos id differs while added", base(), with(func(v *vocab) { v.bos = 7 }), drafts.RuleBOSID, "BOS is token 1 in the target but 7"},
		{"bos id differs, neither adds it", with(func(v *vocab) { v.addBOS = false }), with(func(v *vocab) { v.addBOS = false; v.bos = 7 }), "", ""},
		{"bos checked before eos", base(), with(func(v *vocab) { v.bos = 7; v.addEOS = true }), drafts.RuleBOSID, ""},

		{"add_eos differs", base(), with(func(v *vocab) { v.addEOS = true }), drafts.RuleAddEOS, "add_eos is false in the target but true"},
		{"eos id differs while added", with(func(v *vocab) { v.addEOS = true }), with(func(v *vocab) { v.addEOS = true; v.eos = 9 }), drafts.RuleEOSID, "EOS is token 2 in the target but 9"},
		{"eos id differs, neither adds it", base(), with(func(v *vocab) { v.eos = 9 }), "", ""},
		{"eos checked before size", base(), with(func(v *vocab) { v.addEOS = true; v.size = 1000 }), drafts.RuleAddEOS, ""},

		{"draft 128 larger", base(), with(func(v *vocab) { v.size = 428 }), "", ""},
		{"draft 129 larger", base(), with(func(v *vocab) { v.size = 429 }), drafts.RuleSizeDifference, "the target has 300 tokens and the draft 429, a difference of 129"},
		{"draft 128 smaller", base(), with(func(v *vocab) { v.size = 172 }), "", ""},
		{"draft 129 smaller", base(), with(func(v *vocab) { v.size = 171 }), drafts.RuleSizeDifference, "a difference of 129 (at most 128 allowed)"},
		{"size checked before text", base(), with(func(v *vocab) { v.size = 500; v.texts = map[drafts.Token]string{10: "x"} }), drafts.RuleSizeDifference, ""},

		{"text differs at id 4", base(), with(func(v *vocab) { v.texts = map[drafts.Token]string{4: "<other>"} }), "", ""},
		{"text differs at ids 0..4", base(), with(func(v *vocab) {
			v.texts = map[drafts.Token]string{0: "a", 1: "b", 2: "c", 3: "d", 4: "e"}
		}), "", ""},
		{"text differs at id 5", base(), with(func(v *vocab) { v.texts = map[drafts.Token]string{5: "<other>"} }), drafts.RuleTokenText, `token 5 is "tok5" in the target but "<other>" in the draft`},
		{"first of two differences", base(), with(func(v *vocab) { v.texts = map[drafts.Token]string{250: "x", 17: "y"} }), drafts.RuleTokenText, "token 17 "},
		{"text differs at the last shared id", base(), with(func(v *vocab) { v.size = 400; v.texts = map[drafts.Token]string{299: "x"} }), drafts.RuleTokenText, "token 299 "},
		{"text beyond the smaller vocab ignored", base(), with(func(v *vocab) { v.size = 400; v.texts = map[drafts.Token]string{300: "x"} }), "", ""},
		{"text differs after a NUL (strcmp)", base(), with(func(v *vocab) { v.texts = map[drafts.Token]string{5: "tok5\x00junk"} }), "", ""},
		{"empty text differs", base(), with(func(v *vocab) { v.texts = map[drafts.Token]string{6: ""} }), drafts.RuleTokenText, `token 6 is "tok6" in the target but "" in the draft`},
		{"vocabularies of 5 tokens compare no text", with(func(v *vocab) { v.size = 5 }), with(func(v *vocab) {
			v.size = 5
			v.texts = map[drafts.Token]string{4: "x"}
		}), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, swap := range []bool{false, true} {
				target, draft := tt.target, tt.draft
				if swap {
					target, draft = draft, target
				}
				err := drafts.CheckCompatible(target, draft)
				if tt.rule == "" {
					if err != nil {
						t.Errorf("swap=%t: want compatible, got %v", swap, err)
					}
					continue
				}
				var ie *drafts.IncompatibleError
				if !errors.As(err, &ie) {
					t.Fatalf("swap=%t: want *IncompatibleError of rule %q, got %v", swap, tt.rule, err)
				}
				if ie.Rule != tt.rule {
					t.Errorf("swap=%t: rule %q, want %q (%v)", swap, ie.Rule, tt.rule, err)
				}
				if !swap && !strings.Contains(ie.Detail, tt.detail) {
					t.Errorf("detail %q lacks %q", ie.Detail, tt.detail)
				}
			}
		})
	}
}

func TestIncompatibleErrorMessage(t *testing.T) {
	target := with(func(v *vocab) { v.texts = map[drafts.Token]string{17: "Ġthe"} })
	draft := with(func(v *vocab) { v.texts = map[drafts.Token]string{17: "the"} })
	err := drafts.CheckCompatible(target, draft)
	want := `draft vocabulary refused by llama.cpp's rule "token-text": token 17 is "Ġthe" in the target but "the" in the draft`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

func TestCheckCompatibleNil(t *testing.T) {
	for _, pair := range [][2]drafts.Vocab{{nil, base()}, {base(), nil}, {nil, nil}} {
		err := drafts.CheckCompatible(pair[0], pair[1])
		var ie *drafts.IncompatibleError
		if err == nil || errors.As(err, &ie) {
			t.Errorf("CheckCompatible(%v, %v) = %v, want a plain error", pair[0], pair[1], err)
		}
	}
}

// modelVocab adapts a vocab-only *engine.Model, reading every token's text
// once.
type modelVocab struct {
	info  engine.ModelInfo
	texts []string
}

func loadVocab(t *testing.T, lib *engine.Lib, path string) *modelVocab {
	t.Helper()
	m, err := lib.LoadModel(path, engine.ModelParams{VocabOnly: true})
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	defer m.Close()
	v := &modelVocab{info: m.Info, texts: make([]string, m.Info.VocabSize)}
	for i := range v.texts {
		v.texts[i] = m.TokenText(engine.Token(i))
	}
	return v
}

func (v *modelVocab) VocabType() int                   { return int(v.info.VocabType) }
func (v *modelVocab) VocabSize() int                   { return v.info.VocabSize }
func (v *modelVocab) AddBOS() bool                     { return v.info.AddBOS }
func (v *modelVocab) AddEOS() bool                     { return v.info.AddEOS }
func (v *modelVocab) BOS() drafts.Token                { return v.info.BOS }
func (v *modelVocab) EOS() drafts.Token                { return v.info.EOS }
func (v *modelVocab) TokenText(id drafts.Token) string { return v.texts[id] }

// TestCheckCompatibleRealVocabs applies the rules to llama.cpp's own vocab
// files loaded into the real libllama.
func TestCheckCompatibleRealVocabs(t *testing.T) {
	lib := testenv.Lib(t)
	dir := testenv.SharedDir(t, "vocabs")
	paths, err := filepath.Glob(filepath.Join(dir, "ggml-vocab-*.gguf"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no vocab files in %s (%v)", dir, err)
	}
	vocabs := map[string]*modelVocab{}
	var names []string
	for _, p := range paths {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "ggml-vocab-"), ".gguf")
		vocabs[name] = loadVocab(t, lib, p)
		names = append(names, name)
	}
	rule := func(a, b string) string {
		err := drafts.CheckCompatible(vocabs[a], vocabs[b])
		if err == nil {
			return ""
		}
		var ie *drafts.IncompatibleError
		if !errors.As(err, &ie) {
			t.Fatalf("%s vs %s: %v", a, b, err)
		}
		return ie.Rule
	}

	// Every vocabulary serves itself, and every rule is symmetric.
	for _, a := range names {
		if r := rule(a, a); r != "" {
			t.Errorf("%s refused as its own draft by %q", a, r)
		}
		for _, b := range names {
			if ra, rb := rule(a, b), rule(b, a); ra != rb {
				t.Errorf("%s vs %s: rule %q, but %q the other way", a, b, ra, rb)
			}
		}
	}

	tests := []struct {
		target, draft string
		rule          string // "" = compatible
		detail        string
	}{
		{"gpt-neox", "mpt", "", ""},
		{"llama-spm", "phi-3", "", ""}, // phi-3 is llama's SPM vocab plus 64 tokens; EOS differs but is never added
		{"gpt-2", "gpt-neox", drafts.RuleSizeDifference, "the target has 50257 tokens and the draft 50432, a difference of 175"},
		{"gpt-2", "mpt", drafts.RuleSizeDifference, ""},
		{"starcoder", "refact", drafts.RuleTokenText, `token 5 is "<repo_name>" in the target but "<filename>" in the draft`},
		{"llama-spm", "gpt-2", drafts.RuleVocabType, "1 (SPM) in the target but 2 (BPE)"},
		{"llama-spm", "baichuan", drafts.RuleSizeDifference, ""},
		{"gpt-2", "falcon", drafts.RuleSizeDifference, ""},
		{"deepseek-coder", "deepseek-llm", drafts.RuleBOSID, "BOS is token 32013 in the target but 100000"},
		{"deepseek-coder", "starcoder", drafts.RuleAddBOS, ""},
		{"bert-bge", "llama-spm", drafts.RuleVocabType, ""},
	}
	for _, tt := range tests {
		if vocabs[tt.target] == nil || vocabs[tt.draft] == nil {
			t.Errorf("%s or %s missing from %s", tt.target, tt.draft, dir)
			continue
		}
		err := drafts.CheckCompatible(vocabs[tt.target], vocabs[tt.draft])
		if got := rule(tt.target, tt.draft); got != tt.rule {
			t.Errorf("%s vs %s: rule %q, want %q (%v)", tt.target, tt.draft, got, tt.rule, err)
			continue
		}
		if tt.detail != "" && !strings.Contains(err.Error(), tt.detail) {
			t.Errorf("%s vs %s: %v lacks %q", tt.target, tt.draft, err, tt.detail)
		}
	}

	if testing.Verbose() {
		for _, a := range names {
			for _, b := range names {
				if a < b {
					r := rule(a, b)
					if r == "" {
						r = "compatible"
					}
					t.Logf("%-15s %-15s %s", a, b, r)
				}
			}
		}
	}
}
