package engine

import (
	"testing"

	"github.com/speclab/speclab/engine/releases"
)

// TestGoMirrorsMatchEveryRelease: the Go structs speclab passes by value
// (llama_batch, llama_perf_context_data) have the size and every field
// offset that the llama.h of every release of the table gives them; the
// parameter structs, whose layouts changed, are buffers laid out from the
// header instead (cStruct), so a release with other ones needs no new type.
func TestGoMirrorsMatchEveryRelease(t *testing.T) {
	for _, r := range releases.All() {
		for name := range goStructs {
			if err := checkGoStruct(name, r.ABI.Records[name]); err != nil {
				t.Errorf("%s: %v", r, err)
			}
		}
		for _, name := range []string{"llama_model_params", "llama_context_params"} {
			rec := r.ABI.Records[name]
			if err := checkRequired(rec); err != nil {
				t.Errorf("%s: %v", r, err)
			}
			s := newCStruct(rec)
			if int64(len(s.buf)) < rec.Size || len(s.words())*8 != len(s.buf) || len(s.words()) > maxStackWords {
				t.Errorf("%s: %s buffer of %d bytes for a %d-byte struct", r, name, len(s.buf), rec.Size)
			}
		}
	}
}

// TestCheckGoStructCatches: a layout that moved one field is refused.
func TestCheckGoStructCatches(t *testing.T) {
	r, _ := releases.ByRuntime("3.22.1")
	moved := *r.ABI.Records["llama_batch"]
	moved.Fields = append(moved.Fields[:0:0], moved.Fields...)
	moved.Fields[2].Offset += 8
	if err := checkGoStruct("llama_batch", &moved); err == nil {
		t.Error("a moved field of llama_batch passed")
	}
}
