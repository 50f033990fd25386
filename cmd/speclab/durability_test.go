package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/speclab/speclab/experiments/runlog"
	"github.com/speclab/speclab/internal/testenv"
)

// The durability tests run `speclab reproduce` on the shipped models with
// a small token cap (54 cells: 9 tasks × 5 configurations and the A/A cell, about 5 s) and interrupt it for real.

func reproduceArgs(t *testing.T, out string) []string {
	lib := testenv.Lib(t)
	models := filepath.Join(testenv.RepoRoot(), "models")
	return []string{"--llama-lib", lib.Location.Lib, "reproduce", "--target", filepath.Join(models, "target.gguf"),
		"--draft", filepath.Join(models, "draft.gguf"), "--n-predict-scale", "0.05", "--out", out, "--no-counterfactuals"}
}

// cellResult is what must not depend on interruptions.
type cellResult struct {
	Generated, Steps, Drafted, Accepted int32
	Text                                string
}

func cellsOf(t *testing.T, dir string) map[string]cellResult {
	t.Helper()
	if !runlog.Exists(dir) {
		return map[string]cellResult{}
	}
	if err := runlog.Verify([]string{dir}); err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	rows, err := runlog.ReadRuns([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]cellResult{}
	for _, r := range rows {
		m[r.CellID] = cellResult{r.Generated, r.StepCount(), r.Drafted, r.Accepted, r.Text}
	}
	return m
}

// TestKillAndResume kills (SIGKILL) and stops (SIGTERM) a child `speclab
// reproduce` at several moments. Every cell finished before the signal is
// on disk afterwards, complete; the cell in flight is not; and --resume
// then gives the cells of an uninterrupted run.
func TestKillAndResume(t *testing.T) {
	ref := filepath.Join(t.TempDir(), "ref")
	if code, out, errs := speclab(t, reproduceArgs(t, ref)...); code != 0 {
		t.Fatalf("uninterrupted run: exit %d\n%s\n%s", code, out, errs)
	}
	want := cellsOf(t, ref)
	if len(want) != 54 {
		t.Fatalf("uninterrupted run: %d cells, want 54", len(want))
	}
	tests := []struct {
		sig   syscall.Signal
		after int // finished cells on disk before the signal
	}{
		{syscall.SIGKILL, 1}, {syscall.SIGKILL, 20}, {syscall.SIGKILL, 37},
		{syscall.SIGTERM, 3}, {syscall.SIGTERM, 30},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v after %d", tt.sig, tt.after), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			cmd := exec.Command(os.Args[0], reproduceArgs(t, dir)...)
			cmd.Env = append(os.Environ(), envMain+"=1")
			var log bytes.Buffer
			cmd.Stdout, cmd.Stderr = &log, &log
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			var before map[string]cellResult
			deadline := time.Now().Add(2 * time.Minute)
		wait:
			for {
				select {
				case err := <-exited:
					t.Fatalf("the run ended (%v) before %d cells were on disk:\n%s", err, tt.after, log.String())
				case <-time.After(5 * time.Millisecond):
				}
				if parts := runlog.Parts([]string{dir}, runlog.RunsDir); len(parts) >= tt.after {
					before = cellsOf(t, dir)
					break wait
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("no %d cells in 2 minutes:\n%s", tt.after, log.String())
				}
			}
			cmd.Process.Signal(tt.sig)
			err := <-exited
			if err == nil {
				t.Fatalf("the run exited 0 after %v:\n%s", tt.sig, log.String())
			}
			if tt.sig == syscall.SIGTERM && !strings.Contains(log.String(), "interrupted") {
				t.Errorf("SIGTERM: no word of the interruption:\n%s", log.String())
			}
			after := cellsOf(t, dir)
			for id, c := range before {
				if got, ok := after[id]; !ok || got != c {
					t.Errorf("cell %s, finished before the signal, is not on disk as it was", id)
				}
			}
			if len(after) >= len(want) {
				t.Fatalf("all %d cells finished before the signal took effect: the test interrupted nothing", len(after))
			}
			for id, c := range after {
				if c != want[id] {
					t.Errorf("cell %s differs from the uninterrupted run's: %+v, want %+v", id, c, want[id])
				}
			}
			tmp, _ := filepath.Glob(filepath.Join(dir, "*", ".part-*"))
			code, out, errs := speclab(t, append(reproduceArgs(t, dir), "--resume")...)
			if code != 0 {
				t.Fatalf("--resume: exit %d\n%s\n%s", code, out, errs)
			}
			for _, f := range tmp {
				if _, err := os.Stat(f); err == nil {
					t.Errorf("the killed run's temporary part %s survived the resume", f)
				}
			}
			got := cellsOf(t, dir)
			if len(got) != len(want) {
				t.Fatalf("after --resume %d cells, want %d", len(got), len(want))
			}
			for id, c := range want {
				if got[id] != c {
					t.Errorf("after --resume cell %s: %+v, want %+v", id, got[id], c)
				}
			}
		})
	}
}

