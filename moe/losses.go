package moe

import (
	"math"

	"github.com/gomlx/gomlx/core/graph"
)

// BalanceLoss is the Switch Transformer load-balancing loss over all E experts of r:
//
//	L = E · Σ_i f_i · P_i,   P_i = (1/T) Σ_t softmax(logits_t)_i
//
// with f_i the routed share of expert i by mode: BalanceSwitch f_i = count_i/(T·k) (1 at
// perfect balance), BalanceFirst f_i = first-choice count_i/T (GShard, Tutel, DeepSpeed
// top1/top2), BalanceSlots f_i = count_i/T (HF Mixtral per-slot form, k× Switch). With
// nullGroupMean and null experts (r.Real < r.E), f over the null experts is replaced by its
// mean over the null group (AdaMoE: null experts are balanced as a group). f is a count: no
// gradient flows through it; the gradient reaches the logits through P.
//
// Paper: Fedus, Zoph, Shazeer, "Switch Transformers", JMLR 2022, arXiv 2101.03961, Eq. (4)-(6);
// Zeng et al., "AdaMoE", Findings of EMNLP 2024, arXiv 2406.13233.
// Reference code: databricks/megablocks layers/moe.py batched_load_balancing_loss;
// microsoft/tutel impls/losses.py gshard_loss; CengZihao/AdaMoE adaptive_moe_utils.py.
func BalanceLoss(r *Routing, mode string, nullGroupMean bool) *graph.Node {
	t, k, e := float64(r.T), float64(r.K), r.E
	var f *graph.Node
	switch mode {
	case BalanceFirst:
		first := graph.Slice(r.Mask, graph.AxisElem(0)) // [1, T, E]
		f = graph.DivScalar(graph.ReduceSum(first, 0, 1), t)
	case BalanceSlots:
		f = graph.DivScalar(graph.ReduceSum(r.Mask, 0, 1), t)
	default:
		f = graph.DivScalar(graph.ReduceSum(r.Mask, 0, 1), t*k) // Eq. (5)
	}
	if nullGroupMean && r.Real < e {
		trueF := graph.Slice(f, graph.AxisRange(0, r.Real))
		nullMean := graph.ReduceMean(graph.Slice(f, graph.AxisRange(r.Real, e)))
		f = graph.Concatenate([]*graph.Node{trueF, graph.BroadcastToDims(nullMean, e-r.Real)}, 0)
	}
	f = graph.StopGradient(f)
	p := graph.ReduceMean(r.Probs, 0)                                    // Eq. (6)
	return graph.MulScalar(graph.ReduceSum(graph.Mul(f, p)), float64(e)) // Eq. (4)
}

// ZLoss is the ST-MoE router z-loss, the mean over tokens of the squared log-partition of the
// router logits [T, E]:
//
//	L_z = (1/T) Σ_t (log Σ_j exp(x_tj))²
//
// Paper: Zoph et al., "ST-MoE", arXiv 2202.08906, Eq. (5) (coefficient 1e-3).
// Reference code: databricks/megablocks layers/router.py batched_router_zloss.
func ZLoss(logits *graph.Node) *graph.Node {
	return graph.ReduceAllMean(graph.Square(logSumExp(logits)))
}

// logSumExp over the last axis, stable: m + log Σ exp(x - m) with m = stop(max x).
func logSumExp(x *graph.Node) *graph.Node {
	m := graph.StopGradient(graph.ReduceMax(x, -1))
	return graph.Add(m, graph.Log(graph.ReduceSum(graph.Exp(graph.Sub(x, graph.InsertAxes(m, -1))), -1)))
}

// CV2 is the squared coefficient of variation var(x)/(mean(x)² + 1e-10) of a vector x, with
// the unbiased variance as torch.var (Shazeer et al. 2017's cv_squared); 0 for one element.
func CV2(x *graph.Node) *graph.Node {
	n := x.Shape().Size()
	if n < 2 {
		return graph.ScalarZero(x.Graph(), x.DType())
	}
	mean := graph.ReduceAllMean(x)
	v := graph.DivScalar(graph.ReduceAllSum(graph.Square(graph.Sub(x, mean))), float64(n-1))
	return graph.Div(v, graph.AddScalar(graph.Square(mean), 1e-10))
}

// Importance is Σ_t G_t,i, the total gate weight each expert receives, with G the [T, E] gate
// matrix (zero outside the selection); CV2(Importance) is Shazeer et al.'s importance loss.
//
// Paper: Shazeer et al., "Outrageously Large Neural Networks", ICLR 2017, arXiv 1701.06538, Eq. (6)-(7).
func Importance(r *Routing) *graph.Node {
	return graph.ReduceSum(graph.Mul(r.Mask, graph.InsertAxes(r.Gates, -1)), 0, 1) // [E]
}

// Load is the expected number of tokens per expert (Shazeer et al. 2017, Eq. (8)-(10)):
// with noisy top-k gating, P(t, i) = Φ((clean_ti - threshold_ti) / std_ti), where the
// threshold is the k-th largest noisy logit excluding i ((k+1)-th if i is selected, k-th
// otherwise), and Load_i = Σ_t P(t, i), which is differentiable. Without that noise (or when
// k = E) it is the count of assignments per expert, which has no gradient.
func Load(r *Routing) *graph.Node {
	if r.NoiseStd == nil || r.K+1 > r.E {
		return graph.ReduceSum(r.Mask, 0, 1)
	}
	_, mask := SelectTopK(r.Logits, r.K+1, SelectionArgMax)                     // [k+1, T, E]
	vals := graph.ReduceSum(graph.Mul(graph.InsertAxes(r.Logits, 0), mask), -1) // [k+1, T] descending
	kth := graph.Slice(vals, graph.AxisElem(r.K-1))                             // [1, T]
	k1th := graph.Slice(vals, graph.AxisElem(r.K))                              // [1, T]
	in := graph.ReduceSum(r.Mask, 0)                                            // [T, E] selected
	thr := graph.Add(graph.Mul(in, graph.Transpose(k1th, 0, 1)), graph.Mul(graph.OneMinus(in), graph.Transpose(kth, 0, 1)))
	z := graph.Div(graph.Sub(r.Clean, thr), r.NoiseStd)
	p := graph.MulScalar(graph.AddScalar(graph.Erf(graph.MulScalar(z, 1/math.Sqrt2)), 1), 0.5) // Φ(z), Eq. (9)
	return graph.ReduceSum(p, 0)                                                               // Eq. (10)
}

// RouterEntropy is the mean over tokens of the entropy (nats) of the router distribution.
func RouterEntropy(r *Routing) *graph.Node {
	p := graph.StopGradient(r.Probs)
	logp := graph.Log(graph.MaxScalar(p, 1e-30))
	return graph.Neg(graph.ReduceAllMean(graph.ReduceSum(graph.Mul(p, logp), -1)))
}
