package analysis

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// Every figure renders a non-empty PNG of its requested size, and an SVG.
func TestFiguresRender(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	synthStudy(t, dir, 2, 0.3)
	d := load(t, dir)
	figs := Figures(d)
	if len(figs) != 7 {
		t.Fatalf("%d figures, want 7", len(figs))
	}
	out := os.Getenv("SPECLAB_PLOT_DIR") // to look at them
	for _, f := range figs {
		t.Run(f.Name, func(t *testing.T) {
			var b bytes.Buffer
			if err := f.WritePNG(&b, DPI); err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			wantW, wantH := int(f.Width/vg.Inch*DPI+0.5), int(f.Height/vg.Inch*DPI+0.5)
			if r := img.Bounds(); r.Dx() != wantW || r.Dy() != wantH {
				t.Errorf("PNG %dx%d, want %dx%d", r.Dx(), r.Dy(), wantW, wantH)
			}
			// not blank: enough pixels that are neither white nor near it
			inked := 0
			r := img.Bounds()
			for y := r.Min.Y; y < r.Max.Y; y += 2 {
				for x := r.Min.X; x < r.Max.X; x += 2 {
					cr, cg, cb, _ := img.At(x, y).RGBA()
					if cr < 0xd000 || cg < 0xd000 || cb < 0xd000 {
						inked++
					}
				}
			}
			if inked < 2000 {
				t.Errorf("PNG nearly blank: %d inked pixels sampled", inked)
			}
			var s bytes.Buffer
			if err := f.WriteSVG(&s); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(s.String(), "<svg") || s.Len() < 5000 {
				t.Errorf("SVG of %d bytes does not look like a figure", s.Len())
			}
			var pdf bytes.Buffer
			if err := f.WritePDF(&pdf); err != nil || !bytes.HasPrefix(pdf.Bytes(), []byte("%PDF-")) {
				t.Errorf("PDF: %v, %d bytes", err, pdf.Len())
			}
			if out != "" {
				for _, ext := range []string{".png", ".svg", ".pdf"} {
					if err := f.Save(filepath.Join(out, f.Name+ext)); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}

func TestWritePlots(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	writeRun(t, dir, "0", studyCells()...)
	out := t.TempDir()
	files, err := WritePlots(load(t, dir), out, []string{"svg"})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 7 {
		t.Errorf("%d files, want 7 SVGs", len(files))
	}
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 || filepath.Ext(f) != ".svg" {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := WritePlots(load(t, dir), out, []string{"tiff"}); err == nil || !strings.Contains(err.Error(), "tiff") {
		t.Errorf("format tiff: %v, want an error", err)
	}
}

// The speedup figures label every point with its task, draw the 1× line,
// and keep every point and interval inside a log axis that never reaches 0.
func TestSpeedupFigures(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	synthStudy(t, dir, 2, 0.3)
	d := load(t, dir)
	byCT := Summarize(d, []Dim{ByConfig, ByTask})
	lo, hi := 1.0, 1.0
	tasks := map[string]bool{}
	for _, s := range byCT {
		if !s.Baseline && !s.AA && s.AcceptanceRate.OK() && s.Speedup.Mean > 0 {
			tasks[s.Task] = true
			lo, hi = min(lo, float64(s.Speedup.Mean)), max(hi, float64(s.Speedup.Mean))
			if s.Speedup.Lo.OK() {
				lo, hi = min(lo, float64(s.Speedup.Lo)), max(hi, float64(s.Speedup.Hi))
			}
		}
	}
	if len(tasks) == 0 {
		t.Fatal("the study has no drafting task")
	}
	for _, f := range Figures(d) {
		if f.Name != "speedup-vs-acceptance" && f.Name != "speedup-by-task" {
			continue
		}
		p := f.panels[0]
		if _, ok := p.Y.Scale.(plot.LogScale); !ok {
			t.Errorf("%s: y axis is not logarithmic", f.Name)
		}
		if !(p.Y.Min > 0 && p.Y.Min <= lo && p.Y.Max >= hi) {
			t.Errorf("%s: y axis [%v, %v] does not hold the speedups [%v, %v] or reaches 0", f.Name, p.Y.Min, p.Y.Max, lo, hi)
		}
		var svg bytes.Buffer
		if err := f.WriteSVG(&svg); err != nil {
			t.Fatal(err)
		}
		for task := range tasks {
			if !strings.Contains(svg.String(), ">"+task+"<") {
				t.Errorf("%s: no label %q", f.Name, task)
			}
		}
		if f.Name == "speedup-vs-acceptance" && (p.X.Min != 0 || p.X.Max < 100 || !strings.Contains(svg.String(), "1× (the baseline)")) {
			t.Errorf("%s: x axis [%v, %v] or no 1× line in the legend", f.Name, p.X.Min, p.X.Max)
		}
	}
}

// The roofline figure: log–log axes that hold the points and both roofs.
func TestRooflineFigure(t *testing.T) {
	f := RooflineFigure([]int{1, 2, 4, 8, 16}, []float64{900, 1000, 1100, 1200, 1250}, 2500, "target.gguf")
	p := f.panels[0]
	_, xlog := p.X.Scale.(plot.LogScale)
	_, ylog := p.Y.Scale.(plot.LogScale)
	if !xlog || !ylog || p.X.Min > 1 || p.X.Max < 16 || p.Y.Min > 900 || p.Y.Max < 2500*16 {
		t.Errorf("axes x [%v, %v] y [%v, %v], log %v %v", p.X.Min, p.X.Max, p.Y.Min, p.Y.Max, xlog, ylog)
	}
	var svg bytes.Buffer
	if err := f.WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"bandwidth roof (2500 tok/s at b = 1)", "compute roof (fastest measured, 1250 tok/s)", "measured"} {
		if !strings.Contains(svg.String(), want) {
			t.Errorf("no legend entry %q", want)
		}
	}
}
