package bpe

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

var testCorpus = []string{
	"the cat sat on the mat. the cat's hat is flat; that's that.",
	"func add(a, b int) int { return a + b }\nfunc sub(a, b int) int { return a - b }\n",
	"1 12 123 1234 12345 — naïve café, Grüße! 日本語のテキスト 🦙🦙",
}

func TestSplitGPT2(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"Hello world", []string{"Hello", " world"}},
		{"Hello  world", []string{"Hello", " ", " world"}},
		{"a   ", []string{"a", "   "}},
		{"   a", []string{"  ", " a"}},
		{"\n\n\tx", []string{"\n\n", "\t", "x"}}, // \s+(?!\S) leaves the last space
		{"it's we're I'M", []string{"it", "'s", " we", "'re", " I", "'", "M"}},
		{"x'llyy", []string{"x", "'ll", "yy"}},
		{"a1b22 333", []string{"a", "1", "b", "22", " 333"}},
		{"f(x) != y;", []string{"f", "(", "x", ")", " !=", " y", ";"}},
		{" !!", []string{" !!"}},
		{"ab\u00a0\u00a0cd", []string{"ab", "\u00a0", "\u00a0", "cd"}}, // only ' ' joins a word
		{"\xffa", []string{"\uFFFD", "a"}},
		{"\xc0\x80", []string{"\x00"}},
		{"Ⅻ²中\U0002EBF0", []string{"Ⅻ²", "中\U0002EBF0"}},
	}
	for _, tt := range tests {
		var got []string
		for _, w := range splitGPT2(tt.in) {
			got = append(got, string(w))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("splitGPT2(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestByteAlphabet(t *testing.T) {
	tok, err := Train(nil, MinVocab)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		id   int32
		text string
	}{{0, "!"}, {93, "~"}, {188, "Ā"}, {220, "Ġ"}, {198, "Ċ"}, {255, "Ń"}} {
		if tok.Tokens[tt.id] != tt.text {
			t.Errorf("token %d = %q, want %q (GPT-2's byte order)", tt.id, tok.Tokens[tt.id], tt.text)
		}
	}
	for b := range 256 {
		if got := tok.Encode(string([]byte{byte(b)})); b < 0x80 && (len(got) != 1 || tok.Decode(got) != string([]byte{byte(b)})) {
			t.Errorf("byte %#x encodes to %v", b, got)
		}
	}
	if len(tok.Merges) != 0 || tok.Tokens[256] != EndOfText || tok.Tokens[257] != Pad {
		t.Errorf("empty corpus: merges %q, specials %q", tok.Merges, tok.Tokens[256:])
	}
}

func TestTrainLayout(t *testing.T) {
	const size = 5000 // far more than the corpus can fill
	tok, err := Train(testCorpus, size)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok.Tokens) != size || len(tok.Types) != size {
		t.Fatalf("%d tokens, %d types; want %d", len(tok.Tokens), len(tok.Types), size)
	}
	learned := int(tok.BOS) - 256
	if learned <= 0 || learned > len(tok.Merges) {
		t.Fatalf("BOS at %d with %d merges", tok.BOS, len(tok.Merges))
	}
	if tok.EOS != tok.BOS || tok.PAD != tok.BOS+1 || !tok.AddBOS {
		t.Errorf("BOS %d EOS %d PAD %d AddBOS %v", tok.BOS, tok.EOS, tok.PAD, tok.AddBOS)
	}
	for i, ty := range tok.Types {
		wantCtl := i >= int(tok.BOS)
		if (ty == TypeControl) != wantCtl || (ty == TypeNormal) == wantCtl {
			t.Fatalf("token %d (%q) has type %d", i, tok.Tokens[i], ty)
		}
	}
	if got := tok.Tokens[size-1]; got != ExtraToken(size-1-int(tok.PAD)-1) {
		t.Errorf("last token %q", got)
	}
	// Every merge's halves are tokens, and so is their concatenation.
	for _, m := range tok.Merges {
		l, r, _ := strings.Cut(m, " ")
		for _, s := range []string{l, r, l + r} {
			if _, ok := tok.TokenID(s); !ok {
				t.Fatalf("merge %q: %q is not a token", m, s)
			}
		}
	}
	// The first merge is the most frequent adjacent pair of the corpus,
	// counted here by brute force.
	counts := map[string]int{}
	for _, doc := range testCorpus {
		for _, w := range splitGPT2(doc) {
			rs := []rune(encodeBytes(w))
			for i := 1; i < len(rs); i++ {
				counts[string(rs[i-1])+" "+string(rs[i])]++
			}
		}
	}
	best := 0
	for _, c := range counts {
		best = max(best, c)
	}
	if counts[tok.Merges[0]] != best {
		t.Errorf("first merge %q occurs %d times; the most frequent pair occurs %d times", tok.Merges[0], counts[tok.Merges[0]], best)
	}
}

