package analysis

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/speclab/speclab/terms"
)

// DPI is the resolution of PNG figures.
const DPI = 150

// Figure is one figure, drawn on demand as PNG or SVG.
type Figure struct {
	Name    string // file name without extension
	Title   string
	Caption string // what the figure shows, for the report
	Width   vg.Length
	Height  vg.Length
	draw    func(draw.Canvas)
	panels  []*plot.Plot // the plots drawn, for tests of their axes
}

// WritePNG draws the figure as a PNG of Width×Height at dpi.
func (f *Figure) WritePNG(w io.Writer, dpi int) error {
	c := vgimg.NewWith(vgimg.UseWH(f.Width, f.Height), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
	f.draw(draw.New(c))
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(w); err != nil {
		return fmt.Errorf("figure %s: %w", f.Name, err)
	}
	return nil
}

// WriteSVG draws the figure as SVG, its text as text in Liberation Sans
// (falling back on Arial, Helvetica or any sans-serif font).
func (f *Figure) WriteSVG(w io.Writer) error {
	c := vgsvg.NewWith(vgsvg.UseWH(f.Width, f.Height))
	dc := draw.New(c)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	f.draw(dc)
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return fmt.Errorf("figure %s: %w", f.Name, err)
	}
	// text stays text; Arial and Helvetica have Liberation Sans's metrics
	svg := bytes.ReplaceAll(b.Bytes(), []byte("font-family:Liberation Sans;"),
		[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"))
	if _, err := w.Write(svg); err != nil {
		return fmt.Errorf("figure %s: %w", f.Name, err)
	}
	return nil
}

// WritePDF draws the figure as a one-page PDF of Width×Height (vector, its
// fonts embedded), for papers.
func (f *Figure) WritePDF(w io.Writer) error {
	c := vgpdf.New(f.Width, f.Height)
	dc := draw.New(c)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	f.draw(dc)
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("figure %s: %w", f.Name, err)
	}
	return nil
}

// Write draws the figure in format ("png" at DPI, "svg" or "pdf").
func (f *Figure) Write(w io.Writer, format string) error {
	switch format {
	case "png":
		return f.WritePNG(w, DPI)
	case "svg":
		return f.WriteSVG(w)
	case "pdf":
		return f.WritePDF(w)
	}
	return fmt.Errorf("figure %s: format %q: want png, svg or pdf", f.Name, format)
}

// Save writes the figure to path, as PNG (at DPI), SVG or PDF after its
// extension.
func (f *Figure) Save(path string) (err error) {
	ext := strings.ToLower(filepath.Ext(path))
	if !slices.Contains(Formats, strings.TrimPrefix(ext, ".")) {
		return fmt.Errorf("figure %s: format %q: want .png, .svg or .pdf", path, ext)
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("write %s: %w", path, cerr)
		}
	}()
	return f.Write(out, ext[1:])
}

// Formats are the figure file formats.
var Formats = []string{"png", "svg", "pdf"}

// WritePlots draws every figure of the data into dir in each format ("png",
// "svg") and returns the files written.
func WritePlots(d *Data, dir string, formats []string) ([]string, error) {
	for _, f := range formats {
		if !slices.Contains(Formats, f) {
			return nil, fmt.Errorf("plot format %q: want png or svg", f)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("plots: %w", err)
	}
	var files []string
	for _, fig := range Figures(d) {
		for _, f := range formats {
			p := filepath.Join(dir, fig.Name+"."+f)
			if err := fig.Save(p); err != nil {
				return files, err
			}
			files = append(files, p)
		}
	}
	return files, nil
}

// The Okabe-Ito palette (colour-blind safe), most distinct first; black is
// kept for the baseline.
var okabeIto = []color.Color{
	rgb(0x0072B2), // blue
	rgb(0xE69F00), // orange
	rgb(0x009E73), // bluish green
	rgb(0xD55E00), // vermillion
	rgb(0xCC79A7), // reddish purple
	rgb(0x56B4E9), // sky blue
	rgb(0x555555), // dark grey (Okabe-Ito's yellow is too pale for lines and glyphs on white)
}

var (
	black = color.Black
	grey  = rgb(0x999999)
	light = rgb(0xE5E5E5)
)

func rgb(v uint32) color.Color {
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 0xff}
}

var glyphs = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.PyramidGlyph{},
	draw.RingGlyph{}, draw.BoxGlyph{}, draw.CrossGlyph{},
}

var fontsOnce sync.Once

// sans makes gonum/plot's text sans-serif (its default is serif).
func sans() {
	fontsOnce.Do(func() {
		plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
		plotter.DefaultFont = plot.DefaultFont
	})
}

func textStyle(size vg.Length) text.Style {
	sans()
	return text.Style{Color: black, Font: font.From(plot.DefaultFont, size), Handler: plot.DefaultTextHandler}
}

// niceTicks labels about six ticks at 1, 2, 2.5 or 5 times a power of ten,
// with %g labels free of float noise, and puts unlabelled ticks between.
type niceTicks struct{}

func (niceTicks) Ticks(min, max float64) []plot.Tick {
	if !(max > min) || math.IsInf(max-min, 0) {
		return plot.DefaultTicks{}.Ticks(min, max)
	}
	raw := (max - min) / 6
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	minor := step / 2
	if step/mag == 2.5 {
		minor = step / 5
	}
	var ts []plot.Tick
	for i := math.Ceil(min / minor); i*minor <= max*(1+1e-12); i++ {
		v := i * minor
		if math.Abs(v) < minor*1e-9 {
			v = 0
		}
		t := plot.Tick{Value: v}
		if r := math.Abs(math.Remainder(v, step)); r < minor*1e-6 {
			t.Label = strconv.FormatFloat(v, 'g', 6, 64)
		}
		ts = append(ts, t)
	}
	return ts
}

