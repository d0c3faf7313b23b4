// Package certified implements interval bound propagation (IBP) for certified robust
// training, following Shi et al., "Fast Certified Robust Training with Short Warmup"
// (NeurIPS 2021) and Gowal et al., "On the Effectiveness of Interval Bound Propagation for
// Training Verifiably Robust Models" (2018).
//
// IBP (Gowal et al. 2018, Eq. 6) propagates an elementwise box [l, u] through the network in
// centre/radius form: for an affine layer z = W h + b with c = (u+l)/2 and r = (u-l)/2,
//
//	c' = W c + b,   r' = |W| r,   l' = c' − r',   u' = c' + r',
//
// and a monotone activation maps the endpoints: [relu(l), relu(u)]. A per-feature affine
// map (an inference-mode BatchNorm, scale s and shift t) is the diagonal case, r' = |s| r.
// The last layer is elided into the verification specification (Gowal et al. §3, "elision
// of the last layer"): the lower bound of the margin z_y − z_j is taken from the rows
// W_y − W_j directly, which is tighter than l_y − u_j.
//
// IBP initialization (Shi et al. 2021, §3.2, Eq. 8): weights of a layer with n_in inputs are
// drawn from N(0, σ²) with σ = √(2π)/n_in, so that the expected bound width is preserved
// layer to layer (E|w| = σ·√(2/π), times n_in inputs, equals 2 — the radius of the interval
// of a ReLU network is then neither exploding nor vanishing at init).
//
// Checked against the official code (github.com/shizhouxing/Fast-Certified-Robust-Training,
// HEAD of the stored snapshot):
//   - IBP init: manual_init.py:25–32 re-draws every weight matrix except the last one
//     (range len(weights)−1; 1-D weights such as BN's are skipped) from
//     N(0, 2π/fan_in²), i.e. σ = √(2π)/fan_in with PyTorch's fan_in (in·kh·kw for a conv);
//     manual_init.py:34–38 halves weights fed by a residual Add (not needed for an MLP).
//   - Loss: train.py:84–96 uses the robust (IBP) cross-entropy alone once ε_t > 1e-50 and
//     the natural cross-entropy while ε_t = 0; there is no κ mixing of natural and verified
//     loss in the fast recipe (the seed note's κ line is Gowal et al.'s, not Shi et al.'s).
//   - Regularizers and their weight: see reg.go (regularization.py:59–145).
//   - ε schedule: sched.go, auto_LiRPA eps_scheduler.py:175–234 (SmoothedScheduler).
//   - Not checked in this session: auto_LiRPA's BoundBatchNormalization (which statistics
//     BN uses on the bounds during training); Affine here is the inference-mode BN map.
package certified

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/core/graph"
)

// Bounds is an elementwise interval [Lower, Upper] over a tensor of activations.
type Bounds struct {
	Lower, Upper *graph.Node
}

// centreRadius returns c = (u+l)/2 and r = (u−l)/2.
func (b Bounds) centreRadius() (c, r *graph.Node) {
	c = graph.MulScalar(graph.Add(b.Upper, b.Lower), 0.5)
	r = graph.MulScalar(graph.Sub(b.Upper, b.Lower), 0.5)
	return c, r
}

func fromCentreRadius(c, r *graph.Node) Bounds {
	return Bounds{Lower: graph.Sub(c, r), Upper: graph.Add(c, r)}
}

// InputBox returns the ℓ∞ ball of radius eps around x, clipped to the valid input range
// [lo, hi] (inputs are scaled to [0, 1] in the benchmark). eps must be ≥ 0 and lo < hi.
func InputBox(x *graph.Node, eps, lo, hi float64) (Bounds, error) {
	if eps < 0 || math.IsNaN(eps) {
		return Bounds{}, fmt.Errorf("certified: eps=%g, want eps >= 0", eps)
	}
	if !(lo < hi) {
		return Bounds{}, fmt.Errorf("certified: input range [%g, %g] is empty, want lo < hi", lo, hi)
	}
	return Bounds{
		Lower: graph.ClipScalar(graph.AddScalar(x, -eps), lo, hi),
		Upper: graph.ClipScalar(graph.AddScalar(x, eps), lo, hi),
	}, nil
}

// Dense propagates bounds through z = h·W + b, with h [batch, in], W [in, out] and an
// optional bias [out] (nil for none): c' = c·W + b, r' = r·|W| (Gowal et al. 2018, Eq. 6).
func Dense(in Bounds, w, bias *graph.Node) Bounds {
	c, r := in.centreRadius()
	c = graph.MatMul(c, w)
	if bias != nil {
		c = graph.Add(c, lastAxis(bias, c))
	}
	r = graph.MatMul(r, graph.Abs(w))
	return fromCentreRadius(c, r)
}

// ReLU maps the interval endpoints through max(·, 0); ReLU is monotone so the result is the
// exact image of the box, coordinate-wise.
func ReLU(in Bounds) Bounds {
	return Bounds{Lower: relu(in.Lower), Upper: relu(in.Upper)}
}

