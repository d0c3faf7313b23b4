package distill

import (
	"errors"
	"fmt"
	"math"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/moeboost/moeboost/train"
)

// MDCSConfig configures MDCS's loss.
type MDCSConfig struct {
	// ClassCounts are the raw training-set class counts n_c (required).
	ClassCounts []float64
	// Exponents λ_k of the experts' prior adjustment (default −0.5, 1, 2.5: head-, balanced-
	// and tail-favouring experts); one per expert.
	Exponents []float64
	// KLWeight of the consistency term (default 0.6) and WarmupEpochs of its linear ramp
	// min(epoch/20, 1) (default 20).
	KLWeight, WarmupEpochs float64
	// Temperature of the consistency KL (default 1, what the code uses; the configs' tau = 2
	// is ignored by the code). A value T ≠ 1 divides both logits by T and scales the KL by T²
	// (the paper's description).
	Temperature float64
	// LogEps is the ε in log(n^λ + ε) (default 1e-9, hard-coded in the code).
	LogEps float64
}

// MDCS is the loss of "More Diverse experts with Consistency Self-distillation" for
// long-tailed recognition: each expert's logits are shifted by its own power of the class
// prior (diversity loss), and each expert's prediction on a strong view is distilled from its
// own prediction on the weak view of the same images, only where that weak prediction is
// correct (confident-instance sampling).
//
// Paper: Zhao et al., "MDCS: More Diverse Experts with Consistency Self-distillation for
// Long-tailed Recognition", ICCV 2023, arXiv:2308.09922.
// Reference code: fistyee/MDCS model/loss.py (MDCSLoss.forward).
//
// Rule, with K experts' logits z_k [2B, C] (rows [0, B) the weak view, [B, 2B) the strong
// view of the same images), labels y repeated twice, n the class counts:
//
//	z'_k = z_k + log(n^λ_k + 1e-9)
//	L_DL = Σ_k CE_mean(z'_k, y) over all 2B rows
//	m_k[b] = [argmax z'_k[weak b] = y_b]
//	KL_k = Σ_{b ∈ m_k} KL(sg softmax(z'_k[weak b]) ‖ softmax(z'_k[strong b])) / |m_k|  (0 if empty)
//	L = L_DL + 0.6·min(epoch/20, 1)·Σ_k KL_k
//
// The model side (shared stem, K cosine-classifier experts with scale 30, test prediction =
// mean of the expert logits without adjustment) is MDCSExperts with MeanOutputs; the two views
// come from a ViewsFn.
//
// Deviations: the official ResNet forward can sub-sample experts at random; all experts are
// always used here (the loss indexes all of them anyway).
type MDCS struct {
	logPrior  [][]float64
	klWeight  float64
	warmup    float64
	t         float64
	numExpert int
}

// NewMDCS validates cfg and returns the loss.
func NewMDCS(cfg MDCSConfig) (*MDCS, error) {
	if len(cfg.ClassCounts) < 2 {
		return nil, fmt.Errorf("distill: mdcs needs the class counts of >= 2 classes, got %d", len(cfg.ClassCounts))
	}
	for c, n := range cfg.ClassCounts {
		if !(n > 0) {
			return nil, fmt.Errorf("distill: mdcs class count[%d]=%g must be > 0", c, n)
		}
	}
	ex := cfg.Exponents
	if len(ex) == 0 {
		ex = []float64{-0.5, 1, 2.5}
	}
	m := &MDCS{klWeight: cfg.KLWeight, warmup: cfg.WarmupEpochs, t: cfg.Temperature, numExpert: len(ex)}
	if m.klWeight == 0 {
		m.klWeight = 0.6
	}
	if m.warmup == 0 {
		m.warmup = 20
	}
	if m.t == 0 {
		m.t = 1
	}
	if m.klWeight < 0 || m.warmup < 0 || !(m.t > 0) {
		return nil, fmt.Errorf("distill: mdcs kl_weight=%g, warmup=%g must be >= 0 and temperature=%g > 0", m.klWeight, m.warmup, m.t)
	}
	logEps := cfg.LogEps
	if logEps == 0 {
		logEps = 1e-9
	}
	if logEps < 0 {
		return nil, fmt.Errorf("distill: mdcs log_eps=%g must be > 0", logEps)
	}
	for _, lam := range ex {
		row := make([]float64, len(cfg.ClassCounts))
		for c, n := range cfg.ClassCounts {
			row[c] = math.Log(math.Pow(n, lam) + logEps) // log(n^λ + 1e-9)
		}
		m.logPrior = append(m.logPrior, row)
	}
	return m, nil
}

// Check implements Checker.
func (m *MDCS) Check(info Info) error {
	if info.Views == 1 {
		return errors.New("distill: mdcs needs two views (weak, strong): set Config.Views")
	}
	if info.NumClasses != 0 && info.NumClasses != len(m.logPrior[0]) {
		return fmt.Errorf("distill: mdcs has %d class counts but num_classes=%d", len(m.logPrior[0]), info.NumClasses)
	}
	if m.warmup > 0 && info.StepsPerEpoch < 1 {
		return errors.New("distill: mdcs's epoch warm-up needs steps_per_epoch")
	}
	return nil
}

// Adjusted returns expert k's prior-adjusted logits z + log(n^λ_k + 1e-9).
func (m *MDCS) Adjusted(k int, z *Node) *Node {
	c := len(m.logPrior[k])
	prior := Const(z.Graph(), m.logPrior[k])
	return Add(z, Reshape(ConvertDType(prior, z.DType()), 1, c))
}

