// Package analysis will own the metrics computed from the Parquet logs
// (acceptance rate, mean acceptance length, per-position acceptance, speedup
// against the baseline and against theory) and the plots made with gonum/plot.
//
// It reads logs only; it must not run models.
//
// Not written yet: see the issue "Analysis: metrics and plots from the logs".
package analysis
