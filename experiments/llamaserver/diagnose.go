package llamaserver

import (
	"fmt"
	"strings"

	"github.com/speclab/speclab/terms"
)

// Diagnosis is what the server's own signals say about speculation.
type Diagnosis struct {
	Running bool // a slot says speculative, or some request drafted
	// Drafted and Accepted sum timings.draft_n and draft_n_accepted over
	// the requests that reported them; nil when none did.
	Drafted, Accepted *int
	Lines             []string
}

// Diagnose reads the signals: the props, the slots, the completions, and
// the prompt lengths in tokens (what the n-gram thresholds depend on).
func Diagnose(p *Props, slots []Slot, cs []*Completion) Diagnosis {
	var d Diagnosis
	slotSays := false
	for _, s := range slots {
		slotSays = slotSays || s.Speculative
	}
	maxGen := 0
	for _, c := range cs {
		maxGen = max(maxGen, c.PromptN+c.PredictedN)
		if c.DraftN != nil {
			if d.Drafted == nil {
				d.Drafted, d.Accepted = new(int), new(int)
			}
			*d.Drafted += *c.DraftN
			if c.DraftAccepted != nil {
				*d.Accepted += *c.DraftAccepted
			}
		}
	}
	drafted := d.Drafted != nil && *d.Drafted > 0
	d.Running = slotSays || drafted
	build := "an unknown build"
	if p != nil && p.BuildInfo != "" {
		build = p.BuildInfo
	}
	switch {
	case drafted:
		rate := 0.0
		if *d.Drafted > 0 {
			rate = float64(*d.Accepted) / float64(*d.Drafted)
		}
		d.Lines = append(d.Lines, fmt.Sprintf("speculation runs on this server (%s): drafted %d tokens over %d requests, accepted %d (acceptance rate %.1f%%)",
			build, *d.Drafted, len(cs), *d.Accepted, 100*rate))
		if *d.Accepted == 0 {
			d.Lines = append(d.Lines, "drafts were made and every one was rejected: the draft does not predict this target (an unrelated draft model, or n-gram matches the target does not repeat)")
		}
	case slotSays:
		d.Lines = append(d.Lines, fmt.Sprintf("speculation is set up on this server (%s, /slots: speculative) but drafted nothing on %d requests", build, len(cs)))
		d.Lines = append(d.Lines, fmt.Sprintf("likely: too little history for the n-gram methods (the longest request held %d tokens; ngram-simple needs more than %d, ngram-map-k4v %d) or no n-gram match in the text",
			maxGen, terms.NgramSizeN+terms.NgramSizeM+1, 2*terms.NgramSizeN+terms.NgramSizeM))
	default:
		d.Lines = append(d.Lines, fmt.Sprintf("speculation is NOT running on this server (%s): /slots says speculative false, and none of %d requests drafted", build, len(cs)))
		var causes []string
		settings := SpeculativeSettings(p, slots)
		spec := strings.Join(settings, ", ")
		if len(methods(settings)) == 0 {
			causes = append(causes, "no speculative method configured (--spec-type, or --draft without --spec-type, which llama-server ignores)")
		}
		causes = append(causes,
			"a draft whose vocabulary llama-server's rules refuse: it then drops every method of the list, n-gram ones included (the server's log says \"not compatible\")",
			"a target whose memory cannot drop a tail (hybrid or recurrent, such as Qwen3.5) under a release that refuses them (b8095 to b8390; from b9842 the server checkpoints them)")
		d.Lines = append(d.Lines, "likely causes, given its settings ("+spec+"): "+strings.Join(causes, "; "))
	}
	return d
}

// methods are the speculative methods in the settings' speculative.types
// (a comma list in which "none" is not a method).
func methods(settings []string) []string {
	var out []string
	for _, s := range settings {
		v, ok := strings.CutPrefix(s, "speculative.types=")
		if !ok {
			continue
		}
		for _, m := range strings.Split(v, ",") {
			if m = strings.TrimSpace(m); m != "" && m != "none" {
				out = append(out, m)
			}
		}
	}
	return out
}