// intTicks puts a labelled tick on every integer of a short range (every
// 2nd, 5th, ... on longer ones).
type intTicks struct{}

func (intTicks) Ticks(min, max float64) []plot.Tick {
	lo, hi := math.Ceil(min), math.Floor(max)
	step := 1.0
	for (hi-lo)/step > 12 {
		switch {
		case step == 1:
			step = 2
		case strings.HasPrefix(strconv.FormatFloat(step, 'g', -1, 64), "2"):
			step *= 2.5
		default:
			step *= 2
		}
	}
	var ts []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		if v == 0 {
			v = 0 // not -0
		}
		ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
	}
	return ts
}

// newPlot is a plot in the house style: sans text, %g ticks, light grid.
func newPlot(title, x, y string) *plot.Plot {
	sans()
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.Title.Padding = vg.Points(6)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = vg.Points(10)
		a.Tick.Label.Font.Size = vg.Points(9)
		a.Tick.Marker = niceTicks{}
		a.Padding = vg.Points(3)
	}
	p.X.Label.Text, p.Y.Label.Text = x, y
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = light, light
	g.Vertical.Width, g.Horizontal.Width = vg.Points(0.5), vg.Points(0.5)
	p.Add(g)
	return p
}

func newLegend() plot.Legend {
	sans()
	l := plot.NewLegend()
	l.TextStyle = textStyle(9)
	l.Top, l.Left = true, true
	l.Padding = vg.Points(2)
	l.ThumbnailWidth = vg.Points(18)
	return l
}

// frame draws a figure: a title, panels aligned in a grid, and the legend
// in a column of its own on the right, where it cannot hide data.
func frame(c draw.Canvas, title string, legend *plot.Legend, panels [][]*plot.Plot) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	pad := vg.Points(8)
	area := c
	area.Min.X += pad / 2
	area.Max.Y -= pad / 2
	if title != "" {
		sty := textStyle(12)
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
		c.FillText(sty, vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: area.Max.Y}, title)
		area.Max.Y -= sty.Rectangle(title).Size().Y + pad
	}
	if legend != nil {
		r := legend.Rectangle(area)
		w := r.Max.X - r.Min.X
		lc := area
		lc.Min.X = area.Max.X - w - pad
		lc.Max.Y -= pad
		legend.Draw(lc)
		area.Max.X = lc.Min.X - pad
	} else {
		area.Max.X -= pad
	}
	rows, cols := len(panels), 0
	for _, r := range panels {
		cols = max(cols, len(r))
	}
	if rows == 0 || cols == 0 {
		return
	}
	grid := make([][]*plot.Plot, rows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, cols)
		copy(grid[i], panels[i])
	}
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(14), PadY: vg.Points(10), PadBottom: vg.Points(2)}
	cs := plot.Align(grid, tiles, area)
	for i := range grid {
		for j, p := range grid[i] {
			if p != nil {
				p.Draw(cs[i][j])
			}
		}
	}
}

// palette assigns each configuration a colour and a glyph, in the order
// of the summaries; baselines are black.
type palette map[string]int

func newPalette(byConfig []*Summary) palette {
	p := palette{}
	i := 0
	// the configurations that drafted first: they are the ones the figures
	// draw, so their colours and glyphs do not repeat before the 8th
	for _, drafted := range []bool{true, false} {
		for _, s := range byConfig {
			if _, ok := p[s.Config]; ok || (s.Drafted > 0) != drafted {
				continue
			}
			if s.Baseline {
				p[s.Config] = -1
				continue
			}
			p[s.Config] = i
			i++
		}
	}
	return p
}

func (p palette) color(config string) color.Color {
	i, ok := p[config]
	if !ok || i < 0 {
		return black
	}
	return okabeIto[i%len(okabeIto)]
}

func (p palette) glyph(config string) draw.GlyphStyle {
	i := max(p[config], 0)
	return draw.GlyphStyle{Color: p.color(config), Radius: vg.Points(3.2), Shape: glyphs[i%len(glyphs)]}
}

