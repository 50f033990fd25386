package main

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/speclab/speclab/analysis"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/experiments"
	"github.com/speclab/speclab/experiments/runlog"
	"github.com/speclab/speclab/rocm"
)

// rooflineReport is `speclab roofline --json`.
type rooflineReport struct {
	Schema string `json:"schema"`
	// Where the bandwidth comes from: "cpu", "cuda", "hip" or "given".
	Source      string        `json:"bandwidth_source"`
	Device      *rocm.Device  `json:"device,omitempty"`
	Known       string        `json:"known_device,omitempty"`
	Target      string        `json:"target"`
	WeightBytes uint64        `json:"weight_bytes_per_token"`
	KVBytes     float64       `json:"kv_bytes_per_token"`
	Context     int           `json:"context"`
	Roofline    rocm.Roofline `json:"roofline"`
	Draft       string        `json:"draft,omitempty"`
	DraftBytes  float64       `json:"draft_bytes_per_token,omitempty"`
	// Spec[i][j]: the speculative ceiling (tokens/s) at Alphas[i], draft
	// length j+1, verify cost 1.
	Alphas []float64   `json:"alphas,omitempty"`
	Spec   [][]float64 `json:"speculative_ceiling_tokens_per_second,omitempty"`
	// Run: the run folder's baseline speed and where it stands.
	RunTPS      analysis.Num `json:"run_baseline_tokens_per_second"`
	Utilisation analysis.Num `json:"run_bandwidth_share"`
	// Batches and BatchTPS: with --plot, the tokens/s of a verify batch of
	// each size, measured through libllama.
	Batches  []int     `json:"batches,omitempty"`
	BatchTPS []float64 `json:"batch_tokens_per_second,omitempty"`
	Plot     string    `json:"plot,omitempty"`
}

// verifyCost is the time of verifying b tokens over one token's: measured
// with --plot (linear between the batches timed), else 1 (memory-bound).
func (r *rooflineReport) verifyCost(b int) float64 {
	if len(r.Batches) < 2 {
		return 1
	}
	t := func(i int) float64 { return float64(r.Batches[i]) / r.BatchTPS[i] } // seconds per batch
	for i := 1; i < len(r.Batches); i++ {
		if b <= r.Batches[i] || i == len(r.Batches)-1 {
			lo, hi := r.Batches[i-1], r.Batches[i]
			v := t(i-1) + float64(b-lo)*(t(i)-t(i-1))/float64(hi-lo)
			return max(v/t(0), 1)
		}
	}
	return 1
}

// plot measures tokens/s by batch size and draws them against the roofs.
func (r *rooflineReport) plot(c *cli.Context, path string) error {
	lib, err := openLib(c)
	if err != nil {
		return err
	}
	m := experiments.Models{Target: r.Target, Context: experiments.Context{GPULayers: c.Int("gpu-layers"), Threads: c.Int("threads"), FlashAttn: "auto"}}
	s, err := experiments.Open(lib, m)
	if err != nil {
		return err
	}
	defer s.Close()
	sizes := []int{1, 2, 4, 8, 16, 32, 64}
	sizes = slices.DeleteFunc(sizes, func(b int) bool { return b > s.TargetCtx.NCtx()-66 })
	fmt.Fprintf(c.App.ErrWriter, "timing verify batches of %v tokens\n", sizes)
	ms, _, _, err := measureTarget(s.Target, s.TargetCtx, sizes, 9)
	if err != nil {
		return err
	}
	r.Batches = sizes
	for i, b := range sizes {
		r.BatchTPS = append(r.BatchTPS, float64(b)/(ms[i]/1e3))
	}
	fig := analysis.RooflineFigure(sizes, r.BatchTPS, r.Roofline.CeilingTPS, filepath.Base(r.Target))
	if err := fig.Save(path); err != nil {
		return err
	}
	r.Plot = path
	return nil
}

