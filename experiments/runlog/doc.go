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
// sees a half-written file. The writer closes every part at each cell's
// end, the cell's steps and tokens first and its runs row last, so `kill
// -9` loses at most the cell in flight and no runs row claims a cell whose
// data is missing (rows of an execution without a runs row are recognised
// by their exec_id and skipped). Verify checks that claim for a folder
// written by anything else, or damaged. One writer per shard holds the
// folder's lock (flock on .lock-<shard>).
//
// It knows nothing of models or of how the rows are produced (package
// experiments) or analysed (package analysis).
package runlog