func TestTrainDeterministic(t *testing.T) {
	a, err := Train(testCorpus, 400)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		b, err := Train(testCorpus, 400)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a.Tokens, b.Tokens) || !slices.Equal(a.Merges, b.Merges) || !slices.Equal(a.Types, b.Types) {
			t.Fatal("two trainings on the same corpus differ")
		}
	}
	c, err := Train(testCorpus[:2], 400)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(a.Merges, c.Merges) {
		t.Error("a different corpus gave the same merges")
	}
}

func TestTrainErrors(t *testing.T) {
	for _, n := range []int{-1, 0, 255, MinVocab - 1, 1<<24 + 1} {
		if _, err := Train(testCorpus, n); err == nil {
			t.Errorf("Train(size %d) succeeded", n)
		}
	}
}

func TestNewErrors(t *testing.T) {
	base, err := Train(nil, MinVocab)
	if err != nil {
		t.Fatal(err)
	}
	withToken := func(i int, s string) []string {
		tt := slices.Clone(base.Tokens)
		tt[i] = s
		return tt
	}
	tests := []struct {
		name          string
		tokens        []string
		types         []int32
		merges        []string
		bos, eos, pad int32
		addBOS        bool
	}{
		{"types length", base.Tokens, base.Types[1:], nil, 256, 256, NoToken, false},
		{"empty token", withToken(3, ""), base.Types, nil, 256, 256, NoToken, false},
		{"duplicate token", withToken(3, "!"), base.Types, nil, 256, 256, NoToken, false},
		{"merge without space", base.Tokens, base.Types, []string{"ab"}, 256, 256, NoToken, false},
		{"merge with empty half", base.Tokens, base.Types, []string{"a "}, 256, 256, NoToken, false},
		{"BOS out of range", base.Tokens, base.Types, nil, 9999, 256, NoToken, false},
		{"negative EOS", base.Tokens, base.Types, nil, 256, -5, NoToken, false},
		{"AddBOS without BOS", base.Tokens, base.Types, nil, NoToken, 256, NoToken, true},
	}
	for _, tt := range tests {
		if _, err := New(tt.tokens, tt.types, tt.merges, tt.bos, tt.eos, tt.pad, tt.addBOS); err == nil {
			t.Errorf("%s: New succeeded", tt.name)
		}
	}
}

// randomUTF8 returns a random valid UTF-8 string over a mix of ranges.
func randomUTF8(r *rand.Rand) string {
	ranges := [][2]rune{{0, 0x7F}, {0x20, 0x7E}, {0x80, 0x7FF}, {0x800, 0xD7FF}, {0xE000, 0xFFFF}, {0x10000, 0x10FFFF}, {' ', ' '}, {'\n', '\n'}}
	var b strings.Builder
	for n := r.IntN(40); n > 0; n-- {
		rg := ranges[r.IntN(len(ranges))]
		b.WriteRune(rg[0] + r.Int32N(rg[1]-rg[0]+1))
	}
	return b.String()
}

