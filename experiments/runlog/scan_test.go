package runlog

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestColumnScan(t *testing.T) {
	if got := Col[StepRow]("ProposeNs"); got != "propose_ns" {
		t.Errorf("Col[StepRow](ProposeNs) = %q", got)
	}
	if got := Col[TokenRow]("Verified"); got != "verified" {
		t.Errorf("Col[TokenRow](Verified) = %q", got)
	}
	dir := t.TempDir()
	w, err := Create(dir, "1of1", "t0")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := w.Token(TokenRow{ExecID: "e", Step: int32(i), Accepted: i == 0, Verified: i < 2}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.EndCell(RunRow{ExecID: "e"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	parts := Parts([]string{dir}, "tokens")
	if len(parts) != 1 {
		t.Fatalf("parts %v", parts)
	}
	p, err := OpenPart(parts[0], TokenRow{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	vi, err := p.Column(Col[TokenRow]("Verified"))
	if err != nil {
		t.Fatal(err)
	}
	var got []bool
	for _, rg := range p.RowGroups() {
		if got, err = ReadBool(rg.ColumnChunks()[vi], got); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 3 || !got[0] || !got[1] || got[2] {
		t.Errorf("verified = %v, want [true true false]", got)
	}
	for _, bad := range []string{"no_such_column", Col[StepRow]("Pos")} {
		if _, err := p.Column(bad); err == nil || !strings.Contains(err.Error(), "not a column") {
			t.Errorf("Column(%q): %v, want an error naming it", bad, err)
		}
	}
	// A steps part opened as the tokens table: same names, other types.
	sp, err := OpenPart(filepath.Join(parts[0]), StepRow{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if _, err := sp.Column(Col[StepRow]("Accepted")); err == nil || !strings.Contains(err.Error(), "holds") {
		t.Errorf("accepted read as the steps table's int32: %v", err)
	}
}
