package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
)

// The codecs below port ggml's reference code (ggml/src/ggml-quants.c and
// the conversion helpers of ggml/src/ggml-impl.h) and produce the same bits.
// Every float32 product is wrapped in an explicit float32 conversion: Go may
// otherwise fuse a multiply and an add on some architectures, which C on
// x86-64 does not do. Where ggml converts an out-of-range float to an
// integer (undefined in C), the x86-64 result is reproduced: the conversion
// goes through int32, and a NaN or out-of-range value gives 0x80000000.

// kvaluesFP4 are the E2M1 values, doubled, shared by MXFP4 and NVFP4.
var kvaluesFP4 = [16]int8{0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12}

// Block sizes of the codecs.
const (
	blockMXFP4      = 32
	blockMXFP4Bytes = 17
	blockQ8_0       = 32
	blockQ8_0Bytes  = 34
	blockNVFP4      = 64
	blockNVFP4Bytes = 36
)

func checkLens(name string, nsrc, ndst, elems, bytes int, encode bool) {
	n, b := nsrc, ndst
	if !encode {
		n, b = ndst, nsrc
	}
	if n%elems != 0 || b != n/elems*bytes {
		panic(fmt.Sprintf("gguf: %s: %d values and %d bytes do not match (want a multiple of %d values, %d bytes per block)", name, n, b, elems, bytes))
	}
}

// cvtI32 converts like x86-64's cvttss2si: truncation toward zero, with NaN
// and out-of-range values giving math.MinInt32.
func cvtI32(x float32) int32 {
	if x != x || x >= 1<<31 || x < -(1<<31) {
		return math.MinInt32
	}
	return int32(x)
}

func absf(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

// FP32ToFP16 converts x to IEEE half precision, rounding to nearest even,
// exactly as GGML_FP32_TO_FP16.
func FP32ToFP16(f float32) uint16 {
	const scaleToInf = 0x1.0p+112
	const scaleToZero = 0x1.0p-110
	base := float32(float32(absf(f)*scaleToInf) * scaleToZero)

	w := math.Float32bits(f)
	shl1w := w + w
	sign := w & 0x80000000
	bias := shl1w & 0xFF000000
	if bias < 0x71000000 {
		bias = 0x71000000
	}
	base = float32(math.Float32frombits((bias>>1)+0x07800000) + base)
	bits := math.Float32bits(base)
	expBits := (bits >> 13) & 0x00007C00
	mantissaBits := bits & 0x00000FFF
	nonsign := expBits + mantissaBits
	if shl1w > 0xFF000000 {
		nonsign = 0x7E00 // NaN
	}
	return uint16(sign>>16 | nonsign)
}

// FP16ToFP32 converts an IEEE half-precision value to float32, exactly as
// GGML_FP16_TO_FP32 (a NaN keeps its payload and becomes quiet).
func FP16ToFP32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1F
	man := uint32(h & 0x3FF)
	switch {
	case exp == 0x1F:
		if man == 0 {
			return math.Float32frombits(sign | 0x7F800000)
		}
		return math.Float32frombits(sign | 0x7FC00000 | man<<13)
	case exp == 0:
		// Zero or subnormal: man * 2^-24, exact in float32.
		v := float32(man) * 0x1p-24
		return math.Float32frombits(sign | math.Float32bits(v))
	default:
		return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
	}
}

// EncodeF16 converts src to little-endian IEEE half precision in dst
// (len(dst) == 2*len(src)).
func EncodeF16(dst []byte, src []float32) {
	checkLens("EncodeF16", len(src), len(dst), 1, 2, true)
	for i, x := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], FP32ToFP16(x))
	}
}

