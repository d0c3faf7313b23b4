// Package quant is weight-only low-bit quantization for inference: binary-coding quantization
// (BCQ) of a weight matrix with group-wise scales and offsets, and LUT-GEMM's lookup-table
// matrix-vector / small-batch matrix kernel, which multiplies by the quantized matrix without
// ever dequantizing it.
//
// Paper: Park, Kim, Kim, Kwon, Kim, Jeon, Lee, Yoo, Lee, Kwon, Lee: "LUT-GEMM: Quantized Matrix
// Multiplication based on LUTs for Efficient Inference in Large-Scale Generative Language
// Models", ICLR 2024 (arXiv 2206.09557).
// Reference code: naver-aics/lut-gemm: examples/bcq.py (greedy + alternating BCQ),
// examples/rtn_parameter.py (uniform RTN and its conversion to BCQ), examples/utils.py (the
// GPTQ-style min/max quantizer), lutGEMM/src/cuda/kernels/mv_fp16_bias.hpp (the kernel).
//
// The format (Eq. 2 of the paper, with the group-wise offset of Sec. 3.2): an [M, K] matrix
// (M outputs, K inputs) is cut along K into groups of g consecutive inputs; for output m and
// group G,
//
//	w[m,k] ≈ Σ_{i<q} α[m,G,i]·b_i[m,k] + z[m,G],   b_i ∈ {−1,+1},  k ∈ G
//
// The q binary planes are bit-packed, 8 inputs per byte (bit j of byte v is input 8v+j, 1 means
// +1), plane by plane, so a q-bit weight costs q table look-ups. Uniform asymmetric quantization
// s·(k − zp) is the special case α_i = s·2^i/2, z = Σα_i − s·zp (FromUniform).
//
// Quantizers (registered, see Names): "bcq" is the official non-uniform BCQ (greedy init, then
// alternating least-squares scales and nearest-level codes; no offset, as in bcq.py), "bcq_offset"
// the same with the group offset fitted jointly (our extension: the offset column joins the
// least squares), "rtn" round-to-nearest uniform asymmetric quantization (the GPTQ quantizer of
// utils.py: the range always includes 0) converted to BCQ.
//
// Kernel (Kernel.MatMul): for every input vector and every sub-vector of μ = 8 inputs a table
// of the 2^8 signed partial sums Σ_j ±x_j is built once (256 adds per sub-vector, Sec. 3.1);
// each output row then adds one table entry per byte of each bit plane, scales the group's sum
// by α and adds z·Σx over the group (the table's all-ones entry). For a batch of B vectors the
// tables are interleaved [sub-vector][key][B] so one key reads B adjacent sums. With
// GOEXPERIMENT=simd on an AVX2 CPU the 8-wide batch accumulation and the float32 reference
// matvec use simd/archsimd vectors; the batch-1 look-ups are scalar gathers in plain Go.
//
// Deviations: accumulation is float32 on the host (the CUDA kernel accumulates in FP16);
// scales and offsets are stored as float32 (the paper's FP16 halves their memory, which
// Matrix.Bytes reports separately); the alternating fit solves its q×q (or (q+1)×(q+1)) least
// squares exactly instead of bcq.py's k damped conjugate-gradient steps; greedy BCQ takes
// sign(0) = +1 (torch's sign(0) = 0 leaves such weights out of every plane); K need not be a
// multiple of 8 or of the group size: the last group is shorter, and the kernel treats missing
// inputs of the last byte as zeros (group sizes below K must be multiples of 8, so that groups
// start on byte boundaries).
package quant
