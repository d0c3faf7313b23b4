package moe

import (
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
)

// Routing is the result of token-choice routing of T tokens over E experts with k picks per
// token. Assignments are kept slot-major: index [j, t] is token t's j-th choice (j = 0 is its
// largest logit). The first Real experts have buffers; experts >= Real are AdaMoE's null
// experts (zero output, no FLOPs).
type Routing struct {
	T, E, K, Real int
	// Logits [T, E] are the router logits used for selection (noisy in training when
	// NoiseNoisyTopK); Clean [T, E] are the logits without noise (z-loss, load estimate).
	Logits, Clean *graph.Node
	// NoiseStd [T, E] is the noisy-top-k standard deviation (nil without that noise).
	NoiseStd *graph.Node
	// Probs [T, E] = softmax(Logits) over all experts (balance losses, entropy).
	Probs *graph.Node
	// Index [k, T] int32 is the selected expert of each assignment; Mask [k, T, E] its one-hot
	// (constant: gradients never pass through the selection).
	Index, Mask *graph.Node
	// Valid [k, T] is 1 for assignments to a real expert (always 1 without null experts).
	Valid *graph.Node
	// Gates [k, T] are the combine weights (differentiable w.r.t. the logits). For null
	// assignments they hold the raw softmax probability and are not used.
	Gates *graph.Node
	// Capacity C is the number of slots per real expert (T for dropless and dense dispatch).
	Capacity int
	// Keep [k, T] is 1 for valid assignments that got a slot; Pos [k, T] their slot index in
	// the expert's buffer (integer-valued floats; 0 when not kept).
	Keep, Pos *graph.Node
	// Counts [Real] are the assignments per real expert before dropping.
	Counts *graph.Node
}

// routerLinear computes router logits x·W (+ b) [T, e] for x [T, d] with the variables
// scope/w [d, e] (GoMLX's default initializer) and, with bias, scope/b [e] (zeros).
func routerLinear(scope *model.Scope, x *graph.Node, e int, bias bool) *graph.Node {
	g, dt, d := x.Graph(), x.DType(), x.Shape().Dim(-1)
	w := scope.VariableWithShape("w", shapes.Make(dt, d, e)).NodeValue(g)
	logits := graph.Einsum("td,de->te", x, w)
	if bias {
		b := scope.WithInitializer(initializer.Zero).VariableWithShape("b", shapes.Make(dt, e)).NodeValue(g)
		logits = graph.Add(logits, graph.InsertAxes(b, 0))
	}
	return logits
}

// jitter multiplies the router input x by U[1-eps, 1+eps] elementwise in training (Switch
// Transformer's jitter noise); otherwise it returns x.
func jitter(scope *model.Scope, x *graph.Node, cfg Config, training bool) *graph.Node {
	if !training || cfg.Noise != NoiseJitter || cfg.NoiseEps == 0 {
		return x
	}
	u := scope.RandomUniform(x.Graph(), x.Shape())
	return graph.Mul(x, graph.AddScalar(graph.MulScalar(u, 2*cfg.NoiseEps), 1-cfg.NoiseEps))
}

// noisyTopK returns Shazeer et al. (2017)'s noisy logits H = clean + N(0,1)·std in training
// and std = softplus(x·W_noise) + 0.01 (Eq. (4)-(5); W_noise [d, E] zero-initialized under
// scope/w_noise), or clean and nil without that noise.
func noisyTopK(scope *model.Scope, x, clean *graph.Node, cfg Config, training bool) (logits, std *graph.Node) {
	if cfg.Noise != NoiseNoisyTopK {
		return clean, nil
	}
	g, dt, d, e := x.Graph(), x.DType(), x.Shape().Dim(-1), clean.Shape().Dim(-1)
	wn := scope.WithInitializer(initializer.Zero).VariableWithShape("w_noise", shapes.Make(dt, d, e)).NodeValue(g)
	std = graph.AddScalar(graph.Softplus(graph.Einsum("td,de->te", x, wn)), 0.01) // Eq. (5), noise_epsilon 1e-2.
	if !training {
		return clean, std
	}
	return graph.Add(clean, graph.Mul(scope.RandomNormal(g, clean.Shape()), std)), std // Eq. (4).
}

