package distill

import (
	"errors"
	"fmt"
	"math"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/moeboost/moeboost/internal/registry"
	"github.com/moeboost/moeboost/train"
)

// GradientReversal is the identity whose gradient is multiplied by −scale: what sits before
// it ascends the loss that sits after it (Ganin & Lempitsky 2015). HARD's augmentor uses it to
// maximize the teacher–student divergence within the same optimizer step in which the student
// minimizes it.
func GradientReversal(x *Node, scale float64) *Node {
	return IdentityWithCustomGradient(x, func(_, v *Node) *Node { return MulScalar(v, -scale) })
}

// HARDConfig configures HARD's learned augmentor.
type HARDConfig struct {
	// Kind is the augmentor: "affine" (default: a spatial transformer drawing a per-sample
	// scale, rotation and translation of an H×W image) or "additive" (a bounded additive
	// perturbation of the features).
	Kind string
	// Height and Width of the images (the features are the row-major H·W pixels); required
	// for "affine".
	Height, Width int
	// MaxScale (default 0.2: s ∈ [0.8, 1.2]), MaxRotation in radians (default π/9 = 20°),
	// MaxShift in pixels (default 1.5) bound the affine parameters through tanh; MaxDelta
	// (default 0.5, in feature units) bounds the additive perturbation.
	MaxScale, MaxRotation, MaxShift, MaxDelta float64
	// Hidden is the augmentor network's width (default 32); NoiseDim the size of its random
	// input z (default 4), so the same image gets different augmentations.
	Hidden, NoiseDim int
	// Strength scales the reversed gradient the augmentor receives (default 1).
	Strength float64
	// Reg weights the augmentor's penalty on its raw parameters (default 1e-3), keeping it
	// near the identity unless disagreement pays.
	Reg float64
}

// HARD generates "hard augmentations" for distillation: a learned augmentor a_φ produces
// inputs on which teacher and student disagree; the student minimizes the distillation loss
// on clean and augmented inputs while the augmentor maximizes it.
//
// Paper: Nix, Burg, Sinz, "HARD: Hard Augmentations for Robust Distillation", 2023,
// arXiv:2305.14890.
// Reference code: none — sinzlab/HARD holds only a README ("check here later for the full
// code"). This is implemented from the paper and is unverified against official code.
//
// Rule: the views of a batch x are [x, R(a_φ(x, z))] with z ~ N(0, I) and R the gradient
// reversal; with the KD term computed on TeacherLive (gradients through the frozen teacher
// into its inputs), one optimizer step makes the student descend and φ ascend
// KL(f_t(a_φ(x)) ‖ f_s(a_φ(x))), plus Reg·‖raw parameters‖² on φ's side. The affine
// augmentor predicts θ = (scale, rotation, tx, ty) = bounds ⊙ tanh(MLP([x, z])) and samples
// the image bilinearly (zero outside); the additive one predicts δ = MaxDelta·tanh(MLP([x, z])).
//
// Deviations (from the paper, as far as it specifies): the min-max is played simultaneously
// through gradient reversal within each step instead of alternating optimizer steps; the
// augmentor families are a per-sample spatial transformer and a bounded additive generator
// (the paper's VAE-latent augmentor is not implemented); the bounds and the L2 penalty are
// our choice of constraint.
type HARD struct {
	cfg HARDConfig
}

var augmenters = registry.NewKind[func(HARDConfig) (*HARD, error)]("augmenter")

// Augmenters returns the registered augmenter kinds ("hard_affine", "hard_additive").
func Augmenters() []string { return augmenters.Names() }

// NewAugmenter returns the augmenter registered under name.
func NewAugmenter(name string, cfg HARDConfig) (*HARD, error) {
	f, err := augmenters.Get(name)
	if err != nil {
		return nil, err
	}
	return f(cfg)
}

func init() {
	augmenters.Register("hard_affine", func(c HARDConfig) (*HARD, error) { c.Kind = "affine"; return NewHARD(c) })
	augmenters.Register("hard_additive", func(c HARDConfig) (*HARD, error) { c.Kind = "additive"; return NewHARD(c) })
	train.DeclareParam("hard_strength", 1.0, "distill: HARD augmentor's reversed-gradient scale")
}

