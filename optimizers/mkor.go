package optimizers

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph-building code reads best unqualified.
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
)

// MKORConfig configures MKOR (Momentum-Enabled Kronecker-Factor-Based Optimizer Using Rank-1
// Updates). The zero value is the official defaults with the torch SGD base optimizer, except
// HalfPrecision (see Deviations) and the learning rate the base optimizer needs (0.1 for SGD,
// 1e-3 for Adam).
//
// Paper: Mozaffari, Li, Zhang & Mehri Dehnavi, "MKOR: Momentum-Enabled Kronecker-Factor-Based
// Optimizer Using Rank-1 Updates", NeurIPS 2023, arXiv:2306.01685.
// Reference code: Mohammad-Mozaffari/mkor mkor/mkor.py and mkor/utils/factors.py
// (commit 3a0e3bb2).
//
// MKOR preconditions the layers marked with MKORLayer (the official code hooks every
// nn.Linear/nn.Conv2d); other parameters go to the base optimizer unchanged. Per step s
// (0-based), for each marked layer with weight gradient ∇W [out, in] and bias gradient ∇b:
//
//	if s mod inv_freq = 0 or s < warmup:   (factor update)
//	  a = mean over rows of clamp([x_row, 1], ±clip)          (conv: patches averaged over positions)
//	  g = mean over rows of clamp(n·δ_row / grad_scale, ±clip)  (δ = ∂L/∂output, n rows; conv: /L)
//	  for X, u in (A⁻¹, a) then (G⁻¹, g):
//	    if reset flag: X ← I, flag ← false
//	    else: J = 0.95·X + 0.05·I;  X ← J − (J u)(uᵀ J)/(1 + uᵀ J u)     (Sherman–Morrison)
//	          if max|X| > 2: both flags of the layer ← true
//	U = G⁻¹ · [∇W | ∇b] · A⁻¹
//	c = (‖∇W‖ + ‖∇b‖)/(‖U_W‖ + ‖U_b‖)   (skipped if NaN);  gradients ← c·U
//	then the base optimizer's step (torch SGD or Adam, coupled weight decay).
//
// Both flags start true, so the first factor update sets the inverses to I; with inv_freq 10
// MKOR equals the base optimizer for the first 10 steps. stat_decay and stabilization_factor
// are accepted but unused, as in the code (the 0.95/0.05 blend is hard-coded; the
// stabilization branch is dead code). The reset on max|X| > 2 cannot fire in exact arithmetic
// (X ≼ I); the code only reaches it through float16 rounding.
//
// Defaults: inv_freq 10, warmup 0, clipping_value 100, grad_scale 1, grad_accum_steps 1, base
// "sgd" (torch: momentum 0, dampening 0, weight decay 0). State per marked layer:
// A⁻¹ ((in+1)²), G⁻¹ (out²), two flags; plus the base optimizer's.
//
// Deviations: half_precision defaults to false here (the code's default stores the inverses in
// float16 and updates them in float16); HalfPrecision rounds the stored inverses to float16
// after each update but computes the update in the compute dtype. grad_accum_steps > 1 is
// rejected (the statistics would have to be summed over micro-batches). Only layers marked with
// MKORLayer are preconditioned.
type MKORConfig struct {
	LearningRate float64
	// InvFreq is the factor-update interval; 0 means 10.
	InvFreq int
	// StatDecay and StabilizationFactor are accepted for fidelity and unused (see above).
	StatDecay, StabilizationFactor *float64
	HalfPrecision                  bool
	// GradAccumSteps must be 0 or 1.
	GradAccumSteps int
	// SGDLayers are weight-path patterns of marked layers left unpreconditioned.
	SGDLayers []string
	// Base is "sgd" (default) or "adam".
	Base string
	// GradScale divides the output gradients (loss scaling); 0 means 1.
	GradScale float64
	// ClippingValue clamps the rank-1 statistics; 0 means 100.
	ClippingValue float64
	WarmupSteps   int
	// SGD base (torch.optim.SGD).
	Momentum, Dampening float64
	Nesterov            bool
	// Both bases: coupled (L2) weight decay.
	WeightDecay float64
	// Adam base (torch.optim.Adam).
	Beta1, Beta2, Eps float64
	AMSGrad           bool
	Groups            GroupConfig
}

