package analysis

import (
	"encoding/json"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/speclab/speclab/terms"
)

// mixedSteps has variable draft lengths, empty drafts and a draft of which
// nothing was accepted. Hand-derived answers are in TestMetricsKnownAnswers.
var mixedSteps = []st{
	{k: 4, j: 2, pos: 10, proposeNs: 400, verifyNs: 1000, p: []float32{0.9, 0.8, 0.1}, q: []float32{0.9, 0.7, 0.6}},
	{k: 4, j: 4, pos: 13, proposeNs: 400, verifyNs: 1000, p: []float32{1, 1, 1, 1}, q: []float32{0.8, 0.8, 0.8, 0.8}},
	{k: 0, reason: "no-history", pos: 18, proposeNs: 10, verifyNs: 1000},
	{k: 2, j: 0, pos: 19, proposeNs: 200, verifyNs: 1000, p: []float32{0.2}, q: []float32{0.4}},
	{k: 0, reason: "no-match", pos: 20, proposeNs: 10, verifyNs: 1000},
	{k: 3, j: 3, pos: 40, proposeNs: 300, verifyNs: 1000, p: []float32{0.5, 0.5, 0.5}, q: []float32{nanf, nanf, nanf}},
}

var nanf = float32(math.NaN())

func studyCells() []cellSpec {
	return []cellSpec{
		{run: cell("baseline", "t1", 0, true, 10), steps: []st{{k: 0, reason: "disabled", verifyNs: 500}}},
		{run: cell("baseline", "t1", 1, true, 10)},
		{run: cell("baseline", "t1", 2, true, 10)},
		{run: cell("baseline", "t2", 0, true, 20)},
		{run: cell("spec", "t1", 0, false, 15), steps: mixedSteps},
		{run: cell("spec", "t1", 1, false, 12)},
		{run: cell("spec", "t1", 2, false, 18)},
		{run: cell("spec", "t2", 0, false, 40)},
		{run: cell("idle", "t1", 0, false, 9), steps: []st{
			{k: 0, reason: "no-history", verifyNs: 1000}, {k: 0, reason: "no-history", verifyNs: 1000}}},
	}
}

func find(t *testing.T, ss []*Summary, k Key) *Summary {
	t.Helper()
	for _, s := range ss {
		if s.Key == k {
			return s
		}
	}
	t.Fatalf("no group %+v", k)
	return nil
}

