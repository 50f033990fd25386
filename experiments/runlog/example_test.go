package runlog_test

import (
	"fmt"
	"log"
	"os"

	"github.com/speclab/speclab/experiments/runlog"
)

// Reading a run folder: the runs table row by row, then the steps of the
// executions it lists (rows of executions without a runs row, left by a
// killed process, are skipped).
func ExampleReadRuns() {
	dir, err := os.MkdirTemp("", "runlog-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// What `speclab experiment run` writes, one cell.
	w, err := runlog.Create(dir, "1of1", "example")
	if err != nil {
		log.Fatal(err)
	}
	w.Step(runlog.StepRow{ExecID: "x1", Step: 0, Drafted: 3, Accepted: 2, Emitted: 3})
	w.Step(runlog.StepRow{ExecID: "x1", Step: 1, Reason: "no-match", Emitted: 1})
	w.EndCell(runlog.RunRow{RunID: "r", CellID: "haiku/ngram-simple/r1", ExecID: "x1", Steps: new(int32(2)), Drafted: 3, Accepted: 2})
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	runs, err := runlog.ReadRuns([]string{dir})
	if err != nil {
		log.Fatal(err)
	}
	steps, err := runlog.ReadSteps([]string{dir}, runlog.Execs(runs))
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range runs {
		fmt.Printf("%s: %d of %d drafted tokens accepted\n", r.CellID, r.Accepted, r.Drafted)
	}
	for _, s := range steps {
		fmt.Printf("step %d: drafted %d, accepted %d, empty because %q\n", s.Step, s.Drafted, s.Accepted, s.Reason)
	}
	// Output:
	// haiku/ngram-simple/r1: 2 of 3 drafted tokens accepted
	// step 0: drafted 3, accepted 2, empty because ""
	// step 1: drafted 0, accepted 0, empty because "no-match"
}
