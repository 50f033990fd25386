// Package experiments owns the runner: an experiment is models × a task
// battery × configurations × repeats (YAML or flags), executed cell by cell
// into a run folder of Parquet logs (package runlog) — resumable, shardable
// and crash-safe — and the reproduction of the seed study.
//
// It drives the speculative loop (package spec) with proposers built by
// package drafts; it computes no metrics beyond what each cell logs
// (package analysis reads the logs).
package experiments
