//go:build !(amd64 && goexperiment.simd)

package quant

// SIMD reports whether this build uses simd/archsimd vectors (never, without
// GOEXPERIMENT=simd on amd64).
func SIMD() bool { return false }

func dot(a, b []float32) float32 { return dotGo(a, b) }

func planeSumB(racc, tmp, lut []float32, keys []uint8, v0 int, alpha []float32, q, gsub int) {
	planeSumBGo(racc, tmp, lut, keys, v0, alpha, q, gsub)
}
