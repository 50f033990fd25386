package runlog

// The three tables of a run folder. docs/LOGS.md documents every column;
// keep the two in step. Nullable values are pointers (parquet-go stores the
// zero value of an optional non-pointer field as NULL).
//
// A cell is one (task, configuration, repeat) of an experiment. Each time a
// cell is executed it gets a fresh ExecID; steps and tokens rows carry it,
// and a reader keeps only the rows whose ExecID has a runs row (rows of an
// execution that was killed before its runs row was written are orphans).

import "github.com/speclab/speclab/terms"

// RunRow is one executed cell: its configuration, environment and results.
type RunRow struct {
	RunID    string `parquet:"run_id"`
	CellID   string `parquet:"cell_id"`
	ExecID   string `parquet:"exec_id"`
	Shard    string `parquet:"shard"`
	Task     string `parquet:"task"`
	Battery  string `parquet:"battery"`
	Config   string `parquet:"config"`
	Repeat   int32  `parquet:"repeat"`
	Baseline bool   `parquet:"baseline"` // the configuration drafts nothing by design
	// AA marks the A/A cell: the baseline run again in its block, compared
	// with the baseline as a configuration is (the run's noise floor).
	AA       bool   `parquet:"aa"`
	Category string `parquet:"category"` // the task's category (Spec-Bench's names; "" when the battery gives none)
	// the design: Block numbers the (model pair, task, repeat) the cell
	// belongs to; ExecOrder is its place in its block's order (0 first),
	// Order the experiment's order ("random", "abba", "fixed"; "" in folders
	// written before these columns) and OrderSeed the random order's seed
	Block     int32  `parquet:"block"`
	ExecOrder int32  `parquet:"exec_order"`
	Order     string `parquet:"order"`
	OrderSeed int64  `parquet:"order_seed"`

	SpecTypes string  `parquet:"spec_types"`
	Policy    string  `parquet:"policy"`
	Verify    string  `parquet:"verify"`
	Rollback  string  `parquet:"rollback"`
	Temp      float32 `parquet:"temp"`
	Seed      int64   `parquet:"seed"`
	NPredict  int32   `parquet:"n_predict"`
	ConfigRaw string  `parquet:"config_json"` // the full configuration, JSON

	PromptTokens  int32    `parquet:"prompt_tokens"`
	Generated     int32    `parquet:"tokens_generated"`
	Stop          string   `parquet:"stop"`
	GenTPS        float64  `parquet:"gen_tps"`
	PromptTPS     float64  `parquet:"prompt_tps"`
	WallS         float64  `parquet:"wall_s"`
	Steps         *int32   `parquet:"steps,optional"` // NULL where a llama-server does not say
	DraftSteps    *int32   `parquet:"draft_steps,optional"`
	Drafted       int32    `parquet:"drafted"`
	Accepted      int32    `parquet:"accepted"`
	AcceptRate    *float64 `parquet:"acceptance_rate,optional"` // NULL when nothing was drafted
	MeanAcceptLen *float64 `parquet:"mean_acceptance_length,optional"`
	Speedup       *float64 `parquet:"speedup,optional"` // always NULL: speedups are the analysis's (analysis.Data.CellSpeedups)
	Applied       bool     `parquet:"applied"`
	Refusal       string   `parquet:"refusal"` // why a configured method could not run (e.g. the vocabulary rule)
	Checkpoints   int32    `parquet:"checkpoints"`
	ProposeS      float64  `parquet:"propose_s"`
	VerifyS       float64  `parquet:"verify_s"`
	RollbackS     float64  `parquet:"rollback_s"`
	OverheadS     float64  `parquet:"overhead_s"`
	Text          string   `parquet:"text"`

	// empty drafts by reason (NULL for a llama-server's rows: it does not
	// say why a draft was empty)
	EmptyNoHistory      *int32 `parquet:"empty_no_history,optional"`
	EmptyNoMatch        *int32 `parquet:"empty_no_match,optional"`
	EmptyBelowPMin      *int32 `parquet:"empty_below_p_min,optional"`
	EmptyBelowNMin      *int32 `parquet:"empty_below_n_min,optional"`
	EmptyNoRoom         *int32 `parquet:"empty_no_room,optional"`
	EmptyVocabRefused   *int32 `parquet:"empty_vocab_refused,optional"`
	EmptyCannotRollback *int32 `parquet:"empty_target_cannot_rollback,optional"`
	EmptyDisabled       *int32 `parquet:"empty_disabled,optional"`

	// where the row came from: "speclab" (in-process, with steps and
	// tokens rows; "" in folders written before this column) or
	// "llama-server" (a request to a running server: only what it reports)
	Source      string `parquet:"source"`
	ServerURL   string `parquet:"server_url"`
	ServerBuild string `parquet:"server_build"`

	// environment
	LibPath      string `parquet:"lib_path"`
	LibVersion   string `parquet:"lib_version"`
	GGMLVersion  string `parquet:"ggml_version"`
	Backend      string `parquet:"backend"`
	Device       string `parquet:"device"`
	Threads      int32  `parquet:"threads"`
	TargetPath   string `parquet:"target_path"`
	TargetSHA256 string `parquet:"target_sha256"`
	TargetArch   string `parquet:"target_arch"`
	TargetParams int64  `parquet:"target_params"`
	TargetBytes  int64  `parquet:"target_bytes"`
	// TargetBytesPerToken is what generating one token reads of the
	// weights (gguf.Summary.BytesPerToken: one row of the token embedding;
	// 0 in older folders)
	TargetBytesPerToken int64  `parquet:"target_bytes_per_token"`
	TargetRollback      string `parquet:"target_rollback"` // spec.EngineTarget.Rollback: "kv", "partial-checkpoint" or "checkpoint"
	DraftPath           string `parquet:"draft_path"`
	DraftSHA256         string `parquet:"draft_sha256"`
	DraftParams         int64  `parquet:"draft_params"`
	Speclab             string `parquet:"speclab_version"`
	Host                string `parquet:"host"`
	// the memory bandwidth measured when the run started (GB/s, reads and
	// writes counted; 0 in older folders) and where: "cpu", "cuda" or "hip"
	// (package rocm); with TargetBytes it gives the decode ceiling
	BandwidthGBs    float64 `parquet:"bandwidth_gb_s"`
	BandwidthSource string  `parquet:"bandwidth_source"`
	StartedAt       int64   `parquet:"started_at,timestamp(microsecond)"`
	FinishedAt      int64   `parquet:"finished_at,timestamp(microsecond)"`
}

