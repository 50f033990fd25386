package gguf

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// mxBlock builds a 32-value block from sparse assignments, the rest zero.
func mxBlock(vals map[int]float32) []float32 {
	x := make([]float32, 32)
	for i, v := range vals {
		x[i] = v
	}
	return x
}

// mxWant builds an expected MXFP4 block: exponent e and nibbles lo[j] | hi[j]<<4.
func mxWant(e byte, lo, hi map[int]byte) []byte {
	b := make([]byte, 17)
	b[0] = e
	for j, v := range lo {
		b[1+j] |= v
	}
	for j, v := range hi {
		b[1+j] |= v << 4
	}
	return b
}

// The expected bytes below were worked out by hand from
// quantize_row_mxfp4_ref: e = floor(log2(amax)) - 2 + 127, d = 2^(e-128),
// and each value takes the index of the nearest of the doubled E2M1 table
// {0,1,2,3,4,6,8,12,0,-1,-2,-3,-4,-6,-8,-12} times d (first index on ties).
func TestEncodeMXFP4KnownVectors(t *testing.T) {
	tiny := float32(math.Ldexp(1, -120))
	sub := float32(math.Ldexp(1, -130))
	tests := []struct {
		name string
		x    []float32
		want []byte
	}{
		{"all zero", mxBlock(nil), mxWant(0, nil, nil)},
		{
			// amax 4: e = 2-2+127 = 127, d = 0.5, so 0.5=1d, 1=2d, 2=4d, 4=8d.
			"powers of two",
			mxBlock(map[int]float32{0: 0.5, 1: 1, 2: 2, 3: 4, 4: -0.5, 5: -1, 6: -2, 7: -4}),
			mxWant(127, map[int]byte{0: 1, 1: 2, 2: 4, 3: 6, 4: 9, 5: 10, 6: 12, 7: 14}, nil),
		},
		{
			// amax 6: e = 127, d = 0.5; 6=12d (index 7), 3=6d (index 5); high nibbles hold values 16+j.
			"mixed signs in both halves",
			mxBlock(map[int]float32{0: 6, 16: -6, 1: 3, 17: -3, 2: -0.5, 18: 1.5}),
			mxWant(127, map[int]byte{0: 7, 1: 5, 2: 9}, map[int]byte{0: 15, 1: 13, 2: 3}),
		},
		{
			// amax 7.9: e = 127, d = 0.5. 0.7 -> 0.5 (1); ties 1.25 -> 1 (2, first of 2 and 3),
			// -1.25 -> -1 (10), 5 -> 4 (6), 0.25 -> 0 (0), -0.25 -> 0 (0); 5.1 -> 6 (7); 7.9 clips to 6 (7).
			"values that round",
			mxBlock(map[int]float32{0: 0.7, 1: 1.25, 2: -1.25, 3: 5, 4: 0.25, 5: -0.25, 6: 5.1, 7: 7.9, 8: -0.1}),
			mxWant(127, map[int]byte{0: 1, 1: 2, 2: 10, 3: 6, 4: 0, 5: 0, 6: 7, 7: 7, 8: 0}, nil),
		},
		{
			// amax 1: e = 0-2+127 = 125, d = 2^-3; 1 = 8d (6), 0.3 is between 2d and 3d, nearer 2d=0.25 (2).
			"amax one",
			mxBlock(map[int]float32{0: 1, 20: 0.3, 21: -0.3}),
			mxWant(125, map[int]byte{0: 6}, map[int]byte{4: 2, 5: 10}),
		},
		{
			// amax 2^-120: e = -120-2+127 = 5, d = 2^-123; amax = 8d (6), amax/2 = 4d (4).
			"tiny amax",
			mxBlock(map[int]float32{0: tiny, 1: -tiny / 2}),
			mxWant(5, map[int]byte{0: 6, 1: 12}, nil),
		},
		{
			// amax 2^-130 (subnormal): -130-2+127 = -5 wraps to 251 as on x86-64 (int32 then low byte);
			// d = 2^123 and everything rounds to 0.
			"subnormal amax wraps the exponent",
			mxBlock(map[int]float32{3: sub}),
			mxWant(251, nil, nil),
		},
		{
			// amax 2^127: e = 252, d = 2^124; 2^127 = 8d (6), -2^126 = -4d (12).
			"huge amax",
			mxBlock(map[int]float32{0: float32(math.Ldexp(1, 127)), 31: float32(math.Ldexp(-1, 126))}),
			mxWant(252, map[int]byte{0: 6}, map[int]byte{15: 12}),
		},
		{
			// MaxFloat32: log2f rounds up to 128, so e = 253, d = 2^125. The value is ~8d, but
			// 8d and 12d overflow to +Inf in float32, so the nearest candidate is 6d (index 5).
			"max float",
			mxBlock(map[int]float32{0: math.MaxFloat32}),
			mxWant(253, map[int]byte{0: 5}, nil),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make([]byte, 17)
			EncodeMXFP4(got, tt.x)
			if !bytes.Equal(got, tt.want) {
				t.Errorf("EncodeMXFP4 =\n%x, want\n%x", got, tt.want)
			}
		})
	}
}

