package experiments

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/speclab/speclab/experiments/llamaserver"
	"github.com/speclab/speclab/experiments/runlog"
)

// ServerConfig is the one configuration of a run against a llama-server:
// the server's own, fixed by its command line.
const ServerConfig = "server"

// serverRun holds what a run against a server probed once.
type serverRun struct {
	cl      *llamaserver.Client
	props   *llamaserver.Props
	metrics bool // /metrics answers: every request gets its own deltas
}

func (r *Runner) probeServer(ctx context.Context) (*serverRun, error) {
	probe, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := r.Server.Health(probe); err != nil {
		return nil, err
	}
	props, err := r.Server.Props(probe)
	if err != nil {
		return nil, err
	}
	_, merr := r.Server.Metrics(probe)
	return &serverRun{cl: r.Server, props: props, metrics: merr == nil}, nil
}

// cell sends one cell's prompt to the server and makes its runs row from
// what the server reports: the request's timings, the slots' speculative
// flag, and, with --metrics, the llamacpp: counters' deltas (drafting
// steps). What the server does not say is NULL: verify steps always,
// drafting steps without /metrics.
func (s *serverRun) cell(ctx context.Context, runID, shard string, c Cell, x *Experiment) (runlog.RunRow, error) {
	started := time.Now()
	var before llamaserver.Metrics
	if s.metrics {
		var err error
		if before, err = s.cl.Metrics(ctx); err != nil {
			return runlog.RunRow{}, err
		}
	}
	comp, err := s.cl.Complete(ctx, llamaserver.Request{Prompt: c.Config.PromptPrefix + c.Task.Prompt, NPredict: c.Task.NPredict,
		Temperature: x.Sampling.Temp, Seed: x.Seed + uint64(c.Repeat-1)})
	if err != nil {
		return runlog.RunRow{}, err
	}
	slots, _ := s.cl.Slots(ctx)
	settings := llamaserver.SpeculativeSettings(s.props, slots)
	var xb [8]byte
	rand.Read(xb[:])
	raw, _ := json.Marshal(c.Config)
	row := runlog.RunRow{
		RunID: runID, CellID: c.ID(), ExecID: hex.EncodeToString(xb[:]), Shard: shard,
		Task: c.Task.Name, Battery: x.Battery, Config: c.Config.Name, Repeat: int32(c.Repeat),
		SpecTypes: strings.Join(settings, " "), Temp: float32(x.Sampling.Temp), Seed: int64(x.Seed),
		NPredict: int32(c.Task.NPredict), ConfigRaw: string(raw),
		PromptTokens: int32(comp.PromptN), Generated: int32(comp.PredictedN), Stop: comp.StopType,
		GenTPS: comp.PredictedPerSecond, PromptTPS: comp.PromptPerSecond, WallS: time.Since(started).Seconds(),
		Text: comp.Content, Source: runlog.SourceServer, ServerURL: s.cl.URL(), ServerBuild: s.props.BuildInfo,
		TargetPath: s.props.ModelPath, Host: hostname(), StartedAt: started.UnixMicro(), FinishedAt: time.Now().UnixMicro(),
	}
	if comp.DraftN != nil { // absent: the server drafted nothing
		row.Drafted = int32(*comp.DraftN)
	}
	if comp.DraftAccepted != nil {
		row.Accepted = int32(*comp.DraftAccepted)
	}
	if row.Drafted > 0 {
		row.AcceptRate = new(float64(row.Accepted) / float64(row.Drafted))
	}
	for _, sl := range slots {
		row.Applied = row.Applied || sl.Speculative
	}
	if s.metrics {
		after, err := s.cl.Metrics(ctx)
		if err != nil {
			return runlog.RunRow{}, err
		}
		d := after.Sub(before)
		n := int32(d["spec_decode_num_drafts_total"])
		row.DraftSteps = &n
		if n > 0 {
			row.MeanAcceptLen = new(1 + float64(row.Accepted)/float64(n))
		}
		if got := int32(d["spec_decode_num_draft_tokens_total"]); got != row.Drafted {
			return runlog.RunRow{}, fmt.Errorf("cell %s: the server's timings say %d drafted tokens, its /metrics %d (another client on the server?)", c.ID(), row.Drafted, got)
		}
	}
	return row, nil
}
