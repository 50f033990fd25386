package analysis

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
)

// Every figure renders a non-empty PNG of its requested size, and an SVG.
func TestFiguresRender(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	synthStudy(t, dir, 2, 0.3)
	d := load(t, dir)
	figs := Figures(d)
	if len(figs) != 6 {
		t.Fatalf("%d figures, want 6", len(figs))
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
			if out != "" {
				for _, ext := range []string{".png", ".svg"} {
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
	if len(files) != 6 {
		t.Errorf("%d files, want 6 SVGs", len(files))
	}
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 || filepath.Ext(f) != ".svg" {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := WritePlots(load(t, dir), out, []string{"pdf"}); err == nil || !strings.Contains(err.Error(), "pdf") {
		t.Errorf("format pdf: %v, want an error", err)
	}
}
