#include "textflag.h"

// func maxAVX2(p *float32, n int) float32
// The largest of p[0:n]; n is a positive multiple of 8.
TEXT ·maxAVX2(SB), NOSPLIT, $0-20
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	VMOVUPS (SI), Y0
	VMOVAPS Y0, Y1
	VMOVAPS Y0, Y2
	VMOVAPS Y0, Y3
	MOVQ CX, DX
	ANDQ $-32, DX
	XORQ AX, AX

loop32:
	CMPQ AX, DX
	JGE  tail8
	VMAXPS (SI)(AX*4), Y0, Y0
	VMAXPS 32(SI)(AX*4), Y1, Y1
	VMAXPS 64(SI)(AX*4), Y2, Y2
	VMAXPS 96(SI)(AX*4), Y3, Y3
	ADDQ $32, AX
	JMP  loop32

tail8:
	CMPQ AX, CX
	JGE  reduce
	VMAXPS (SI)(AX*4), Y0, Y0
	ADDQ $8, AX
	JMP  tail8

reduce:
	VMAXPS Y1, Y0, Y0
	VMAXPS Y3, Y2, Y2
	VMAXPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0x4E, X0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0xB1, X0, X1
	VMAXPS X1, X0, X0
	VZEROUPPER
	MOVSS X0, ret+16(FP)
	RET

// func findAVX2(p *float32, n int, v float32) int
// The first i < n with p[i] == v, or -1; n is a multiple of 8.
TEXT ·findAVX2(SB), NOSPLIT, $0-32
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS v+16(FP), Y1
	XORQ AX, AX

loop:
	CMPQ AX, CX
	JGE  notfound
	VCMPPS $0, (SI)(AX*4), Y1, Y2
	VMOVMSKPS Y2, BX
	TESTL BX, BX
	JNZ  found
	ADDQ $8, AX
	JMP  loop

found:
	BSFL BX, BX
	ADDQ BX, AX
	VZEROUPPER
	MOVQ AX, ret+24(FP)
	RET

notfound:
	VZEROUPPER
	MOVQ $-1, ret+24(FP)
	RET

// Constants of sumExpAVX2: the clamp, log2(e) and Taylor coefficients of
// 2^f = e^(f ln 2) on |f| <= 0.5 (relative error about 1e-7).
DATA expconst<>+0(SB)/4, $-87.0
DATA expconst<>+4(SB)/4, $1.44269504
DATA expconst<>+8(SB)/4, $1.0
DATA expconst<>+12(SB)/4, $0.693147181
DATA expconst<>+16(SB)/4, $0.240226507
DATA expconst<>+20(SB)/4, $0.0555041087
DATA expconst<>+24(SB)/4, $0.00961812911
DATA expconst<>+28(SB)/4, $0.00133335581
DATA expconst<>+32(SB)/4, $0.000154035304
GLOBL expconst<>(SB), RODATA|NOPTR, $36

// func sumExpAVX2(p *float32, n int, m float32) float32
// Σ exp(p[i] − m) over p[0:n]; n is a multiple of 8, m the maximum.
TEXT ·sumExpAVX2(SB), NOSPLIT, $0-28
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS m+16(FP), Y15
	VBROADCASTSS expconst<>+0(SB), Y14
	VBROADCASTSS expconst<>+4(SB), Y13
	VBROADCASTSS expconst<>+8(SB), Y6
	VBROADCASTSS expconst<>+12(SB), Y7
	VBROADCASTSS expconst<>+16(SB), Y8
	VBROADCASTSS expconst<>+20(SB), Y9
	VBROADCASTSS expconst<>+24(SB), Y10
	VBROADCASTSS expconst<>+28(SB), Y11
	VBROADCASTSS expconst<>+32(SB), Y12
	VXORPS Y5, Y5, Y5
	XORQ AX, AX

eloop:
	CMPQ AX, CX
	JGE  edone
	VMOVUPS (SI)(AX*4), Y0
	VSUBPS Y15, Y0, Y0
	VMAXPS Y14, Y0, Y0
	VMULPS Y13, Y0, Y0
	VROUNDPS $0, Y0, Y1
	VSUBPS Y1, Y0, Y0
	VMOVAPS Y12, Y2
	VFMADD213PS Y11, Y0, Y2
	VFMADD213PS Y10, Y0, Y2
	VFMADD213PS Y9, Y0, Y2
	VFMADD213PS Y8, Y0, Y2
	VFMADD213PS Y7, Y0, Y2
	VFMADD213PS Y6, Y0, Y2
	VCVTPS2DQ Y1, Y3
	VPSLLD $23, Y3, Y3
	VPADDD Y3, Y2, Y2
	VADDPS Y2, Y5, Y5
	ADDQ $8, AX
	JMP  eloop

edone:
	VEXTRACTF128 $1, Y5, X1
	VADDPS X1, X5, X5
	VPERMILPS $0x4E, X5, X1
	VADDPS X1, X5, X5
	VPERMILPS $0xB1, X5, X1
	VADDPS X1, X5, X5
	VZEROUPPER
	MOVSS X5, ret+24(FP)
	RET