// SelectTopK returns the k largest entries of scores [T, E] per row as indices [k, T] (int32,
// descending: slot 0 is the largest; ties go to the lower index) and their one-hot mask
// [k, T, E] in scores' dtype. scores are stopped: nothing differentiates through it.
// method is SelectionArgMax (k rounds of ArgMax, masking each pick with -inf) or
// SelectionTopK (graph.TopK, a sort). BenchmarkSelect measures both.
func SelectTopK(scores *graph.Node, k int, method string) (index, mask *graph.Node) {
	scores = graph.StopGradient(scores)
	g, dt := scores.Graph(), scores.DType()
	t, e := scores.Shape().Dim(0), scores.Shape().Dim(1)
	iota := graph.Iota(g, shapes.Make(dtypes.Int32, 1, e), 1)
	if method == SelectionTopK {
		_, idx := graph.TopK(scores, k, -1)                                       // [T, k]
		index = graph.Transpose(graph.ConvertDType(idx, dtypes.Int32), 0, 1)      // [k, T]
		eq := graph.Equal(graph.InsertAxes(index, -1), graph.InsertAxes(iota, 0)) // [k, T, E]
		return index, graph.ConvertDType(eq, dt)
	}
	negInf := graph.BroadcastToDims(graph.Infinity(g, dt, -1), t, e)
	var idxs, masks []*graph.Node
	cur := scores
	for range k {
		idx := graph.ArgMax(cur, -1, dtypes.Int32)         // [T]
		eq := graph.Equal(graph.InsertAxes(idx, -1), iota) // [T, E]
		idxs = append(idxs, idx)
		masks = append(masks, graph.ConvertDType(eq, dt))
		cur = graph.Where(eq, negInf, cur)
	}
	return graph.Stack(idxs, 0), graph.Stack(masks, 0)
}

// epsilon is the machine epsilon of dt (PyTorch's finfo.eps), the clamp of renormalizations.
func epsilon(dt dtypes.DType) float64 {
	if dt == dtypes.Float64 {
		return math.Nextafter(1, 2) - 1
	}
	return float64(math.Nextafter32(1, 2) - 1)
}

// Route selects k of the E experts for each token from logits [T, E] and computes the
// combine weights (Routing.Gates). real is the number of experts with buffers (E without null
// experts); renormalization then runs over the real experts among the k picks. It does not
// assign capacity slots: see Routing.Assign.
//
// Gate orders (cfg.Gate):
//
//	topk_softmax: g_j = exp(l_{t,e_j}) / Σ_{j'<k} exp(l_{t,e_j'})
//	softmax_topk: g_j = P_{t,e_j}, P = softmax(l) over E; with Renormalize g_j /= max(Σ_j' g_j', eps)
func Route(logits *graph.Node, cfg Config, real int) *Routing {
	t, e := logits.Shape().Dim(0), logits.Shape().Dim(1)
	k := cfg.TopK
	r := &Routing{T: t, E: e, K: k, Real: real, Logits: logits, Clean: logits}
	r.Probs = graph.Softmax(logits, -1)
	r.Index, r.Mask = SelectTopK(logits, k, cfg.Selection)
	if real < e {
		r.Valid = graph.ReduceSum(graph.Slice(r.Mask, graph.AxisRange(), graph.AxisRange(), graph.AxisRange(0, real)), -1) // [k, T]
	} else {
		r.Valid = graph.OnesLike(graph.ReduceSum(r.Mask, -1))
	}
	switch cfg.Gate {
	case GateTopKSoftmax:
		sel := graph.ReduceSum(graph.Mul(graph.InsertAxes(logits, 0), r.Mask), -1) // [k, T] selected logits
		if real < e {
			// Null picks take no share: softmax over the real picks only.
			sel = graph.Where(graph.GreaterThan(r.Valid, graph.ScalarZero(logits.Graph(), logits.DType())),
				sel, graph.BroadcastToShape(graph.Infinity(logits.Graph(), logits.DType(), -1), sel.Shape()))
			r.Gates = graph.Mul(safeSoftmax0(sel), r.Valid)
		} else {
			r.Gates = graph.Softmax(sel, 0) // Softmax over the k selected logits.
		}
	default:
		g := graph.ReduceSum(graph.Mul(graph.InsertAxes(r.Probs, 0), r.Mask), -1) // [k, T]: P_{t,e_j}
		if cfg.Renormalize || real < e {
			denom := graph.MaxScalar(graph.ReduceSum(graph.Mul(g, r.Valid), 0), epsilon(logits.DType())) // [T]
			norm := graph.Div(g, graph.InsertAxes(denom, 0))
			g = graph.Add(graph.Mul(norm, r.Valid), graph.Mul(g, graph.OneMinus(r.Valid))) // Null picks keep the raw P.
		}
		r.Gates = g
	}
	return r
}