func TestDecodeMXFP4KnownVectors(t *testing.T) {
	// e = 127: d = 0.5; nibbles index the doubled table.
	src := mxWant(127, map[int]byte{0: 1, 1: 7, 2: 15, 3: 8}, map[int]byte{0: 6, 1: 9})
	want := mxBlock(map[int]float32{0: 0.5, 1: 6, 2: -6, 3: 0, 16: 4, 17: -0.5})
	got := make([]float32, 32)
	DecodeMXFP4(got, src)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("value %d = %v, want %v", i, got[i], want[i])
		}
	}
	// E8M0 half scales: e=0 -> 2^-128, e=1 -> 2^-127 (subnormal), e=254 -> 2^126.
	for _, c := range []struct {
		e    byte
		want float64
	}{{0, math.Ldexp(1, -128)}, {1, math.Ldexp(1, -127)}, {2, math.Ldexp(1, -126)}, {128, 1}, {254, math.Ldexp(1, 126)}} {
		src := mxWant(c.e, map[int]byte{0: 2}, nil) // 2d
		DecodeMXFP4(got, src)
		if float64(got[0]) != 2*c.want {
			t.Errorf("e=%d: decoded 2d = %g, want %g", c.e, got[0], 2*c.want)
		}
	}
}

func TestMXFP4RoundTripBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 32 * 512
	x := make([]float32, n)
	for i := range x {
		scale := math.Ldexp(1, rng.IntN(40)-20)
		x[i] = float32(rng.NormFloat64() * scale)
	}
	for i := 0; i < n; i += 32 * 7 { // some blocks with one dominant value
		x[i+5] *= 50
	}
	enc, err := Encode(TypeMXFP4, x)
	if err != nil {
		t.Fatal(err)
	}
	y := make([]float32, n)
	DecodeMXFP4(y, enc)
	for b := 0; b < n/32; b++ {
		var amax float64
		for _, v := range x[b*32 : b*32+32] {
			amax = max(amax, math.Abs(float64(v)))
		}
		p := math.Ldexp(1, math.Ilogb(amax)) // 2^floor(log2 amax)
		for j := b * 32; j < b*32+32; j++ {
			ax := math.Abs(float64(x[j]))
			// Levels are k*p/8 for k in {0,1,2,3,4,6,8,12}: the widest gap is p/2, the top level 1.5p.
			bound := p / 4
			if ax > 1.5*p {
				bound = ax - 1.5*p
			}
			if e := math.Abs(float64(x[j]) - float64(y[j])); e > bound*(1+1e-6) {
				t.Fatalf("value %d: %g decoded as %g, error %g > bound %g (amax %g)", j, x[j], y[j], e, bound, amax)
			}
		}
	}
}