// Sources of runs rows.
const (
	SourceSpeclab = "speclab"
	SourceServer  = "llama-server"
)

// Detailed reports whether the row's cell has steps and tokens rows (an
// in-process run).
func (r *RunRow) Detailed() bool { return r.Source != SourceServer }

// StepCount is the number of verify steps, 0 when unknown.
func (r *RunRow) StepCount() int32 {
	if r.Steps == nil {
		return 0
	}
	return *r.Steps
}

// StepRow is one verify step.
type StepRow struct {
	RunID      string `parquet:"run_id"`
	CellID     string `parquet:"cell_id"`
	ExecID     string `parquet:"exec_id"`
	Step       int32  `parquet:"step"`
	Pos        int32  `parquet:"pos"`
	NMax       int32  `parquet:"n_max"`
	Drafted    int32  `parquet:"drafted"`
	Accepted   int32  `parquet:"accepted"`
	Emitted    int32  `parquet:"emitted"`
	Source     string `parquet:"source,dict"`
	Reason     string `parquet:"reason,dict"` // empty-draft reason, "" when the draft is not empty
	Checkpoint bool   `parquet:"checkpoint"`
	StateBytes int64  `parquet:"state_bytes"`
	ProposeNs  int64  `parquet:"propose_ns"`
	VerifyNs   int64  `parquet:"verify_ns"`
	RollbackNs int64  `parquet:"rollback_ns"`
	OverheadNs int64  `parquet:"overhead_ns"`
	// TranslateNs is the part of ProposeNs spent translating between
	// vocabularies (draft-slem, draft-tli; 0 otherwise and in older folders)
	TranslateNs int64 `parquet:"translate_ns"`
}

// TokenRow is one drafted token.
type TokenRow struct {
	RunID        string   `parquet:"run_id,dict"`
	CellID       string   `parquet:"cell_id,dict"`
	ExecID       string   `parquet:"exec_id,dict"`
	Step         int32    `parquet:"step"`
	Index        int32    `parquet:"index"` // position in the draft
	Token        int32    `parquet:"token"`
	Accepted     bool     `parquet:"accepted"`
	Verified     bool     `parquet:"verified"` // false after the draft's first rejection
	PTarget      *float32 `parquet:"p_target,optional"`
	QDraft       *float32 `parquet:"q_draft,optional"`
	TargetArgmax int32    `parquet:"target_argmax"`
	DraftEntropy *float32 `parquet:"draft_entropy,optional"`
}

// emptyColumns pairs each empty-draft reason with its counter column of
// RunRow: the one place where the two meet.
func (r *RunRow) emptyColumns() []struct {
	Reason terms.Reason
	N      **int32
} {
	return []struct {
		Reason terms.Reason
		N      **int32
	}{
		{terms.NoHistory, &r.EmptyNoHistory}, {terms.NoMatch, &r.EmptyNoMatch},
		{terms.BelowPMin, &r.EmptyBelowPMin}, {terms.BelowNMin, &r.EmptyBelowNMin},
		{terms.NoRoom, &r.EmptyNoRoom}, {terms.VocabRefused, &r.EmptyVocabRefused},
		{terms.TargetCannotRollback, &r.EmptyCannotRollback}, {terms.Disabled, &r.EmptyDisabled},
	}
}

// Empty returns the counts of empty drafts by reason, in terms.Reasons
// order, leaving out the zeros.
func (r RunRow) Empty() []ReasonCount {
	var out []ReasonCount
	for _, c := range r.emptyColumns() {
		if *c.N != nil && **c.N > 0 {
			out = append(out, ReasonCount{c.Reason, **c.N})
		}
	}
	return out
}

// SetEmpty fills the empty-draft counters from counts by reason.
func (r *RunRow) SetEmpty(counts map[terms.Reason]int) {
	for _, c := range r.emptyColumns() {
		*c.N = new(int32(counts[c.Reason]))
	}
}

// ReasonCount is the number of steps with an empty draft of one reason.
type ReasonCount struct {
	Reason terms.Reason
	N      int32
}