// safeSoftmax0 is a softmax over axis 0 where a column that is -inf everywhere gives zeros.
func safeSoftmax0(x *graph.Node) *graph.Node {
	m := graph.StopGradient(graph.ReduceMax(x, 0))
	m = graph.Where(graph.IsFinite(m), m, graph.ZerosLike(m))
	ex := graph.Exp(graph.Sub(x, graph.InsertAxes(m, 0)))
	den := graph.MaxScalar(graph.ReduceSum(ex, 0), math.SmallestNonzeroFloat32)
	return graph.Div(ex, graph.InsertAxes(den, 0))
}

// capacity returns C = min(T, max(ceil(cf·k·T/E), minCap)) (DeepSpeed's rule, capped at T since
// a token picks an expert at most once). For AdaMoE, e is n+m (expected sizing) or n.
func capacity(t, k, e int, cf float64, minCap int) int {
	c := int(math.Ceil(cf * float64(k) * float64(t) / float64(e)))
	return min(t, max(c, minCap))
}

// Assign gives each valid assignment a slot in its expert's buffer of capacity slots
// (capacity <= 0 or >= T: no dropping, C = T), in cfg.Priority order, and sets Capacity,
// Keep, Pos and Counts. With cfg.RenormalizeKept the gates are renormalized over the kept
// assignments afterwards (DeepSpeed topkgating).
func (r *Routing) Assign(capacity int, cfg Config) {
	g, dt := r.Logits.Graph(), r.Logits.DType()
	t, real := r.T, r.Real
	if capacity <= 0 || capacity > t {
		capacity = t
	}
	r.Capacity = capacity
	realMask := r.Mask
	if real < r.E {
		realMask = graph.Slice(r.Mask, graph.AxisRange(), graph.AxisRange(), graph.AxisRange(0, real)) // [k, T, n]
	}
	r.Counts = graph.ReduceSum(realMask, 0, 1)
	if capacity == t {
		r.Keep = r.Valid
		// Slot = rank in slot-major order (always < T: a token picks an expert once).
		flat := graph.Reshape(realMask, r.K*t, real)
		pos := graph.ReduceSum(graph.Mul(graph.Sub(BlockedCumSum(flat), flat), flat), -1)
		r.Pos = graph.Reshape(pos, r.K, t)
	} else {
		switch cfg.Priority {
		case PrioritySlot:
			flat := graph.Reshape(realMask, r.K*t, real)                                      // [kT, n] slot-major
			pos := graph.ReduceSum(graph.Mul(graph.Sub(BlockedCumSum(flat), flat), flat), -1) // exclusive count
			pos = graph.Reshape(pos, r.K, t)
			keep := graph.Mul(r.Valid, graph.ConvertDType(graph.LessThan(pos, graph.Scalar(g, dt, capacity)), dt))
			r.Keep, r.Pos = keep, graph.Mul(pos, keep)
		default:
			m := graph.ReduceSum(realMask, 0) // [T, n] token-expert assignment (0/1)
			var keepTE *graph.Node
			if cfg.Priority == PriorityToken {
				excl := graph.Sub(BlockedCumSum(m), m)
				keepTE = graph.Mul(m, graph.ConvertDType(graph.LessThan(excl, graph.Scalar(g, dt, capacity)), dt))
			} else {
				keepTE = graph.Mul(m, graph.ConvertDType(graph.LessThan(scoreRank(r, m), graph.Scalar(g, dt, capacity)), dt))
			}
			posTE := graph.Mul(graph.Sub(BlockedCumSum(keepTE), keepTE), keepTE) // rank among kept, token order
			r.Keep = graph.ReduceSum(graph.Mul(realMask, graph.InsertAxes(keepTE, 0)), -1)
			r.Pos = graph.ReduceSum(graph.Mul(realMask, graph.InsertAxes(posTE, 0)), -1)
		}
	}
	r.Keep, r.Pos = graph.StopGradient(r.Keep), graph.StopGradient(r.Pos)
	if cfg.RenormalizeKept {
		kept := graph.Mul(r.Gates, r.Keep)
		denom := graph.MaxScalar(graph.ReduceSum(kept, 0), epsilon(dt))
		r.Gates = graph.Div(kept, graph.InsertAxes(denom, 0))
	}
}