func (c MKORConfig) withDefaults() MKORConfig {
	if c.Base == "" {
		c.Base = "sgd"
	}
	if c.Base == "adam" {
		c.LearningRate = orDefault(c.LearningRate, 1e-3)
	} else {
		c.LearningRate = orDefault(c.LearningRate, 0.1)
	}
	if c.InvFreq == 0 {
		c.InvFreq = 10
	}
	if c.StatDecay == nil {
		c.StatDecay = Ptr(0.95)
	}
	if c.StabilizationFactor == nil {
		c.StabilizationFactor = Ptr(0.1)
	}
	if c.GradAccumSteps == 0 {
		c.GradAccumSteps = 1
	}
	c.GradScale = orDefault(c.GradScale, 1)
	c.ClippingValue = orDefault(c.ClippingValue, 100)
	return c
}

// Validate checks the hyperparameters (after defaults).
func (c MKORConfig) Validate() error {
	c = c.withDefaults()
	ck := &checker{name: "mkor"}
	ck.lr(c.LearningRate)
	ck.check(c.InvFreq > 0, ParamMKORInvFreq, c.InvFreq, "must be > 0")
	ck.beta(ParamMKORStatDecay, *c.StatDecay)
	ck.check(isFinite64(*c.StabilizationFactor) && *c.StabilizationFactor >= 0 && *c.StabilizationFactor <= 1,
		ParamMKORStabilizationFactor, *c.StabilizationFactor, "must be in [0, 1]")
	ck.check(c.GradAccumSteps == 1, ParamMKORGradAccumSteps, c.GradAccumSteps,
		"must be 1 (use GoMLX's gradient accumulation around the base optimizer instead)")
	ck.check(c.Base == "sgd" || c.Base == "adam", ParamMKORBase, c.Base, `must be "sgd" or "adam"`)
	ck.positive(ParamMKORGradScale, c.GradScale)
	ck.positive(ParamMKORClippingValue, c.ClippingValue)
	ck.check(c.WarmupSteps >= 0, ParamMKORWarmupSteps, c.WarmupSteps, "must be >= 0")
	ck.errs = append(ck.errs, c.Groups.Validate())
	if err := ck.err(); err != nil {
		return err
	}
	_, err := c.base()
	return err
}

// base builds the base optimizer, a chain whose state lives under /optimizers/mkor/<base>.
func (c MKORConfig) base() (*Optimizer, error) {
	if c.Base == "adam" {
		return newAdamW("mkor/adam", AdamWConfig{LearningRate: c.LearningRate, Beta1: c.Beta1, Beta2: c.Beta2, Eps: c.Eps,
			WeightDecay: Ptr(c.WeightDecay), AMSGrad: c.AMSGrad, L2: true, Groups: c.Groups})
	}
	return newSGD("mkor/sgd", SGDConfig{LearningRate: c.LearningRate, Momentum: Ptr(c.Momentum), Dampening: c.Dampening,
		Nesterov: c.Nesterov, WeightDecay: c.WeightDecay, Groups: c.Groups})
}

// MKOR is the MKOR optimizer (see MKORConfig). It implements optimizer.Interface and
// train.OptimizeWithGradients, and needs the layers marked with MKORLayer in the graph.
type MKOR struct {
	cfg  MKORConfig
	base *Optimizer
	self *Optimizer // names MKOR's own state scope, /optimizers/mkor
}

// NewMKOR validates c and returns the optimizer.
func NewMKOR(c MKORConfig) (*MKOR, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	base, _ := c.base()
	return &MKOR{cfg: c, base: base, self: NewOptimizer("mkor", c.LearningRate, c.Groups, false)}, nil
}

// Name is "mkor".
func (o *MKOR) Name() string { return "mkor" }

