// Package llamaserver talks to a running llama-server over HTTP: its
// /health, /props, /slots, /metrics and /completion endpoints, for users
// who want to know what their own server does with speculation rather than
// what an in-process run would do. It reads what the server says about
// speculation (per-request timings, the slots' speculative flag, the
// llamacpp: counters) and never guesses what it does not say: a counter
// the server does not report is nil, not zero.
//
// It owns the HTTP protocol only. It must not load models or libllama, and
// knows nothing of run folders (package experiments) or their analysis.
package llamaserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Errors a caller can tell apart.
var (
	// ErrUnreachable: nothing answers at the URL.
	ErrUnreachable = errors.New("llama-server unreachable")
	// ErrNotLlamaServer: something answers, but not as llama-server does.
	ErrNotLlamaServer = errors.New("not a llama-server")
	// ErrTimeout: the server did not answer a request in time.
	ErrTimeout = errors.New("llama-server did not answer in time")
	// ErrDisabled: the server was started without the endpoint (--slots,
	// --metrics).
	ErrDisabled = errors.New("endpoint disabled on this server")
)

// Client is a connection to one llama-server.
type Client struct {
	base *url.URL
	http *http.Client
	// Timeout bounds one request (a completion included); 0 means 10
	// minutes.
	Timeout time.Duration
	// Retries is how often a request that could not connect is tried
	// again (a completion that got an answer is never retried).
	Retries int
	// Log receives one line per retry; nil discards them.
	Log func(string)
}

// New returns a client of the server at rawURL (http://host:port).
func New(rawURL string) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server %q: want a URL such as http://127.0.0.1:8080", rawURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &Client{base: u, http: &http.Client{Transport: &http.Transport{
		DialContext: (&net.Dialer{Timeout: 3 * time.Second}).DialContext,
	}}, Retries: 2}, nil
}

// URL is the server's base URL.
func (c *Client) URL() string { return c.base.String() }

func (c *Client) do(ctx context.Context, method, path string, body any) ([]byte, int, error) {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, 0, err
		}
	}
	for attempt := 0; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		req, err := http.NewRequestWithContext(rctx, method, c.base.String()+path, bytes.NewReader(payload))
		if err != nil {
			cancel()
			return nil, 0, err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.http.Do(req)
		if err == nil {
			data, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
			resp.Body.Close()
			cancel()
			if rerr != nil {
				if errors.Is(rctx.Err(), context.DeadlineExceeded) {
					return nil, 0, fmt.Errorf("%s %s: %w after %s", method, path, ErrTimeout, timeout)
				}
				return nil, 0, fmt.Errorf("%s %s: %w", method, path, rerr)
			}
			return data, resp.StatusCode, nil
		}
		timedOut := errors.Is(rctx.Err(), context.DeadlineExceeded)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil, 0, ctx.Err()
		case timedOut:
			return nil, 0, fmt.Errorf("%s %s: %w after %s", method, path, ErrTimeout, timeout)
		case attempt >= c.Retries:
			return nil, 0, fmt.Errorf("%s: %w: %v", c.base, ErrUnreachable, err)
		}
		if c.Log != nil {
			c.Log(fmt.Sprintf("%s %s: %v; retrying (%d of %d)", method, path, err, attempt+1, c.Retries))
		}
		time.Sleep(time.Duration(attempt+1) * 300 * time.Millisecond)
	}
}

// Props is what /props says about the server.
type Props struct {
	BuildInfo  string // llama.cpp's build string (b1234-abcdef), where the server gives it
	ModelPath  string
	TotalSlots int
	NCtx       int
	// Params are the default generation settings, speculative ones
	// included (speculative.n_max, speculative.type, ...).
	Params map[string]any
}

// Speculative returns the default settings whose names start with
// "speculative", sorted by name, as "name=value".
func (p *Props) Speculative() []string { return speculative(p.Params) }

func speculative(params map[string]any) []string {
	var out []string
	for k, v := range params {
		if strings.HasPrefix(k, "speculative") {
			out = append(out, fmt.Sprintf("%s=%v", k, v))
		}
	}
	slices.Sort(out)
	return out
}

// Props reads /props; an answer that is not llama-server's is
// ErrNotLlamaServer.
func (c *Client) Props(ctx context.Context) (*Props, error) {
	data, code, err := c.do(ctx, http.MethodGet, "/props", nil)
	if err != nil {
		return nil, err
	}
	var raw struct {
		Default *struct {
			Params map[string]any `json:"params"`
			NCtx   int            `json:"n_ctx"`
		} `json:"default_generation_settings"`
		TotalSlots int    `json:"total_slots"`
		ModelPath  string `json:"model_path"`
		BuildInfo  string `json:"build_info"`
	}
	if code != http.StatusOK || json.Unmarshal(data, &raw) != nil || raw.Default == nil {
		return nil, fmt.Errorf("%s: %w (GET /props answered %d %s)", c.base, ErrNotLlamaServer, code, short(data))
	}
	return &Props{BuildInfo: raw.BuildInfo, ModelPath: raw.ModelPath, TotalSlots: raw.TotalSlots, NCtx: raw.Default.NCtx,
		Params: raw.Default.Params}, nil
}

