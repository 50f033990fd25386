package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/engine/llamalib"
	"github.com/speclab/speclab/rocm"
)

func setupCommand() *cli.Command {
	return &cli.Command{
		Name:  "setup",
		Usage: "install the pinned llama.cpp CPU runtime, or other known runtimes, into the cache (once; offline afterwards)",
		Description: fmt.Sprintf(`Downloads %s@%s with `+"`npm pack`"+` (Node.js and npm needed, once),
checks its sha512 integrity against the value pinned in speclab, and unpacks
its shared libraries (libllama, libggml and the CPU backends) into the cache.
A second run finds the install and does no network work. A failed download or
a wrong hash leaves nothing half-installed.

--runtime VERSION (repeatable) installs other runtimes of speclab's table of
releases instead, each checked against its own pinned sha512; --variant vulkan
takes their Vulkan build. Use one with the global --runtime flag:

   speclab setup --runtime 3.18.1 --runtime 3.20.0
   speclab --runtime 3.18.1 doctor
   speclab setup --runtime 3.22.1 --variant vulkan

To use your own build instead (ROCm/HIP on Strix Halo, CUDA, Vulkan), skip
this and point speclab at it with --llama-lib or %s.`, llamalib.DefaultPackage, llamalib.DefaultVersion, llamalib.EnvLib),
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "runtime", Usage: "install the runtime `VERSION` (a @node-llama-cpp/linux-x64 version of the table; repeatable)"},
			&cli.StringFlag{Name: "variant", Value: "cpu", Usage: "with --runtime: cpu or vulkan"},
			&cli.BoolFlag{Name: "peer", Usage: "also build llama.cpp's own llama-server, llama-speculative-simple and llama-completion of the pinned release from its sha512-pinned source (CPU only; needs cmake and a C++ compiler; minutes, once) and print their folder on the last line"},
			&cli.StringSliceFlag{Name: "header", Usage: "also fetch the llama.cpp source of runtime `VERSION` (bundled in node-llama-cpp@VERSION, about 30 MB) and print the path of its llama.h, for --llama-h (repeatable)"},
		},
		Action: func(c *cli.Context) error {
			ctx, stop := interruptible()
			defer stop()
			runtimes := []llamalib.Runtime{llamalib.DefaultRuntime}
			if vs := c.StringSlice("runtime"); len(vs) > 0 {
				runtimes = nil
				for _, v := range vs {
					rt, err := llamalib.LookupRuntime(v, c.String("variant"))
					if err != nil {
						return usagef("setup: %v", err)
					}
					runtimes = append(runtimes, rt)
				}
			}
			if (len(c.StringSlice("header")) > 0 || c.Bool("peer")) && len(c.StringSlice("runtime")) == 0 {
				runtimes = nil // only headers or the peer were asked for
			}
			for _, v := range c.StringSlice("header") {
				src, err := llamalib.FetchSource(ctx, c.String("cache-dir"), v, func(s string) { fmt.Fprintln(c.App.ErrWriter, s) })
				if err != nil {
					return fmt.Errorf("setup --header %s: %w", v, err)
				}
				fmt.Fprintf(c.App.Writer, "llama.h of %s (llama.cpp %s): %s\n", v, src.Release, src.Header())
			}
			for _, rt := range runtimes {
				lib, err := llamalib.Install(ctx, llamalib.InstallOptions{
					CacheDir: c.String("cache-dir"),
					Progress: c.App.ErrWriter,
					Runtime:  rt,
				})
				if err != nil {
					return fmt.Errorf("setup %s: %w", rt, err)
				}
				fmt.Fprintf(c.App.Writer, "llama.cpp runtime ready: %s\n", lib)
			}
			if c.Bool("peer") {
				p, err := llamalib.BuildPeer(ctx, c.String("cache-dir"), func(s string) { fmt.Fprintln(c.App.ErrWriter, s) })
				if err != nil {
					return fmt.Errorf("setup --peer: %w", err)
				}
				fmt.Fprintf(c.App.Writer, "llama.cpp %s tools (%s):\n%s\n", p.Release, strings.Join(llamalib.PeerTools, ", "), p.BinDir)
			}
			return nil
		},
	}
}

