package excelformer

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// ModelConfig is the ExcelFormer architecture (bin/excel_former.py ExcelFormer.__init__).
type ModelConfig struct {
	Features  int     // f: number of (numeric) feature tokens, in descending-MI order
	DToken    int     // d: token width (official default 256)
	Layers    int     // number of blocks (official default 3)
	Heads     int     // attention heads (official default 32); must divide DToken
	Outputs   int     // head width: 1 for regression, the number of classes otherwise
	InitScale float64 // attenuated init scale of W_q, W_k, W_v and the FFN linear (official 0.01)
	Seed      uint64  // initialization seed
}

// Validate checks the configuration, naming the bad value and what is allowed.
func (c ModelConfig) Validate() error {
	switch {
	case c.Features < 1:
		return fmt.Errorf("excelformer: features=%d must be >= 1", c.Features)
	case c.DToken < 1:
		return fmt.Errorf("excelformer: d_token=%d must be >= 1", c.DToken)
	case c.Layers < 1:
		return fmt.Errorf("excelformer: layers=%d must be >= 1", c.Layers)
	case c.Heads < 1 || c.DToken%c.Heads != 0:
		return fmt.Errorf("excelformer: heads=%d must be >= 1 and divide d_token=%d", c.Heads, c.DToken)
	case c.Outputs < 1:
		return fmt.Errorf("excelformer: outputs=%d must be >= 1", c.Outputs)
	case !(c.InitScale > 0) || math.IsInf(c.InitScale, 0):
		return fmt.Errorf("excelformer: init_scale=%g must be finite and > 0", c.InitScale)
	}
	return nil
}

// attenuatedUniform fills n values with the reference's attenuated_kaiming_uniform_
// (bin/excel_former.py lines 14-22): U(-b, b), b = sqrt(3)·gain·scale/sqrt(fanIn) with the
// kaiming gain sqrt(2/(1+a²)), a = sqrt(5) (torch's nn.Linear default), i.e. gain = sqrt(1/3).
func attenuatedUniform(r *rand.Rand, n, fanIn int, scale float64) []float32 {
	b := math.Sqrt(3) * math.Sqrt(1.0/3) * scale / math.Sqrt(float64(fanIn))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32((2*r.Float64() - 1) * b)
	}
	return out
}

// Forward builds ExcelFormer on x [batch, f] (float32, features in descending-MI order) and
// returns [batch, Outputs]. Variables live under scope (created on first use with the
// reference's initialization). The computation follows ExcelFormer.forward
// (bin/excel_former.py lines 283-318) without mixup (see Mix functions in mix.go):
//
//	E = GLUEmbed(x)                                 (Tokenizer.forward, lines 74-79)
//	for each layer l: x = x + SPA(LN0(x))  (LN0 skipped in layer 0, prenorm)
//	                  x = x + tanglu(Linear_{d->2d}(LN1(x)))
//	h = Linear_{f->1} over the token axis; h = PReLU(LN(h)); y = Linear_{d->out}(h)
//
// Dropouts are 0 here (the reference's defaults for ffn and residual; attention dropout 0.3 is
// not applied, a documented deviation).
func Forward(scope *model.Scope, x *graph.Node, c ModelConfig) (*graph.Node, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if x.Rank() != 2 || x.Shape().Dim(1) != c.Features {
		return nil, fmt.Errorf("excelformer: input must be [batch, %d], got shape %s", c.Features, x.Shape())
	}
	r := rand.New(rand.NewPCG(c.Seed, 0x5eed))
	f, d := c.Features, c.DToken
	v := func(s *model.Scope, name string, vals []float32, dims ...int) *graph.Node {
		return s.VariableWithValue(name, tensors.FromFlatDataAndDimensions(vals, dims...)).ValueGraph(x)
	}
	zeros := func(n int) []float32 { return make([]float32, n) }
	ones := func(n int) []float32 {
		o := make([]float32, n)
		for i := range o {
			o[i] = 1
		}
		return o
	}
	// Tokenizer: weight, weight2 attenuated kaiming (fan_in = d for an [f, d] tensor in torch's
	// convention: fan_in is dim 1); biases kaiming_uniform a=sqrt(5): bound 1/sqrt(d).
	tok := scope.In("tokenizer")
	w1 := v(tok, "weight", attenuatedUniform(r, f*d, d, 1), f, d)
	w2 := v(tok, "weight2", attenuatedUniform(r, f*d, d, 1), f, d)
	b1 := v(tok, "bias", attenuatedUniform(r, f*d, d, 1), f, d)
	b2 := v(tok, "bias2", attenuatedUniform(r, f*d, d, 1), f, d)
	h := GLUEmbed(x, w1, b1, w2, b2) // [b, f, d]
	for l := range c.Layers {
		ls := scope.In("layer_%d", l)
		res := h
		if l > 0 {
			res = layerNorm(ls.In("norm0"), res, d, v, zeros, ones)
		}
		att := ls.In("attention")
		proj := func(name string, scale float64) *graph.Node {
			ps := att.In("%s", name)
			w := v(ps, "weights", attenuatedUniform(r, d*d, d, scale), d, d)
			b := v(ps, "biases", zeros(d), d)
			return addB(graph.Einsum("bfd,de->bfe", res, w), b)
		}
		q, k, vv := proj("W_q", c.InitScale), proj("W_k", c.InitScale), proj("W_v", c.InitScale)
		a, err := maskedAttention(q, k, vv, c.Heads)
		if err != nil {
			return nil, err
		}
		if c.Heads > 1 {
			os := att.In("W_out")
			w := v(os, "weights", attenuatedUniform(r, d*d, d, 1), d, d)
			b := v(os, "biases", zeros(d), d)
			a = addB(graph.Einsum("bfd,de->bfe", a, w), b)
		}
		h = graph.Add(h, a)
		res = layerNorm(ls.In("norm1"), h, d, v, zeros, ones)
		l0 := ls.In("linear0")
		w := v(l0, "weights", attenuatedUniform(r, d*2*d, d, c.InitScale), d, 2*d)
		b := v(l0, "biases", zeros(2*d), 2*d)
		h = graph.Add(h, TanGLU(addB(graph.Einsum("bfd,de->bfe", res, w), b)))
	}
	// Readout: last_fc Linear(f -> 1) over the token axis (weight attenuated, fan_in f; bias
	// torch default U(±1/sqrt(f))), then LayerNorm, PReLU (0.25), head Linear(d -> out).
	lf := scope.In("last_fc")
	wf := v(lf, "weights", attenuatedUniform(r, f, f, 1), f)
	bf := v(lf, "biases", attenuatedUniform(r, 1, f, 1), 1)
	pooled := addB(graph.Einsum("bfd,f->bd", h, wf), bf)
	pooled = layerNorm(scope.In("last_normalization"), pooled, d, v, zeros, ones)
	alpha := v(scope.In("last_activation"), "alpha", []float32{0.25}, 1)
	pooled = graph.Where(graph.GreaterOrEqual(pooled, graph.ScalarZero(x.Graph(), pooled.DType())), pooled, graph.Mul(pooled, graph.ExpandLeftToRank(alpha, 2)))
	hd := scope.In("head")
	wh := v(hd, "weights", attenuatedUniform(r, d*c.Outputs, d, 1), d, c.Outputs)
	bh := v(hd, "biases", attenuatedUniform(r, c.Outputs, d, 1), c.Outputs)
	return addB(graph.Einsum("bd,do->bo", pooled, wh), bh), nil
}