// lastAxis lifts a per-feature vector v [n] to x's rank ([1, ..., 1, n]) so that it
// broadcasts over x's leading axes.
func lastAxis(v, x *graph.Node) *graph.Node {
	for v.Rank() < x.Rank() {
		v = graph.InsertAxes(v, 0)
	}
	return v
}

func relu(x *graph.Node) *graph.Node { return graph.Max(x, graph.ZerosLike(x)) }

// Affine propagates bounds through a per-feature affine map y = s ⊙ h + t over the last axis
// (an inference-mode BatchNorm folds to s = γ/√(σ²+ε), t = β − s·μ). s may be negative:
// r' = |s| r.
func Affine(in Bounds, scale, shift *graph.Node) Bounds {
	c, r := in.centreRadius()
	c = graph.Mul(c, lastAxis(scale, c))
	if shift != nil {
		c = graph.Add(c, lastAxis(shift, c))
	}
	return fromCentreRadius(c, graph.Mul(r, lastAxis(graph.Abs(scale), r)))
}

// Flatten reshapes bounds of shape [batch, ...] to [batch, prod(...)]; intervals are
// elementwise, so flattening commutes with them.
func Flatten(in Bounds) Bounds {
	dims := in.Lower.Shape().Dimensions
	n := 1
	for _, d := range dims[1:] {
		n *= d
	}
	return Bounds{Lower: graph.Reshape(in.Lower, dims[0], n), Upper: graph.Reshape(in.Upper, dims[0], n)}
}

// MarginLower returns, for every example and class j, a lower bound of the logit margin
// z_y − z_j of the final dense layer z = h·W + b over the box in (h bounds, W [in, classes],
// bias [classes] or nil, labels [batch] int): the last layer is elided into the
// specification, so the rows are d_j = W[:, y] − W[:, j] and the bound is
// c·d_j + (b_y − b_j) − r·|d_j|. The entry j = y is 0. The result is [batch, classes].
func MarginLower(in Bounds, w, bias, labels *graph.Node) *graph.Node {
	c, r := in.centreRadius()
	classes := w.Shape().Dimensions[1]
	onehot := graph.OneHot(labels, classes, w.DType()) // [batch, classes]
	// wy[n, i] = W[i, y_n]
	wy := graph.Einsum("nk,ik->ni", onehot, w)
	// d[n, i, j] = W[i, y_n] − W[i, j]
	d := graph.Sub(graph.InsertAxes(wy, -1), graph.InsertAxes(w, 0))
	m := graph.Sub(graph.Einsum("ni,nij->nj", c, d), graph.Einsum("ni,nij->nj", r, graph.Abs(d)))
	if bias != nil {
		by := graph.ReduceSum(graph.Mul(onehot, graph.InsertAxes(bias, 0)), -1) // [batch]
		m = graph.Add(m, graph.Sub(graph.InsertAxes(by, -1), graph.InsertAxes(bias, 0)))
	}
	return m
}

// VerifiedLoss is the IBP robust cross-entropy of Gowal et al. (2018, Eq. 9 with the
// specification of the last layer elided): the cross-entropy of the worst-case logits
// −MarginLower, i.e. CE(−m, y) = log Σ_j exp(−m_j) (m_y = 0). It returns the batch mean.
func VerifiedLoss(margins *graph.Node) *graph.Node {
	neg := graph.Neg(margins)
	mx := graph.StopGradient(graph.ReduceMax(neg, -1))
	lse := graph.Add(graph.Log(graph.ReduceSum(graph.Exp(graph.Sub(neg, graph.InsertAxes(mx, -1))), -1)), mx)
	return graph.ReduceAllMean(lse)
}

// Verified returns a bool [batch] tensor: true where every margin lower bound of a class
// j ≠ y is positive, i.e. the prediction is certified for the whole eps-box. The entry
// j = y (zero by construction) is excluded via the labels.
func Verified(margins, labels *graph.Node) *graph.Node {
	classes := margins.Shape().Dimensions[1]
	onehot := graph.OneHot(labels, classes, margins.DType())
	big := graph.MulScalar(onehot, 1e30)
	worst := graph.ReduceMin(graph.Add(margins, big), -1)
	return graph.GreaterThan(worst, graph.ZerosLike(worst))
}

// IBPInitStd returns the standard deviation √(2π)/fanIn of the IBP initialization of Shi et
// al. (2021, Eq. 8) for a dense layer with fanIn inputs (for a convolution fanIn is
// in_channels·kernel_h·kernel_w).
func IBPInitStd(fanIn int) (float64, error) {
	if fanIn <= 0 {
		return 0, fmt.Errorf("certified: fan_in=%d, want fan_in >= 1", fanIn)
	}
	return math.Sqrt(2*math.Pi) / float64(fanIn), nil
}