// Slot is one slot of /slots.
type Slot struct {
	ID          int  `json:"id"`
	Speculative bool `json:"speculative"` // speculation really runs in this slot
	Processing  bool `json:"is_processing"`
	// Params are the slot's settings; unlike /props' defaults they hold
	// the speculative methods the server was started with.
	Params map[string]any `json:"params"`
}

// SpeculativeSettings are the speculative settings the server runs:
// the first slot's when /slots answers, else /props' defaults.
func SpeculativeSettings(p *Props, slots []Slot) []string {
	if len(slots) > 0 && slots[0].Params != nil {
		return speculative(slots[0].Params)
	}
	if p != nil {
		return p.Speculative()
	}
	return nil
}

// Slots reads /slots (ErrDisabled when the server runs with --no-slots).
func (c *Client) Slots(ctx context.Context) ([]Slot, error) {
	data, code, err := c.do(ctx, http.MethodGet, "/slots", nil)
	if err != nil {
		return nil, err
	}
	if code == http.StatusNotImplemented || code == http.StatusNotFound {
		return nil, fmt.Errorf("GET /slots: %w", ErrDisabled)
	}
	var slots []Slot
	if code != http.StatusOK || json.Unmarshal(data, &slots) != nil {
		return nil, fmt.Errorf("%s: %w (GET /slots answered %d %s)", c.base, ErrNotLlamaServer, code, short(data))
	}
	return slots, nil
}

// Metrics are the llamacpp: counters of /metrics, by name without the
// prefix; per-position counters are named name{position="i"}.
type Metrics map[string]float64

// Metrics reads /metrics (ErrDisabled unless the server runs with
// --metrics).
func (c *Client) Metrics(ctx context.Context) (Metrics, error) {
	data, code, err := c.do(ctx, http.MethodGet, "/metrics", nil)
	if err != nil {
		return nil, err
	}
	if code == http.StatusNotImplemented || code == http.StatusNotFound {
		return nil, fmt.Errorf("GET /metrics: %w (start the server with --metrics)", ErrDisabled)
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("%s: %w (GET /metrics answered %d)", c.base, ErrNotLlamaServer, code)
	}
	m := Metrics{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "llamacpp:") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		m[strings.TrimPrefix(line[:i], "llamacpp:")] = v
	}
	return m, nil
}

// Sub returns m - before, counter by counter.
func (m Metrics) Sub(before Metrics) Metrics {
	out := Metrics{}
	for k, v := range m {
		out[k] = v - before[k]
	}
	return out
}

// Request is a /completion request with the settings speclab controls.
type Request struct {
	Prompt      string
	NPredict    int
	Temperature float64
	Seed        uint64
	IgnoreEOS   bool
}

// Completion is what the server answered.
type Completion struct {
	Content string
	Tokens  []int32
	// DraftN and DraftAccepted are timings.draft_n and
	// timings.draft_n_accepted: nil when the server did not report them
	// (it leaves them out when nothing was drafted).
	DraftN, DraftAccepted *int
	PromptN, PredictedN   int
	PredictedPerSecond    float64
	PromptPerSecond       float64
	StopType              string
}

// Complete sends one /completion request: prompt cache off, the tokens
// returned.
func (c *Client) Complete(ctx context.Context, r Request) (*Completion, error) {
	body := map[string]any{"prompt": r.Prompt, "n_predict": r.NPredict, "temperature": r.Temperature, "seed": r.Seed,
		"cache_prompt": false, "return_tokens": true, "ignore_eos": r.IgnoreEOS}
	data, code, err := c.do(ctx, http.MethodPost, "/completion", body)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("POST /completion: %d %s", code, short(data))
	}
	var raw struct {
		Content string  `json:"content"`
		Tokens  []int32 `json:"tokens"`
		Stop    string  `json:"stop_type"`
		Timings *struct {
			PromptN            int     `json:"prompt_n"`
			PredictedN         int     `json:"predicted_n"`
			PredictedPerSecond float64 `json:"predicted_per_second"`
			PromptPerSecond    float64 `json:"prompt_per_second"`
			DraftN             *int    `json:"draft_n"`
			DraftNAccepted     *int    `json:"draft_n_accepted"`
		} `json:"timings"`
	}
	if err := json.Unmarshal(data, &raw); err != nil || raw.Timings == nil {
		return nil, fmt.Errorf("%s: %w (POST /completion answered %s)", c.base, ErrNotLlamaServer, short(data))
	}
	t := raw.Timings
	return &Completion{Content: raw.Content, Tokens: raw.Tokens, DraftN: t.DraftN, DraftAccepted: t.DraftNAccepted,
		PromptN: t.PromptN, PredictedN: t.PredictedN, PredictedPerSecond: t.PredictedPerSecond, PromptPerSecond: t.PromptPerSecond,
		StopType: raw.Stop}, nil
}

// Health checks /health: nil when the server is up and its model loaded.
func (c *Client) Health(ctx context.Context) error {
	data, code, err := c.do(ctx, http.MethodGet, "/health", nil)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("%s: GET /health answered %d %s (still loading the model?)", c.base, code, short(data))
	}
	return nil
}

func short(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return strconv.Quote(s)
}
