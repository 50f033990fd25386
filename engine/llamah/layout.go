package llamah

import "fmt"

// layout computes the System V x86-64 layout of r: each field at the next
// multiple of its alignment (every union member at 0), the size rounded up
// to the largest alignment.
func layout(r *Record) error {
	var off, size, align int64 = 0, 0, 1
	for i := range r.Fields {
		f := &r.Fields[i]
		t := f.Type
		if t.Align <= 0 {
			return fmt.Errorf("field %s has a type of unknown alignment (%s)", f.Name, t.Name)
		}
		align = max(align, t.Align)
		if r.Union {
			f.Offset = 0
			size = max(size, t.Size)
			continue
		}
		off = roundUp(off, t.Align)
		f.Offset = off
		off += t.Size
		size = off
	}
	r.Align = align
	r.Size = roundUp(size, align)
	return nil
}

func roundUp(n, a int64) int64 { return (n + a - 1) / a * a }
