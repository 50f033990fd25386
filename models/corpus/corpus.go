// Package corpus owns the training and evaluation text of speclab's default
// models: the hand-written, non-test Go files of the Go toolchain's standard
// library source ($GOROOT/src), in a fixed order, split into a training
// part, a validation part (for watching over-fitting while training) and a
// held-out part of whole packages (for measuring the finished models). It
// also owns the token streams made from them. It must not touch the models
// themselves or anything outside the corpus.
//
// The Go source is distributed under Go's BSD-style licence; see
// models/README.md for the notice.
package corpus

import (
	"errors"
	"fmt"
	"go/build"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/speclab/speclab/engine/bpe"
)

// HeldOut lists the packages kept out of training, by import path. Only the
// package's own folder is held out, not the packages below it.
var HeldOut = []string{
	"archive/zip",
	"encoding/json",
	"image/png",
	"net/http",
	"text/template",
}

// ValEvery puts every ValEvery-th training file (by index in the sorted
// list of non-held-out files, counting from 1) in the validation part.
const ValEvery = 50

// Part says which part of the corpus a file belongs to.
type Part int

// The parts of the corpus.
const (
	Train Part = iota
	Val
	Test // held out
)

func (p Part) String() string {
	switch p {
	case Train:
		return "train"
	case Val:
		return "val"
	case Test:
		return "heldout"
	}
	return fmt.Sprintf("Part(%d)", int(p))
}

// File is one source file of the corpus.
type File struct {
	Rel  string // path below $GOROOT/src, slash-separated
	Pkg  string // import path: the folder of Rel
	Part Part
	Text string
}

// SrcDir returns $GOROOT/src of the Go toolchain: $GOROOT when set, else
// the root this program was built with.
func SrcDir() (string, error) {
	root := os.Getenv("GOROOT")
	if root == "" {
		root = build.Default.GOROOT
	}
	if root == "" {
		return "", errors.New("corpus: no GOROOT: set GOROOT to the Go toolchain's folder")
	}
	src := filepath.Join(root, "src")
	if _, err := os.Stat(filepath.Join(src, "fmt", "print.go")); err != nil {
		return "", fmt.Errorf("corpus: %s does not hold the Go standard library source: %w", src, err)
	}
	return src, nil
}

// Version returns the Go version of the toolchain whose source src is (the
// first line of $GOROOT/VERSION, e.g. "go1.26.8"), or "" when it has none.
func Version(src string) string {
	b, err := os.ReadFile(filepath.Join(src, "..", "VERSION"))
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line)
}

// generated matches the line that marks generated Go source
// (https://go.dev/s/generatedcode).
var generated = regexp.MustCompile(`(?m)^// Code generated .* DO NOT EDIT\.$`)

// IsGenerated reports whether text is marked as generated Go source.
func IsGenerated(text []byte) bool { return generated.Match(text) }

// List reads the corpus below src ($GOROOT/src): every .go file that is not
// a test (_test.go), not below a testdata or vendor folder and not marked
// as generated, sorted by Rel, each with its part.
func List(src string) ([]File, error) {
	held := make(map[string]bool, len(HeldOut))
	for _, p := range HeldOut {
		held[p] = true
	}
	var files []File
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != src && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || !d.Type().IsRegular() {
			return nil
		}
		text, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if IsGenerated(text) {
			return nil
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		files = append(files, File{Rel: rel, Pkg: path.Dir(rel), Text: string(text)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("corpus: list %s: %w", src, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("corpus: no Go files below %s", src)
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Rel, b.Rel) })
	n := 0
	found := map[string]bool{}
	for i := range files {
		if held[files[i].Pkg] {
			files[i].Part = Test
			found[files[i].Pkg] = true
			continue
		}
		n++
		if n%ValEvery == 0 {
			files[i].Part = Val
		}
	}
	for _, p := range HeldOut {
		if !found[p] {
			return nil, fmt.Errorf("corpus: held-out package %s has no files below %s", p, src)
		}
	}
	return files, nil
}

// Texts returns the texts of the files of part p.
func Texts(files []File, p Part) []string {
	var out []string
	for _, f := range files {
		if f.Part == p {
			out = append(out, f.Text)
		}
	}
	return out
}

// Stream tokenizes texts with tok into one stream: each text is BOS
// followed by its tokens (tok.Tokenize(text, true, false)), which is how
// the models were trained and are evaluated.
func Stream(tok *bpe.Tokenizer, texts []string) []int32 {
	var out []int32
	for _, t := range texts {
		out = append(out, tok.Tokenize(t, true, false)...)
	}
	return out
}

// Windows cuts stream into n consecutive, non-overlapping windows of size
// tokens from its start (fewer when the stream is shorter): the evaluation
// windows, the same in PyTorch and through libllama.
func Windows(stream []int32, size, n int) [][]int32 {
	var out [][]int32
	for i := 0; i < n && (i+1)*size <= len(stream); i++ {
		out = append(out, stream[i*size:(i+1)*size])
	}
	return out
}

// FirstDiff returns the first index where a and b differ, or -1.
func FirstDiff(a, b []int32) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}
