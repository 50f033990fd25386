package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/engine/synth"
)

func modelsCommand() *cli.Command {
	return &cli.Command{
		Name:  "models",
		Usage: "make the project's own models",
		Subcommands: []*cli.Command{{
			Name:  "synth",
			Usage: "write small deterministic GGUF models for tests and demos",
			Description: `Writes four small random-weight GGUF models, byte for byte the same for the
same seed and type:
   target.gguf       llama architecture, a real byte-level BPE tokenizer (merges included)
   draft.gguf        a smaller llama sharing the target's tokenizer
   other-vocab.gguf  a draft-sized llama with a different tokenizer (llama.cpp's
                     vocabulary rules refuse it as a draft for the target)
   recurrent.gguf    a recurrent model whose memory cannot drop a tail
Their acceptance rates mean nothing (the weights are random); they exist to
test the mechanics: loading, decoding, rollback, state checkpoints, refusals.

They go to models/synth by default, beside (never over) the trained default
models in models/. A file that holds another model is never overwritten
without --force; one that already holds exactly these bytes is left alone.

Examples:
   speclab models synth
   speclab models synth --out /tmp/m --seed 7 --type mxfp4`,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "out", Usage: "folder to write into (created if missing)", Value: filepath.Join("models", "synth")},
				&cli.BoolFlag{Name: "force", Usage: "overwrite files in --out that hold other models"},
				&cli.Uint64Flag{Name: "seed", Usage: "seed of the weights", Value: 1},
				&cli.StringFlag{Name: "type", Usage: "type of the 2-D weight matrices: f32, f16, q8_0 or mxfp4", Value: "mxfp4"},
			},
			Action: func(c *cli.Context) error {
				if err := noFlagsAfterArgs(c); err != nil {
					return err
				}
				t, err := parseWeightType(c.String("type"))
				if err != nil {
					return err
				}
				set, err := synth.WriteSet(c.String("out"), synth.Options{Seed: c.Uint64("seed"), Type: t, Overwrite: c.Bool("force")})
				if errors.Is(err, synth.ErrExists) {
					return fmt.Errorf("models synth: %w; pass --force to overwrite them", err)
				}
				if err != nil {
					return fmt.Errorf("models synth: %w", err)
				}
				for _, p := range set.Paths() {
					st, err := os.Stat(p)
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "%-40s %s\n", p, human(uint64(st.Size())))
				}
				return nil
			},
		}},
	}
}

func parseWeightType(s string) (gguf.Type, error) {
	switch strings.ToLower(s) {
	case "f32":
		return gguf.TypeF32, nil
	case "f16":
		return gguf.TypeF16, nil
	case "q8_0", "q8":
		return gguf.TypeQ8_0, nil
	case "mxfp4", "fp4":
		return gguf.TypeMXFP4, nil
	}
	return 0, usagef("--type %q: want f32, f16, q8_0 or mxfp4", s)
}
