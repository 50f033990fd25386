package drafts_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/speclab/speclab/drafts"
)

var (
	_ drafts.Policy = drafts.Static{}
	_ drafts.Policy = drafts.Schedule{}
	_ drafts.Policy = (*drafts.Staircase)(nil)
	_ drafts.Policy = (*drafts.HF)(nil)
	_ drafts.Policy = drafts.Entropy{}
)

func mustStaircase(t *testing.T, lo, hi int) *drafts.Staircase {
	t.Helper()
	s, err := drafts.NewStaircase(lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustHF(t *testing.T, start, hi int) *drafts.HF {
	t.Helper()
	h, err := drafts.NewHF(start, hi)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mustParse(t *testing.T, s string) drafts.Policy {
	t.Helper()
	p, err := drafts.ParsePolicy(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		in   string
		want drafts.Policy
		str  string // canonical String()
	}{
		{"static", drafts.Static{NMax: 3, PMin: 0}, "static:n3,p0"},
		{"static:n4,p0.25", drafts.Static{NMax: 4, PMin: 0.25}, "static:n4,p0.25"},
		{"static:n16,p0.75", drafts.Static{NMax: 16, PMin: 0.75}, "static:n16,p0.75"},
		{"static:p0.5", drafts.Static{NMax: 3, PMin: 0.5}, "static:n3,p0.5"},
		{"  static : p0.5 , n7 ", drafts.Static{NMax: 7, PMin: 0.5}, "static:n7,p0.5"},
		{"static:n0", drafts.Static{NMax: 0, PMin: 0}, "static:n0,p0"},
		{"0:n4,p0.25;49152:n4,p0.0", drafts.Schedule{
			{Pos: 0, Limits: drafts.Limits{NMax: 4, PMin: 0.25}},
			{Pos: 49152, Limits: drafts.Limits{NMax: 4, PMin: 0}},
		}, "0:n4,p0.25;49152:n4,p0"},
		{"0:n4", drafts.Schedule{{Pos: 0, Limits: drafts.Limits{NMax: 4}}}, "0:n4,p0"},
		{"0:p0.75", drafts.Schedule{{Pos: 0, Limits: drafts.Limits{NMax: 3, PMin: 0.75}}}, "0:n3,p0.75"},
		{"0:n8,e3 ; 100:e0,n2,p0.5; 4096:n0", drafts.Schedule{
			{Pos: 0, Limits: drafts.Limits{NMax: 8, MaxEntropy: 3}},
			{Pos: 100, Limits: drafts.Limits{NMax: 2, PMin: 0.5}},
			{Pos: 4096, Limits: drafts.Limits{NMax: 0}},
		}, "0:n8,p0,e3;100:n2,p0.5;4096:n0,p0"},
		{"staircase", mustStaircase(t, 1, 16), "staircase:1,16"},
		{"staircase:2,8", mustStaircase(t, 2, 8), "staircase:2,8"},
		{"staircase: 4 , 4", mustStaircase(t, 4, 4), "staircase:4,4"},
		{"hf", mustHF(t, 5, 0), "hf:5"},
		{"hf:3", mustHF(t, 3, 0), "hf:3"},
		{"hf:3,10", mustHF(t, 3, 10), "hf:3,10"},
		{"entropy:e2.5", drafts.Entropy{MaxEntropy: 2.5, NMax: 16}, "entropy:n16,p0,e2.5"},
		{"entropy:e2.5,n8", drafts.Entropy{MaxEntropy: 2.5, NMax: 8}, "entropy:n8,p0,e2.5"},
		{"entropy:n8,p0.1,e1e-3", drafts.Entropy{MaxEntropy: 0.001, NMax: 8, PMin: 0.1}, "entropy:n8,p0.1,e0.001"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := drafts.ParsePolicy(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
			str := got.(fmt.Stringer).String()
			if str != tt.str {
				t.Errorf("String() = %q, want %q", str, tt.str)
			}
			again, err := drafts.ParsePolicy(str)
			if err != nil {
				t.Fatalf("String() %q does not parse: %v", str, err)
			}
			if !reflect.DeepEqual(again, got) {
				t.Errorf("round trip through %q: got %#v, want %#v", str, again, got)
			}
		})
	}
}

func TestParsePolicyErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty policy"},
		{"   ", "empty policy"},
		{"foo", `unknown policy "foo"`},
		{"foo:n4", `unknown policy "foo"`},
		{"n4,p0.25", `unknown policy "n4,p0.25"`},

		{"static:", "static: no limits"},
		{"static:x4", `limit "x4": unknown limit "x"`},
		{"static:é4", `unknown limit "é"`},
		{"static:n4,e2", `limit "e2": e is not allowed here (allowed: n, p)`},
		{"static:n4,n5", `limit "n5": n is given twice`},
		{"static:n", `limit "n": n needs a value, e.g. n4`},
		{"static:nx", `limit "nx": n "x" is not a whole number`},
		{"static:n4.5", `n "4.5" is not a whole number`},
		{"static:n-1", `n -1 is negative`},
		{"static:n99999999999999999999", `n "99999999999999999999" is too large`},
		{"static:p1.5", `limit "p1.5": p 1.5 is outside 0..1`},
		{"static:p-0.1", `p -0.1 is outside 0..1`},
		{"static:pnan", `p "nan" is not a finite number`},
		{"static:n4,,p0", "limit 2 is empty"},
		{"static:n4;49152:n2", `n "4;49152:n2" is not a whole number`},

		{"0:n4,p0.25;4915x:n4", `segment 2 "4915x:n4": position "4915x" is not a number`},
		{"5:n4", `segment 1 "5:n4": the first position must be 0, not 5`},
		{"0:n4;100:n2;100:n1", `segment 3 "100:n1": position 100 does not follow 100 (positions must increase)`},
		{"0:n4;200:n2;100:n1", `segment 3 "100:n1": position 100 does not follow 200`},
		{"0:n4;-5:n2", `segment 2 "-5:n2": position -5 is negative`},
		{"0:n4;", "segment 2 is empty"},
		{";0:n4", "segment 1 is empty"},
		{"0:n4;49152n4", `segment 2 "49152n4": want POSITION:LIMITS`},
		{"0:", `segment 1 "0:": no limits`},
		{"0:n4;49152:n4,px", `segment 2 "49152:n4,px": limit "px": p "x" is not a finite number`},
		{"0:n4,e-1", `limit "e-1": e -1 is negative`},
		{"0:n4,einf", `e "inf" is not a finite number`},

		{"staircase:1", `staircase "1": want staircase:MIN,MAX`},
		{"staircase:1,2,3", `want staircase:MIN,MAX`},
		{"staircase:0,8", "staircase: min 0 must be at least 1"},
		{"staircase:8,2", "staircase: max 2 is below min 8"},
		{"staircase:a,8", `staircase: min "a" is not a whole number`},
		{"staircase:1,b", `staircase: max "b" is not a whole number`},

		{"hf:0", "hf: start 0 must be at least 1"},
		{"hf:x", `hf: start "x" is not a whole number`},
		{"hf:", `hf: start "" is not a whole number`},
		{"hf:5,3", "hf: max 3 must be 0 (no cap) or at least start 5"},
		{"hf:5,3,1", "want hf:START or hf:START,MAX"},

		{"entropy", "entropy needs a threshold, e.g. entropy:e2.5"},
		{"entropy:n8", `entropy "n8": needs e above 0`},
		{"entropy:e0,n8", `needs e above 0`},
		{"entropy:e2,x1", `entropy: limit "x1": unknown limit "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := drafts.ParsePolicy(tt.in)
			if err == nil {
				t.Fatalf("got %#v, want an error containing %q", p, tt.want)
			}
			var pe *drafts.ParseError
			if !errors.As(err, &pe) || pe.Input != tt.in {
				t.Errorf("error %#v is not a *ParseError of input %q", err, tt.in)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
}

func TestParsePolicyErrorMessage(t *testing.T) {
	_, err := drafts.ParsePolicy("0:n4,p0.25;4915x:n4")
	want := `policy "0:n4,p0.25;4915x:n4": segment 2 "4915x:n4": position "4915x" is not a number`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

func TestScheduleLimits(t *testing.T) {
	seed := mustParse(t, "0:n4,p0.25;49152:n4,p0.0")
	three := mustParse(t, "0:n8,e3;100:n2,p0.5;4096:n0")
	tests := []struct {
		p    drafts.Policy
		pos  int
		want drafts.Limits
	}{
		{seed, 0, drafts.Limits{NMax: 4, PMin: 0.25}},
		{seed, 1, drafts.Limits{NMax: 4, PMin: 0.25}},
		{seed, 49151, drafts.Limits{NMax: 4, PMin: 0.25}},
		{seed, 49152, drafts.Limits{NMax: 4, PMin: 0}},
		{seed, 49153, drafts.Limits{NMax: 4, PMin: 0}},
		{seed, 1 << 40, drafts.Limits{NMax: 4, PMin: 0}},
		{seed, -1, drafts.Limits{NMax: 4, PMin: 0.25}},
		{three, 99, drafts.Limits{NMax: 8, MaxEntropy: 3}},
		{three, 100, drafts.Limits{NMax: 2, PMin: 0.5}},
		{three, 4095, drafts.Limits{NMax: 2, PMin: 0.5}},
		{three, 4096, drafts.Limits{NMax: 0}},
		{drafts.Schedule{}, 10, drafts.Limits{}},
		{mustParse(t, "static:n5,p0.1"), 1 << 20, drafts.Limits{NMax: 5, PMin: 0.1}},
		{mustParse(t, "entropy:e2.5,n8"), 7, drafts.Limits{NMax: 8, MaxEntropy: 2.5}},
	}
	for _, tt := range tests {
		if got := tt.p.Limits(tt.pos); got != tt.want {
			t.Errorf("%v.Limits(%d) = %+v, want %+v", tt.p, tt.pos, got, tt.want)
		}
	}
}

// step is one verify step's outcome and the NMax the policy gives after it.
type step struct{ drafted, accepted, nmax int }

func runSteps(t *testing.T, p drafts.Policy, start int, steps []step) {
	t.Helper()
	if got := p.Limits(0).NMax; got != start {
		t.Fatalf("%v starts at %d, want %d", p, got, start)
	}
	for i, s := range steps {
		p.Observe(s.drafted, s.accepted)
		l := p.Limits(i * 1000)
		if l.NMax != s.nmax {
			t.Fatalf("%v: after step %d (%d of %d accepted) NMax = %d, want %d", p, i+1, s.accepted, s.drafted, l.NMax, s.nmax)
		}
		if l.PMin != 0 || l.MaxEntropy != 0 {
			t.Fatalf("%v: limits %+v, want PMin and MaxEntropy 0", p, l)
		}
	}
}

func TestStaircase(t *testing.T) {
	tests := []struct {
		spec  string
		start int
		steps []step
	}{
		{"staircase:1,5", 3, []step{
			{3, 3, 4}, {4, 4, 5}, {5, 5, 5}, // up to the ceiling
			{5, 2, 4}, {4, 0, 3}, // a partial and a total rejection: one step each
			{0, 0, 3},                       // an empty draft changes nothing
			{3, 1, 2}, {2, 0, 1}, {1, 0, 1}, // down to the floor
			{1, 1, 2}, {2, 7, 3}, // accepted > drafted counts as full
			{2, 2, 4}, // a short draft accepted in full still steps up
		}},
		{"staircase:4,6", 4, []step{{4, 3, 4}, {4, 4, 5}, {5, 5, 6}, {6, 6, 6}}},
		{"staircase:1,2", 2, []step{{2, 2, 2}, {2, 1, 1}, {1, 0, 1}, {1, 1, 2}}},
		{"staircase", 3, []step{{3, 3, 4}, {4, 4, 5}, {5, 4, 4}}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			p := mustParse(t, tt.spec)
			runSteps(t, p, tt.start, tt.steps)
			p.(*drafts.Staircase).Reset()
			if got := p.Limits(0).NMax; got != tt.start {
				t.Errorf("after Reset NMax = %d, want %d", got, tt.start)
			}
		})
	}
}

func TestHF(t *testing.T) {
	tests := []struct {
		spec  string
		start int
		steps []step
	}{
		{"hf", 5, []step{
			{5, 5, 7}, {7, 7, 9}, // +2 after each fully accepted draft
			{9, 3, 8}, {8, 0, 7}, // -1 otherwise
			{0, 0, 7}, // empty draft: unchanged (transformers would add 2)
			{3, 3, 9}, // a shorter draft accepted in full counts as full
			{9, 0, 8}, {8, 0, 7}, {7, 0, 6}, {6, 0, 5}, {5, 0, 4}, {4, 0, 3}, {3, 0, 2}, {2, 0, 1},
			{1, 0, 1}, // never below 1
			{1, 1, 3}, {3, 4, 5},
		}},
		{"hf:1", 1, []step{{1, 0, 1}, {1, 1, 3}, {3, 3, 5}, {5, 5, 7}, {7, 7, 9}, {9, 9, 11}}},
		{"hf:5,8", 5, []step{{5, 5, 7}, {7, 7, 8}, {8, 8, 8}, {8, 1, 7}, {7, 7, 8}}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			p := mustParse(t, tt.spec)
			runSteps(t, p, tt.start, tt.steps)
			p.(*drafts.HF).Reset()
			if got := p.Limits(0).NMax; got != tt.start {
				t.Errorf("after Reset NMax = %d, want %d", got, tt.start)
			}
		})
	}
}

func TestFixedPoliciesIgnoreObserve(t *testing.T) {
	for _, spec := range []string{"static:n4,p0.25", "0:n4,p0.25;49152:n4,p0.0", "entropy:e2.5,n8"} {
		p := mustParse(t, spec)
		before := [2]drafts.Limits{p.Limits(0), p.Limits(60000)}
		for _, o := range [][2]int{{4, 4}, {4, 0}, {0, 0}, {8, 8}} {
			p.Observe(o[0], o[1])
		}
		if after := [2]drafts.Limits{p.Limits(0), p.Limits(60000)}; after != before {
			t.Errorf("%s: limits moved from %+v to %+v", spec, before, after)
		}
	}
}

func TestPolicyNames(t *testing.T) {
	for spec, want := range map[string]string{
		"static": "static", "0:n4": "schedule", "staircase": "staircase", "hf": "hf", "entropy:e1": "entropy",
	} {
		if got := mustParse(t, spec).Name(); got != want {
			t.Errorf("%s: Name() = %q, want %q", spec, got, want)
		}
	}
}

func BenchmarkScheduleLimits(b *testing.B) {
	p, err := drafts.ParsePolicy("0:n8,p0.5;1024:n6,p0.4;8192:n4,p0.25;49152:n4,p0.0;131072:n2")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.Limits(i & (1<<18 - 1))
	}
}

func BenchmarkParsePolicy(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := drafts.ParsePolicy("0:n4,p0.25;49152:n4,p0.0"); err != nil {
			b.Fatal(err)
		}
	}
}
