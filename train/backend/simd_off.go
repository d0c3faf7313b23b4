//go:build !goexperiment.simd

package backend

// SIMD reports whether this binary was built with GOEXPERIMENT=simd, which turns on the Go
// backend's AVX2/AVX-512 matmul kernels.
const SIMD = false