// doctorReport is what `speclab doctor` finds; --json prints it as is.
type doctorReport struct {
	Schema      string              `json:"schema"`
	Speclab     string              `json:"speclab"`
	Library     string              `json:"library,omitempty"`
	Source      string              `json:"source,omitempty"`
	Version     string              `json:"llama_version,omitempty"`
	GGMLVersion string              `json:"ggml_version,omitempty"`
	KnownBuild  string              `json:"known_build,omitempty"`
	Layouts     string              `json:"layouts,omitempty"`
	Identified  string              `json:"identified_by,omitempty"`
	Capability  []engine.Capability `json:"capabilities,omitempty"`
	TensorTypes string              `json:"tensor_types,omitempty"`
	Backends    []string            `json:"backends,omitempty"`
	Devices     []engine.Device     `json:"devices,omitempty"`
	GPUOffload  bool                `json:"gpu_offload"`
	SystemInfo  string              `json:"system_info,omitempty"`
	Problems    []string            `json:"problems,omitempty"`
	Fixes       []string            `json:"fixes,omitempty"`
	// GPUs are what the HIP and CUDA runtimes report (package rocm),
	// whatever libllama was built for; GPURuntimes says why a runtime has
	// none ("not found", "no device").
	GPUs        []rocm.Device     `json:"gpus"`
	GPURuntimes map[string]string `json:"gpu_runtimes"`
}

func doctorCommand() *cli.Command {
	return &cli.Command{
		Name:  "doctor",
		Usage: "check that speclab can drive llama.cpp here: library, version, backends, devices",
		Description: `Finds libllama (--llama-lib, then $SPECLAB_LLAMA_LIB, then the runtime of
` + "`speclab setup`" + `), checks that speclab knows its build, loads its ggml backends and
lists the devices they see. Whatever is missing is listed with the command that
fixes it. Exits 1 when speclab cannot drive llama.cpp.`,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"}},
		Action: func(c *cli.Context) error {
			r := doctorReport{Schema: SchemaVersion, Speclab: speclabVersion()}
			lib, err := openLib(c)
			if err != nil {
				r.Problems = append(r.Problems, err.Error())
				if strings.Contains(err.Error(), "not found") {
					r.Fixes = append(r.Fixes, "run `speclab setup` to install the pinned CPU runtime",
						"or pass --llama-lib /path/to/libllama.so (or the folder of your own llama.cpp build)")
				}
			} else {
				r.Library, r.Source = lib.Location.Lib, string(lib.Location.Source)
				r.Version, r.GGMLVersion, r.KnownBuild = lib.Version, lib.GGMLVersion, lib.KnownBuild
				r.Layouts, r.Identified, r.Capability = lib.LayoutSource, lib.IdentifiedBy, lib.Capabilities
				r.TensorTypes = lib.TypesFrom
				r.Backends, r.Devices = lib.Backends(), lib.Devices()
				r.GPUOffload = lib.SupportsGPUOffload()
				r.SystemInfo = strings.TrimSpace(lib.SystemInfo())
				unloaded := lib.UnloadedBackends()
				for _, b := range unloaded {
					r.Fixes = append(r.Fixes, fmt.Sprintf("%s is beside the library but no backend: %s", filepath.Base(b.File), b.Why))
				}
				if !r.GPUOffload && len(unloaded) == 0 {
					r.Fixes = append(r.Fixes, "this build has no GPU backend: everything runs on the CPU; for a GPU, point --llama-lib at a ROCm/HIP, CUDA or Vulkan build of llama.cpp")
				}
			}
			gpus, gerrs := rocm.Probe()
			r.GPUs, r.GPURuntimes = append([]rocm.Device{}, gpus...), map[string]string{}
			for name, err := range gerrs {
				r.GPURuntimes[name] = err.Error()
			}
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				if err := enc.Encode(r); err != nil {
					return err
				}
			} else {
				printDoctor(c, r)
			}
			if len(r.Problems) > 0 {
				return fmt.Errorf("doctor: speclab cannot drive llama.cpp here (%d problem(s) above)", len(r.Problems))
			}
			return nil
		},
	}
}