// layerNorm is torch's nn.LayerNorm(d) (eps 1e-5, gain 1 and bias 0 at init) over the last axis.
func layerNorm(s *model.Scope, x *graph.Node, d int, v func(*model.Scope, string, []float32, ...int) *graph.Node,
	zeros, ones func(int) []float32) *graph.Node {
	last := x.Rank() - 1
	mean := graph.ReduceAndKeep(x, graph.ReduceMean, last)
	cx := graph.Sub(x, mean)
	variance := graph.ReduceAndKeep(graph.Square(cx), graph.ReduceMean, last)
	n := graph.Div(cx, graph.Sqrt(graph.AddScalar(variance, 1e-5)))
	return addB(graph.Mul(n, graph.ExpandLeftToRank(v(s, "gain", ones(d), d), n.Rank())), v(s, "bias", zeros(d), d))
}

// maskedAttention is the semi-permeable multi-head attention core on projected q, k, v
// [b, f, d]: softmax(QK^T/sqrt(d_head) + M) V with M = SemiPermeableMask (query i reads key j
// only when j <= i; bin/excel_former.py get_attention_mask, lines 115-121).
func maskedAttention(q, k, v *graph.Node, nHeads int) (*graph.Node, error) {
	b, f, d := q.Shape().Dim(0), q.Shape().Dim(1), q.Shape().Dim(2)
	if nHeads < 1 || d%nHeads != 0 {
		return nil, fmt.Errorf("excelformer: n_heads=%d must be >= 1 and divide d=%d", nHeads, d)
	}
	dh := d / nHeads
	q4, k4, v4 := graph.Reshape(q, b, f, nHeads, dh), graph.Reshape(k, b, f, nHeads, dh), graph.Reshape(v, b, f, nHeads, dh)
	scores := graph.MulScalar(graph.Einsum("bqhe,bkhe->bhqk", q4, k4), 1/math.Sqrt(float64(dh)))
	g := q.Graph()
	i := graph.Iota(g, shapes.Make(q.DType(), f, f), 0)
	j := graph.Iota(g, shapes.Make(q.DType(), f, f), 1)
	mask := graph.Where(graph.GreaterThan(j, i), graph.Scalar(g, q.DType(), MaskNegative), graph.Scalar(g, q.DType(), 0))
	attn := graph.Softmax(graph.Add(scores, graph.Reshape(mask, 1, 1, f, f)), -1)
	return graph.Reshape(graph.Einsum("bhqk,bkhe->bqhe", attn, v4), b, f, d), nil
}

// addB adds a bias b (rank 1) to x along its last axis(es), broadcasting on the left.
func addB(x, b *graph.Node) *graph.Node { return graph.Add(x, graph.ExpandLeftToRank(b, x.Rank())) }