// DefaultLearningRate is the base optimizer's learning rate.
func (o *MKOR) DefaultLearningRate() float64 { return o.cfg.LearningRate }

// StatePaths lists where MKOR keeps its state (its factors and, below it, the base optimizer's).
func (o *MKOR) StatePaths() []string { return []string{o.self.StatePath()} }

// Clear implements optimizer.Interface.
func (o *MKOR) Clear(scope *model.Scope) error { return o.self.Clear(scope) }

// UpdateGraph implements optimizer.Interface.
func (o *MKOR) UpdateGraph(scope *model.Scope, g *Graph, loss *Node) {
	if !loss.Shape().IsScalar() {
		exceptions.Panicf("optimizer mkor: the loss must be a scalar, got shape %s", loss.Shape())
	}
	o.UpdateGraphWithGradients(scope, scope.BuildTrainableVariablesGradientsGraph(loss), loss.DType())
}

// UpdateGraphWithGradients implements train.OptimizeWithGradients. The gradients must have been
// built from a graph whose MKORLayer taps were on the gradient path (they record the output
// gradients while the gradients are built).
func (o *MKOR) UpdateGraphWithGradients(scope *model.Scope, grads []*Node, lossDType dtypes.DType) {
	if len(grads) == 0 {
		exceptions.Panicf("optimizer mkor: no gradients")
	}
	g := grads[0].Graph()
	dt := computeDType(lossDType)
	vars := TrainableInUse(scope, g)
	if len(vars) != len(grads) {
		exceptions.Panicf("optimizer mkor: %d gradients for %d trainable variables in use", len(grads), len(vars))
	}
	index := map[string]int{}
	for i, v := range vars {
		index[v.Path()] = i
	}
	u := &Update{Graph: g, DType: dt, opt: o.self, store: scope.Store()}
	i64 := func(v int64) *Node { return Scalar(g, dtypes.Int64, v) }
	stepState := u.Global("step", int64(0))
	s := stepState.Value() // 0-based
	stepState.Set(Add(s, i64(1)))
	update := LogicalOr(Equal(Rem(s, i64(int64(o.cfg.InvFreq))), i64(0)), LessThan(s, i64(int64(o.cfg.WarmupSteps))))

	out := make([]*Node, len(grads))
	for i, gr := range grads {
		out[i] = ConvertDType(gr, dt)
	}
	var layers []*mkorLayerState
	for _, tap := range mkorTapsOf(g) {
		wi, ok := index[tap.weight.Path()]
		if !ok || tap.gOut == nil || o.excluded(tap.weight.Path()) {
			continue
		}
		bi := -1
		if tap.bias != nil {
			if bi, ok = index[tap.bias.Path()]; !ok {
				continue
			}
		}
		layers = append(layers, o.newLayerState(u, tap, wi, bi))
	}
	// Factor updates: every A⁻¹ first, then every G⁻¹ (a blow-up of A⁻¹ resets G⁻¹ at once).
	for _, l := range layers {
		l.updateFactor(u, update, l.aInv, l.a, true)
	}
	for _, l := range layers {
		l.updateFactor(u, update, l.gInv, l.g, false)
	}
	for _, l := range layers {
		l.precondition(u, out)
	}
	o.base.UpdateGraphWithGradients(scope, out, lossDType)
}

func (o *MKOR) excluded(path string) bool {
	for _, p := range o.cfg.SGDLayers {
		if globMatch(p, path) {
			return true
		}
	}
	return false
}

// mkorLayerState is one marked layer during an update.
type mkorLayerState struct {
	cfg        *MKORConfig
	tap        *mkorTap
	wi, bi     int
	a, g       *Node  // rank-1 statistics [in(+1)], [out]
	aInv, gInv *State // factor inverses
	aReset     *State // int64 flags, 1 = reset at the next factor update
	gReset     *State
}

