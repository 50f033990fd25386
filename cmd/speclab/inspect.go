package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/speclab/speclab/engine"
	"github.com/speclab/speclab/engine/gguf"
	"github.com/speclab/speclab/engine/modelcheck"
)

// inspectReport is what `speclab inspect` finds; --json prints it as is.
type inspectReport struct {
	Schema   string            `json:"schema"`
	Path     string            `json:"path"`
	Bytes    int64             `json:"file_bytes"`
	Summary  gguf.Summary      `json:"gguf"`
	Model    *engine.ModelInfo `json:"libllama,omitempty"`
	TailDrop *bool             `json:"partial_kv_removal,omitempty"`
	Notes    []string          `json:"notes,omitempty"`
	// Problems are what libllama would abort on or mis-compute (package
	// modelcheck); a model with any is not loaded.
	Problems []string `json:"problems,omitempty"`
}

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "describe a GGUF model: architecture, parameters, vocabulary, tensor types, bytes read per token, rollback",
		ArgsUsage: "MODEL.gguf",
		Description: `Reads and validates the GGUF header in Go (a corrupt or truncated file is
reported without libllama ever reading it), summarises the tensors by type and
the bytes of weights read to generate one token (the basis of a memory-
bandwidth roofline), then loads the model into libllama to report what
llama.cpp sees and to probe whether its memory can drop a tail (partial KV
removal: what a speculative loop needs to reject a draft cheaply; recurrent and
hybrid models such as Qwen3.5 cannot, and need state checkpoints instead).

Examples:
   speclab inspect models/target.gguf
   speclab inspect --json ~/models/Qwable-5-27B-ROCmFP4.gguf
   speclab inspect --no-load big.gguf     # header only, no libllama`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
			&cli.BoolFlag{Name: "no-load", Usage: "read the GGUF header only; do not load the model into libllama"},
		},
		Action: func(c *cli.Context) error {
			if err := noFlagsAfterArgs(c); err != nil {
				return err
			}
			if c.NArg() != 1 {
				return usagef("inspect takes one MODEL.gguf (got %d arguments)", c.NArg())
			}
			path := c.Args().First()
			// With a library, tensors are sized by its own ggml's type
			// table; without one, by speclab's, and types it does not know
			// are a warning.
			var lib *engine.Lib
			var libErr error
			var opt gguf.Options
			if !c.Bool("no-load") {
				if lib, libErr = openLib(c); libErr == nil {
					opt.Types = lib.TensorTypes()
				}
			}
			f, err := gguf.OpenWith(path, opt)
			if err != nil {
				return fmt.Errorf("inspect: %w", err)
			}
			r := inspectReport{Schema: SchemaVersion, Path: path, Bytes: f.FileSize, Summary: f.Summarize()}
			r.Notes = append(r.Notes, f.Warnings...)
			if len(f.ForeignTypes) > 0 {
				var names []string
				for _, t := range f.ForeignTypes {
					n, _, _, _ := f.Types.TypeInfo(t)
					names = append(names, fmt.Sprintf("%s (id %d)", n, uint32(t)))
				}
				r.Notes = append(r.Notes, fmt.Sprintf("sized by %s, not speclab's table: %s", f.Types.Describe(), strings.Join(names, ", ")))
			}
			if fh, err := os.Open(path); err == nil {
				for _, p := range modelcheck.Check(f, fh) {
					r.Problems = append(r.Problems, p.String())
				}
				fh.Close()
			}
			switch {
			case len(r.Problems) > 0:
				r.Notes = append(r.Notes, "not loaded into libllama: it would abort on or mis-compute this model (see problems)")
			case c.Bool("no-load"):
			case libErr != nil:
				r.Notes = append(r.Notes, "not loaded into libllama: "+firstLine(libErr.Error()))
			default:
				r.load(lib, path)
			}
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				if err := enc.Encode(r); err != nil {
					return err
				}
			} else {
				r.print(c)
			}
			if len(r.Problems) > 0 {
				return fmt.Errorf("inspect %s: %d problems that libllama would abort on or mis-compute; the first: %s", path, len(r.Problems), r.Problems[0])
			}
			return nil
		},
	}
}

// load adds what libllama reports. A missing library is a note, not a
// failure: the GGUF part of the report stands on its own.
func (r *inspectReport) load(lib *engine.Lib, path string) {
	m, err := lib.LoadModel(path, engine.ModelParams{LoadMode: engine.LoadAuto})
	if err != nil {
		r.Notes = append(r.Notes, "libllama refused the model: "+err.Error())
		return
	}
	defer m.Close()
	info := m.Info
	r.Model = &info
	ok, err := m.CanRemoveTail()
	if err != nil {
		r.Notes = append(r.Notes, "rollback probe failed: "+err.Error())
		return
	}
	r.TailDrop = &ok
}

func (r *inspectReport) print(c *cli.Context) {
	w := c.App.Writer
	s := r.Summary
	fmt.Fprintf(w, "file          %s (%s)\n", r.Path, human(uint64(r.Bytes)))
	name := s.Name
	if name != "" {
		name = fmt.Sprintf(" %q", name)
	}
	fmt.Fprintf(w, "architecture  %s%s\n", s.Architecture, name)
	fmt.Fprintf(w, "parameters    %s\n", count(s.Params))
	if s.BlockCount > 0 {
		heads := ""
		if s.HeadCount > 0 {
			heads = fmt.Sprintf(", %d heads (%d KV)", s.HeadCount, s.HeadCountKV)
		}
		fmt.Fprintf(w, "shape         %d layers, embedding %d%s, context %d\n",
			s.BlockCount, s.EmbeddingLength, heads, s.ContextLength)
	}
	vocab := fmt.Sprintf("%d tokens, tokenizer %q", s.VocabSize, s.TokenizerModel)
	if m := r.Model; m != nil {
		vocab += fmt.Sprintf(" (%s); BOS %d, EOS %d", m.VocabType, m.BOS, m.EOS)
	}
	fmt.Fprintf(w, "vocabulary    %s\n", vocab)
	var types []string
	for _, t := range s.ByType {
		size := human(t.Bytes)
		if t.Unsized {
			size = "≤ " + size + " (type unknown, size unchecked)"
		}
		types = append(types, fmt.Sprintf("%s ×%d %s", t.Name, t.Tensors, size))
	}
	fmt.Fprintf(w, "tensors       %s in all: %s\n", human(s.TensorBytes), strings.Join(types, ", "))
	fmt.Fprintf(w, "bytes/token   %s of weights read per generated token\n", human(s.BytesPerToken))
	if m := r.Model; m != nil {
		kind := "attention (KV cache)"
		switch {
		case m.Hybrid:
			kind = "hybrid (recurrent state + KV cache)"
		case m.Recurrent:
			kind = "recurrent state"
		}
		fmt.Fprintf(w, "libllama      %s; %s\n", m.Description, kind)
		if m.ChatTemplate != "" {
			fmt.Fprintf(w, "chat template yes (%d bytes)\n", len(m.ChatTemplate))
		}
	}
	if r.TailDrop != nil {
		if *r.TailDrop {
			fmt.Fprintln(w, "rollback      partial KV removal works: rejected drafts are dropped with llama_memory_seq_rm")
		} else {
			fmt.Fprintln(w, "rollback      partial KV removal is impossible: a speculative loop must checkpoint and restore the sequence state")
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note          %s\n", n)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "PROBLEM       %s\n", p)
	}
}

func human(b uint64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := uint64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}

func count(n uint64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f B", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2f M", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f K", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