func TestEncodeQ8_0KnownVectors(t *testing.T) {
	q := func(d uint16, qs map[int]int8) []byte {
		b := make([]byte, 34)
		binary.LittleEndian.PutUint16(b, d)
		for j, v := range qs {
			b[2+j] = byte(v)
		}
		return b
	}
	x := func(vals map[int]float32) []float32 { return mxBlock(vals) }
	tests := []struct {
		name string
		x    []float32
		want []byte
	}{
		{"all zero", x(nil), q(0, nil)},
		{
			// amax 127: d = 1 (0x3C00); roundf rounds halves away from zero.
			"unit scale with halves",
			x(map[int]float32{0: 127, 1: -127, 2: 63.5, 3: 0.5, 4: -0.5, 5: 1.5, 6: 2.5, 7: -2.5, 8: 0.49}),
			q(0x3C00, map[int]int8{0: 127, 1: -127, 2: 64, 3: 1, 4: -1, 5: 2, 6: 3, 7: -3, 8: 0}),
		},
		{
			// amax 254: d = 2 (0x4000); 3/2 = 1.5 -> 2.
			"scale two", x(map[int]float32{31: -254, 0: 3, 1: -1}),
			q(0x4000, map[int]int8{31: -127, 0: 2, 1: -1}),
		},
		{
			// amax 1: d = 1/127 = 0.0078740157, in FP16 2^-7*(1+8/1024) = 0x2008;
			// the values use the unrounded 1/d = 127.
			"fp16-rounded scale", x(map[int]float32{0: 1, 1: 0.5, 2: -0.25}),
			q(0x2008, map[int]int8{0: 127, 1: 64, 2: -32}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make([]byte, 34)
			EncodeQ8_0(got, tt.x)
			if !bytes.Equal(got, tt.want) {
				t.Errorf("EncodeQ8_0 =\n%x, want\n%x", got, tt.want)
			}
		})
	}
}

func TestQ8_0RoundTripBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 32 * 256
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * math.Ldexp(1, rng.IntN(30)-15))
	}
	enc, err := Encode(TypeQ8_0, x)
	if err != nil {
		t.Fatal(err)
	}
	y, err := Decode(TypeQ8_0, enc)
	if err != nil {
		t.Fatal(err)
	}
	for b := 0; b < n/32; b++ {
		var amax float64
		for _, v := range x[b*32 : b*32+32] {
			amax = max(amax, math.Abs(float64(v)))
		}
		d := amax / 127
		// Half a step, plus 127 times the FP16 rounding of d (relative 2^-11).
		bound := d/2 + 127*d*math.Ldexp(1, -11)
		for j := b * 32; j < b*32+32; j++ {
			if e := math.Abs(float64(x[j]) - float64(y[j])); e > bound*(1+1e-6) {
				t.Fatalf("value %d: %g decoded as %g, error %g > bound %g", j, x[j], y[j], e, bound)
			}
		}
	}
}

func TestFP32ToFP16KnownBits(t *testing.T) {
	tests := []struct {
		x    float32
		want uint16
	}{
		{0, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3C00},
		{-2, 0xC000},
		{0.1, 0x2E66},
		{65504, 0x7BFF},                                  // largest finite
		{65519, 0x7BFF},                                  // below the halfway point to 65536
		{65520, 0x7C00},                                  // tie between 0x7BFF (odd) and infinity: to even
		{1e6, 0x7C00},                                    // overflow
		{float32(math.Inf(1)), 0x7C00},                   // +inf
		{float32(math.Inf(-1)), 0xFC00},                  // -inf
		{float32(math.NaN()), 0x7E00},                    // NaN
		{float32(math.Ldexp(1, -14)), 0x0400},            // smallest normal
		{float32(math.Ldexp(1, -24)), 0x0001},            // smallest subnormal
		{float32(math.Ldexp(1, -25)), 0x0000},            // tie between 0 and 2^-24: to even (0)
		{float32(math.Ldexp(1.0000001, -25)), 0x0001},    // just above the tie
		{float32(math.Ldexp(3, -25)), 0x0002},            // tie between 1 and 2 ulps: to even (2)
		{float32(math.Ldexp(1023, -24)), 0x03FF},         // largest subnormal
		{1 + float32(math.Ldexp(1, -11)), 0x3C00},        // tie: to even
		{1 + float32(math.Ldexp(3, -11)), 0x3C02},        // tie: to even
		{1 + float32(math.Ldexp(1, -11)) + 1e-7, 0x3C01}, // above the tie
		{1e-8, 0x0000},                                   // underflow
		{-1e-8, 0x8000},                                  // underflow keeps the sign
	}
	for _, tt := range tests {
		if got := FP32ToFP16(tt.x); got != tt.want {
			t.Errorf("FP32ToFP16(%g) = %#04x, want %#04x", tt.x, got, tt.want)
		}
	}
}