func (o *MKOR) newLayerState(u *Update, tap *mkorTap, wi, bi int) *mkorLayerState {
	p := &Param{Path: tap.weight.Path()}
	c := &o.cfg
	clip := func(x *Node) *Node { return Clip(x, u.Const(-c.ClippingValue), u.Const(c.ClippingValue)) }
	// a: rows of [x, 1], clamped, averaged over the rows.
	aRows := u.Cast(tap.inputRows())
	if tap.bias != nil {
		aRows = Concatenate([]*Node{aRows, OnesLike(Slice(aRows, AxisRange(), AxisRange(0, 1)))}, 1)
	}
	a := ReduceMean(clip(aRows), 0)
	// g: n·δ rows (conv: averaged over positions), divided by grad_scale, clamped, averaged.
	gRows := Div(u.Cast(tap.gradRows()), u.Const(c.GradScale))
	gv := ReduceMean(clip(gRows), 0)
	da, dg := a.Shape().Dim(0), gv.Shape().Dim(0)
	l := &mkorLayerState{cfg: c, tap: tap, wi: wi, bi: bi, a: a, g: gv,
		aInv:   u.StateShaped(p, "a_inv", shapes.Make(u.DType, da, da)),
		gInv:   u.StateShaped(p, "g_inv", shapes.Make(u.DType, dg, dg)),
		aReset: u.StateWithValue(p, "a_reset", int64(1)),
		gReset: u.StateWithValue(p, "g_reset", int64(1)),
	}
	return l
}

// updateFactor applies one factor update (reset to I or Sherman–Morrison) when update is true.
func (l *mkorLayerState) updateFactor(u *Update, update *Node, x *State, vec *Node, isA bool) {
	flag := l.gReset
	if isA {
		flag = l.aReset
	}
	i64 := func(v int64) *Node { return Scalar(u.Graph, dtypes.Int64, v) }
	d := vec.Shape().Dim(0)
	eye := ConvertDType(Diagonal(u.Graph, d), u.DType)
	X := x.Value()
	if l.cfg.HalfPrecision {
		X = ConvertDType(X, u.DType) // stored as float16-rounded values
	}
	J := Add(Mul(X, u.Const(0.95)), Mul(eye, u.Const(0.05))) // J = 0.95 X + 0.05 I
	v := Reshape(vec, d, 1)
	jv := MatMul(J, v)                          // J u
	vj := MatMul(Transpose(v, 0, 1), J)         // uᵀ J
	den := AddScalar(Reshape(MatMul(vj, v)), 1) // 1 + uᵀ J u
	sm := Sub(J, Div(MatMul(jv, vj), den))      // Sherman–Morrison
	reset := Equal(flag.Value(), i64(1))
	newX := Where(reset, eye, sm)
	if l.cfg.HalfPrecision {
		newX = ConvertDType(ConvertDType(newX, dtypes.Float16), u.DType)
	}
	x.Set(Where(update, newX, X))
	// Flags: the reset clears this one; a blow-up (max|X| > 2) after an SM update sets both.
	blow := LogicalAnd(LogicalAnd(update, LogicalNot(reset)), GreaterThan(ReduceAllMax(Abs(sm)), u.Const(2)))
	flag.Set(Where(LogicalAnd(update, reset), i64(0), flag.Value()))
	l.aReset.Set(Where(blow, i64(1), l.aReset.Value()))
	l.gReset.Set(Where(blow, i64(1), l.gReset.Value()))
}