// DecodeF16 converts little-endian IEEE half-precision src to dst
// (len(src) == 2*len(dst)).
func DecodeF16(dst []float32, src []byte) {
	checkLens("DecodeF16", len(src), len(dst), 1, 2, false)
	for i := range dst {
		dst[i] = FP16ToFP32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

// DecodeBF16 converts little-endian bfloat16 src to dst (len(src) == 2*len(dst)).
func DecodeBF16(dst []float32, src []byte) {
	checkLens("DecodeBF16", len(src), len(dst), 1, 2, false)
	for i := range dst {
		dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
	}
}

// EncodeQ8_0 quantizes src to Q8_0 blocks in dst, as quantize_row_q8_0_ref:
// per 32 values an FP16 scale d = amax/127 and 32 int8 values round(x/d).
// len(src) must be a multiple of 32 and len(dst) == len(src)/32*34.
func EncodeQ8_0(dst []byte, src []float32) {
	checkLens("EncodeQ8_0", len(src), len(dst), blockQ8_0, blockQ8_0Bytes, true)
	for b := 0; b < len(src)/blockQ8_0; b++ {
		x := src[b*blockQ8_0 : (b+1)*blockQ8_0]
		y := dst[b*blockQ8_0Bytes : (b+1)*blockQ8_0Bytes]
		var amax float32
		for _, v := range x {
			if a := absf(v); !(amax > a) { // MAX(amax, fabsf(v))
				amax = a
			}
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(y, FP32ToFP16(d))
		for j, v := range x {
			y[2+j] = byte(cvtI32(float32(math.Round(float64(float32(v * id))))))
		}
	}
}

// DecodeQ8_0 dequantizes Q8_0 blocks, as dequantize_row_q8_0.
// len(dst) must be a multiple of 32 and len(src) == len(dst)/32*34.
func DecodeQ8_0(dst []float32, src []byte) {
	checkLens("DecodeQ8_0", len(src), len(dst), blockQ8_0, blockQ8_0Bytes, false)
	for b := 0; b < len(dst)/blockQ8_0; b++ {
		x := src[b*blockQ8_0Bytes : (b+1)*blockQ8_0Bytes]
		y := dst[b*blockQ8_0 : (b+1)*blockQ8_0]
		d := FP16ToFP32(binary.LittleEndian.Uint16(x))
		for j := range y {
			y[j] = float32(float32(int8(x[2+j])) * d)
		}
	}
}

// e8m0Half returns 2^(e-128), half the value of the E8M0 scale e, as
// ggml_e8m0_to_fp32_half.
func e8m0Half(e uint8) float32 {
	if e < 2 {
		return math.Float32frombits(0x00200000 << e)
	}
	return math.Float32frombits(uint32(e-1) << 23)
}

// fp4Levels returns the candidate values k*d of the doubled E2M1 table.
func fp4Levels(d float32) *[16]float32 {
	var kd [16]float32
	for i, k := range kvaluesFP4 {
		kd[i] = float32(float32(k) * d)
	}
	return &kd
}

// bestIndexFP4 returns the index of the candidate level nearest to x, the
// first one on ties, as best_index_mxfp4, with the same float32 errors but
// fewer of them. Only the levels of x's sign need a look: for x >= 0 a
// negative level's error round(k*d + x) is never below index 0's error x,
// and likewise for x < 0; index 8 (zero again) never beats index 0. The
// levels of one sign are sorted away from zero, so once a level lies beyond
// x the rounded errors of the later ones cannot be smaller (rounding is
// monotonic) and, on ties, ggml keeps the earlier index anyway. A NaN x
// gives 0, as in ggml.
func bestIndexFP4(x float32, kd *[16]float32) uint8 {
	best := 0
	bestErr := absf(kd[0] - x)
	if x < 0 {
		for i := 9; i < 16; i++ {
			if err := absf(kd[i] - x); err < bestErr {
				best, bestErr = i, err
			}
			if kd[i] <= x {
				break // later levels are farther: their errors can only grow
			}
		}
		return uint8(best)
	}
	for i := 1; i < 8; i++ {
		if err := absf(kd[i] - x); err < bestErr {
			best, bestErr = i, err
		}
		if kd[i] >= x {
			break // later levels are farther: their errors can only grow
		}
	}
	return uint8(best)
}

// mxfp4Exponent is the E8M0 exponent ggml picks for a block with absolute
// maximum amax: floor(log2(amax)) - 2 + 127, or 0 for amax <= 0.
func mxfp4Exponent(amax float32) uint8 {
	if !(amax > 0) {
		return 0
	}
	// log2f of glibc rounds to float32; the float64 log2 rounded to float32
	// gives the same floor (checked against libggml for every float32
	// exponent boundary).
	l := float32(math.Log2(float64(amax)))
	f := float32(math.Floor(float64(l)))
	return uint8(cvtI32(float32(f-2) + 127))
}

// EncodeMXFP4 quantizes src to MXFP4 blocks in dst, as
// quantize_row_mxfp4_ref: per 32 values an E8M0 exponent byte e and 16
// bytes whose low nibble j is value j and high nibble value j+16, each
// nibble the index of the nearest of ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}·2^(e-127).
// len(src) must be a multiple of 32 and len(dst) == len(src)/32*17.
func EncodeMXFP4(dst []byte, src []float32) {
	checkLens("EncodeMXFP4", len(src), len(dst), blockMXFP4, blockMXFP4Bytes, true)
	for b := 0; b < len(src)/blockMXFP4; b++ {
		x := src[b*blockMXFP4 : (b+1)*blockMXFP4]
		y := dst[b*blockMXFP4Bytes : (b+1)*blockMXFP4Bytes]
		var amax float32
		for _, v := range x {
			if a := absf(v); amax < a {
				amax = a
			}
		}
		e := mxfp4Exponent(amax)
		kd := fp4Levels(e8m0Half(e))
		y[0] = e
		for j := 0; j < blockMXFP4/2; j++ {
			y[1+j] = bestIndexFP4(x[j], kd) | bestIndexFP4(x[j+blockMXFP4/2], kd)<<4
		}
	}
}

// DecodeMXFP4 dequantizes MXFP4 blocks, as dequantize_row_mxfp4.
// len(dst) must be a multiple of 32 and len(src) == len(dst)/32*17.
func DecodeMXFP4(dst []float32, src []byte) {
	checkLens("DecodeMXFP4", len(src), len(dst), blockMXFP4, blockMXFP4Bytes, false)
	for b := 0; b < len(dst)/blockMXFP4; b++ {
		x := src[b*blockMXFP4Bytes : (b+1)*blockMXFP4Bytes]
		y := dst[b*blockMXFP4 : (b+1)*blockMXFP4]
		d := e8m0Half(x[0])
		for j := 0; j < blockMXFP4/2; j++ {
			q := x[1+j]
			y[j] = float32(float32(kvaluesFP4[q&0x0F]) * d)
			y[j+blockMXFP4/2] = float32(float32(kvaluesFP4[q>>4]) * d)
		}
	}
}

// ue4m3Half returns half the value of the UE4M3 scale x, as
// ggml_ue4m3_to_fp32 (0 and 0x7F, NaN in E4M3, give 0).
func ue4m3Half(x uint8) float32 {
	if x == 0 || x == 0x7F {
		return 0
	}
	exp := int(x>>3) & 0xF
	man := int(x & 7)
	var raw float32
	if exp == 0 {
		raw = float32(math.Ldexp(float64(man), -9))
	} else {
		raw = float32(math.Ldexp(float64(1+float32(man)/8), exp-7))
	}
	return raw * 0.5
}

// fp32ToUE4M3 rounds x to a UE4M3 scale, as ggml_fp32_to_ue4m3.
func fp32ToUE4M3(x float32) uint8 {
	if !(x > 0) {
		return 0
	}
	if x > 448 {
		x = 448
	}
	bits := math.Float32bits(x)
	fexp := int(bits>>23&0xFF) - 127
	fman := int(bits>>20) & 7
	uexp := fexp + 7
	if uexp <= 0 {
		man := int(cvtI32(float32(x*512) + 0.5))
		if man > 7 {
			man = 7
		}
		if man < 1 {
			return 0
		}
		return uint8(man)
	}
	if uexp >= 15 {
		return 0x7E
	}
	uman := fman + int(bits>>19&1)
	if uman > 7 {
		uman = 0
		uexp++
		if uexp >= 15 {
			return 0x7E
		}
	}
	return uint8(uexp<<3 | uman)
}

// EncodeNVFP4 quantizes src to NVFP4 blocks, as quantize_row_nvfp4_ref: per
// 64 values four UE4M3 scales (one per 16 values) and 32 bytes of E2M1
// nibbles (in each 16-value group, byte j holds value j low and j+8 high).
// len(src) must be a multiple of 64 and len(dst) == len(src)/64*36.
func EncodeNVFP4(dst []byte, src []float32) {
	checkLens("EncodeNVFP4", len(src), len(dst), blockNVFP4, blockNVFP4Bytes, true)
	const sub = 16
	for b := 0; b < len(src)/blockNVFP4; b++ {
		y := dst[b*blockNVFP4Bytes : (b+1)*blockNVFP4Bytes]
		for s := 0; s < blockNVFP4/sub; s++ {
			xb := src[b*blockNVFP4+s*sub : b*blockNVFP4+(s+1)*sub]
			var amax float32
			for _, v := range xb {
				if a := absf(v); amax < a {
					amax = a
				}
			}
			ue := fp32ToUE4M3(amax / 6)
			y[s] = ue
			kd := fp4Levels(ue4m3Half(ue))
			for j := 0; j < sub/2; j++ {
				y[4+s*sub/2+j] = bestIndexFP4(xb[j], kd) | bestIndexFP4(xb[j+sub/2], kd)<<4
			}
		}
	}
}

// DecodeNVFP4 dequantizes NVFP4 blocks, as dequantize_row_nvfp4.
// len(dst) must be a multiple of 64 and len(src) == len(dst)/64*36.
func DecodeNVFP4(dst []float32, src []byte) {
	checkLens("DecodeNVFP4", len(src), len(dst), blockNVFP4, blockNVFP4Bytes, false)
	const sub = 16
	for b := 0; b < len(dst)/blockNVFP4; b++ {
		x := src[b*blockNVFP4Bytes : (b+1)*blockNVFP4Bytes]
		for s := 0; s < blockNVFP4/sub; s++ {
			d := ue4m3Half(x[s])
			yb := dst[b*blockNVFP4+s*sub : b*blockNVFP4+(s+1)*sub]
			for j := 0; j < sub/2; j++ {
				q := x[4+s*sub/2+j]
				yb[j] = float32(float32(kvaluesFP4[q&0x0F]) * d)
				yb[j+sub/2] = float32(float32(kvaluesFP4[q>>4]) * d)
			}
		}
	}
}

// Encode converts src to tensor data of type t: F32, F16, Q8_0, MXFP4 or
// NVFP4. len(src) must be a multiple of the type's block size.
func Encode(t Type, src []float32) ([]byte, error) {
	elems, size, ok := t.BlockSize()
	if !ok {
		return nil, fmt.Errorf("gguf: encode: unknown tensor type id %d: %w", uint32(t), ErrInvalid)
	}
	if uint64(len(src))%elems != 0 {
		return nil, fmt.Errorf("gguf: encode %s: %d values is not a multiple of the block size %d: %w", t, len(src), elems, ErrInvalid)
	}
	dst := make([]byte, uint64(len(src))/elems*size)
	switch t {
	case TypeF32:
		for i, x := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(x))
		}
	case TypeF16:
		EncodeF16(dst, src)
	case TypeQ8_0:
		EncodeQ8_0(dst, src)
	case TypeMXFP4:
		EncodeMXFP4(dst, src)
	case TypeNVFP4:
		EncodeNVFP4(dst, src)
	default:
		return nil, fmt.Errorf("gguf: encode: no encoder for type %s: %w", t, ErrInvalid)
	}
	return dst, nil
}

// Decode converts tensor data of type t (F32, F16, BF16, Q8_0, MXFP4 or
// NVFP4) to float32 values.
func Decode(t Type, src []byte) ([]float32, error) {
	elems, size, ok := t.BlockSize()
	if !ok {
		return nil, fmt.Errorf("gguf: decode: unknown tensor type id %d: %w", uint32(t), ErrInvalid)
	}
	if uint64(len(src))%size != 0 {
		return nil, fmt.Errorf("gguf: decode %s: %d bytes is not a multiple of the block size %d: %w", t, len(src), size, ErrInvalid)
	}
	dst := make([]float32, uint64(len(src))/size*elems)
	switch t {
	case TypeF32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case TypeF16:
		DecodeF16(dst, src)
	case TypeBF16:
		DecodeBF16(dst, src)
	case TypeQ8_0:
		DecodeQ8_0(dst, src)
	case TypeMXFP4:
		DecodeMXFP4(dst, src)
	case TypeNVFP4:
		DecodeNVFP4(dst, src)
	default:
		return nil, fmt.Errorf("gguf: decode: no decoder for type %s: %w", t, ErrInvalid)
	}
	return dst, nil
}