func rooflineCommand() *cli.Command {
	return &cli.Command{
		Name:  "roofline",
		Usage: "the decoding ceiling from measured memory bandwidth: is decoding memory-bound here, and what can speculation buy",
		Description: `Every generated token reads the model's weights once (plus the KV cache),
so decoding can go no faster than bandwidth ÷ bytes per token. roofline
measures the bandwidth (the GPU's through the CUDA or HIP runtime, device-to-
device copies timed with events; the CPU's with a multi-threaded copy), reads
the bytes per token from the GGUF file, and prints the ceiling; with --draft,
the speculative ceiling at each acceptance α and draft length γ (verifying
γ+1 tokens reads the weights once when memory-bound); with --run, where the
run's baseline stands: near 100% of the bandwidth means memory-bound, which
is where speculation pays.

Examples:
   speclab roofline -m models/target.gguf
   speclab roofline -m big.gguf -md small.gguf --device cuda
   speclab roofline -m qwen3.5-27b-fp4.gguf --bandwidth 212 --run runs/seed`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "target", Aliases: []string{"m", "model"}, Usage: "target model (GGUF; default: models/target.gguf)"},
			&cli.StringFlag{Name: "draft", Aliases: []string{"md"}, Usage: "draft model (GGUF): adds the speculative ceilings"},
			&cli.StringFlag{Name: "device", Value: "auto", Usage: "whose bandwidth: auto (a GPU if one answers, else the CPU), cpu, cuda or hip"},
			&cli.Float64Flag{Name: "bandwidth", Usage: "GB/s to use instead of measuring (e.g. a published figure)"},
			&cli.StringFlag{Name: "runtime-dir", Usage: "folder of libcudart.so / libamdhip64.so (default: the loader's search path)"},
			&cli.IntFlag{Name: "ctx-size", Aliases: []string{"c"}, Value: 512, Usage: "context length at which the KV cache is read"},
			&cli.StringFlag{Name: "run", Usage: "a run folder: where its baseline stands against the ceiling"},
			&cli.StringFlag{Name: "plot", Usage: "also measure tokens/s by verify batch size through libllama and draw it against the roofs into this file (.png, .svg or .pdf)"},
			&cli.IntFlag{Name: "gpu-layers", Aliases: []string{"ngl"}, Usage: "with --plot: layers of the target offloaded (as llama.cpp's -ngl)"},
			&cli.IntFlag{Name: "threads", Aliases: []string{"t"}, Usage: "with --plot: CPU threads (0: speclab's default)"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
		},
		Action: func(c *cli.Context) error {
			if err := noFlagsAfterArgs(c); err != nil {
				return err
			}
			target := c.String("target")
			if target == "" {
				target = "models/target.gguf"
			}
			r := rooflineReport{Schema: SchemaVersion, Target: target, Context: c.Int("ctx-size"), RunTPS: analysis.Num(math.NaN()), Utilisation: analysis.Num(math.NaN())}
			sum, err := ggufSummary(target)
			if err != nil {
				return err
			}
			r.WeightBytes = sum.BytesPerToken
			if sum.HeadCount > 0 {
				r.KVBytes = rocm.KVBytesPerToken(int(sum.BlockCount), int(sum.HeadCountKV), int(sum.EmbeddingLength/sum.HeadCount), 2, r.Context)
			}
			bw, err := bandwidth(c, &r)
			if err != nil {
				return err
			}
			r.Roofline = rocm.NewRoofline(bw, float64(r.WeightBytes)+r.KVBytes)
			if path := c.String("plot"); path != "" {
				if err := r.plot(c, path); err != nil {
					return err
				}
			}
			if d := c.String("draft"); d != "" {
				ds, err := ggufSummary(d)
				if err != nil {
					return err
				}
				r.Draft, r.DraftBytes = d, float64(ds.BytesPerToken)
				r.Alphas = []float64{0.5, 0.7, 0.8, 0.9}
				for _, a := range r.Alphas {
					var row []float64
					for g := 1; g <= 8; g++ {
						row = append(row, r.Roofline.SpeculativeCeiling(a, float64(g), r.verifyCost(g+1), r.DraftBytes))
					}
					r.Spec = append(r.Spec, row)
				}
			}
			if dir := c.String("run"); dir != "" {
				dirs, err := runlog.Find(dir)
				if err != nil {
					return err
				}
				d, err := analysis.Load(dirs)
				if err != nil {
					return err
				}
				for _, s := range analysis.Summarize(d, []analysis.Dim{analysis.ByConfig}) {
					if s.Baseline {
						r.RunTPS = s.TPS.Mean
						r.Utilisation = analysis.Num(r.Roofline.Utilisation(float64(s.TPS.Mean)))
						break
					}
				}
			}
			if c.Bool("json") {
				return writeJSON(c.App.Writer, r)
			}
			r.print(c)
			return nil
		},
	}
}

func ggufSummary(path string) (gguf.Summary, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return gguf.Summary{}, err
	}
	return f.Summarize(), nil
}