func TestFP16ToFP32AllPatterns(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		sign := 1.0
		if h&0x8000 != 0 {
			sign = -1
		}
		exp, man := (h>>10)&0x1F, h&0x3FF
		got := FP16ToFP32(uint16(h))
		switch {
		case exp == 0x1F && man != 0:
			if !math.IsNaN(float64(got)) {
				t.Fatalf("%#04x: got %g, want NaN", h, got)
			}
			continue
		case exp == 0x1F:
			if float64(got) != math.Inf(int(sign)) {
				t.Fatalf("%#04x: got %g, want %g", h, got, math.Inf(int(sign)))
			}
			continue
		}
		var want float64
		if exp == 0 {
			want = sign * math.Ldexp(float64(man), -24)
		} else {
			want = sign * math.Ldexp(1+float64(man)/1024, exp-15)
		}
		if float64(got) != want || math.Signbit(float64(got)) != (sign < 0) {
			t.Fatalf("%#04x: got %g, want %g", h, got, want)
		}
		// Every finite half converts back to itself.
		if back := FP32ToFP16(got); back != uint16(h) {
			t.Fatalf("%#04x -> %g -> %#04x", h, got, back)
		}
	}
}

func TestDecodeNVFP4KnownVectors(t *testing.T) {
	src := make([]byte, 36)
	// Scales (UE4M3, halved like the doubled table): 0x38 = 2^0 -> 0.5;
	// 0x01 = 2^-9 -> 2^-10; 0x7F (NaN) -> 0; 0x40 = 2^1 -> 1.
	copy(src, []byte{0x38, 0x01, 0x7F, 0x40})
	src[4+0] = 0x7 | 0xF<<4  // group 0: value 0 = 12*0.5, value 8 = -12*0.5
	src[4+8] = 0x2           // group 1: value 0 = 2*2^-10
	src[4+16] = 0x7          // group 2: scale 0
	src[4+24+7] = 0x1 | 9<<4 // group 3: value 7 = 1, value 15 = -1
	want := make([]float32, 64)
	want[0], want[8] = 6, -6
	want[16] = float32(math.Ldexp(2, -10))
	want[48+7], want[48+15] = 1, -1
	got := make([]float32, 64)
	DecodeNVFP4(got, src)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("value %d = %g, want %g", i, got[i], want[i])
		}
	}
}

