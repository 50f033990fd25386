// Package analysis computes speclab's metrics from the Parquet logs of one
// or more run folders, explains what speculation did, and draws the plots
// and the report.
//
// Load reads the runs table whole and the steps and tokens tables by column
// scans (no row decoding), in parallel over the part files, so that tens of
// millions of token rows stay fast. Summarize groups the cells by
// configuration, task, model or run and computes, with the definitions of
// docs and of vLLM and llama.cpp: acceptance rate, mean acceptance length
// τ = 1 + accepted/drafting steps, per-position acceptance (unconditional and
// conditional), the histogram of accepted length by draft length, empty
// drafts by reason, tokens/s and the speedup over the matching baseline
// (same model, task and repeat) as geometric means across repeats with 95%
// intervals on the log scale (never below 0), and
// Leviathan et al.'s prediction from the measured acceptance, draft length
// and draft cost, with the break-even acceptance. Diagnose says per
// configuration whether speculation ran and why not, why drafts were
// empty, and where and how confidently drafts were rejected. The plots
// (gonum/plot, PNG and SVG) and WriteReport / Report turn these into
// figures and a Markdown and HTML report.
//
// It reads logs only: it must not run models, nor write into run folders
// other than the report folder it is given. The format of the logs, and
// every read of them (rows and column scans), belong to package
// experiments/runlog: analysis names columns through runlog.Col.
package analysis
