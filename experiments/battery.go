package experiments

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Task is one prompt of a battery with its token cap.
type Task struct {
	Name     string `yaml:"name"`
	Prompt   string `yaml:"prompt"`
	NPredict int    `yaml:"n_predict"`
	// Category groups tasks in the report: Spec-Bench's names
	// (translation, qa, math_reasoning, summarization, rag, multi_turn)
	// and, where it has none, MT-bench's (coding, writing, reasoning).
	Category string `yaml:"category,omitempty"`
}

// Categories are the task categories speclab knows, Spec-Bench's first.
var Categories = []string{"multi_turn", "translation", "summarization", "qa", "math_reasoning", "rag", "coding", "writing", "reasoning"}

// Battery is a named list of tasks.
type Battery struct {
	Name  string `yaml:"name"`
	Tasks []Task `yaml:"tasks"`
}

// SeedBattery is the seed study's nine tasks with the prompts it quotes and
// the token caps its table implies (the tasks that stopped early, French
// translation at 25 tokens and formal logic at 486, are given the next
// round cap).
var SeedBattery = Battery{Name: "seed", Tasks: []Task{
	{"code-battery", "Write a Python function to check if a number is prime.", 512, "coding"},
	{"haiku", "Write a haiku about AI.", 256, "writing"},
	{"french-translation", "Translate to French: The weather is nice today and I hope you are having a wonderful week.", 64, "translation"},
	{"sky-is-blue", "Explain why the sky is blue in two sentences.", 64, "qa"},
	{"formal-logic", "If all Zorks are Morks, and some Morks are Borks, what can you conclude?", 512, "reasoning"},
	{"number-sequence", "What comes next in this sequence: 2, 6, 12, 20, 30, ? Show your work.", 512, "math_reasoning"},
	{"country-list", "List the ten most populous countries in order, and justify the ordering.", 512, "qa"},
	{"short-story", "Write a complete short story (300-400 words) about a robot who discovers it has a soul.", 1024, "writing"},
	{"relativity", "Explain the theory of relativity in detail.", 2048, "qa"},
}}

// CodeBattery is a battery for code models (speclab's default models are
// trained on Go): beginnings of Go source files and functions.
var CodeBattery = Battery{Name: "code", Tasks: []Task{
	{"errors-wrap", "package config\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\n// Load reads the configuration file at path.\nfunc Load(path string) (*Config, error) {\n\tf, err := os.Open(path)\n\tif err != nil {\n", 256, "coding"},
	{"http-handler", "package server\n\nimport (\n\t\"encoding/json\"\n\t\"net/http\"\n)\n\nfunc (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {\n", 256, "coding"},
	{"sort-slice", "package util\n\nimport \"sort\"\n\n// SortByName sorts the items by name.\nfunc SortByName(items []Item) {\n\tsort.Slice(items, func(i, j int) bool {\n", 128, "coding"},
	{"table-test", "package strings_test\n\nimport (\n\t\"strings\"\n\t\"testing\"\n)\n\nfunc TestIndex(t *testing.T) {\n\ttests := []struct {\n\t\ts, sep string\n\t\twant   int\n\t}{\n", 256, "coding"},
	{"reader-loop", "package scan\n\nimport (\n\t\"bufio\"\n\t\"io\"\n)\n\n// Lines returns the lines of r.\nfunc Lines(r io.Reader) ([]string, error) {\n\tvar lines []string\n\tsc := bufio.NewScanner(r)\n", 128, "coding"},
	{"struct-methods", "package geom\n\nimport \"math\"\n\n// Point is a point in the plane.\ntype Point struct {\n\tX, Y float64\n}\n\n// Add returns p+q.\nfunc (p Point) Add(q Point) Point {\n", 256, "coding"},
	{"mutex-cache", "package cache\n\nimport \"sync\"\n\n// Cache is a map safe for concurrent use.\ntype Cache struct {\n\tmu sync.Mutex\n\tm  map[string][]byte\n}\n\n// Get returns the value stored under key.\nfunc (c *Cache) Get(key string) ([]byte, bool) {\n", 256, "coding"},
	{"switch-kind", "package token\n\n// String returns the name of the kind.\nfunc (k Kind) String() string {\n\tswitch k {\n", 256, "coding"},
}}

// Batteries are the built-in batteries by name.
var Batteries = map[string]Battery{"seed": SeedBattery, "code": CodeBattery}

// LoadBattery returns a built-in battery by name, or reads a YAML file of
// the form {name: ..., tasks: [{name, prompt, n_predict}]}.
func LoadBattery(nameOrPath string) (Battery, error) {
	if b, ok := Batteries[nameOrPath]; ok {
		return b, nil
	}
	data, err := os.ReadFile(nameOrPath)
	if err != nil {
		return Battery{}, fmt.Errorf("battery %q: not a built-in battery (%s) and not a readable file: %w", nameOrPath, strings.Join(batteryNames(), ", "), err)
	}
	var b Battery
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&b); err != nil {
		return Battery{}, fmt.Errorf("battery %s: %w", nameOrPath, err)
	}
	if b.Name == "" {
		b.Name = nameOrPath
	}
	return b, b.validate(nameOrPath)
}

func batteryNames() []string {
	var n []string
	for k := range Batteries {
		n = append(n, k)
	}
	slices.Sort(n)
	return n
}

func (b Battery) validate(where string) error {
	if len(b.Tasks) == 0 {
		return fmt.Errorf("battery %s: no tasks", where)
	}
	seen := map[string]bool{}
	for i, t := range b.Tasks {
		switch {
		case t.Name == "":
			return fmt.Errorf("battery %s: task %d has no name", where, i+1)
		case seen[t.Name]:
			return fmt.Errorf("battery %s: task name %q used twice", where, t.Name)
		case t.Prompt == "":
			return fmt.Errorf("battery %s: task %q has no prompt", where, t.Name)
		case t.NPredict <= 0:
			return fmt.Errorf("battery %s: task %q: n_predict %d: want > 0", where, t.Name, t.NPredict)
		}
		seen[t.Name] = true
	}
	return nil
}