func TestNVFP4RoundTrip(t *testing.T) {
	// Values that are exactly representable with a scale of 1 (amax 6 -> scale 1.0 = 0x38... halved 0.5).
	x := make([]float32, 64)
	levels := []float32{0, 0.5, 1, 1.5, 2, 3, 4, 6}
	for i := range x {
		v := levels[i%len(levels)]
		if i%3 == 0 {
			v = -v
		}
		x[i] = v
	}
	for g := 0; g < 4; g++ {
		x[g*16+7] = 6 // each group's amax is 6
	}
	enc, err := Encode(TypeNVFP4, x)
	if err != nil {
		t.Fatal(err)
	}
	y, err := Decode(TypeNVFP4, enc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range x {
		if x[i] != y[i] {
			t.Errorf("value %d: %g decoded as %g", i, x[i], y[i])
		}
	}
}

func TestEncodeDecodeTypes(t *testing.T) {
	x := make([]float32, 64)
	for i := range x {
		x[i] = float32(i) - 31.5
	}
	for _, typ := range []Type{TypeF32, TypeF16, TypeQ8_0, TypeMXFP4, TypeNVFP4} {
		enc, err := Encode(typ, x)
		if err != nil {
			t.Fatalf("Encode(%s): %v", typ, err)
		}
		if n, _ := TensorBytes(typ, []uint64{64}); uint64(len(enc)) != n {
			t.Errorf("Encode(%s) gave %d bytes, want %d", typ, len(enc), n)
		}
		y, err := Decode(typ, enc)
		if err != nil || len(y) != len(x) {
			t.Fatalf("Decode(%s): %d values, %v", typ, len(y), err)
		}
	}
	if _, err := Encode(TypeQ4_K, make([]float32, 256)); err == nil {
		t.Error("Encode(Q4_K) succeeded, want an error")
	}
	if _, err := Encode(TypeQ8_0, make([]float32, 33)); err == nil {
		t.Error("Encode(Q8_0) of 33 values succeeded, want an error")
	}
	if _, err := Encode(Type(99), make([]float32, 1)); err == nil {
		t.Error("Encode(type 99) succeeded, want an error")
	}
}

// codecInputs returns float32 values that exercise the codecs: random
// values over many magnitudes, values next to every power of two (where
// floor(log2f) may round up), ties, subnormals, infinities and NaN.
func codecInputs() []float32 {
	rng := rand.New(rand.NewPCG(7, 8))
	var x []float32
	for i := 0; i < 32*2000; i++ {
		x = append(x, float32(rng.NormFloat64()*math.Ldexp(1, rng.IntN(60)-30)))
	}
	for e := -149; e <= 127; e++ {
		p := float32(math.Ldexp(1, e))
		for _, v := range []float32{p, math.Nextafter32(p, 0), math.Nextafter32(p, 2*p), p * 1.5, p * 1.25, p * 0.75} {
			blk := make([]float32, 32)
			blk[rng.IntN(32)] = v
			for j := range blk {
				if blk[j] == 0 {
					blk[j] = v * float32(rng.IntN(25)-12) / 8
				}
			}
			x = append(x, blk...)
		}
	}
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32}
	for _, s := range specials {
		blk := make([]float32, 64)
		for j := range blk {
			blk[j] = float32(j) * 0.25
		}
		blk[rng.IntN(64)] = s
		x = append(x, blk...)
	}
	for len(x)%64 != 0 {
		x = append(x, 0)
	}
	return x
}