// scoreRank ranks, per real expert, every token by the value V[t, e] = logit if t selected e,
// else 0 (descending; ties to the lower token index), exactly as DeepSpeed's
// drop_policy="probs" ranks with torch.topk over its logit-valued k-hot matrix: a selected
// token with a negative logit ranks below the unselected ones. Returns ranks [T, n].
func scoreRank(r *Routing, m *graph.Node) *graph.Node {
	g, dt := m.Graph(), m.DType()
	t, n := r.T, r.Real
	logits := graph.StopGradient(r.Logits)
	if n < r.E {
		logits = graph.Slice(logits, graph.AxisRange(), graph.AxisRange(0, n))
	}
	v := graph.Transpose(graph.Mul(logits, m), 0, 1) // [n, T]
	_, order := graph.TopK(v, t, -1)                 // [n, T]: order[e, rank] = token
	order = graph.ConvertDType(order, dtypes.Int32)
	expert := graph.Iota(g, shapes.Make(dtypes.Int32, n, t), 0)
	idx := graph.Stack([]*graph.Node{expert, order}, -1) // [n, T, 2]
	ranks := graph.Iota(g, shapes.Make(dt, n, t), 1)
	rankET := graph.ScatterSum(graph.Zeros(g, shapes.Make(dt, n, t)), graph.Reshape(idx, n*t, 2), graph.Reshape(ranks, n*t), false, true)
	return graph.Transpose(rankET, 0, 1)
}

// Combine returns the GShard/DeepSpeed combine tensor [T, E_real, C]: the gate of each kept
// assignment at (token, expert, slot), zero elsewhere. Its non-zero pattern is the dispatch
// mask. Dispatch does not build it (it is O(T·E·C)); tests and the einsum form use it.
func (r *Routing) Combine() *graph.Node {
	g, dt := r.Logits.Graph(), r.Logits.DType()
	w := graph.Mul(r.Gates, r.Keep) // [k, T]
	realMask := r.Mask
	if r.Real < r.E {
		realMask = graph.Slice(r.Mask, graph.AxisRange(), graph.AxisRange(), graph.AxisRange(0, r.Real))
	}
	slots := graph.Iota(g, shapes.Make(dt, 1, 1, r.Capacity), 2)
	posHot := graph.ConvertDType(graph.Equal(graph.InsertAxes(r.Pos, -1), slots), dt) // [k, T, C]
	posHot = graph.Mul(posHot, graph.InsertAxes(r.Keep, -1))
	wm := graph.Mul(realMask, graph.InsertAxes(w, -1))                                          // [k, T, E]
	return graph.ReduceSum(graph.Mul(graph.InsertAxes(wm, -1), graph.InsertAxes(posHot, 2)), 0) // [T, E, C]
}
