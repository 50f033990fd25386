package experiments_test

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/experiments"
	"github.com/speclab/speclab/experiments/runlog"
	"github.com/speclab/speclab/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "target: t.gguf\ntargte: x\n", "targte"},
		{"unknown config key", "target: t.gguf\nconfigs:\n  - name: a\n    spec_typ: ngram-simple\n", "spec_typ"},
		{"no target", "battery: seed\n", "target"},
		{"bad spec type", "target: t.gguf\nconfigs:\n  - name: a\n    spec_type: eagle\n", "eagle"},
		{"bad policy", "target: t.gguf\nconfigs:\n  - name: a\n    spec_type: ngram-simple\n    dd_policy: \"0:n4;x:n2\"\n", "dd_policy"},
		{"draft without model", "target: t.gguf\nconfigs:\n  - name: a\n    spec_type: draft-simple\n", "needs a draft model"},
		{"duplicate names", "target: t.gguf\nconfigs:\n  - name: a\n  - name: a\n", "used twice"},
		{"bad temp", "target: t.gguf\nsampling: {temp: -1}\n", "temperature"},
		{"greedy with temp", "target: t.gguf\nsampling: {temp: 0.7}\nconfigs:\n  - name: a\n    verify: greedy\n", "temp 0"},
		{"bad flash", "target: t.gguf\ncontext: {flash_attn: maybe}\n", "flash_attn"},
		{"bad ngram flag", "target: t.gguf\nconfigs:\n  - name: a\n    spec_type: ngram-simple\n    ngram: {spec-ngram-simpel-size-n: 3}\n", "simpel"},
		{"wrong type", "target: t.gguf\nrepeats: many\n", "repeats"},
		{"target and targets", "target: t.gguf\ntargets: [a.gguf]\n", "give one of them"},
		{"repeated target", "targets: [a.gguf, a.gguf]\n", "repeated"},
		{"same file name", "targets: [x/a.gguf, y/a.gguf]\n", "same file name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := experiments.Parse([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	e, err := experiments.Parse([]byte("target: t.gguf\ndraft: d.gguf\n"))
	if err != nil || len(e.Configs) != 5 || e.Battery != "seed" || e.Repeats != 1 {
		t.Fatalf("defaults: %+v, %v", e, err)
	}
}