// precondition replaces the layer's gradients by the norm-fixed G⁻¹·[∇W | ∇b]·A⁻¹.
func (l *mkorLayerState) precondition(u *Update, grads []*Node) {
	gw := grads[l.wi]
	outN, inN := l.tap.outDim, l.tap.inDim
	var w2 *Node // [out, in]
	if l.tap.outFirst {
		w2 = Reshape(gw, outN, inN)
	} else {
		w2 = Transpose(Reshape(gw, inN, outN), 0, 1)
	}
	gm := w2
	var gb *Node
	if l.bi >= 0 {
		gb = Reshape(grads[l.bi], outN, 1)
		gm = Concatenate([]*Node{w2, gb}, 1)
	}
	U := MatMul(MatMul(l.gInv.Value(), gm), l.aInv.Value()) // G⁻¹ [∇W | ∇b] A⁻¹
	uw := Slice(U, AxisRange(), AxisRange(0, inN))
	gradNorm, updNorm := norm(w2), norm(uw)
	var ub *Node
	if gb != nil {
		ub = Slice(U, AxisRange(), AxisRange(inN, inN+1))
		gradNorm, updNorm = Add(gradNorm, norm(gb)), Add(updNorm, norm(ub)) // sum of norms, as the code
	}
	c := Div(gradNorm, updNorm)
	skip := IsNaN(c)
	c = Where(skip, u.Const(1), c)
	newW := Mul(uw, c)
	if !l.tap.outFirst {
		newW = Transpose(newW, 0, 1)
	}
	grads[l.wi] = Where(BroadcastToShape(skip, gw.Shape()), gw, Reshape(newW, gw.Shape().Dimensions...))
	if gb != nil {
		grads[l.bi] = Where(BroadcastToShape(skip, grads[l.bi].Shape()), grads[l.bi], Reshape(Mul(ub, c), grads[l.bi].Shape().Dimensions...))
	}
}

// mkorTap is one layer marked with MKORLayer in a graph.
type mkorTap struct {
	weight, bias  *model.Variable
	input         *Node // [N, K] or [N, L, K]
	gOut          *Node // ∂L/∂output, [N, M] or [N, L, M]; set when gradients are built
	inDim, outDim int
	outFirst      bool
}

// inputRows returns the input rows averaged over positions: [N, K].
func (t *mkorTap) inputRows() *Node {
	if t.input.Rank() == 3 {
		return ReduceMean(t.input, 1)
	}
	return t.input
}

// gradRows returns n·δ rows (conv: summed over positions / L): [N, M].
func (t *mkorTap) gradRows() *Node {
	n := float64(t.gOut.Shape().Dim(0))
	g := MulScalar(t.gOut, n)
	if g.Rank() == 3 {
		g = ReduceMean(g, 1)
	}
	return g
}

type mkorTapsKey struct{}

type mkorTaps struct{ list []*mkorTap }

func mkorTapsOf(g *Graph) []*mkorTap {
	if t, ok := g.State(mkorTapsKey{}).(*mkorTaps); ok {
		return t.list
	}
	return nil
}

// MKORLayer marks a linear layer (or a convolution written as a linear map of patches) for
// MKOR's preconditioner and returns output unchanged, with a gradient tap that records
// ∂L/∂output when the gradients are built. Without MKOR as the optimizer it is an identity.
//
//   - input: [N, K] rows (a dense layer's input), or [N, L, K] patches of a convolution (L
//     positions, K = in_channels·kh·kw in the weight's flattening order), averaged over L;
//   - output: [N, M] or [N, L, M], the layer's output before any activation;
//   - weight: its gradient reshapes to [M, K] when outFirst (torch's layout, conv kernels
//     [M, C, kh, kw]) or [K, M] (GoMLX's Dense layout);
//   - bias: [M] or nil.
//
// It panics (a programmer error, at graph building) on inconsistent shapes or when the same
// weight is marked twice in one graph.
func MKORLayer(input, output *Node, weight, bias *model.Variable, outFirst bool) *Node {
	g := output.Graph()
	if input.Rank() != output.Rank() || (input.Rank() != 2 && input.Rank() != 3) {
		exceptions.Panicf("MKORLayer: input %s and output %s must both be [N, K]/[N, M] or [N, L, K]/[N, L, M]", input.Shape(), output.Shape())
	}
	k, m := input.Shape().Dim(-1), output.Shape().Dim(-1)
	if weight.Shape().Size() != k*m {
		exceptions.Panicf("MKORLayer: weight %s has %d values, want %d·%d", weight.Path(), weight.Shape().Size(), k, m)
	}
	if bias != nil && bias.Shape().Size() != m {
		exceptions.Panicf("MKORLayer: bias %s has %d values, want %d", bias.Path(), bias.Shape().Size(), m)
	}
	taps, _ := g.State(mkorTapsKey{}).(*mkorTaps)
	if taps == nil {
		taps = &mkorTaps{}
		g.AttachState(mkorTapsKey{}, taps)
	}
	for _, t := range taps.list {
		if t.weight == weight {
			exceptions.Panicf("MKORLayer: weight %s marked twice in one graph", weight.Path())
		}
	}
	tap := &mkorTap{weight: weight, bias: bias, input: StopGradient(input), inDim: k, outDim: m, outFirst: outFirst}
	taps.list = append(taps.list, tap)
	return IdentityWithCustomGradient(output, func(_, v *Node) *Node {
		tap.gOut = v
		return v
	})
}

