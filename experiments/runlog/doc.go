// Package runlog owns the on-disk format of speclab's logs: the three
// Parquet tables of a run folder (runs, steps, tokens), the crash-safe
// writer that produces them, and the readers: whole rows (ReadRuns,
// ReadSteps, ReadTokens) and single columns scanned page by page into typed
// slices, with names checked against the schema (OpenPart, Col; scan.go),
// which the analysis of tens of millions of rows uses.
//
// A run folder holds runs/, steps/ and tokens/, each a set of part files
// (part-<shard>-<start>-<seq>.parquet). A part is written under a hidden
// temporary name, synced and renamed when it is closed, so a reader never
// sees a half-written file and `kill -9` loses at most the open parts. The
// writer closes the parts of the three tables together, at cell boundaries,
// so that a cell's steps and tokens are never on disk without its runs row
// (orphans of a killed execution are recognised by their exec_id and
// skipped by readers).
//
// It knows nothing of models or of how the rows are produced (package
// experiments) or analysed (package analysis).
package runlog