// TestTwoWriters: a second reproduce of the same shard into a folder being
// written is refused at once, naming the first; the first is unharmed.
func TestTwoWriters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command(os.Args[0], reproduceArgs(t, dir)...)
	cmd.Env = append(os.Environ(), envMain+"=1")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	for len(runlog.Parts([]string{dir}, runlog.RunsDir)) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	code, out, errs := speclab(t, append(reproduceArgs(t, dir), "--resume")...)
	if code == 0 || !strings.Contains(out+errs, fmt.Sprintf("pid %d", cmd.Process.Pid)) {
		t.Fatalf("second writer: exit %d, want a refusal naming pid %d\n%s%s", code, cmd.Process.Pid, out, errs)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the first writer failed: %v\n%s", err, log.String())
	}
	if n := len(cellsOf(t, dir)); n != 54 {
		t.Errorf("%d cells, want 54 (each once)", n)
	}
}

// TestDisagreeingFolderRefused: a folder whose runs rows claim cells
// whose steps are gone (what a full disk did before cells were committed
// last) is refused by report and by --resume, with the repair.
func TestDisagreeingFolderRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if code, out, errs := speclab(t, reproduceArgs(t, dir)...); code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, errs)
	}
	steps := runlog.Parts([]string{dir}, runlog.StepsDir)
	for _, p := range steps[:3] {
		os.Remove(p)
	}
	for _, args := range [][]string{{"report", dir}, append(reproduceArgs(t, dir), "--resume")} {
		code, out, errs := speclab(t, args...)
		if code == 0 || !strings.Contains(errs, "tables disagree") || !strings.Contains(errs, "--resume") {
			t.Errorf("%v: exit %d, want a refusal that says how to repair\n%s%s", args[:3], code, out, errs)
		}
		if strings.Contains(out, "NOT APPLIED") {
			t.Errorf("%v printed a report of false zeros:\n%s", args[:3], out)
		}
	}
}

// TestFullDisk runs reproduce into a 192 KiB tmpfs: it must stop with a
// non-zero exit naming the folder, print no report, and leave a folder
// whose tables agree (only complete cells). It needs to mount a tmpfs
// (root); elsewhere it is skipped, saying why.
func TestFullDisk(t *testing.T) {
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=192k", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (needs root): %v %s", err, out)
	}
	defer exec.Command("umount", "-l", mnt).Run()
	dir := filepath.Join(mnt, "run")
	code, out, errs := speclab(t, reproduceArgs(t, dir)...)
	if code == 0 {
		t.Fatalf("a full disk: exit 0\n%s%s", out, errs)
	}
	if !strings.Contains(errs, dir) || !strings.Contains(errs, "no space left") {
		t.Errorf("the error does not name the folder and the cause:\n%s", errs)
	}
	if strings.Contains(out, "== ") || strings.Contains(out, "report") {
		t.Errorf("a report was printed after an I/O failure:\n%s", out)
	}
	cells := cellsOf(t, dir) // Verify: no runs row without its data
	if len(cells) >= 54 {
		t.Fatalf("all cells fit: the disk was not full")
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range cells {
			if !yield(k) {
				return
			}
		}
	})
	t.Logf("%d complete cells before the disk filled: %v", len(cells), names)
}
