// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package fastmath

import (
	"math"
	"simd/archsimd"
)

func init() {
	switch {
	case archsimd.X86.AVX512():
		Exp32Slice, Logistic32Slice, Vectorized = exp32SliceAVX512, logistic32SliceAVX512, true
	case archsimd.X86.AVX2():
		Exp32Slice, Logistic32Slice, Vectorized = exp32SliceAVX2, logistic32SliceAVX2, true
	}
}

// Constants of Exp32 (Cephes expf).
const (
	expMaxNumF = 1.7014117331926442990585209174225846272e38
	expMaxLogF = 88.02969187150841
	expMinLogF = -88.02969187150841
	expLog2E   = 1.44269504088896341
	expLn2Hi   = 0.693359375
	expLn2Lo   = -2.12194440e-4
	expP7      = 1.9875691500e-4
	expP6      = 1.3981999507e-3
	expP5      = 8.3334519073e-3
	expP4      = 4.1665795894e-2
	expP3      = 1.6666665459e-1
	expP2      = 5.0000001201e-1
)

// exp32x16 is Exp32 on 16 lanes: clamps, n = floor(x·log₂e + ½), g = x − n·ln2 (two parts),
// 2ⁿ from the exponent bits, times the polynomial of g; NaN lanes stay NaN.
func exp32x16(x archsimd.Float32x16) archsimd.Float32x16 {
	bc := archsimd.BroadcastFloat32x16
	isNaN := x.IsNaN()
	over := x.Greater(bc(expMaxLogF))
	under := x.Less(bc(expMinLogF))
	xc := x.Min(bc(expMaxLogF)).Max(bc(expMinLogF))
	z := xc.Mul(bc(expLog2E)).Add(bc(0.5)).FloorScaled(0)
	g := xc.Sub(z.Mul(bc(expLn2Hi))).Sub(z.Mul(bc(expLn2Lo)))
	scale := z.ConvertToInt32().Add(archsimd.BroadcastInt32x16(127)).ShiftAllLeft(23).AsFloat32x16()
	p := bc(expP7).Mul(g).Add(bc(expP6))
	p = p.Mul(g).Add(bc(expP5))
	p = p.Mul(g).Add(bc(expP4))
	p = p.Mul(g).Add(bc(expP3))
	p = p.Mul(g).Add(bc(expP2))
	p = p.Mul(g.Mul(g)).Add(g).Add(bc(1))
	r := scale.Mul(p)
	r = bc(expMaxNumF).Merge(r, over)
	r = bc(0).Merge(r, under)
	return x.Merge(r, isNaN)
}

func exp32x8(x archsimd.Float32x8) archsimd.Float32x8 {
	bc := archsimd.BroadcastFloat32x8
	isNaN := x.IsNaN()
	over := x.Greater(bc(expMaxLogF))
	under := x.Less(bc(expMinLogF))
	xc := x.Min(bc(expMaxLogF)).Max(bc(expMinLogF))
	z := xc.Mul(bc(expLog2E)).Add(bc(0.5)).Floor()
	g := xc.Sub(z.Mul(bc(expLn2Hi))).Sub(z.Mul(bc(expLn2Lo)))
	scale := z.ConvertToInt32().Add(archsimd.BroadcastInt32x8(127)).ShiftAllLeft(23).AsFloat32x8()
	p := bc(expP7).Mul(g).Add(bc(expP6))
	p = p.Mul(g).Add(bc(expP5))
	p = p.Mul(g).Add(bc(expP4))
	p = p.Mul(g).Add(bc(expP3))
	p = p.Mul(g).Add(bc(expP2))
	p = p.Mul(g.Mul(g)).Add(g).Add(bc(1))
	r := scale.Mul(p)
	r = bc(expMaxNumF).Merge(r, over)
	r = bc(0).Merge(r, under)
	return x.Merge(r, isNaN)
}