// NewHARD validates cfg and returns the augmentor.
func NewHARD(cfg HARDConfig) (*HARD, error) {
	switch cfg.Kind {
	case "", "affine":
		cfg.Kind = "affine"
		if cfg.Height < 2 || cfg.Width < 2 {
			return nil, fmt.Errorf("distill: hard affine augmentor needs the image height=%d and width=%d (>= 2)", cfg.Height, cfg.Width)
		}
	case "additive":
	default:
		return nil, fmt.Errorf("distill: hard augmentor kind %q unknown: use affine or additive", cfg.Kind)
	}
	def := func(p *float64, v float64) {
		if *p == 0 {
			*p = v
		}
	}
	def(&cfg.MaxScale, 0.2)
	def(&cfg.MaxRotation, math.Pi/9)
	def(&cfg.MaxShift, 1.5)
	def(&cfg.MaxDelta, 0.5)
	def(&cfg.Strength, 1)
	def(&cfg.Reg, 1e-3)
	if cfg.Hidden == 0 {
		cfg.Hidden = 32
	}
	if cfg.NoiseDim == 0 {
		cfg.NoiseDim = 4
	}
	for name, v := range map[string]float64{"max_scale": cfg.MaxScale, "max_rotation": cfg.MaxRotation, "max_shift": cfg.MaxShift,
		"max_delta": cfg.MaxDelta, "strength": cfg.Strength, "reg": cfg.Reg} {
		if v < 0 || math.IsNaN(v) {
			return nil, fmt.Errorf("distill: hard %s=%g must be >= 0", name, v)
		}
	}
	if cfg.MaxScale >= 1 {
		return nil, fmt.Errorf("distill: hard max_scale=%g must be < 1", cfg.MaxScale)
	}
	if cfg.Hidden < 1 || cfg.NoiseDim < 0 {
		return nil, fmt.Errorf("distill: hard hidden=%d must be >= 1 and noise_dim=%d >= 0", cfg.Hidden, cfg.NoiseDim)
	}
	return &HARD{cfg: cfg}, nil
}

// params predicts the augmentor's raw outputs u [B, k] (before tanh) for x [B, D].
func (h *HARD) params(scope *model.Scope, x *Node, k int) *Node {
	g := x.Graph()
	b := x.Shape().Dimensions[0]
	in := x
	if h.cfg.NoiseDim > 0 {
		z := ConvertDType(scope.RandomNormal(g, shapes.Make(x.DType(), b, h.cfg.NoiseDim)), x.DType())
		in = Concatenate([]*Node{x, z}, 1)
	}
	d := in.Shape().Dimensions[1]
	w1 := scope.WithInitializer(initializer.HeFn(scope)).VariableWithShape("w1", shapes.Make(x.DType(), d, h.cfg.Hidden)).NodeValue(g)
	b1 := scope.WithInitializer(initializer.Zero).VariableWithShape("b1", shapes.Make(x.DType(), h.cfg.Hidden)).NodeValue(g)
	hid := Add(MatMul(in, w1), ExpandAxes(b1, 0))
	hid = Max(hid, ZerosLike(hid))
	// Small last layer: the augmentor starts near the identity.
	w2 := scope.WithInitializer(initializer.RandomNormalFn(scope, 0.01)).VariableWithShape("w2", shapes.Make(x.DType(), h.cfg.Hidden, k)).NodeValue(g)
	b2 := scope.WithInitializer(initializer.Zero).VariableWithShape("b2", shapes.Make(x.DType(), k)).NodeValue(g)
	return Add(MatMul(hid, w2), ExpandAxes(b2, 0))
}

// Views implements ViewsFn: [x, R(a_φ(x))].
func (h *HARD) Views(scope *model.Scope, x *Node) []*Node {
	x2 := FlattenBatch(x)
	var aug, raw *Node
	switch h.cfg.Kind {
	case "additive":
		raw = h.params(scope, x2, x2.Shape().Dimensions[1])
		aug = Add(x2, MulScalar(Tanh(raw), h.cfg.MaxDelta))
	default:
		raw = h.params(scope, x2, 4)
		th := Tanh(raw)
		scale := AddScalar(MulScalar(Slice(th, AxisRange(), AxisElem(0)), h.cfg.MaxScale), 1)
		rot := MulScalar(Slice(th, AxisRange(), AxisElem(1)), h.cfg.MaxRotation)
		// Shift in normalized [−1, 1] coordinates: pixels · 2/(size − 1).
		tx := MulScalar(Slice(th, AxisRange(), AxisElem(2)), h.cfg.MaxShift*2/float64(h.cfg.Width-1))
		ty := MulScalar(Slice(th, AxisRange(), AxisElem(3)), h.cfg.MaxShift*2/float64(h.cfg.Height-1))
		aug = AffineSample(x2, h.cfg.Height, h.cfg.Width, scale, rot, tx, ty)
	}
	// The penalty keeps φ near the identity; it is added without reversal (φ descends it).
	train.AddExtraLoss("distill/hard_reg", h.cfg.Reg, ReduceAllMean(Square(raw)))
	aug = GradientReversal(aug, h.cfg.Strength)
	return []*Node{x, Reshape(aug, x.Shape().Dimensions...)}
}