func TestMetricsKnownAnswers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	writeRun(t, dir, "0", studyCells()...)
	d := load(t, dir)
	if len(d.Cells) != 9 {
		t.Fatalf("%d cells, want 9", len(d.Cells))
	}
	ss := Summarize(d, []Dim{ByConfig, ByTask})
	s := find(t, ss, Key{Config: "spec", Task: "t1"})

	ints := []struct {
		name      string
		got, want int64
	}{
		{"steps", s.Steps, 6},
		{"draft steps", s.DraftSteps, 4},
		{"drafted", s.Drafted, 13},
		{"accepted", s.Accepted, 9},
		{"no-history", s.Empty["no-history"], 1},
		{"no-match", s.Empty["no-match"], 1},
		{"tokens logged", s.T.Tokens, 13},
		{"accepted tokens", s.T.Accepted.N, 9},
		{"rejected tokens", s.T.Rejected.N, 2},
		{"unverified tokens", s.T.Unverified.N, 2},
		{"cells", int64(s.Cells), 3},
		{"repeats", int64(s.Repeats), 3},
	}
	for _, c := range ints {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	wantHist := [][]int64{{2}, {}, {1}, {0, 0, 0, 1}, {0, 0, 1, 0, 1}}
	if !reflect.DeepEqual(s.AcceptHist, wantHist) {
		t.Errorf("histogram of j by k = %v, want %v", s.AcceptHist, wantHist)
	}
	// llama-server's counters: 4 drafts, 13 tokens, 9 accepted; at least 1
	// accepted on 3 drafts (j = 3, 2, 4), at least 2 and 3 on 3, 4 on 1.
	wantC := Counters{NumDrafts: 4, NumDraftTokens: 13, NumAcceptedTokens: 9, NumAcceptedTokensPerPos: []int64{3, 3, 2, 1}}
	if !reflect.DeepEqual(s.Counters, wantC) {
		t.Errorf("counters %+v, want %+v", s.Counters, wantC)
	}
	wantPos := []PosBin{{Steps: 2, Drafted: 8, Accepted: 6}, {Steps: 3, Drafted: 2}, {Steps: 1, Drafted: 3, Accepted: 3}}
	if !reflect.DeepEqual(s.S.Pos, wantPos) {
		t.Errorf("position bins = %v, want %v", s.S.Pos, wantPos)
	}

	floats := []struct {
		name      string
		got, want float64
		tol       float64
	}{
		{"acceptance rate", float64(s.AcceptanceRate), 9.0 / 13, 1e-12},
		// 9 accepted over the 4 drafting steps (2 of the 6 steps drafted nothing)
		{"tau", float64(s.MeanAcceptLen), 1 + 9.0/4, 1e-12},
		{"tokens per verify step", float64(s.TokensPerStep), 1 + 9.0/6, 1e-12},
		{"alpha", float64(s.Alpha), 9.0 / 11, 1e-12},
		{"gamma", float64(s.Gamma), 13.0 / 4, 1e-12},
		// 100 ns per drafted token over the baseline's 500 ns step
		{"cost ratio", float64(s.CostRatio), (1300.0 / 13) / 500, 1e-12},
		{"p accepted", float64(s.PTargetAccepted), 7.2 / 9, 1e-6},
		{"q accepted", float64(s.QDraftAccepted), 4.8 / 6, 1e-6},
		{"p rejected", float64(s.PTargetRejected), 0.15, 1e-6},
		{"q rejected", float64(s.QDraftRejected), 0.5, 1e-6},
		// geometric means over the repeats (speedups 1.2, 1.5, 1.8 of
		// tok/s 12, 15, 18 over 10), intervals on the log scale
		{"tps", float64(s.TPS.Mean), 10 * geo(1.2, 1.5, 1.8), 1e-9},
		{"baseline tps", float64(s.BaselineTPS.Mean), 10, 1e-12},
		{"speedup", float64(s.Speedup.Mean), geo(1.2, 1.5, 1.8), 1e-12},
		{"speedup lo", float64(s.Speedup.Lo), geo(1.2, 1.5, 1.8) * math.Exp(-4.3026527297*logSD(1.2, 1.5, 1.8)/math.Sqrt(3)), 1e-6},
		{"speedup hi", float64(s.Speedup.Hi), geo(1.2, 1.5, 1.8) * math.Exp(4.3026527297*logSD(1.2, 1.5, 1.8)/math.Sqrt(3)), 1e-6},
		{"leviathan", float64(s.SpeedupLeviathan), Leviathan(9.0/11, 3.25, 0.2), 1e-12},
		{"break-even", float64(s.BreakEvenAlpha), BreakEvenAlpha(3.25, 0.2), 1e-12},
		// drafting steps verify in 1000 ns, the baseline's step in 500
		{"verify cost", float64(s.VerifyCost), 2, 1e-12},
		{"mixture", float64(s.SpeedupModel), MixtureSpeedup(9.0/11, 0.2, []int64{2, 0, 1, 1, 2}), 1e-12},
	}
	for _, c := range floats {
		if math.IsNaN(c.got) || math.Abs(c.got-c.want) > c.tol {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// unconditional: drafting steps (4) with j > i; conditional: steps with
	// k > i and j ≥ i that have j > i
	if w := []float64{3.0 / 4, 3.0 / 4, 2.0 / 4, 1.0 / 4}; !nearNums(s.PosUncond, w) {
		t.Errorf("unconditional per-position acceptance = %v, want %v", s.PosUncond, w)
	}
	if w := []float64{3.0 / 4, 1, 2.0 / 3, 1}; !nearNums(s.PosCond, w) {
		t.Errorf("conditional per-position acceptance = %v, want %v", s.PosCond, w)
	}

	// across tasks, the speedup is averaged per repeat (geometric mean over
	// tasks), then over repeats
	byCfg := Summarize(d, []Dim{ByConfig})
	sc := find(t, byCfg, Key{Config: "spec"})
	if want := geo(math.Sqrt(1.5*2), 1.2, 1.8); !near(float64(sc.Speedup.Mean), want) || sc.Speedup.N != 3 {
		t.Errorf("speedup over tasks = %v over %d repeats, want %v over 3", sc.Speedup.Mean, sc.Speedup.N, want)
	}
	if sc.Tasks != 2 || sc.Cells != 4 {
		t.Errorf("tasks, cells = %d, %d; want 2, 4", sc.Tasks, sc.Cells)
	}
	if byCfg[0].Config != "baseline" || !byCfg[0].Baseline || !near(float64(byCfg[0].Speedup.Mean), 1) {
		t.Errorf("first group %q (baseline %v, speedup %v), want the baseline with speedup 1", byCfg[0].Config, byCfg[0].Baseline, byCfg[0].Speedup.Mean)
	}
}

// A configuration whose every draft is empty (draft length 0).
func TestMetricsDraftLengthZero(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	writeRun(t, dir, "0", studyCells()...)
	s := find(t, Summarize(load(t, dir), []Dim{ByConfig}), Key{Config: "idle"})
	if s.Steps != 2 || s.Drafted != 0 || s.Empty["no-history"] != 2 {
		t.Errorf("steps %d drafted %d no-history %d, want 2 0 2", s.Steps, s.Drafted, s.Empty["no-history"])
	}
	for name, v := range map[string]Num{"acceptance": s.AcceptanceRate, "alpha": s.Alpha, "gamma": s.Gamma,
		"cost": s.CostRatio, "model": s.SpeedupModel, "leviathan": s.SpeedupLeviathan, "p": s.PTargetAccepted} {
		if v.OK() {
			t.Errorf("%s = %v, want missing", name, v)
		}
	}
	if s.MeanAcceptLen != 1 || len(s.PosUncond) != 0 || len(s.PosCond) != 0 {
		t.Errorf("tau %v, positions %v %v; want 1 and none", s.MeanAcceptLen, s.PosUncond, s.PosCond)
	}
	if !near(float64(s.Speedup.Mean), 0.9) || s.Speedup.Lo.OK() {
		t.Errorf("speedup %+v, want 0.9 without an interval (one repeat)", s.Speedup)
	}
	// missing numbers encode as null
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if v, ok := m["acceptance_rate"]; !ok || v != nil {
		t.Errorf("acceptance_rate in JSON = %v (present %v), want null", v, ok)
	}
}

func TestPositionAcceptance(t *testing.T) {
	tests := []struct {
		name         string
		byK          [][]int64
		uncond, cond []float64
	}{
		{"empty", nil, []float64{}, []float64{}},
		{"only empty drafts", [][]int64{{5}}, []float64{}, []float64{}},
		{"fixed length", [][]int64{{1}, nil, {2, 1, 1}}, // k=2: j=0 twice, j=1, j=2
			[]float64{2.0 / 4, 1.0 / 4}, []float64{2.0 / 4, 1.0 / 2}},
		{"variable length", [][]int64{nil, {1, 1}, nil, {0, 0, 0, 2}}, // k=1: j=0, j=1; k=3: j=3 twice
			[]float64{3.0 / 4, 2.0 / 4, 2.0 / 4}, []float64{3.0 / 4, 1, 1}},
		{"never accepted past 0", [][]int64{nil, nil, {3}},
			[]float64{0, 0}, []float64{0, nan}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, c := nums(PositionAcceptance(tt.byK, false)), nums(PositionAcceptance(tt.byK, true))
			if !nearNums(u, tt.uncond) || !nearNums(c, tt.cond) {
				t.Errorf("got %v / %v, want %v / %v", u, c, tt.uncond, tt.cond)
			}
		})
	}
}

func TestLeviathanAlpha(t *testing.T) {
	tests := []struct {
		byK  [][]int64
		want float64
	}{
		{nil, nan},
		{[][]int64{{7}}, nan},
		{[][]int64{nil, {1, 3}}, 3.0 / 4}, // k=1: α is the acceptance rate
		{[][]int64{nil, nil, nil, {1, 0, 0, 1}}, 3.0 / 4}, // j=0 (1 tried), j=3 (3 tried, all accepted)
		{[][]int64{nil, nil, {0, 2}}, 2.0 / 4},            // j=1 of 2 twice: 1 accepted, 1 rejected each
	}
	for _, tt := range tests {
		if got := LeviathanAlpha(tt.byK); !near(got, tt.want) {
			t.Errorf("LeviathanAlpha(%v) = %v, want %v", tt.byK, got, tt.want)
		}
	}
}

// geo is the geometric mean; logSD the sample standard deviation of the
// logarithms.
func geo(xs ...float64) float64 {
	var s float64
	for _, x := range xs {
		s += math.Log(x)
	}
	return math.Exp(s / float64(len(xs)))
}

func logSD(xs ...float64) float64 {
	m := math.Log(geo(xs...))
	var ss float64
	for _, x := range xs {
		ss += (math.Log(x) - m) * (math.Log(x) - m)
	}
	return math.Sqrt(ss / float64(len(xs)-1))
}

func TestMeanCI(t *testing.T) {
	tests := []struct {
		xs           []float64
		mean, lo, hi float64
		n            int
	}{
		{nil, nan, nan, nan, 0},
		{[]float64{2}, 2, nan, nan, 1},
		{[]float64{1, 3}, 2, 2 - 12.7062047362, 2 + 12.7062047362, 2}, // sd √2, se 1
		{[]float64{1.5, 1.2, 1.8, nan}, 1.5, 1.5 - 4.3026527297*0.3/math.Sqrt(3), 1.5 + 4.3026527297*0.3/math.Sqrt(3), 3},
	}
	for _, tt := range tests {
		iv := MeanCI(tt.xs)
		if !near(float64(iv.Mean), tt.mean) || !near(float64(iv.Lo), tt.lo) || !near(float64(iv.Hi), tt.hi) || iv.N != tt.n {
			t.Errorf("MeanCI(%v) = %+v, want %v [%v, %v] n=%d", tt.xs, iv, tt.mean, tt.lo, tt.hi, tt.n)
		}
	}
}

// PositiveCI: a geometric mean with a log-scale interval, which stays
// above 0 where the linear one would not.
func TestPositiveCI(t *testing.T) {
	xs := []float64{1, 4}
	if lin := MeanCI(xs); float64(lin.Lo) >= 0 {
		t.Fatalf("the linear interval %+v does not go below 0: the test shows nothing", lin)
	}
	iv := PositiveCI(xs)
	half := TQuantile975(1) * math.Log(4) / 2 // sd of the logs ln4/√2, se ln4/2
	if !near(float64(iv.Mean), 2) || !near(float64(iv.Lo), 2*math.Exp(-half)) || !near(float64(iv.Hi), 2*math.Exp(half)) || float64(iv.Lo) <= 0 {
		t.Errorf("PositiveCI(%v) = %+v, want 2 [%v, %v]", xs, iv, 2*math.Exp(-half), 2*math.Exp(half))
	}
	if iv := PositiveCI([]float64{0, -1, math.NaN(), 3}); iv.N != 1 || !near(float64(iv.Mean), 3) {
		t.Errorf("non-positive values kept: %+v", iv)
	}
}

func TestTQuantile(t *testing.T) {
	// published values of t(0.975)
	for df, want := range map[int]float64{1: 12.7062, 10: 2.2281, 30: 2.0423, 31: 2.0395, 40: 2.0211, 60: 2.0003, 120: 1.9799, 1000: 1.9623} {
		if got := TQuantile975(df); math.Abs(got-want) > 1e-4 {
			t.Errorf("TQuantile975(%d) = %.5f, want %.4f", df, got, want)
		}
	}
	if !math.IsNaN(TQuantile975(0)) {
		t.Error("TQuantile975(0) is a number")
	}
}

func TestParseDims(t *testing.T) {
	tests := []struct {
		in   string
		want []Dim
		err  bool
	}{
		{"config", []Dim{ByConfig}, false},
		{"config, task,model", []Dim{ByConfig, ByTask, ByModel}, false},
		{"run,config", []Dim{ByRun, ByConfig}, false},
		{"", nil, true},
		{"config,config", nil, true},
		{"configs", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseDims(tt.in)
		if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseDims(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// TestCellSpeedupsAcrossShards: a cell's speedup is over its baseline even
// when another shard wrote the baseline (the runner, which sees one shard,
// cannot know it; the runs table's speedup column stays NULL).
func TestCellSpeedupsAcrossShards(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir, "1of2", cellSpec{run: cell("baseline", "a", 1, true, 10)}, cellSpec{run: cell("baseline", "b", 1, true, 20)})
	writeRun(t, dir, "2of2", cellSpec{run: cell("ngram", "a", 1, false, 15)}, cellSpec{run: cell("ngram", "c", 1, false, 30)})
	d := load(t, dir)
	got := map[string]float64{}
	for c, v := range d.CellSpeedups() {
		got[c.CellID] = v
	}
	if len(got) != 1 || !near(got["a/ngram/1"], 1.5) {
		t.Errorf("speedups %v, want a/ngram/1 1.5 only (task c has no baseline)", got)
	}
}

// TestMetricNamesAreTerms: every metric of the shared vocabulary is a JSON
// key of Summary, so the table and the numbers cannot drift apart.
func TestMetricNamesAreTerms(t *testing.T) {
	keys := map[string]bool{}
	st := reflect.TypeFor[Summary]()
	for i := range st.NumField() {
		name, _, _ := strings.Cut(st.Field(i).Tag.Get("json"), ",")
		keys[name] = true
	}
	for _, m := range terms.Metrics() {
		if !keys[string(m)] {
			t.Errorf("metric %q of package terms is no JSON key of analysis.Summary", m)
		}
		if m.Definition() == "" || m.Anchor() == "" {
			t.Errorf("metric %q has no definition or anchor", m)
		}
	}
}