func printDoctor(c *cli.Context, r doctorReport) {
	w := c.App.Writer
	fmt.Fprintf(w, "speclab   %s\n", r.Speclab)
	if r.Library != "" {
		fmt.Fprintf(w, "library   %s (from %s)\n", r.Library, r.Source)
		v := r.Version
		if v == "" {
			v = "(no llama_version)"
		}
		fmt.Fprintf(w, "version   llama %s, ggml %s\n", v, r.GGMLVersion)
		switch {
		case r.KnownBuild != "":
			fmt.Fprintf(w, "release   %s\n", r.KnownBuild)
		case strings.HasPrefix(r.Layouts, "header "):
			fmt.Fprintf(w, "release   not in speclab's table: driven through its llama.h\n")
		default:
			fmt.Fprintf(w, "release   UNKNOWN (loaded with --allow-unknown-llama)\n")
		}
		fmt.Fprintf(w, "layouts   %s\n", r.Layouts)
		fmt.Fprintf(w, "found by  %s\n", r.Identified)
		fmt.Fprintf(w, "types     tensor types sized by the library's own ggml: %s\n", r.TensorTypes)
		for i, cp := range r.Capability {
			label := "features "
			if i > 0 {
				label = "         "
			}
			mark := "yes"
			if !cp.Present {
				mark = "no "
			}
			fmt.Fprintf(w, "%s %s %-22s %s\n", label, mark, cp.Name, cp.Detail)
		}
		fmt.Fprintf(w, "backends  %s\n", strings.Join(r.Backends, ", "))
		for i, d := range r.Devices {
			label := "devices  "
			if i > 0 {
				label = "         "
			}
			fmt.Fprintf(w, "%s %-8s %-6s %s, %.1f GiB total, %.1f GiB free\n", label, d.Name, d.Type, d.Description,
				float64(d.MemTotal)/(1<<30), float64(d.MemFree)/(1<<30))
		}
		fmt.Fprintf(w, "offload   GPU offload %s\n", map[bool]string{true: "supported", false: "not supported by this build"}[r.GPUOffload])
		fmt.Fprintf(w, "system    %s\n", r.SystemInfo)
	}
	for _, d := range r.GPUs {
		extra := ""
		if d.Integrated {
			extra = ", integrated (shares the host's memory)"
		}
		if d.VRAMBytes > 0 || d.GTTBytes > 0 {
			extra += fmt.Sprintf(", VRAM carve-out %.1f GiB, GTT %.1f GiB", float64(d.VRAMBytes)/(1<<30), float64(d.GTTBytes)/(1<<30))
		}
		if k, ok := rocm.Lookup(d.Name, d.Arch); ok {
			extra += "; known as " + k.Label
		}
		fmt.Fprintf(w, "gpu       %s %d: %s (%s, %d CUs/SMs, %d MHz), %.1f GiB, %.1f GiB free%s\n", d.Runtime, d.Index, d.Name, d.Arch,
			d.ComputeUnits, d.ClockMHz, float64(d.TotalBytes)/(1<<30), float64(d.FreeBytes)/(1<<30), extra)
	}
	for _, name := range slices.Sorted(maps.Keys(r.GPURuntimes)) {
		fmt.Fprintf(w, "gpu       %s: %s\n", name, r.GPURuntimes[name])
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "PROBLEM   %s\n", p)
	}
	for _, f := range r.Fixes {
		fmt.Fprintf(w, "hint      %s\n", f)
	}
	if len(r.Problems) == 0 {
		fmt.Fprintln(w, "ok        speclab can drive this llama.cpp")
	}
}