// Store params of MKOR.
const (
	ParamMKORInvFreq             = "mkor_inv_freq"
	ParamMKORStatDecay           = "mkor_stat_decay"
	ParamMKORStabilizationFactor = "mkor_stabilization_factor"
	ParamMKORHalfPrecision       = "mkor_half_precision"
	ParamMKORGradAccumSteps      = "mkor_grad_accum_steps"
	ParamMKORSGDLayers           = "mkor_sgd_layers"
	ParamMKORBase                = "mkor_base"
	ParamMKORGradScale           = "mkor_grad_scale"
	ParamMKORClippingValue       = "mkor_clipping_value"
	ParamMKORWarmupSteps         = "mkor_warmup_steps"
)

func init() {
	declare(ParamMKORInvFreq, 0, "mkor: factor-update interval (default 10)")
	declare(ParamMKORStatDecay, 0.0, "mkor: stat_decay (accepted, unused as in the code)")
	declare(ParamMKORStabilizationFactor, 0.0, "mkor: stabilization_factor (accepted, unused as in the code)")
	declare(ParamMKORHalfPrecision, false, "mkor: round the factor inverses to float16")
	declare(ParamMKORGradAccumSteps, 0, "mkor: must be 1")
	declare(ParamMKORSGDLayers, "", "mkor: comma-separated weight-path patterns left unpreconditioned")
	declare(ParamMKORBase, "sgd", "mkor: base optimizer, sgd or adam")
	declare(ParamMKORGradScale, 0.0, "mkor: loss scale dividing the output gradients (default 1)")
	declare(ParamMKORClippingValue, 0.0, "mkor: clamp of the rank-1 statistics (default 100)")
	declare(ParamMKORWarmupSteps, 0, "mkor: steps with a factor update at every step")
	Register("mkor", func(scope *model.Scope) (Interface, error) {
		r := newParamReader(scope, "mkor")
		c := MKORConfig{LearningRate: r.lr(), InvFreq: r.int(ParamMKORInvFreq, 0), StatDecay: r.floatPtr(ParamMKORStatDecay),
			StabilizationFactor: r.floatPtr(ParamMKORStabilizationFactor), HalfPrecision: r.bool(ParamMKORHalfPrecision, false),
			GradAccumSteps: r.int(ParamMKORGradAccumSteps, 0), SGDLayers: splitPatterns(r.str(ParamMKORSGDLayers, "")),
			Base: r.str(ParamMKORBase, "sgd"), GradScale: r.float(ParamMKORGradScale, 0),
			ClippingValue: r.float(ParamMKORClippingValue, 0), WarmupSteps: r.int(ParamMKORWarmupSteps, 0),
			Momentum: r.float(ParamMomentum, 0), Dampening: r.float(ParamDampening, 0), Nesterov: r.bool(ParamNesterov, false),
			WeightDecay: r.float(ParamWeightDecay, 0), Beta1: r.float(ParamBeta1, 0), Beta2: r.float(ParamBeta2, 0),
			Eps: r.float(ParamEpsilon, 0), AMSGrad: r.bool(ParamAMSGrad, false), Groups: groupsFromParams(r)}
		if err := r.err(); err != nil {
			return nil, err
		}
		return NewMKOR(c)
	})
}
