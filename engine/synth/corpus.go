package synth

// The built-in corpus the synthetic tokenizers are trained on: original
// English prose and Go-like code written for this package. Changing a
// single byte changes every synthetic model, so treat it as frozen.

// prose is the English part of the corpus.
var prose = []string{
	`The lighthouse stood at the end of a narrow spit of rock, and the keeper
climbed its one hundred and twelve steps twice a day. In the morning he
wound the clockwork that turned the lens; in the evening he trimmed the wick
and wiped the salt from the glass. He kept a log of the weather, the ships
that passed, and the birds that rested on the rail. Most entries were short:
"Wind from the west, light rain, two fishing boats." Some were longer, when a
storm came in from the sea and the waves broke over the lower windows.`,

	`It's easy to forget how much work a small garden needs. You'll water it in
the dry weeks, pull the weeds before they seed, and cover the young plants
when a late frost is forecast. We've grown beans, peas, lettuce and three
kinds of tomatoes this year. The tomatoes didn't ripen until September, but
they'd been worth the wait: sweet, heavy and warm from the sun. I'm planning
to save the seeds from the best plants and try again next spring.`,

	`A good explanation starts with the question the reader actually has. It
names the thing being explained, says what it is for, and only then goes into
how it works. Examples help more than definitions; a short example that runs
is better than a long one that almost runs. When the explanation is finished,
the reader should be able to predict what happens in a case they have not
seen yet. If they cannot, the explanation was a description, not a model.`,

	`The train left the station at 7:45 and reached the coast a little after
noon. Between the two lay farms, forests, a long tunnel and a bridge over a
wide brown river. The passengers read, slept, talked about the weather, and
watched the fields go by. A child counted cows: twelve, thirty-one, forty-four,
then gave up somewhere near a hundred. At the last stop the doors opened onto
a platform that smelled of seaweed, diesel and fresh bread from a kiosk.`,

	`Speculative decoding makes a large language model faster without changing
what it says. A small draft model guesses the next few tokens; the large
target model checks all of the guesses in a single pass, keeps the longest
prefix it agrees with, and adds one token of its own. When the draft is often
right, several tokens are accepted per pass and the text appears sooner. When
the draft is usually wrong, the extra work is wasted, and decoding is slower
than it would have been without a draft at all.`,

	`Measure twice, cut once. Numbers without units are only half a result:
"3.5" might mean seconds, megabytes or percent. Report the median and the
spread, not just the best run, and say which machine produced them. A table
with 1,024 rows is hard to read; a plot with clear axes is easier. If two
results disagree, the first thing to check is whether they measured the same
thing in the same way, on the same input, with the same settings.`,

	`The old library had tall shelves, narrow ladders and a reading room with
green lamps. Visitors signed a book at the door, wrote their names and the
date, and left their coats on hooks by the stairs. The librarian knew where
almost everything was, even the books that had been put back in the wrong
place. She said the catalogue was a map, and that like every map it was wrong
in small ways that only mattered when you were lost.`,

	`Winter came early that year. The first snow fell in October, melted, and
fell again; by December the roads were white from the village to the pass.
People kept their stoves burning day and night, and the baker opened an hour
later so the flour would not freeze on the way in. Children built forts,
threw snowballs, and slid down the hill behind the church on trays, sacks and
anything else that would slide.`,
}

// code is the Go-like part of the corpus.
var code = []string{
	`package queue

// Queue is a first-in, first-out queue of integers.
type Queue struct {
	items []int
	head  int
}

// Push adds v at the back of the queue.
func (q *Queue) Push(v int) {
	q.items = append(q.items, v)
}

// Pop removes and returns the front of the queue.
func (q *Queue) Pop() (int, bool) {
	if q.head >= len(q.items) {
		return 0, false
	}
	v := q.items[q.head]
	q.head++
	return v, true
}

// Len returns the number of items in the queue.
func (q *Queue) Len() int { return len(q.items) - q.head }
`,

	`func readConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	var cfg Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("parse config %s: %w", path, err)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	return &cfg, nil
}
`,

	`// sum returns the sum of xs and the number of values that were negative.
func sum(xs []float64) (total float64, negative int) {
	for _, x := range xs {
		total += x
		if x < 0 {
			negative++
		}
	}
	return total, negative
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	total, _ := sum(xs)
	return total / float64(len(xs))
}
`,

	`func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		s.mu.Lock()
		n := len(s.items)
		s.mu.Unlock()
		fmt.Fprintf(w, "%d items\n", n)
	case http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.add(string(body))
		w.WriteHeader(http.StatusCreated)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}
`,

	`type Matrix struct {
	Rows, Cols int
	Data       []float32
}

func (m *Matrix) At(i, j int) float32 { return m.Data[i*m.Cols+j] }

func (m *Matrix) Mul(v []float32) []float32 {
	out := make([]float32, m.Rows)
	for i := 0; i < m.Rows; i++ {
		var acc float32
		for j := 0; j < m.Cols; j++ {
			acc += m.At(i, j) * v[j]
		}
		out[i] = acc
	}
	return out
}
`,

	`func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"0", 0, true},
		{"42", 42, true},
		{"-7", -7, true},
		{"x", 0, false},
	}
	for _, tt := range tests {
		got, err := parse(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parse(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}
`,
}

// otherCorpus is the slice of the corpus the "other vocabulary" tokenizer
// learns from: the code first and only half of the prose, so its merges and
// therefore its token texts differ from the main tokenizer's.
func otherCorpus() []string {
	out := append([]string{}, code...)
	return append(out, prose[len(prose)/2:]...)
}

// mainCorpus is everything: prose, then code.
func mainCorpus() []string {
	out := append([]string{}, prose...)
	return append(out, code...)
}
