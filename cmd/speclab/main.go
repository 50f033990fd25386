// Command speclab is the command line of speclab, a speculative-decoding
// research toolkit: it drives llama.cpp in-process, records the fate of every
// drafted token and explains every empty or rejected draft.
//
// Run `speclab --help` or `speclab COMMAND --help` for what each command
// does. This package owns the command line: flags, output formats and exit
// codes, and the timing harness of `speclab bench` (bench.go). The rest of
// the work is done by the packages under engine/, spec/, drafts/,
// experiments/ and analysis/. Which package may import which is checked by
// internal/deps.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/speclab/speclab/terms"

	"context"
	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/engine/llamalib"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=..."; when
// empty, the module version or base plus the VCS revision is used.
var version = ""

const baseVersion = "0.1.0-dev"

func speclabVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return baseVersion
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return baseVersion
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return baseVersion + "+" + rev
}

// usageError marks errors in how the command was called (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run executes the command line and returns the process exit code: 0 on
// success, 1 when the work failed, 2 when the command was misused.
func run(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.Run(args)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "speclab: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "flag provided but not defined") ||
		strings.HasPrefix(err.Error(), "invalid value") || strings.Contains(err.Error(), "Required flag") {
		return 2
	}
	return 1
}

// Global flags, shared by every command that touches libllama.
var (
	flagLlamaLib = &cli.StringFlag{
		Name:    "llama-lib",
		Usage:   "libllama shared library, or the folder holding it (e.g. the build/bin of your own ROCm/HIP, CUDA or Vulkan build of llama.cpp)",
		EnvVars: []string{llamalib.EnvLib},
	}
	flagLlamaH = &cli.StringFlag{
		Name:    "llama-h",
		Usage:   "the llama.h of the source your libllama was built from: its struct layouts and prototypes are used instead of speclab's table of releases (found by itself as include/llama.h above a build's bin/ folder)",
		EnvVars: []string{engine.EnvHeader},
	}
	flagRuntime = &cli.StringFlag{
		Name:  "runtime",
		Usage: "use the runtime `VERSION` installed by `speclab setup --runtime VERSION` (a @node-llama-cpp/linux-x64 version) instead of the pinned one",
	}
	flagVariant = &cli.StringFlag{
		Name:  "variant",
		Usage: "with --runtime: the runtime's build, cpu or vulkan",
		Value: "cpu",
	}
	flagAllowUnknown = &cli.BoolFlag{
		Name:    "allow-unknown-llama",
		Usage:   "drive a libllama that neither speclab's table nor a llama.h describes, with the layouts of the nearest known release (the default-parameter probe must still pass)",
		EnvVars: []string{engine.EnvAllowUnknown},
	}
	flagCacheDir = &cli.StringFlag{
		Name:    "cache-dir",
		Usage:   "where `speclab setup` installs runtimes (default $XDG_CACHE_HOME/speclab or ~/.cache/speclab)",
		EnvVars: []string{"SPECLAB_CACHE"},
	}
	flagVerbose = &cli.BoolFlag{
		Name:    "verbose",
		Aliases: []string{"v"},
		Usage:   "log more, including llama.cpp's own log lines",
	}
)