// AffineSample warps images x [B, H·W] (row-major) by per-sample scale, rotation (radians)
// and translation (normalized coordinates in [−1, 1]), each [B, 1]: output pixel at p (in
// normalized coordinates) reads the input at s·R(θ)·p + t, bilinearly, zero outside. It is
// differentiable w.r.t. the images and the transform parameters.
func AffineSample(x *Node, height, width int, scale, rot, tx, ty *Node) *Node {
	g := x.Graph()
	dt := x.DType()
	n := height * width
	xs, ys := make([]float64, n), make([]float64, n)
	for r := range height {
		for c := range width {
			xs[r*width+c] = -1 + 2*float64(c)/float64(width-1)
			ys[r*width+c] = -1 + 2*float64(r)/float64(height-1)
		}
	}
	px := ConvertDType(Const(g, xs), dt) // [n] pixel grid
	py := ConvertDType(Const(g, ys), dt)
	cos, sin := Cos(rot), Sin(rot)
	pxr, pyr := ExpandAxes(px, 0), ExpandAxes(py, 0) // [1, n]
	// Source coordinates [B, n].
	sx := Add(Mul(scale, Sub(Mul(cos, pxr), Mul(sin, pyr))), tx)
	sy := Add(Mul(scale, Add(Mul(sin, pxr), Mul(cos, pyr))), ty)
	dx := 2 / float64(width-1)
	dy := 2 / float64(height-1)
	// Tent weights between output o (source point) and input pixel q: bilinear interpolation.
	wx := OneMinus(DivScalar(Abs(Sub(ExpandAxes(sx, -1), Reshape(px, 1, 1, n))), dx))
	wy := OneMinus(DivScalar(Abs(Sub(ExpandAxes(sy, -1), Reshape(py, 1, 1, n))), dy))
	w := Mul(Max(wx, ZerosLike(wx)), Max(wy, ZerosLike(wy))) // [B, n_out, n_in]
	return Einsum("boi,bi->bo", w, x)
}

// HARDTerm is the distillation term of HARD: KD (or any KD configuration) on every row, with
// the teacher's logits live (gradients into its inputs) so the augmentor ascends it.
type HARDTerm struct {
	KD *KD
}

// NewHARDTerm returns HARD's term with the given KD (nil: NewKD defaults with SoftOnly false).
func NewHARDTerm(kd *KD) (*HARDTerm, error) {
	if kd == nil {
		var err error
		if kd, err = NewKD(KDConfig{}); err != nil {
			return nil, err
		}
	}
	return &HARDTerm{KD: kd}, nil
}

// Check implements Checker.
func (h *HARDTerm) Check(info Info) error {
	if info.Views == 1 {
		return errors.New("distill: the hard term needs the HARD augmentor as Config.Views")
	}
	return needTeacher(info, "hard")
}

// Loss implements Term.
func (h *HARDTerm) Loss(ctx *Context) *Node {
	if ctx.TeacherLive == nil {
		panic(errors.New("distill: hard needs a teacher"))
	}
	// Teacher–student disagreement on the clean and on the augmented half, for monitoring.
	b := ctx.BatchSize
	r := ctx.Student.Shape().Dimensions[0]
	logS, pT := LogSoftmax(ctx.Student, -1), Softmax(ctx.Teacher, -1)
	train.Report("distill/hard_kl_clean", KLBatchMean(Slice(logS, AxisRange(0, b)), Slice(pT, AxisRange(0, b))))
	train.Report("distill/hard_kl_augmented", KLBatchMean(Slice(logS, AxisRange(b, r)), Slice(pT, AxisRange(b, r))))
	return h.KD.Compute(ctx.Student, ctx.TeacherLive, ctx.Labels)
}

func init() {
	Register("hard", func(scope *model.Scope) (Term, error) {
		kd, err := NewKD(KDConfig{Temperature: model.GetParamOr(scope, "kd_temperature", 4.0), Alpha: paramFloat(scope, "kd_alpha")})
		if err != nil {
			return nil, err
		}
		return NewHARDTerm(kd)
	})
}