func (p palette) line(config string, dashed bool) draw.LineStyle {
	ls := draw.LineStyle{Color: p.color(config), Width: vg.Points(1.4)}
	if dashed {
		ls.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	return ls
}

// errXY are points with asymmetric vertical errors.
type errXY struct {
	xy     plotter.XYs
	lo, hi []float64 // distances below and above
}

func (e *errXY) Len() int                        { return len(e.xy) }
func (e *errXY) XY(i int) (float64, float64)     { return e.xy[i].X, e.xy[i].Y }
func (e *errXY) YError(i int) (float64, float64) { return e.lo[i], e.hi[i] }

func (e *errXY) add(x float64, iv Interval) {
	y := float64(iv.Mean)
	lo, hi := 0.0, 0.0
	if iv.Lo.OK() && iv.Hi.OK() {
		lo, hi = y-float64(iv.Lo), float64(iv.Hi)-y
	}
	e.xy = append(e.xy, plotter.XY{X: x, Y: y})
	e.lo = append(e.lo, lo)
	e.hi = append(e.hi, hi)
}

// addPoints adds a configuration's points, with error bars where they have
// an interval, and its legend entry.
func addPoints(p *plot.Plot, leg *plot.Legend, pts *errXY, config string, pal palette) {
	bars := &errXY{}
	for i := range pts.xy {
		if pts.lo[i] > 0 || pts.hi[i] > 0 {
			bars.xy = append(bars.xy, pts.xy[i])
			bars.lo = append(bars.lo, pts.lo[i])
			bars.hi = append(bars.hi, pts.hi[i])
		}
	}
	if bars.Len() > 0 {
		eb, err := plotter.NewYErrorBars(bars)
		if err == nil {
			eb.LineStyle = draw.LineStyle{Color: pal.color(config), Width: vg.Points(0.8)}
			eb.CapWidth = vg.Points(4)
			p.Add(eb)
		}
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return
	}
	sc.GlyphStyle = pal.glyph(config)
	p.Add(sc)
	leg.Add(config, sc)
}

// hline is a horizontal reference line across the x range of the plot.
type hline struct {
	y  float64
	ls draw.LineStyle
}

func (h hline) Plot(c draw.Canvas, p *plot.Plot) {
	_, trY := p.Transforms(&c)
	y := trY(h.y)
	c.StrokeLine2(h.ls, c.Min.X, y, c.Max.X, y)
}

func (h hline) DataRange() (xmin, xmax, ymin, ymax float64) {
	return math.Inf(1), math.Inf(-1), h.y, h.y
}

func (h hline) Thumbnail(c *draw.Canvas) {
	y := (c.Min.Y + c.Max.Y) / 2
	c.StrokeLine2(h.ls, c.Min.X, y, c.Max.X, y)
}

// headroom widens an axis by a fraction of its range on the side(s) asked.
func headroom(a *plot.Axis, below, above float64) {
	r := a.Max - a.Min
	if r <= 0 || math.IsInf(r, 0) || math.IsNaN(r) {
		r = math.Max(math.Abs(a.Max), 1)
	}
	a.Min -= below * r
	a.Max += above * r
}

// Figures are the figures the data supports, in the report's order.
func Figures(d *Data) []*Figure {
	sans()
	byConfig := Summarize(d, []Dim{ByConfig})
	byCT := Summarize(d, []Dim{ByConfig, ByTask})
	pal := newPalette(byConfig)
	return []*Figure{
		speedupVsAcceptance(byConfig, byCT, pal),
		speedupByTask(byConfig, byCT, pal),
		positionAcceptance(byConfig, pal),
		acceptedLengths(byConfig, pal),
		acceptanceAlong(byConfig, byCT, pal),
		speedupVsDraftLength(byConfig, byCT, pal),
		emptyReasons(byConfig, pal),
	}
}

func drafting(byConfig []*Summary) []*Summary {
	var out []*Summary
	for _, s := range byConfig {
		if !s.Baseline && s.Drafted > 0 {
			out = append(out, s)
		}
	}
	return out
}

func speedupVsAcceptance(byConfig, byCT []*Summary, pal palette) *Figure {
	f := &Figure{Name: "speedup-vs-acceptance", Title: "Speedup and acceptance",
		Caption: "One point per (configuration, task), labelled with the task: acceptance rate (accepted / drafted) against the speedup over " +
			"that task's own baseline (log scale; the dashed line is 1×, no gain), error bars the 95% interval across repeats. " +
			"Cells that drafted nothing have no acceptance rate and are not shown.",
		Width: 7.5 * vg.Inch, Height: 5 * vg.Inch}
	p := newPlot("", "acceptance rate (%)", "speedup over the task's baseline (×, log scale)")
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = ratioTicks{}
	leg := newLegend()
	ymin, ymax := 1.0, 1.0
	for _, cfg := range byConfig {
		if cfg.Baseline || cfg.AA {
			continue
		}
		pts := &errXY{}
		var labels []string
		for _, s := range byCT {
			if s.Config == cfg.Config && s.AcceptanceRate.OK() && s.Speedup.Mean > 0 {
				pts.add(100*float64(s.AcceptanceRate), s.Speedup)
				labels = append(labels, s.Task)
				i := len(pts.xy) - 1
				ymin = min(ymin, pts.xy[i].Y-pts.lo[i])
				ymax = max(ymax, pts.xy[i].Y+pts.hi[i])
			}
		}
		if pts.Len() == 0 {
			continue
		}
		addPoints(p, &leg, pts, cfg.Config, pal)
		if l, err := plotter.NewLabels(plotter.XYLabels{XYs: pts.xy, Labels: labels}); err == nil {
			for i := range l.TextStyle {
				l.TextStyle[i] = textStyle(vg.Points(6.5))
				l.TextStyle[i].Color = pal.color(cfg.Config)
			}
			l.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(2)}
			p.Add(l)
		}
	}
	one := hline{y: 1, ls: draw.LineStyle{Color: black, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(6), vg.Points(3)}}}
	p.Add(one)
	leg.Add("1× (the baseline)", one)
	p.X.Min, p.X.Max = 0, 105
	p.Y.Min, p.Y.Max = max(ymin/1.15, 1e-3), ymax*1.15
	f.panels = []*plot.Plot{p}
	f.draw = func(c draw.Canvas) { frame(c, f.Title, &leg, [][]*plot.Plot{{p}}) }
	return f
}

// ratioTicks labels a log axis of ratios at 1-2-5 steps.
type ratioTicks struct{}

func (ratioTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v >= lo && v <= hi {
				ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', 3, 64) + "×"})
			}
		}
	}
	if len(ts) < 2 { // a narrow range: its ends
		ts = []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 3, 64) + "×"}, {Value: hi, Label: strconv.FormatFloat(hi, 'g', 3, 64) + "×"}}
	}
	return ts
}

