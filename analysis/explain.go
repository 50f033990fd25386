package analysis

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/speclab/speclab/terms"
)

// Observed is a table of what a user saw, per configuration, as the seed
// study's table gives it (examples/seed-observed.yaml is the seed's own).
// Explain tests candidate causes against it.
type Observed struct {
	Source string `yaml:"source"`
	// Battery names the tasks the observations summarise (speclab's
	// battery of the same name is run).
	Battery string `yaml:"battery"`
	// MaxGenerated is the most tokens one task generated: history
	// thresholds cannot explain empty drafts on tasks longer than theirs.
	MaxGenerated int           `yaml:"max_generated"`
	Observations []Observation `yaml:"observations"`
}

// Observation is one configuration's outcome over its tasks; nil fields
// were not reported.
type Observation struct {
	Config   string `yaml:"config"`   // a configuration name of the reproduction (ngram-simple, draft-simple+dd-policy, ...)
	Saw      string `yaml:"saw"`      // the user's words
	Drafts   *int   `yaml:"drafts"`   // drafted tokens
	Accepted *int   `yaml:"accepted"` // accepted tokens
	Applied  *bool  `yaml:"applied"`  // speculation applied (llama-server's speculative.applied)
}

// LoadObserved reads an Observed table from a YAML file; unknown keys are
// errors.
func LoadObserved(path string) (*Observed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("observed: %w", err)
	}
	var o Observed
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&o); err != nil {
		return nil, fmt.Errorf("observed %s: %w", path, err)
	}
	if len(o.Observations) == 0 {
		return nil, fmt.Errorf("observed %s: no observations", path)
	}
	for i, ob := range o.Observations {
		if ob.Config == "" {
			return nil, fmt.Errorf("observed %s: observation %d has no config", path, i)
		}
		if ob.Drafts == nil && ob.Accepted == nil && ob.Applied == nil {
			return nil, fmt.Errorf("observed %s: observation %d (%s) reports none of drafts, accepted, applied", path, i, ob.Config)
		}
	}
	return &o, nil
}

// Verdict is a candidate cause judged against every observation.
type Verdict struct {
	Cause      string
	Consistent bool
	Reasons    []string // for a ruled-out cause, why; for a consistent one, what it predicts
}

// Judge compares the outcome of a run under one candidate cause (d) with
// the observations: a cause is ruled out by any observation it
// contradicts: drafts where none were seen, accepted tokens where none
// were, speculation applied where it was not.
func Judge(cause string, d *Data, o *Observed) Verdict {
	type tot struct {
		cells, applied, drafted, accepted, tasks int
		specTypes, raw                           string
	}
	by := map[string]*tot{}
	for _, c := range d.Cells {
		t := by[c.Config]
		if t == nil {
			t = &tot{specTypes: c.SpecTypes, raw: c.ConfigRaw}
			by[c.Config] = t
		}
		t.cells++
		if c.Applied {
			t.applied++
		}
		if c.Drafted > 0 {
			t.tasks++
		}
		t.drafted += int(c.Drafted)
		t.accepted += int(c.Accepted)
	}
	v := Verdict{Cause: cause, Consistent: true}
	for _, ob := range o.Observations {
		t := by[ob.Config]
		if t == nil {
			v.Reasons = append(v.Reasons, fmt.Sprintf("%s: not run", ob.Config))
			continue
		}
		var bad []string
		if ob.Drafts != nil && *ob.Drafts == 0 && t.drafted > 0 {
			bad = append(bad, fmt.Sprintf("drafts %d, not 0 (on %d of %d tasks)", t.drafted, t.tasks, t.cells))
		}
		if ob.Accepted != nil && *ob.Accepted == 0 && t.accepted > 0 {
			bad = append(bad, fmt.Sprintf("accepted %d, not 0", t.accepted))
		}
		if ob.Applied != nil && !*ob.Applied && t.applied > 0 {
			bad = append(bad, fmt.Sprintf("applied on %d of %d tasks, not never", t.applied, t.cells))
		}
		if ob.Applied != nil && *ob.Applied && t.applied == 0 {
			bad = append(bad, "never applied, but it was")
		}
		if len(bad) == 0 {
			v.Reasons = append(v.Reasons, fmt.Sprintf("%s: fits (%s) — drafted %d, accepted %d, applied on %d of %d tasks",
				ob.Config, ob.Saw, t.drafted, t.accepted, t.applied, t.cells))
			continue
		}
		v.Consistent = false
		why := fmt.Sprintf("%s: the user saw %q, this cause gives %s", ob.Config, ob.Saw, strings.Join(bad, ", "))
		if need := historyNeeded(t.specTypes, t.raw); need > 0 && o.MaxGenerated > need {
			why += fmt.Sprintf("; history thresholds alone cannot explain 0 drafts on a %d-token task: %s drafts once %d tokens of history exist",
				o.MaxGenerated, strings.Split(t.specTypes, ",")[0], need)
		}
		v.Reasons = append(v.Reasons, why)
	}
	return v
}

// historyNeeded is the least history the configuration's n-gram methods
// need before they can draft (0: none of them is an n-gram method).
func historyNeeded(specTypes, raw string) int {
	least := 0
	for _, t := range strings.Split(specTypes, ",") {
		var need int
		switch t = strings.TrimSpace(t); t {
		case terms.NgramSimple:
			need = ngramParam(raw, t, "size-n", terms.NgramSizeN) + ngramParam(raw, t, "size-m", terms.NgramSizeM) + 1
		case terms.NgramMapK, terms.NgramMapK4V:
			need = 2*ngramParam(raw, t, "size-n", terms.NgramSizeN) + ngramParam(raw, t, "size-m", terms.NgramSizeM)
		case terms.NgramMod:
			need = ngramParam(raw, terms.NgramMod, "n-match", terms.NgramModNMatch)
		default:
			continue
		}
		if least == 0 || need < least {
			least = need
		}
	}
	return least
}