// Compute returns the total loss, the CE and KL sums and each expert's confident-instance
// mask [B] for experts' logits [2B, C] (weak rows first), labels [2B] and the epoch (scalar).
func (m *MDCS) Compute(experts []*Node, labels, epoch *Node) (total, ce, kl *Node, masks []*Node) {
	if len(experts) != m.numExpert {
		panic(fmt.Errorf("distill: mdcs has %d exponents but the model has %d experts", m.numExpert, len(experts)))
	}
	y := FlatLabels(labels)
	rows := experts[0].Shape().Dimensions[0]
	b := rows / 2
	yWeak := Slice(y, AxisRange(0, b))
	for k, z := range experts {
		za := m.Adjusted(k, z)
		l := CrossEntropyMean(za, y) // over all 2B rows
		if ce == nil {
			ce = l
		} else {
			ce = Add(ce, l)
		}
		weak := Slice(za, AxisRange(0, b))
		strong := Slice(za, AxisRange(b, rows))
		pred := ArgMax(weak, -1, y.DType())
		mask := Equal(pred, yWeak) // confident instances
		masks = append(masks, mask)
		mf := maskFloat(mask, za)
		pt := StopGradient(Softmax(DivScalar(weak, m.t), -1))
		logps := LogSoftmax(DivScalar(strong, m.t), -1)
		perRow := ReduceSum(Sub(XLogX(pt), Mul(pt, logps)), -1)
		count := ReduceAllSum(mf)
		klk := Div(ReduceAllSum(Mul(perRow, mf)), Max(count, OnesLike(count))) // batchmean over the mask; 0 if empty
		klk = MulScalar(klk, m.t*m.t)
		if kl == nil {
			kl = klk
		} else {
			kl = Add(kl, klk)
		}
	}
	ramp := Min(DivScalar(ConvertDType(epoch, ce.DType()), m.warmup), ScalarOne(ce.Graph(), ce.DType()))
	total = Add(ce, Mul(MulScalar(ramp, m.klWeight), kl))
	return total, ce, kl, masks
}

// Loss implements Term: experts are the student's outputs.
func (m *MDCS) Loss(ctx *Context) *Node {
	if ctx.Views != 2 {
		panic(fmt.Errorf("distill: mdcs needs exactly 2 views, got %d", ctx.Views))
	}
	total, ce, kl, _ := m.Compute(ctx.Outputs, ctx.Labels, ctx.Epoch())
	train.Report("distill/mdcs_ce", ce)
	train.Report("distill/mdcs_kl", kl)
	return total
}

// MDCSExperts builds MDCS's K expert heads on shared features h [B, D]: each a cosine
// classifier s·normalize(h_k)·normalize(W_k) (RIDE/MDCS's NormedLinear, s = 30) on its own
// linear-ReLU branch of width hidden (0: no branch). Variables under scope/expert<k>.
func MDCSExperts(scope *model.Scope, h *Node, numExperts, numClasses, hidden int, s float64) []*Node {
	if s == 0 {
		s = 30
	}
	g := h.Graph()
	outs := make([]*Node, numExperts)
	for k := range numExperts {
		es := scope.In("expert%d", k)
		x := h
		if hidden > 0 {
			w := es.WithInitializer(initializer.HeFn(es)).VariableWithShape("branch_weights", shapes.Make(h.DType(), h.Shape().Dimensions[1], hidden)).NodeValue(g)
			bias := es.WithInitializer(initializer.Zero).VariableWithShape("branch_biases", shapes.Make(h.DType(), hidden)).NodeValue(g)
			x = Add(MatMul(x, w), ExpandAxes(bias, 0))
			x = Max(x, ZerosLike(x))
		}
		d := x.Shape().Dimensions[1]
		w := es.WithInitializer(initializer.RandomUniformFn(es, -1, 1)).VariableWithShape("cosine_weights", shapes.Make(h.DType(), d, numClasses)).NodeValue(g)
		xn := L2NormalizeRows(x, -1, 1e-12)
		wn := L2NormalizeRows(w, 0, 1e-12)
		outs[k] = MulScalar(MatMul(xn, wn), s)
	}
	return outs
}

func init() {
	Register("mdcs", func(scope *model.Scope) (Term, error) {
		counts, ok := scope.GetParam("mdcs_class_counts")
		if !ok {
			return nil, errors.New("distill: mdcs needs the param mdcs_class_counts ([]float64 of training class counts)")
		}
		c, ok := counts.([]float64)
		if !ok {
			return nil, fmt.Errorf("distill: mdcs_class_counts must be []float64, got %T", counts)
		}
		return NewMDCS(MDCSConfig{ClassCounts: c})
	})
}

// NoiseViews returns MDCS-style weak and strong views for feature vectors: weak = x + N(0,
// weakStd²), strong = (x + N(0, strongStd²)) with each feature zeroed with probability drop
// (a "cutout" for vectors). The paper's image views (crop/flip/rotation; AutoAugment and
// Cutout) have no meaning for tabular features.
func NoiseViews(weakStd, strongStd, drop float64) ViewsFn {
	return func(scope *model.Scope, x *Node) []*Node {
		g := x.Graph()
		noise := func(std float64) *Node {
			return MulScalar(ConvertDType(scope.RandomNormal(g, x.Shape()), x.DType()), std)
		}
		weak := Add(x, noise(weakStd))
		strong := Add(x, noise(strongStd))
		if drop > 0 {
			keep := ConvertDType(GreaterOrEqual(scope.RandomUniform(g, x.Shape()), Scalar(g, x.DType(), drop)), x.DType())
			strong = Mul(strong, keep)
		}
		return []*Node{weak, strong}
	}
}
