package main

import (
	"fmt"
	"io"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/speclab/speclab/experiments"
	"github.com/speclab/speclab/experiments/runlog"
)

// barProgress draws two bars on a terminal: the cells of the run with its
// ETA, and the running cell's tokens; each finished cell also leaves a
// line above them.
type barProgress struct {
	w     io.Writer
	p     *mpb.Progress
	cells *mpb.Bar
	cell  *mpb.Bar
	last  time.Time
}

func newBarProgress(w io.Writer) *barProgress { return &barProgress{w: w} }

func (b *barProgress) Start(total, done int) {
	b.p = mpb.New(mpb.WithOutput(b.w), mpb.WithAutoRefresh(), mpb.WithRefreshRate(150*time.Millisecond)) // auto refresh: the writer may wrap the terminal
	b.cells = b.p.AddBar(int64(total),
		mpb.PrependDecorators(decor.Name("cells ", decor.WCSyncSpaceR), decor.CountersNoUnit("%d/%d", decor.WCSyncSpace)),
		mpb.AppendDecorators(decor.OnComplete(decor.EwmaETA(decor.ET_STYLE_GO, 30, decor.WCSyncSpace), "done")))
	b.cells.SetCurrent(int64(done))
}

func (b *barProgress) CellStart(c experiments.Cell) {
	if b.cell != nil {
		b.cell.Abort(true)
	}
	b.cell = b.p.AddBar(int64(c.Task.NPredict), mpb.BarRemoveOnComplete(),
		mpb.PrependDecorators(decor.Name(c.ID(), decor.WCSyncSpaceR), decor.CountersNoUnit("%d/%d tok", decor.WCSyncSpace)),
		mpb.AppendDecorators(decor.AverageSpeed(0, "%.0f tok/s", decor.WCSyncSpace)))
	b.last = time.Now()
}

func (b *barProgress) Tokens(n, cap int) {
	if b.cell != nil {
		b.cell.SetTotal(int64(cap), false)
		b.cell.SetCurrent(int64(min(n, cap)))
	}
}

func (b *barProgress) CellEnd(c experiments.Cell, row runlog.RunRow) {
	if b.cell != nil {
		b.cell.Abort(true)
		b.cell = nil
	}
	acc := "—"
	if row.AcceptRate != nil {
		acc = fmt.Sprintf("%.0f%%", 100**row.AcceptRate)
	}
	b.p.Write([]byte(fmt.Sprintf("%-40s %4d tok %7.1f tok/s, accepted %s\n", c.ID(), row.Generated, row.GenTPS, acc)))
	b.cells.EwmaIncrement(time.Since(b.last))
}

func (b *barProgress) Finish() {
	if b.cell != nil {
		b.cell.Abort(true)
	}
	if !b.cells.Completed() {
		b.cells.Abort(false)
	}
	b.p.Wait()
}