// TestCodecsMatchLibggml compares the codecs with the reference code of a
// real libggml-base shared library, named by the environment variable
// GGUF_LIBGGML_BASE (for example the pinned build's libggml-base.so). It
// needs a C compiler and skips without either.
func TestCodecsMatchLibggml(t *testing.T) {
	lib := os.Getenv("GGUF_LIBGGML_BASE")
	if lib == "" {
		t.Skip("GGUF_LIBGGML_BASE is not set")
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler")
	}
	bin := filepath.Join(t.TempDir(), "refcodec")
	if out, err := exec.Command(cc, "-O2", "-o", bin, "testdata/refcodec/refcodec.c", "-ldl").CombinedOutput(); err != nil {
		t.Fatalf("compile refcodec: %v\n%s", err, out)
	}
	ref := func(mode string, in []byte) []byte {
		cmd := exec.Command(bin, lib, mode)
		cmd.Stdin = bytes.NewReader(in)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("refcodec %s: %v", mode, err)
		}
		return out
	}
	f32bytes := func(x []float32) []byte {
		b := make([]byte, 4*len(x))
		for i, v := range x {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		return b
	}
	same32 := func(name string, got []float32, want []byte) {
		t.Helper()
		if len(want) != 4*len(got) {
			t.Fatalf("%s: reference gave %d bytes for %d values", name, len(want), len(got))
		}
		for i, g := range got {
			w := binary.LittleEndian.Uint32(want[4*i:])
			gb := math.Float32bits(g)
			if gb != w && !(g != g && math.IsNaN(float64(math.Float32frombits(w)))) {
				t.Fatalf("%s: value %d = %#08x (%g), libggml %#08x (%g)", name, i, gb, g, w, math.Float32frombits(w))
			}
		}
	}
	sameBytes := func(name string, got, want []byte, block int) {
		t.Helper()
		if !bytes.Equal(got, want) {
			for i := range got {
				if i >= len(want) || got[i] != want[i] {
					b := i / block
					t.Fatalf("%s: block %d differs:\n got %x\nwant %x", name, b, got[b*block:(b+1)*block], want[b*block:min(len(want), (b+1)*block)])
				}
			}
			t.Fatalf("%s: %d bytes, libggml %d", name, len(got), len(want))
		}
	}

	x := codecInputs()
	in := f32bytes(x)

	// FP16: every half pattern decodes alike; encoding agrees on all inputs
	// and on values around every rounding boundary of every exponent.
	all := make([]byte, 2<<16)
	for h := 0; h < 1<<16; h++ {
		binary.LittleEndian.PutUint16(all[2*h:], uint16(h))
	}
	dec := make([]float32, 1<<16)
	DecodeF16(dec, all)
	same32("DecodeF16", dec, ref("f16dec", all))
	var fx []float32
	fx = append(fx, x...)
	for e := 0; e < 256; e++ {
		for m := uint32(0); m < 1<<10; m += 7 {
			for _, low := range []uint32{0, 1, 0xFFF, 0x1000, 0x1001, 0x1FFF} {
				fx = append(fx, math.Float32frombits(uint32(e)<<23|m<<13|low), math.Float32frombits(1<<31|uint32(e)<<23|m<<13|low))
			}
		}
	}
	encF16 := make([]byte, 2*len(fx))
	EncodeF16(encF16, fx)
	sameBytes("EncodeF16", encF16, ref("f16enc", f32bytes(fx)), 2)

	encQ8 := make([]byte, len(x)/32*34)
	EncodeQ8_0(encQ8, x)
	sameBytes("EncodeQ8_0", encQ8, ref("q8enc", in), 34)
	decQ8 := make([]float32, len(x))
	DecodeQ8_0(decQ8, encQ8)
	same32("DecodeQ8_0", decQ8, ref("q8dec", encQ8))

	encMX := make([]byte, len(x)/32*17)
	EncodeMXFP4(encMX, x)
	sameBytes("EncodeMXFP4", encMX, ref("mxenc", in), 17)
	rnd := randomBytes(17*4096, 9)
	for _, blocks := range [][]byte{encMX, rnd} {
		decMX := make([]float32, len(blocks)/17*32)
		DecodeMXFP4(decMX, blocks)
		same32("DecodeMXFP4", decMX, ref("mxdec", blocks))
	}

	encNV := make([]byte, len(x)/64*36)
	EncodeNVFP4(encNV, x)
	sameBytes("EncodeNVFP4", encNV, ref("nvenc", in), 36)
	rnd = randomBytes(36*4096, 10)
	for _, blocks := range [][]byte{encNV, rnd} {
		decNV := make([]float32, len(blocks)/36*64)
		DecodeNVFP4(decNV, blocks)
		same32("DecodeNVFP4", decNV, ref("nvdec", blocks))
	}
}

func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func BenchmarkEncodeMXFP4(b *testing.B) {
	x := make([]float32, 4096*32)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	dst := make([]byte, len(x)/32*17)
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		EncodeMXFP4(dst, x)
	}
}

func BenchmarkDecodeMXFP4(b *testing.B) {
	x := make([]float32, 4096*32)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	src := make([]byte, len(x)/32*17)
	EncodeMXFP4(src, x)
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		DecodeMXFP4(x, src)
	}
}