// speedupByTask is Spec-Bench's per-task bar chart: for each task, one bar
// per configuration that drafted, its speedup with the 95% interval.
func speedupByTask(byConfig, byCT []*Summary, pal palette) *Figure {
	f := &Figure{Name: "speedup-by-task", Title: "Speedup by task",
		Caption: "For each task, one bar per configuration that drafted: the speedup over the task's baseline (log scale from the " +
			"lowest bar), with its 95% interval across repeats; the dashed line is 1×.",
		Width: 7.5 * vg.Inch, Height: 4.5 * vg.Inch}
	p := newPlot("", "", "speedup (×, log scale)")
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = ratioTicks{}
	leg := newLegend()
	var tasks []string
	for _, s := range byCT {
		if !slices.Contains(tasks, s.Task) {
			tasks = append(tasks, s.Task)
		}
	}
	cfgs := drafting(byConfig)
	if len(cfgs) == 0 || len(tasks) == 0 {
		p = emptyPlot("no configuration drafted")
		f.draw = func(c draw.Canvas) { frame(c, f.Title, nil, [][]*plot.Plot{{p}}) }
		return f
	}
	w := vg.Points(min(18, 380/float64(len(tasks)*len(cfgs))))
	lo, hi := 1.0, 1.0
	for i, cfg := range cfgs {
		vals := make(plotter.Values, len(tasks))
		bars := &errXY{}
		for t, task := range tasks {
			vals[t] = math.NaN()
			for _, s := range byCT {
				if s.Config == cfg.Config && s.Task == task && s.Speedup.Mean > 0 {
					vals[t] = float64(s.Speedup.Mean)
					bars.add(float64(t), s.Speedup)
					lo, hi = min(lo, float64(s.Speedup.Mean)), max(hi, float64(s.Speedup.Mean))
					if s.Speedup.Hi.OK() {
						hi = max(hi, float64(s.Speedup.Hi))
						lo = min(lo, float64(s.Speedup.Lo))
					}
				}
			}
		}
		bc := &logBars{vals: vals, width: w, color: pal.color(cfg.Config), offset: w * vg.Length(float64(i)-float64(len(cfgs)-1)/2)}
		p.Add(bc)
		leg.Add(cfg.Config, bc)
		if bars.Len() > 0 {
			if eb, err := plotter.NewYErrorBars(bars); err == nil {
				eb.LineStyle = draw.LineStyle{Color: black, Width: vg.Points(0.7)}
				eb.CapWidth = vg.Points(3)
				ebo := &offsetBars{YErrorBars: eb, dx: bc.offset}
				p.Add(ebo)
			}
		}
	}
	p.Y.Min, p.Y.Max = max(lo/1.2, 1e-3), hi*1.2
	one := hline{y: 1, ls: draw.LineStyle{Color: black, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(6), vg.Points(3)}}}
	p.Add(one)
	p.NominalX(tasks...)
	p.X.Tick.Label.Rotation = 0.5
	p.X.Tick.Label.XAlign = draw.XRight
	f.panels = []*plot.Plot{p}
	f.draw = func(c draw.Canvas) { frame(c, f.Title, &leg, [][]*plot.Plot{{p}}) }
	return f
}

// bars is a bar chart that rises from the bottom of the axis, so that it
// works on a log scale (gonum's BarChart rises from 0); NaN values have no
// bar.
type logBars struct {
	vals   []float64
	width  vg.Length
	offset vg.Length
	color  color.Color
}

func (b *logBars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for i, v := range b.vals {
		if math.IsNaN(v) || v < p.Y.Min {
			continue
		}
		x := trX(float64(i)) + b.offset
		top := min(trY(min(v, p.Y.Max)), c.Max.Y)
		c.SetColor(b.color)
		var path vg.Path
		path.Move(vg.Point{X: x - b.width/2, Y: c.Min.Y})
		path.Line(vg.Point{X: x + b.width/2, Y: c.Min.Y})
		path.Line(vg.Point{X: x + b.width/2, Y: top})
		path.Line(vg.Point{X: x - b.width/2, Y: top})
		path.Close()
		c.Fill(path)
	}
}

func (b *logBars) DataRange() (xmin, xmax, ymin, ymax float64) {
	return -0.5, float64(len(b.vals)) - 0.5, math.Inf(1), math.Inf(-1)
}

func (b *logBars) Thumbnail(c *draw.Canvas) {
	c.SetColor(b.color)
	c.Fill(c.Rectangle.Path())
}

// offsetBars draws error bars shifted by dx, beside their bar.
type offsetBars struct {
	*plotter.YErrorBars
	dx vg.Length
}

func (o *offsetBars) Plot(c draw.Canvas, p *plot.Plot) {
	c.Min.X += o.dx
	c.Max.X += o.dx
	o.YErrorBars.Plot(c, p)
}