// bandwidth measures (or takes) the bandwidth the ceiling uses.
func bandwidth(c *cli.Context, r *rooflineReport) (float64, error) {
	if c.IsSet("bandwidth") {
		if bw := c.Float64("bandwidth"); bw > 0 {
			r.Source = "given"
			return bw, nil
		}
		return 0, usagef("--bandwidth must be > 0 GB/s")
	}
	dev := c.String("device")
	var tried []string
	for _, name := range []string{"cuda", "hip"} {
		if dev != "auto" && dev != name {
			continue
		}
		open := map[string]func(string) (rocm.GPU, error){"cuda": rocm.OpenCUDA, "hip": rocm.OpenHIP}[name]
		g, err := open(c.String("runtime-dir"))
		if err == nil {
			var ds []rocm.Device
			if ds, err = g.Devices(); err == nil {
				d := ds[0]
				fmt.Fprintf(c.App.ErrWriter, "measuring %s's bandwidth (%s, device-to-device copies)\n", d.Name, name)
				var bw float64
				if bw, err = g.Bandwidth(d.Index, 512<<20, 10); err == nil {
					g.Close()
					r.Source, r.Device = name, &d
					if k, ok := rocm.Lookup(d.Name, d.Arch); ok {
						r.Known = k.Label
					}
					return bw, nil
				}
			}
			g.Close()
		}
		if dev == name {
			return 0, err
		}
		if !errors.Is(err, rocm.ErrNoRuntime) && !errors.Is(err, rocm.ErrNoDevice) {
			return 0, err
		}
		tried = append(tried, err.Error())
	}
	switch dev {
	case "auto", "cpu":
	default:
		return 0, usagef("--device %q: want auto, cpu, cuda or hip", dev)
	}
	if dev == "auto" && len(tried) > 0 {
		fmt.Fprintf(c.App.ErrWriter, "no GPU answered (%s); measuring the CPU's bandwidth\n", strings.Join(tried, "; "))
	}
	r.Source = "cpu"
	return rocm.CPUBandwidth(512<<20, 0, 5), nil
}

func (r *rooflineReport) print(c *cli.Context) {
	w := c.App.Writer
	src := map[string]string{"cpu": "this CPU (multi-threaded copy)", "given": "--bandwidth"}[r.Source]
	if r.Device != nil {
		src = fmt.Sprintf("%s %s (%s, %d CUs/SMs, %.0f GiB)", r.Source, r.Device.Name, r.Device.Arch, r.Device.ComputeUnits, float64(r.Device.TotalBytes)/(1<<30))
		if r.Known != "" {
			src += "; known as " + r.Known
		}
	}
	fmt.Fprintf(w, "bandwidth  %.1f GB/s measured on %s\n", r.Roofline.BandwidthGBs, src)
	fmt.Fprintf(w, "target     %s: %.1f MB of weights read per token + %.2f MB of KV cache at %d tokens\n",
		r.Target, float64(r.WeightBytes)/1e6, r.KVBytes/1e6, r.Context)
	fmt.Fprintf(w, "ceiling    %.1f tokens/s (bandwidth ÷ bytes per token): no decoder goes faster here\n", r.Roofline.CeilingTPS)
	if r.Source == "cpu" && r.Roofline.BytesPerToken < 64e6 {
		fmt.Fprintf(w, "           (the model's %.0f MB may stay in the CPU's caches, which are faster than memory: a small model can beat this ceiling)\n", r.Roofline.BytesPerToken/1e6)
	}
	if r.RunTPS.OK() {
		verdict := "memory-bound: verifying several tokens per read of the weights is what speculation buys"
		if r.Utilisation < 0.6 {
			verdict = "not memory-bound: compute, kernel launches or the CPU limit it, so verifying k tokens costs about k steps and speculation pays little"
		}
		fmt.Fprintf(w, "run        baseline %.1f tokens/s = %.0f%% of the ceiling: %s\n", float64(r.RunTPS), 100*float64(r.Utilisation), verdict)
	}
	if len(r.Batches) > 0 {
		fmt.Fprintf(w, "batches    ")
		for i, b := range r.Batches {
			fmt.Fprintf(w, "%d: %.0f tok/s (%.0f%% of the roof)  ", b, r.BatchTPS[i], 100*r.BatchTPS[i]/(float64(b)*r.Roofline.CeilingTPS))
		}
		fmt.Fprintf(w, "\nplot       %s\n", r.Plot)
	}
	if len(r.Spec) > 0 {
		how := "verify reads the weights once: its cost taken as one step's"
		if len(r.Batches) > 1 {
			how = "verify at the cost measured with --plot"
		}
		fmt.Fprintf(w, "\nspeculative ceiling, tokens/s (draft %s, %.1f MB per token; %s)\n  α \\ γ", r.Draft, r.DraftBytes/1e6, how)
		for g := range r.Spec[0] {
			fmt.Fprintf(w, "%8d", g+1)
		}
		fmt.Fprintln(w)
		for i, a := range r.Alphas {
			fmt.Fprintf(w, "  %.1f  ", a)
			for _, v := range r.Spec[i] {
				fmt.Fprintf(w, "%8.1f", v)
			}
			fmt.Fprintln(w)
		}
	}
}
