// Package experiments will own the runner: task batteries (the seed study's
// nine tasks first), configuration matrices, crash-safe Parquet logs,
// resumable and shardable runs, and `speclab reproduce`.
//
// It must not compute metrics beyond what it logs (package analysis reads the
// logs) nor implement proposers or verification.
//
// Not written yet: see the issue "Experiments: the runner, Parquet logs, and
// speclab reproduce".
package experiments