// speed prints tokens/s: whole numbers from 100 up, three digits below.
func speed(v float64) string {
	if math.Abs(v) >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// maxPositions is the most draft positions the position plots show.
const maxPositions = 64

func positionAcceptance(byConfig []*Summary, pal palette) *Figure {
	f := &Figure{Name: "acceptance-by-position", Title: "Acceptance by draft position",
		Caption: "Left, unconditional (vLLM): the share of drafting steps that accepted at least i tokens. " +
			"Right, conditional: among steps that drafted position i and accepted the positions before it, the share that accepted position i. " +
			"Positions behind fewer than 10 steps are left out.",
		Width: 8 * vg.Inch, Height: 3.8 * vg.Inch}
	pu := newPlot("unconditional", "draft position", "acceptance (%)")
	pc := newPlot("conditional", "draft position", "acceptance (%)")
	leg := newLegend()
	maxPos := 1
	for _, s := range drafting(byConfig) {
		drafted, reached := positionSupport(s.AcceptHist)
		for i, panel := range []struct {
			p       *plot.Plot
			vals    []Num
			support []int64
		}{{pu, s.PosUncond, drafted}, {pc, s.PosCond, reached}} {
			var xy plotter.XYs
			for pos, v := range panel.vals[:min(len(panel.vals), maxPositions)] {
				if v.OK() && panel.support[pos] >= minSupport {
					xy = append(xy, plotter.XY{X: float64(pos + 1), Y: 100 * float64(v)})
				}
			}
			if len(xy) == 0 {
				continue
			}
			maxPos = max(maxPos, int(xy[len(xy)-1].X))
			l, sc, err := plotter.NewLinePoints(xy)
			if err != nil {
				continue
			}
			l.LineStyle = pal.line(s.Config, false)
			sc.GlyphStyle = pal.glyph(s.Config)
			panel.p.Add(l, sc)
			if i == 0 {
				leg.Add(s.Config, l, sc)
			}
		}
	}
	for _, p := range []*plot.Plot{pu, pc} {
		p.X.Min, p.X.Max = 0.5, float64(maxPos)+0.5
		p.X.Tick.Marker = intTicks{}
		p.Y.Min, p.Y.Max = 0, 104
	}
	f.draw = func(c draw.Canvas) { frame(c, f.Title, &leg, [][]*plot.Plot{{pu, pc}}) }
	return f
}

// minSupport is the fewest steps behind a point of a position plot.
const minSupport = 10

// positionSupport counts, for each draft position i, the steps that drafted
// it (k > i) and those that drafted it with every earlier position
// accepted (k > i, j ≥ i).
func positionSupport(byK [][]int64) (drafted, reached []int64) {
	for k, row := range byK {
		for j, n := range row {
			for i := range k {
				for len(drafted) <= i {
					drafted = append(drafted, 0)
					reached = append(reached, 0)
				}
				drafted[i] += n
				if j >= i {
					reached[i] += n
				}
			}
		}
	}
	return drafted, reached
}

func acceptedLengths(byConfig []*Summary, pal palette) *Figure {
	cfgs := drafting(byConfig)
	cols := min(2, max(1, len(cfgs)))
	rows := max(1, (len(cfgs)+cols-1)/cols)
	f := &Figure{Name: "accepted-length", Title: "Accepted draft length",
		Caption: "For each configuration, the share of drafting steps that accepted j tokens; the bars of each band of draft lengths k are " +
			"stacked, darker for longer drafts, as each panel's legend says, so that the histogram of j by k survives variable draft lengths.",
		Width: 8 * vg.Inch, Height: vg.Length(0.6+2.6*float64(rows)) * vg.Inch}
	var panels [][]*plot.Plot
	shades := []float64{1, 0.75, 0.55, 0.4}
	for n, s := range cfgs {
		if n%cols == 0 {
			panels = append(panels, nil)
		}
		p := newPlot(s.Config, "accepted tokens j", "share of drafting steps (%)")
		maxJ, maxK := 0, 0
		for k := 1; k < len(s.AcceptHist); k++ {
			for j, c := range s.AcceptHist[k] {
				if c > 0 {
					maxJ, maxK = max(maxJ, j), max(maxK, k)
				}
			}
		}
		// group the draft lengths in at most 4 bands, stacked
		bands := bandsOf(maxK)
		var below *plotter.BarChart
		for b, band := range bands {
			vals := make(plotter.Values, maxJ+1)
			for k := band[0]; k <= band[1] && k < len(s.AcceptHist); k++ {
				for j, c := range s.AcceptHist[k] {
					vals[j] += 100 * float64(c) / float64(s.DraftSteps)
				}
			}
			bc, err := plotter.NewBarChart(vals, barWidth(maxJ+1, 2.4*vg.Inch))
			if err != nil {
				continue
			}
			bc.Color = shade(pal.color(s.Config), shades[len(bands)-1-b])
			bc.LineStyle.Width = 0
			if below != nil {
				bc.StackOn(below)
			}
			below = bc
			p.Add(bc)
			p.Legend.Add("k = "+bandName(band), bc)
		}
		// the legend names the shades: which draft lengths each band holds
		p.Legend.Top, p.Legend.Left = true, true
		p.Legend.TextStyle = textStyle(vg.Points(7.5))
		p.Legend.Padding = vg.Points(1)
		p.Legend.ThumbnailWidth = vg.Points(10)
		p.Legend.XOffs = vg.Points(4)
		p.X.Tick.Marker = intTicks{}
		p.X.Min, p.X.Max = -0.6, float64(maxJ)+0.6
		p.Y.Min = 0
		headroom(&p.Y, 0, 0.35) // room for the legend above the bars
		panels[len(panels)-1] = append(panels[len(panels)-1], p)
	}
	if len(cfgs) == 0 {
		panels = [][]*plot.Plot{{emptyPlot("no configuration drafted anything")}}
	}
	f.draw = func(c draw.Canvas) { frame(c, f.Title, nil, panels) }
	return f
}

// bandsOf splits draft lengths 1..maxK into at most 4 bands.
func bandsOf(maxK int) [][2]int {
	if maxK <= 4 {
		var out [][2]int
		for k := 1; k <= maxK; k++ {
			out = append(out, [2]int{k, k})
		}
		return out
	}
	w := (maxK + 3) / 4
	var out [][2]int
	for lo := 1; lo <= maxK; lo += w {
		out = append(out, [2]int{lo, min(lo+w-1, maxK)})
	}
	return out
}

func bandName(b [2]int) string {
	if b[0] == b[1] {
		return strconv.Itoa(b[0])
	}
	return fmt.Sprintf("%d–%d", b[0], b[1])
}

// shade mixes c with white: f = 1 is c itself, smaller is lighter.
func shade(c color.Color, f float64) color.Color {
	r, g, b, _ := c.RGBA()
	mix := func(v uint32) uint8 { return uint8(float64(v>>8)*f + 255*(1-f)) }
	return color.RGBA{R: mix(r), G: mix(g), B: mix(b), A: 0xff}
}

func barWidth(n int, panel vg.Length) vg.Length {
	return vg.Length(math.Max(2, math.Min(28, float64(panel)/float64(n+1)*0.8)))
}

func emptyPlot(msg string) *plot.Plot {
	p := newPlot(msg, "", "")
	p.HideAxes()
	return p
}

// RollingWindow is the width, in tokens of context, of the window of the
// acceptance-along-the-generation plot.
const RollingWindow = 8 * PosBinWidth

func acceptanceAlong(byConfig, byCT []*Summary, pal palette) *Figure {
	f := &Figure{Name: "acceptance-along-generation", Title: "Acceptance along the generation",
		Caption: fmt.Sprintf("Acceptance rate (accepted / drafted) of the steps in the %d tokens of context before each position "+
			"(prompt included), all tasks and repeats of a configuration together; windows with fewer than %d drafted tokens are left out. "+
			"The line is solid while at least half of the configuration's tasks reach the position and dotted beyond: there the curve is that of "+
			"the few long tasks left, not a change along the generation.",
			RollingWindow, minSupport),
		Width: 7.5 * vg.Inch, Height: 4 * vg.Inch}
	p := newPlot("", "context position (tokens)", "acceptance rate (%)")
	leg := newLegend()
	width := RollingWindow / PosBinWidth
	xmax := 0.0
	for _, s := range drafting(byConfig) {
		bins := s.S.Pos
		// tasks[b]: the configuration's tasks with steps in bin b
		tasks := make([]int, len(bins))
		n := 0
		for _, t := range byCT {
			if t.Config != s.Config {
				continue
			}
			n++
			for b, bin := range t.S.Pos {
				if b < len(tasks) && bin.Steps > 0 {
					tasks[b]++
				}
			}
		}
		// runs of points, each solid (at least half of the tasks there) or
		// dotted (fewer); a run starts at the last point of the one before
		type run struct {
			xy    plotter.XYs
			dense bool
		}
		var runs []run
		var dr, ac int64 // over the window ending at bin b
		for b := range bins {
			dr += bins[b].Drafted
			ac += bins[b].Accepted
			if b >= width {
				dr -= bins[b-width].Drafted
				ac -= bins[b-width].Accepted
			}
			if dr < minSupport || bins[b].Drafted == 0 && b > 0 && bins[b-1].Drafted == 0 {
				if len(runs) > 0 {
					runs = append(runs, run{dense: runs[len(runs)-1].dense}) // a gap
				}
				continue
			}
			pt := plotter.XY{X: float64((b + 1) * PosBinWidth), Y: 100 * float64(ac) / float64(dr)}
			dense := 2*tasks[b] >= n
			switch {
			case len(runs) == 0:
				runs = append(runs, run{dense: dense})
			case runs[len(runs)-1].dense != dense:
				prev := runs[len(runs)-1].xy
				runs = append(runs, run{dense: dense})
				if len(prev) > 0 {
					runs[len(runs)-1].xy = append(runs[len(runs)-1].xy, prev[len(prev)-1])
				}
			}
			r := &runs[len(runs)-1]
			r.xy = append(r.xy, pt)
			xmax = max(xmax, pt.X)
		}
		var thumbs []plot.Thumbnailer
		total := 0
		for _, r := range runs {
			total += len(r.xy)
		}
		for _, r := range runs {
			if len(r.xy) == 0 {
				continue
			}
			l, err := plotter.NewLine(r.xy)
			if err != nil {
				continue
			}
			l.LineStyle = pal.line(s.Config, false)
			if !r.dense {
				l.LineStyle.Width = vg.Points(1)
				l.LineStyle.Dashes = []vg.Length{vg.Points(1.5), vg.Points(2)}
			}
			p.Add(l)
			if r.dense && len(thumbs) == 0 {
				thumbs = append(thumbs, l)
			}
			if sc, err := plotter.NewScatter(r.xy); err == nil && total < 3 { // too short to show as a line
				sc.GlyphStyle = pal.glyph(s.Config)
				p.Add(sc)
				thumbs = append(thumbs, sc)
			}
		}
		if len(thumbs) == 0 {
			for _, r := range runs { // only dotted runs: name the first
				if len(r.xy) > 1 {
					if l, err := plotter.NewLine(r.xy); err == nil {
						l.LineStyle = pal.line(s.Config, false)
						thumbs = append(thumbs, l)
						break
					}
				}
			}
		}
		if len(thumbs) == 0 {
			continue
		}
		leg.Add(s.Config, thumbs...)
	}
	p.X.Min, p.X.Max = 0, math.Max(xmax, 1)
	p.Y.Min, p.Y.Max = 0, 104
	f.draw = func(c draw.Canvas) { frame(c, f.Title, &leg, [][]*plot.Plot{{p}}) }
	return f
}

func speedupVsDraftLength(byConfig, byCT []*Summary, pal palette) *Figure {
	f := &Figure{Name: "speedup-vs-draft-length", Title: "Speedup and draft length",
		Caption: "Measured speedup over the baseline (log scale) against the mean draft length of the drafting steps, one point per " +
			"(configuration, task), error bars the 95% interval across repeats. Dashed, for each configuration: Leviathan et al.'s " +
			"model with what the run measured, S(γ) = (f·E(α,γ) + 1 − f) / (f·(γc + v(γ)) + 1 − f), where E(α,γ) = (1 − α^(γ+1)) / (1 − α), " +
			"α and c are the configuration's, f its share of steps that drafted, and v(γ) its verify cost grown linearly " +
			"from 1 at γ = 0 to the measured cost at its mean γ (Leviathan et al. take f = 1 and v = 1). Curves are clipped to the axes.",
		Width: 7.5 * vg.Inch, Height: 4.5 * vg.Inch}
	p := newPlot("", "mean draft length γ (tokens)", "speedup over baseline (×, log scale)")
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = ratioTicks{}
	leg := newLegend()
	xmax, ymin, ymax := 1.0, 1.0, 1.0 // of the measurements
	for _, cfg := range drafting(byConfig) {
		pts := &errXY{}
		for _, s := range byCT {
			if s.Config == cfg.Config && s.Gamma.OK() && s.Speedup.Mean > 0 {
				pts.add(float64(s.Gamma), s.Speedup)
				i := len(pts.xy) - 1
				xmax = max(xmax, pts.xy[i].X)
				ymin, ymax = min(ymin, pts.xy[i].Y-pts.lo[i]), max(ymax, pts.xy[i].Y+pts.hi[i])
			}
		}
		if pts.Len() > 0 {
			addPoints(p, &leg, pts, cfg.Config, pal)
		}
	}
	xmax = math.Ceil(xmax * 1.1)
	ymin, ymax = max(ymin/1.3, 1e-3), ymax*1.3
	for _, cfg := range drafting(byConfig) {
		a, c, v := float64(cfg.Alpha), float64(cfg.CostRatio), float64(cfg.VerifyCost)
		g0 := float64(cfg.Gamma)
		if !cfg.Alpha.OK() || !cfg.CostRatio.OK() || !cfg.Gamma.OK() || g0 <= 0 || cfg.Steps == 0 {
			continue
		}
		if !cfg.VerifyCost.OK() {
			v = 1
		}
		share := float64(cfg.DraftSteps) / float64(cfg.Steps)
		var xy plotter.XYs
		for i := 1; i <= 200; i++ {
			g := xmax * float64(i) / 200
			vg := 1 + (v-1)*g/g0
			sp := (share*ExpectedTokens(a, g) + 1 - share) / (share*(g*c+vg) + 1 - share)
			if sp < ymin || sp > ymax {
				break // clipped to the axes: the curve stops where it leaves them
			}
			xy = append(xy, plotter.XY{X: g, Y: sp})
		}
		if len(xy) < 2 {
			continue
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			continue
		}
		l.LineStyle = pal.line(cfg.Config, true)
		p.Add(l)
		leg.Add(fmt.Sprintf("model: α=%.2f c=%.2g v=%.1f× f=%.0f%%", a, c, v, 100*share), l)
	}
	one := hline{y: 1, ls: draw.LineStyle{Color: grey, Width: vg.Points(1)}}
	p.Add(one)
	leg.Add("no speedup", one)
	p.X.Min, p.X.Max = 0, xmax
	p.Y.Min, p.Y.Max = ymin, ymax
	f.panels = []*plot.Plot{p}
	f.draw = func(c draw.Canvas) { frame(c, f.Title, &leg, [][]*plot.Plot{{p}}) }
	return f
}

func sortedReasons(m map[string]int64) []string {
	var out []string
	for _, r := range terms.ReportOrder() {
		if m[string(r)] > 0 {
			out = append(out, string(r))
		}
	}
	for _, r := range sortedKeys(m) {
		if m[r] > 0 && !slices.Contains(terms.ReportOrder(), terms.Reason(r)) {
			out = append(out, r)
		}
	}
	return out
}

func emptyReasons(byConfig []*Summary, pal palette) *Figure {
	var cfgs []*Summary
	for _, s := range byConfig {
		if !s.Baseline && !s.AA && s.Steps > 0 { // the A/A cell drafts nothing by design, as the baseline
			cfgs = append(cfgs, s)
		}
	}
	f := &Figure{Name: "empty-drafts", Title: "Drafts by outcome",
		Caption: "Share of each configuration's verify steps that had a draft, and of those with an empty draft, why.",
		Width:   7.5 * vg.Inch, Height: vg.Length(math.Max(2.4, 1.6+0.45*float64(len(cfgs)))) * vg.Inch}
	p := newPlot("", "share of verify steps (%)", "")
	leg := newLegend()
	all := map[string]int64{}
	for _, s := range cfgs {
		for r, n := range s.Empty {
			all[r] += n
		}
	}
	cats := append([]string{"drafted"}, sortedReasons(all)...)
	colors := map[string]color.Color{"drafted": rgb(0x009E73)}
	for r, c := range map[terms.Reason]color.Color{terms.NoHistory: rgb(0xE69F00), terms.NoMatch: rgb(0x56B4E9),
		terms.BelowPMin: rgb(0xCC79A7), terms.BelowNMin: rgb(0xF0E442), terms.NoRoom: grey, terms.VocabRefused: rgb(0xD55E00),
		terms.TargetCannotRollback: rgb(0x0072B2), terms.Disabled: rgb(0x666666), terms.Unknown: rgb(0xBBBBBB)} {
		colors[string(r)] = c
	}
	var below *plotter.BarChart
	var names []string
	for i := len(cfgs) - 1; i >= 0; i-- { // first configuration on top
		names = append(names, cfgs[i].Config)
	}
	for _, cat := range cats {
		vals := make(plotter.Values, len(names))
		for i := range names {
			s := cfgs[len(cfgs)-1-i]
			n := s.DraftSteps
			if cat != "drafted" {
				n = s.Empty[cat]
			}
			vals[i] = 100 * float64(n) / float64(s.Steps)
		}
		bc, err := plotter.NewBarChart(vals, vg.Points(16))
		if err != nil {
			continue
		}
		bc.Horizontal = true
		col, ok := colors[cat]
		if !ok {
			col = black
		}
		bc.Color = col
		bc.LineStyle.Width = 0
		if below != nil {
			bc.StackOn(below)
		}
		below = bc
		p.Add(bc)
		leg.Add(cat, bc)
	}
	if len(names) > 0 {
		p.NominalY(names...)
		p.Y.Tick.Label.Font.Size = vg.Points(10)
	}
	p.X.Min, p.X.Max = 0, 100
	f.draw = func(c draw.Canvas) { frame(c, f.Title, &leg, [][]*plot.Plot{{p}}) }
	return f
}

// RooflineFigure draws decoding speed against batch size: the measured
// tokens/s of a verify batch of each size (tps[i] at batches[i]), the
// bandwidth roof (every batch reads the weights once: ceiling1 tokens/s
// at one token, b times that at b) and the compute roof (the fastest
// measured, the flat part). Speculation pays where the measured points
// still climb along the bandwidth roof.
func RooflineFigure(batches []int, tps []float64, ceiling1 float64, title string) *Figure {
	sans()
	f := &Figure{Name: "roofline", Title: "Roofline: " + title,
		Caption: "Tokens per second of a verify batch against its size (log–log). Dashed: the bandwidth roof, b × bandwidth ÷ bytes per token " +
			"(a batch reads the weights once); dotted: the compute roof, the fastest batch measured. Where the points follow the bandwidth roof, " +
			"verifying b tokens costs about one step and a draft of b − 1 tokens is nearly free; where they are flat, each drafted token costs a step.",
		Width: 6.5 * vg.Inch, Height: 4.5 * vg.Inch}
	p := newPlot("", "batch size b (tokens verified at once)", "tokens/s (log scale)")
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	leg := &p.Legend // inside the plot, top left: the roofs leave that corner empty
	leg.Top, leg.Left = true, true
	leg.TextStyle = textStyle(vg.Points(9))
	leg.XOffs, leg.YOffs = vg.Points(6), -vg.Points(4)
	var pts plotter.XYs
	peak := 0.0
	for i, b := range batches {
		if tps[i] > 0 {
			pts = append(pts, plotter.XY{X: float64(b), Y: tps[i]})
			peak = max(peak, tps[i])
		}
	}
	lo, hi := float64(batches[0]), float64(batches[len(batches)-1])
	ymin, ymax := peak, peak
	for _, q := range pts {
		ymin = min(ymin, q.Y)
	}
	if ceiling1 > 0 {
		var roof plotter.XYs
		for _, b := range []float64{lo, hi} {
			roof = append(roof, plotter.XY{X: b, Y: ceiling1 * b})
		}
		ymax = max(ymax, ceiling1*hi)
		ymin = min(ymin, ceiling1*lo)
		if l, err := plotter.NewLine(roof); err == nil {
			l.LineStyle = draw.LineStyle{Color: okabeIto[1], Width: vg.Points(1.5), Dashes: []vg.Length{vg.Points(6), vg.Points(3)}}
			p.Add(l)
			leg.Add(fmt.Sprintf("bandwidth roof (%s tok/s at b = 1)", speed(ceiling1)), l)
		}
	}
	if peak > 0 {
		if l, err := plotter.NewLine(plotter.XYs{{X: lo, Y: peak}, {X: hi, Y: peak}}); err == nil {
			l.LineStyle = draw.LineStyle{Color: okabeIto[3], Width: vg.Points(1.5), Dashes: []vg.Length{vg.Points(1.5), vg.Points(2)}}
			p.Add(l)
			leg.Add(fmt.Sprintf("compute roof (fastest measured, %s tok/s)", speed(peak)), l)
		}
	}
	if len(pts) > 0 {
		if l, s, err := plotter.NewLinePoints(pts); err == nil {
			l.LineStyle = draw.LineStyle{Color: okabeIto[0], Width: vg.Points(1.5)}
			s.GlyphStyle = draw.GlyphStyle{Color: okabeIto[0], Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
			p.Add(l, s)
			leg.Add("measured", l, s)
		}
	}
	p.X.Min, p.X.Max = lo/1.2, hi*1.2
	p.Y.Min, p.Y.Max = ymin/1.5, ymax*1.5
	f.panels = []*plot.Plot{p}
	f.draw = func(c draw.Canvas) { frame(c, f.Title, nil, [][]*plot.Plot{{p}}) }
	return f
}