func TestRoundTrip(t *testing.T) {
	tok, err := Train(testCorpus, 600)
	if err != nil {
		t.Fatal(err)
	}
	texts := append(slices.Clone(testCorpus), "", " ", "\x00", "<|endoftext|>", "a\u0301", "\U0010FFFF")
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		texts = append(texts, randomUTF8(r))
	}
	for _, s := range texts {
		ids := tok.Encode(s)
		if got := tok.Decode(ids); got != s {
			t.Fatalf("Decode(Encode(%q)) = %q", s, got)
		}
		for _, id := range ids {
			if tok.Types[id] != TypeNormal {
				t.Fatalf("Encode(%q) produced the special token %d", s, id)
			}
		}
	}
}

func TestInvalidUTF8(t *testing.T) {
	tok, err := Train(testCorpus, 600)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ in, want string }{
		{"\xff", "\uFFFD"},
		{"a\xc3(b", "a\uFFFD(b"},     // truncated two-byte sequence
		{"\xe2\x82", "\uFFFD\uFFFD"}, // each stray byte on its own
		{"ok\x80\x80ok", "ok\uFFFD\uFFFDok"},
		{"\xc0\x80", "\x00"},             // overlong NUL, decoded as libllama does
		{"\xed\xa0\x80", "\xed\xa0\x80"}, // a surrogate passes through
		{"\xf5\x80\x80\x80", "\uFFFD"},   // beyond U+10FFFF (libllama throws)
	}
	for _, tt := range tests {
		if got := tok.Decode(tok.Encode(tt.in)); got != tt.want {
			t.Errorf("Decode(Encode(%q)) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSanitizeUnit(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain ascii", "plain ascii"},
		{"\U0010FFFF ok", "\U0010FFFF ok"},
		{"a\xf4\x90\x80\x80b", "a\uFFFDb"},
		{"\xf5\x80\x80\x80\xf7\xbf\xbf\xbf", "\uFFFD\uFFFD"},
		{"\xf5\x80\x80", "\xf5\x80\x80"}, // truncated: libllama copes
		{"\xff\xfe", "\xff\xfe"},
	}
	for _, tt := range tests {
		if got := Sanitize(tt.in); got != tt.want {
			t.Errorf("Sanitize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		if s := randomUTF8(r); Sanitize(s) != s {
			t.Fatalf("Sanitize changed valid UTF-8 %q", s)
		}
	}
}

func TestTokenizeSpecial(t *testing.T) {
	tok, err := Train(testCorpus, 600)
	if err != nil {
		t.Fatal(err)
	}
	text := "a" + EndOfText + "b" + Pad
	plain := tok.Tokenize(text, false, false)
	if slices.Contains(plain, tok.BOS) || slices.Contains(plain, tok.PAD) {
		t.Errorf("parseSpecial=false found special tokens: %v", plain)
	}
	got := tok.Tokenize(text, true, true)
	want := slices.Concat([]int32{tok.BOS}, tok.Encode("a"), []int32{tok.EOS}, tok.Encode("b"), []int32{tok.PAD})
	if !slices.Equal(got, want) {
		t.Errorf("Tokenize(%q, true, true) = %v, want %v", text, got, want)
	}
	if d := tok.Decode(got); d != "ab" {
		t.Errorf("Decode drops control tokens: got %q", d)
	}
	if d := tok.Decode([]int32{-1, 1 << 30}); d != "\uFFFD\uFFFD" {
		t.Errorf("Decode of bad ids = %q", d)
	}
}

func FuzzRoundTrip(f *testing.F) {
	tok, err := Train(testCorpus, 600)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range testCorpus {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids := tok.Encode(s)
		if utf8.ValidString(s) {
			if got := tok.Decode(ids); got != s {
				t.Fatalf("Decode(Encode(%q)) = %q", s, got)
			}
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	tok, err := Train(testCorpus, 600)
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat(strings.Join(testCorpus, "\n"), 20)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tok.Encode(text)
	}
}

func BenchmarkTrain(b *testing.B) {
	for b.Loop() {
		if _, err := Train(testCorpus, 600); err != nil {
			b.Fatal(err)
		}
	}
}
