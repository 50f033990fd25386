package terms

// Metric names a number speclab reports: its key in JSON, CSV and the run
// log, with its definition and the anchor whose name and definition it
// follows.
type Metric string

// The metrics of the analysis (analysis.Summary) and of `speclab run`.
const (
	AcceptanceRate       Metric = "acceptance_rate"
	MeanAcceptanceLength Metric = "mean_acceptance_length"
	TokensPerVerifyStep  Metric = "tokens_per_verify_step"
	TokensPerSecond      Metric = "tokens_per_second"
	Speedup              Metric = "speedup"
	Alpha                Metric = "alpha"
	Gamma                Metric = "gamma"
	CostRatio            Metric = "cost_ratio"
	ExpectedTokens       Metric = "expected_tokens_per_drafting_step"
	SpeedupLeviathan     Metric = "speedup_leviathan"
	SpeedupModel         Metric = "speedup_model"
	BreakEvenAlpha       Metric = "break_even_alpha"
	VerifyCost           Metric = "verify_cost"
	SpeedupSpecBench     Metric = "speedup_spec_bench"
	SpeedupMeasuredCost  Metric = "speedup_measured_verify_cost"
	Noise                Metric = "noise"
	RollbackUs           Metric = "rollback_us_per_step"
	TranslateUs          Metric = "translate_us_per_drafting_step"
)

type metricInfo struct {
	metric             Metric
	definition, anchor string
}

var metrics = []metricInfo{
	{AcceptanceRate, "accepted draft tokens / drafted tokens", "llama.cpp's server (draft acceptance rate) and vLLM's spec-decode metrics (draft acceptance rate)"},
	{MeanAcceptanceLength, "τ = 1 + accepted draft tokens / drafting steps (verify steps whose draft was not empty)", "llama-server's mean len (n_draft_verif_steps) and vLLM's mean acceptance length (1 + num_accepted_tokens / num_drafts)"},
	{TokensPerVerifyStep, "1 + accepted draft tokens / all verify steps, empty drafts included: tokens a target step emits", "speclab (τ before it followed llama.cpp and vLLM)"},
	{TokensPerSecond, "generated tokens / generation time, prompt processing excluded", "llama.cpp's timings.predicted_per_second"},
	{Speedup, "tokens/s over that of the matching baseline cell (same target, task and repeat); a group's is the geometric mean over its tasks, then over repeats, with a 95% interval on the log scale", "speclab; a ratio against vanilla decoding, as Spec-Bench's"},
	{SpeedupSpecBench, "mean tokens/s over the tasks ÷ the baselines' mean over the same tasks, per repeat, then the mean over repeats; a percentile bootstrap interval", "Spec-Bench (evaluation/speed.py)"},
	{Noise, "whether noise can explain a speedup: the run's A/A cells (the baseline timed twice per block) give a floor exp(|mean d| + t·sd(d)/√m) for a mean of m cells; noise when the speedup is within it or its interval holds 1", "speclab"},
	{Alpha, "accepted / (accepted + rejections) over the drafting steps: the per-token acceptance", "Leviathan et al. 2023 (α)"},
	{Gamma, "the mean draft length of the drafting steps", "Leviathan et al. 2023 (γ)"},
	{CostRatio, "the proposer's time per drafted token / the time of a plain target step", "Leviathan et al. 2023 (c)"},
	{ExpectedTokens, "(1 − α^(γ+1)) / (1 − α): tokens a drafting step is expected to emit", "Leviathan et al. 2023"},
	{SpeedupLeviathan, "E(α, γ) / (γc + 1)", "Leviathan et al. 2023"},
	{SpeedupModel, "Leviathan's speedup over the measured mix of draft lengths, empty drafts included", "speclab"},
	{BreakEvenAlpha, "the α at which the modelled speedup is 1", "speclab, after Leviathan et al. 2023"},
	{VerifyCost, "median verify time of a step with a draft / median verify time of a baseline step (Leviathan's model takes 1)", "speclab"},
	{SpeedupMeasuredCost, "Leviathan's model with the measured verify cost over the measured share f of drafting steps: (f·E + 1 − f) / (f(γc + v) + 1 − f)", "speclab, after Leviathan et al. 2023"},
	{RollbackUs, "time per verify step undoing rejected drafts: dropping the KV tail, or a checkpoint's save, restore and replay", "speclab"},
	{TranslateUs, "time per drafting step translating between the target's and the draft's vocabularies (draft-slem, draft-tli)", "speclab, after Timor et al. 2025"},
}

// Metrics lists every metric, in the order reports use.
func Metrics() []Metric {
	out := make([]Metric, len(metrics))
	for i, m := range metrics {
		out[i] = m.metric
	}
	return out
}

func (m Metric) info() metricInfo {
	for _, x := range metrics {
		if x.metric == m {
			return x
		}
	}
	return metricInfo{metric: m}
}

// Definition says how the metric is computed.
func (m Metric) Definition() string { return m.info().definition }

// Anchor names the system or paper whose name and definition it follows.
func (m Metric) Anchor() string { return m.info().anchor }

func (m Metric) String() string { return string(m) }