// logistic32x16: e = exp(−|x|), r = 1/(1+e), e·r where x < 0.
func logistic32x16(x archsimd.Float32x16) archsimd.Float32x16 {
	one := archsimd.BroadcastFloat32x16(1)
	negAbs := x.AsInt32x16().Or(archsimd.BroadcastInt32x16(-1 << 31)).AsFloat32x16()
	e := exp32x16(negAbs)
	r := one.Div(one.Add(e))
	return e.Mul(r).Merge(r, x.Less(archsimd.BroadcastFloat32x16(0)))
}

func logistic32x8(x archsimd.Float32x8) archsimd.Float32x8 {
	one := archsimd.BroadcastFloat32x8(1)
	negAbs := x.AsInt32x8().Or(archsimd.BroadcastInt32x8(-1 << 31)).AsFloat32x8()
	e := exp32x8(negAbs)
	r := one.Div(one.Add(e))
	return e.Mul(r).Merge(r, x.Less(archsimd.BroadcastFloat32x8(0)))
}

func exp32SliceAVX512(dst, src []float32) {
	n := len(dst)
	src = src[:n]
	i := 0
	for ; i+16 <= n; i += 16 {
		exp32x16(archsimd.LoadFloat32x16Slice(src[i:])).StoreSlice(dst[i:])
	}
	if i < n {
		exp32x16(archsimd.LoadFloat32x16SlicePart(src[i:])).StoreSlicePart(dst[i:])
	}
}

func logistic32SliceAVX512(dst, src []float32) {
	n := len(dst)
	src = src[:n]
	i := 0
	for ; i+16 <= n; i += 16 {
		logistic32x16(archsimd.LoadFloat32x16Slice(src[i:])).StoreSlice(dst[i:])
	}
	if i < n {
		logistic32x16(archsimd.LoadFloat32x16SlicePart(src[i:])).StoreSlicePart(dst[i:])
	}
}

func exp32SliceAVX2(dst, src []float32) {
	n := len(dst)
	src = src[:n]
	i := 0
	for ; i+8 <= n; i += 8 {
		exp32x8(archsimd.LoadFloat32x8Slice(src[i:])).StoreSlice(dst[i:])
	}
	if i < n {
		exp32x8(archsimd.LoadFloat32x8SlicePart(src[i:])).StoreSlicePart(dst[i:])
	}
}

func logistic32SliceAVX2(dst, src []float32) {
	n := len(dst)
	src = src[:n]
	i := 0
	for ; i+8 <= n; i += 8 {
		logistic32x8(archsimd.LoadFloat32x8Slice(src[i:])).StoreSlice(dst[i:])
	}
	if i < n {
		logistic32x8(archsimd.LoadFloat32x8SlicePart(src[i:])).StoreSlicePart(dst[i:])
	}
}

func init() {
	if archsimd.X86.AVX512() {
		SoftmaxRow32 = softmaxRow32AVX512
	}
}

func softmaxRow32AVX512(dst, src []float32) {
	n := len(src)
	dst = dst[:n]
	m := float32(math.Inf(-1))
	i := 0
	if n >= 16 {
		acc := archsimd.BroadcastFloat32x16(m)
		for ; i+16 <= n; i += 16 {
			acc = acc.Max(archsimd.LoadFloat32x16Slice(src[i:]))
		}
		var lanes [16]float32
		acc.Store(&lanes)
		for _, v := range lanes {
			if v > m {
				m = v
			}
		}
	}
	for ; i < n; i++ {
		if src[i] > m {
			m = src[i]
		}
	}
	mv := archsimd.BroadcastFloat32x16(m)
	for i = 0; i+16 <= n; i += 16 {
		exp32x16(archsimd.LoadFloat32x16Slice(src[i:]).Sub(mv)).StoreSlice(dst[i:])
	}
	if i < n {
		exp32x16(archsimd.LoadFloat32x16SlicePart(src[i:]).Sub(mv)).StoreSlicePart(dst[i:])
	}
	var sum float32
	for _, e := range dst {
		sum += e
	}
	iv := archsimd.BroadcastFloat32x16(1 / sum)
	for i = 0; i+16 <= n; i += 16 {
		archsimd.LoadFloat32x16Slice(dst[i:]).Mul(iv).StoreSlice(dst[i:])
	}
	inv := 1 / sum
	for ; i < n; i++ {
		dst[i] *= inv
	}
}