func newApp(stdout, stderr io.Writer) *cli.App {
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version and exit"}
	return &cli.App{
		Name:    "speclab",
		Usage:   "find out, with evidence, whether speculative decoding helps on your hardware and why",
		Version: speclabVersion(),
		Description: `speclab drives llama.cpp in-process (through its C API, no cgo) and runs the
speculative loop itself, so that the fate of every drafted token is recorded
and every empty or rejected draft is explained.

First steps:
   speclab setup                       install the pinned llama.cpp CPU runtime (npm pack, checked)
   speclab doctor                      check the library, backends and devices
   speclab models synth                write small test models (models/synth)
   speclab inspect models/target.gguf  what a model is, and what one token costs to read

Use your own llama.cpp build (ROCm/HIP on Strix Halo, CUDA, Vulkan) with
--llama-lib PATH or SPECLAB_LLAMA_LIB=PATH; speclab knows every libllama release
of 2026 (speclab doctor names yours) and drives any other build through its
llama.h (--llama-h PATH, found by itself in a llama.cpp build tree).`,
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		Flags:                []cli.Flag{flagLlamaLib, flagLlamaH, flagRuntime, flagVariant, flagAllowUnknown, flagCacheDir, flagVerbose},
		Before: func(c *cli.Context) error {
			level := slog.LevelWarn
			if c.Bool("verbose") {
				level = slog.LevelDebug
			}
			lg := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
			slog.SetDefault(lg)
			engine.SetLogger(lg)
			return nil
		},
		ExitErrHandler: func(*cli.Context, error) {}, // run() reports errors and picks the exit code
		Commands: []*cli.Command{
			versionCommand(),
			setupCommand(),
			doctorCommand(),
			inspectCommand(),
			modelsCommand(),
			runCommand(),
			reproduceCommand(),
			explainCommand(),
			experimentCommand(),
			reportCommand(),
			plotCommand(),
			benchCommand(),
			rooflineCommand(),
			compatCommand(),
		},
	}
}

// openLib loads libllama as the global flags say.
func openLib(c *cli.Context) (*engine.Lib, error) {
	opt := engine.LibOptions{
		Path:              c.String("llama-lib"),
		CacheDir:          c.String("cache-dir"),
		Header:            c.String("llama-h"),
		AllowUnknownBuild: c.Bool("allow-unknown-llama"),
	}
	if v := c.String("runtime"); v != "" {
		if opt.Path != "" {
			return nil, usagef("--runtime and --llama-lib both name a library; pass one")
		}
		rt, err := llamalib.LookupRuntime(v, c.String("variant"))
		if err != nil {
			return nil, usagef("--runtime: %v", err)
		}
		loc, err := llamalib.LocateRuntime(rt, opt.CacheDir)
		if err != nil {
			return nil, err
		}
		opt.Path = loc.Lib
	}
	return engine.Open(opt)
}

// noFlagsAfterArgs reports flags written after a positional argument, which
// urfave/cli would otherwise silently take as arguments.
func noFlagsAfterArgs(c *cli.Context) error {
	for _, a := range c.Args().Slice() {
		if strings.HasPrefix(a, "-") && a != "-" {
			return usagef("flag %s comes after an argument; put flags first: speclab %s [flags] %s",
				a, c.Command.Name, c.Command.ArgsUsage)
		}
	}
	return nil
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print speclab's version and, if one is found, the libllama it would use",
		Action: func(c *cli.Context) error {
			w := c.App.Writer
			bi, _ := debug.ReadBuildInfo()
			goV := "unknown"
			if bi != nil {
				goV = bi.GoVersion
			}
			fmt.Fprintf(w, "speclab %s (%s)\n", speclabVersion(), goV)
			lib, err := openLib(c)
			if err != nil {
				fmt.Fprintf(w, "libllama: none usable (%s)\n", firstLine(err.Error()))
				return nil
			}
			fmt.Fprintf(w, "libllama %s, ggml %s: %s\n", lib.Version, lib.GGMLVersion, lib.Location.Lib)
			return nil
		},
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// interruptible is a context cancelled by Ctrl-C, and by the SIGTERM and
// SIGHUP that batch systems (Slurm, Kubernetes) and a closed terminal
// send: every long command stops between cells or steps, keeping what it
// finished. A second signal kills the process as usual.
func interruptible() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		<-ctx.Done()
		stop() // the next signal takes its default action
	}()
	return ctx, stop
}

// SchemaVersion is the "schema" of every --json output (terms.JSONSchema).
const SchemaVersion = terms.JSONSchema

// writeJSON prints v as indented JSON, the form of every --json output.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