func TestShardsCoverEveryCellOnce(t *testing.T) {
	e, err := experiments.Parse([]byte("target: t.gguf\ndraft: d.gguf\nrepeats: 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	cells, err := e.Cells(experiments.SeedBattery)
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 9*6*3 { // five configurations and the A/A cell
		t.Fatalf("%d cells", len(cells))
	}
	for _, n := range []int{1, 2, 7, 8, 200} {
		seen := map[string]int{}
		for k := 1; k <= n; k++ {
			sh, err := experiments.ParseShard(strings.Join([]string{itoa(k), itoa(n)}, "/"))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cells {
				if sh.Has(c) {
					seen[c.ID()]++
				}
			}
		}
		if len(seen) != len(cells) {
			t.Fatalf("N=%d: %d of %d cells covered", n, len(seen), len(cells))
		}
		for id, k := range seen {
			if k != 1 {
				t.Fatalf("N=%d: cell %s in %d shards", n, id, k)
			}
		}
	}
	// A shard takes whole blocks: every configuration beside its baseline.
	for _, n := range []int{2, 7} {
		for k := 1; k <= n; k++ {
			sh := experiments.Shard{K: k, N: n}
			for _, c := range cells {
				for _, o := range cells {
					if o.Block == c.Block && sh.Has(o) != sh.Has(c) {
						t.Fatalf("N=%d: %s and %s share block %d but not shard %d", n, c.ID(), o.ID(), c.Block, k)
					}
				}
			}
		}
	}
	for _, bad := range []string{"0/4", "5/4", "x", "1/0", "2"} {
		if _, err := experiments.ParseShard(bad); err == nil {
			t.Errorf("shard %q accepted", bad)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// quick returns an experiment on the synthetic models with short caps.
func quick(t *testing.T, draft string) *experiments.Experiment {
	set := testenv.Models(t, gguf.TypeQ8_0)
	if draft == "" {
		draft = set.Draft
	}
	e := &experiments.Experiment{Name: "t", Target: set.Target, Draft: draft, Battery: "seed",
		NPredictScale: new(0.1), Seed: 1}
	if err := e.Normalise(); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestRunRecordsWhy(t *testing.T) {
	lib := testenv.Lib(t)
	set := testenv.Models(t, gguf.TypeQ8_0)
	dir := t.TempDir()
	r := &experiments.Runner{Exp: quick(t, set.OtherVocab), Dir: dir, Lib: lib}
	sum, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != 54 || sum.Cells != 54 {
		t.Fatalf("summary %+v", sum)
	}
	rows, err := runlog.ReadRuns([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[int32][]int32{}
	for _, r := range rows {
		if r.Order != experiments.OrderRandom || r.OrderSeed != int64(r.Seed) && r.Repeat == 1 {
			t.Errorf("%s: order %q seed %d: want the random order, seeded by the experiment's seed", r.CellID, r.Order, r.OrderSeed)
		}
		blocks[r.Block] = append(blocks[r.Block], r.ExecOrder)
	}
	for b, slots := range blocks {
		slices.Sort(slots)
		if len(slots) != 6 || slots[0] != 0 || slots[5] != 5 {
			t.Errorf("block %d: exec_order %v, want 0..5 (five configurations and the A/A cell)", b, slots)
		}
	}
	if rows[0].BandwidthGBs <= 0 || rows[0].BandwidthSource != "cpu" {
		t.Errorf("bandwidth %v from %q: want the CPU's, measured", rows[0].BandwidthGBs, rows[0].BandwidthSource)
	}
	if len(rows) != 54 {
		t.Fatalf("%d runs rows", len(rows))
	}
	for _, row := range rows {
		switch row.Config {
		case "draft-simple", "draft-simple+dd-policy":
			if row.Applied || row.Drafted != 0 || !strings.Contains(row.Refusal, "rule") || row.EmptyVocabRefused == nil || *row.EmptyVocabRefused == 0 {
				t.Errorf("%s: refused draft recorded as applied %v, drafted %d, refusal %q", row.CellID, row.Applied, row.Drafted, row.Refusal)
			}
		case "ngram-simple":
			if row.Generated < 20 && (row.EmptyNoHistory == nil || *row.EmptyNoHistory == 0) {
				t.Errorf("%s: short output without no-history", row.CellID)
			}
		case "baseline":
			if !row.Baseline || row.EmptyDisabled == nil || *row.EmptyDisabled != row.StepCount() {
				t.Errorf("%s: baseline row %+v", row.CellID, row)
			}
		}
		if row.LibVersion == "" || row.TargetSHA256 == "" || row.StartedAt == 0 {
			t.Errorf("%s: environment missing", row.CellID)
		}
	}
	// steps and tokens agree with the runs rows
	steps, err := runlog.ReadSteps([]string{dir}, runlog.Execs(rows))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, row := range rows {
		n += int(row.StepCount())
	}
	if len(steps) != n {
		t.Errorf("%d step rows for %d steps", len(steps), n)
	}
	// a second run into the same folder without --resume is refused
	if _, err := (&experiments.Runner{Exp: r.Exp, Dir: dir, Lib: lib}).Run(context.Background()); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Errorf("rerun without --resume: %v", err)
	}
	// another experiment into the same folder is refused
	other := quick(t, "")
	other.Repeats = 2
	if _, err := (&experiments.Runner{Exp: other, Dir: dir, Lib: lib, Resume: true}).Run(context.Background()); err == nil {
		t.Error("another experiment accepted into the folder")
	}
}

func TestInterruptAndResume(t *testing.T) {
	lib := testenv.Lib(t)
	dir := t.TempDir()
	exp := quick(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	r := &experiments.Runner{Exp: exp, Dir: dir, Lib: lib, RollRows: 50, Before: func(experiments.Cell) {
		if n++; n == 12 {
			cancel()
		}
	}}
	sum, err := r.Run(ctx)
	if !errors.Is(err, experiments.ErrInterrupted) {
		t.Fatalf("interrupted run: %v", err)
	}
	if sum.Done == 0 || sum.Done >= 54 {
		t.Fatalf("done %d before the interrupt", sum.Done)
	}
	r2 := &experiments.Runner{Exp: exp, Dir: dir, Lib: lib, Resume: true}
	sum2, err := r2.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum2.Skipped != sum.Done || sum2.Done+sum2.Skipped != 54 {
		t.Fatalf("resume: %+v after %+v", sum2, sum)
	}
	checkRunFolder(t, dir, 54)
}

// checkRunFolder: every cell exactly once, no temporary files left visible,
// and every part readable by an independent Parquet reader (Apache Arrow).
func checkRunFolder(t *testing.T, dir string, cells int) {
	t.Helper()
	rows, err := runlog.ReadRuns([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, r := range rows {
		ids[r.CellID] = true
	}
	if len(ids) != cells || len(rows) != cells {
		t.Fatalf("%d rows, %d distinct cells, want %d", len(rows), len(ids), cells)
	}
	total := map[string]int64{}
	for _, table := range []string{runlog.RunsDir, runlog.StepsDir, runlog.TokensDir} {
		for _, p := range runlog.Parts([]string{dir}, table) {
			total[table] += arrowRows(t, p, table)
		}
	}
	if total[runlog.RunsDir] < int64(cells) || total[runlog.StepsDir] == 0 || total[runlog.TokensDir] == 0 {
		t.Errorf("arrow read %v rows", total)
	}
}

// arrowRows reads a part with Apache Arrow's Parquet reader and checks the
// columns and types of its table.
func arrowRows(t *testing.T, path, table string) int64 {
	t.Helper()
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatalf("arrow: open %s: %v", path, err)
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatalf("arrow: read %s: %v", path, err)
	}
	defer tbl.Release()
	want := map[string]map[string]string{
		runlog.RunsDir:   {"cell_id": "utf8", "gen_tps": "float64", "drafted": "int32", "applied": "bool", "started_at": "timestamp"},
		runlog.StepsDir:  {"step": "int32", "reason": "utf8", "verify_ns": "int64"},
		runlog.TokensDir: {"accepted": "bool", "p_target": "float32", "token": "int32"},
	}[table]
	sc := tbl.Schema()
	for col, typ := range want {
		idx := sc.FieldIndices(col)
		if len(idx) != 1 {
			t.Fatalf("%s: no column %s", path, col)
		}
		if got := sc.Field(idx[0]).Type.String(); !strings.HasPrefix(got, typ) {
			t.Errorf("%s: column %s has type %s, want %s", path, col, got, typ)
		}
	}
	return tbl.NumRows()
}

// TestKillAndResume kills a real speclab process with SIGKILL in the middle
// of a run, then resumes: nothing closed is lost or corrupted.
func TestKillAndResume(t *testing.T) {
	lib := testenv.Lib(t)
	set := testenv.Models(t, gguf.TypeQ8_0)
	bin := filepath.Join(t.TempDir(), "speclab")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(testenv.RepoRoot(), "cmd", "speclab")).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := filepath.Join(t.TempDir(), "run")
	args := []string{"--llama-lib", lib.Location.Lib, "reproduce", "--target", set.Target, "--draft", set.Draft,
		"--out", dir, "--roll-rows", "100", "--repeats", "2", "--no-counterfactuals"}
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill once a few parts are closed.
	deadline := time.Now().Add(60 * time.Second)
	for {
		parts := runlog.Parts([]string{dir}, runlog.RunsDir)
		if len(parts) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no parts after 60 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if err == nil {
		t.Skip("the run finished before the kill landed")
	}
	before, err := runlog.ReadRuns([]string{dir})
	if err != nil {
		t.Fatalf("after kill -9 the closed parts must read: %v", err)
	}
	out, err := exec.Command(bin, append(args, "--resume")...).CombinedOutput()
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "already done") {
		t.Errorf("resume output:\n%s", out)
	}
	checkRunFolder(t, dir, 9*6*2) // five configurations and the A/A cell
	t.Logf("%d cells survived the kill", len(before))
	tmp, _ := filepath.Glob(filepath.Join(dir, "*", ".*.tmp"))
	t.Logf("%d temporary parts left by the killed process (ignored by readers)", len(tmp))
}

// TestModelLists: an experiment with lists of targets and drafts runs every
// target with every draft, loading each pair once, names its cells by the
// pair and logs each cell's own models.
func TestModelLists(t *testing.T) {
	lib := testenv.Lib(t)
	set := testenv.Models(t, gguf.TypeQ8_0)
	e := &experiments.Experiment{Name: "models", Targets: []string{set.Target, set.Draft}, Drafts: []string{set.Draft},
		Battery: "seed", Tasks: []string{"haiku"}, NPredictScale: new(0.05), Seed: 1,
		Configs: []experiments.Configuration{{Name: "baseline"}, {Name: "draft", SpecType: "draft-simple"}}}
	if err := e.Normalise(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var loads []string
	r := &experiments.Runner{Exp: e, Dir: dir, Lib: lib, Before: func(c experiments.Cell) { loads = append(loads, c.Models.Target) }}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows, err := runlog.ReadRuns([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, row := range rows {
		got[row.CellID] = row.TargetPath + " " + row.DraftPath
	}
	want := map[string]string{
		"target+draft/haiku/baseline/r1":    set.Target + " ",
		"target+draft/haiku/draft/r1":       set.Target + " " + set.Draft,
		"draft+draft/haiku/baseline/r1":     set.Draft + " ",
		"draft+draft/haiku/draft/r1":        set.Draft + " " + set.Draft,
		"target+draft/haiku/baseline~aa/r1": set.Target + " ",
		"draft+draft/haiku/baseline~aa/r1":  set.Draft + " ",
	}
	if len(got) != len(want) {
		t.Fatalf("cells %v, want %v", got, want)
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: models %q, want %q", id, got[id], w)
		}
	}
	if len(loads) != 6 || loads[0] != loads[2] || loads[3] != loads[5] || loads[2] == loads[3] {
		t.Errorf("cells ran in the order %v: want each pair's cells together", loads)
	}
}

// blockOrders returns the configuration names of each block, in order.
func blockOrders(t *testing.T, yaml string) [][]string {
	t.Helper()
	e, err := experiments.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	cells, err := e.Cells(experiments.SeedBattery)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, c := range cells {
		for len(out) <= c.Block {
			out = append(out, nil)
		}
		if c.Slot != len(out[c.Block]) {
			t.Fatalf("%s: slot %d, want %d", c.ID(), c.Slot, len(out[c.Block]))
		}
		out[c.Block] = append(out[c.Block], c.Config.Name)
	}
	return out
}

func TestCellOrder(t *testing.T) {
	const base = "target: t.gguf\ndraft: d.gguf\nrepeats: 4\n"
	listed := []string{"baseline", "ngram-simple", "ngram-map-k4v", "draft-simple", "draft-simple+dd-policy", "baseline~aa"}
	fixed := blockOrders(t, base+"order: fixed\n")
	for b, names := range fixed {
		if !slices.Equal(names, listed) {
			t.Fatalf("fixed, block %d: %v", b, names)
		}
	}
	abba := blockOrders(t, base+"order: abba\n")
	for b, names := range abba {
		want := slices.Clone(listed)
		if b%4%2 == 1 { // the second and fourth repeats of a task
			slices.Reverse(want)
		}
		if !slices.Equal(names, want) {
			t.Fatalf("abba, block %d: %v, want %v", b, names, want)
		}
	}
	random := blockOrders(t, base) // the default
	first := map[string]int{}
	for b, names := range random {
		sorted := slices.Sorted(slices.Values(names))
		if !slices.Equal(sorted, slices.Sorted(slices.Values(listed))) {
			t.Fatalf("random, block %d: %v is not a permutation", b, names)
		}
		first[names[0]]++
	}
	if first["baseline"] == len(random) || len(first) < 3 {
		t.Fatalf("random: the configurations that ran first in the %d blocks: %v", len(random), first)
	}
	if again := blockOrders(t, base); !slices.EqualFunc(again, random, slices.Equal) {
		t.Fatal("random: the same seed gave another order")
	}
	if other := blockOrders(t, base+"order_seed: 7\n"); slices.EqualFunc(other, random, slices.Equal) {
		t.Fatal("random: order_seed 7 gave the order of seed 0")
	}
	if noAA := blockOrders(t, base+"noise_floor: false\n"); len(noAA[0]) != 5 {
		t.Fatalf("noise_floor false: %v", noAA[0])
	}
	if _, err := experiments.Parse([]byte(base + "order: sorted\n")); err == nil || !strings.Contains(err.Error(), "order") {
		t.Fatalf("order sorted: %v", err)
	}
}

// The plain progress prints a line per finished cell with the ETA, and a
// line within a long cell every Every.
func TestLinePrinter(t *testing.T) {
	var b strings.Builder
	p := &experiments.LinePrinter{W: &b, Every: time.Nanosecond}
	c := experiments.Cell{Task: experiments.Task{Name: "t", NPredict: 10}, Config: experiments.Configuration{Name: "c"}, Repeat: 1}
	p.Start(3, 1) // one cell done before (resumed)
	p.CellStart(c)
	time.Sleep(time.Millisecond)
	p.Tokens(4, 10)
	acc := 0.5
	p.CellEnd(c, runlog.RunRow{Generated: 10, GenTPS: 100, AcceptRate: &acc})
	p.Finish()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "[2/3] t/c/r1: 4 of 10 tokens") ||
		!strings.HasPrefix(lines[1], "[2/3] t/c/r1") || !strings.Contains(lines[1], "accepted 50%, ETA ") {
		t.Errorf("progress lines:\n%s", b.String())
	}
}

// The cross-vocabulary methods are checked when an experiment is read.
func TestCrossVocabConfigs(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"configs: [{name: s, spec_type: draft-slem}]\n", "needs a draft model"},
		{"draft: d.gguf\nsampling: {temp: 0.8}\nconfigs: [{name: s, spec_type: draft-slem, verify: rejection}]\n", "draft-slem proposes text"},
		{"draft: d.gguf\nconfigs: [{name: s, spec_type: 'draft-simple,draft-tli'}]\n", "one draft-model method at a time"},
	} {
		_, err := experiments.Parse([]byte("target: t.gguf\n" + tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.yaml, err, tc.want)
		}
	}
	if _, err := experiments.Parse([]byte("target: t.gguf\ndraft: d.gguf\nsampling: {temp: 0.8}\nconfigs: [{name: t, spec_type: draft-tli, verify: rejection}]\n")); err != nil {
		t.Errorf("draft-tli with rejection sampling: %v", err)
	}
}
