// Command prep makes the training data of speclab's default models: it
// lists the corpus (package corpus), trains the two tokenizers and writes
// them, and the token streams of every part of the corpus under each, to a
// folder (models/.work/data by default) that the training script reads.
// It must not write anywhere else.
//
//	go run ./models/prep [-out models/.work/data]
//
// Files written: tok-main.json and tok-other.json (the tokenizers), and
// for each tokenizer NAME and part PART (train, val, heldout)
// NAME-PART.bin.gz, gzip-compressed little-endian uint16 tokens, each file
// of the part as BOS followed by its tokens, files in corpus order.
package main

import (
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/speclab/speclab/engine/bpe"
	"github.com/speclab/speclab/models/corpus"
)

func main() {
	out := flag.String("out", filepath.Join("models", ".work", "data"), "output folder")
	flag.Parse()
	if err := run(*out); err != nil {
		log.Fatal(err)
	}
}

func run(out string) error {
	src, err := corpus.SrcDir()
	if err != nil {
		return err
	}
	files, err := corpus.List(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("prep: %w", err)
	}
	log.Printf("corpus: %d files below %s (%s)", len(files), src, corpus.Version(src))

	main, err := corpus.TrainMain(files)
	if err != nil {
		return err
	}
	other, err := corpus.TrainOther(files)
	if err != nil {
		return err
	}
	for _, t := range []struct {
		name string
		tok  *bpe.Tokenizer
	}{{"main", main}, {"other", other}} {
		if err := corpus.SaveTokenizer(filepath.Join(out, "tok-"+t.name+".json"), t.tok); err != nil {
			return err
		}
		for _, p := range []corpus.Part{corpus.Train, corpus.Val, corpus.Test} {
			s := corpus.Stream(t.tok, corpus.Texts(files, p))
			path := filepath.Join(out, t.name+"-"+p.String()+".bin.gz")
			if err := writeGz(path, s); err != nil {
				return err
			}
			log.Printf("%s: %d tokens", path, len(s))
		}
	}
	info := map[string]any{
		"go_version": corpus.Version(src),
		"held_out":   strings.Join(corpus.HeldOut, ","),
		"files":      len(files),
	}
	b, _ := json.MarshalIndent(info, "", "  ")
	return os.WriteFile(filepath.Join(out, "info.json"), b, 0o644)
}

func writeGz(path string, tokens []int32) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("prep: %w", err)
	}
	zw := gzip.NewWriter(f)
	buf := make([]byte, 2*len(tokens))
	for i, t := range tokens {
		binary.LittleEndian.PutUint16(buf[2*i:], uint16(t))
	}
	if _, err := zw.Write(buf); err != nil {
		f.Close()
		return fmt.Errorf("prep: write %s: %w", path, err)
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return fmt.Errorf("prep: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("prep: write %s: %w", path, err)
	}
	return nil
}
