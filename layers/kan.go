package layers

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/moeboost/moeboost/internal/registry"
)

// Degrees of KAT's rational unit: numerator order m = 5 (6 coefficients a0..a5), denominator
// order n = 4 (4 coefficients b0..b3, the constant term is 1).
const (
	RationalNumCoeffs = 6
	RationalDenCoeffs = 4
)

// RationalInit is an initialization of the rational unit φ(x) = P(x)/Q(x): Num = a0..a5,
// Den = b0..b3 (see GroupRational for the form).
type RationalInit struct {
	Num [RationalNumCoeffs]float64
	Den [RationalDenCoeffs]float64
}

// rationalInits are fitted coefficients from KAT's kat_rational/init.json (Adamdad/
// rational_kat_cu, commit 50eaff7): least-squares fits of each activation on [-3, 3].
// "identity" is a = [0, 1, 0, 0, 0, 0], b = 0.
//
// Deviation (a discrepancy inside the official code): init.json's current "gelu" entry was
// fitted for the paper's Safe-PAU denominator 1 + |b0·x + ... + b3·x⁴| (max error 0.003 on
// [-3, 3] in that form), but the CUDA and Triton kernels evaluate 1 + Σ|b_i|·|x|^(i+1), where
// the same coefficients are 1.46 away from GELU. Our "gelu" is therefore the file's "gelu_old"
// entry, the fit for the kernels' form (max error 0.0041). The "swish" and "relu" entries fit
// the kernels' form as stored.
var rationalInits = map[string]RationalInit{
	"identity": {Num: [6]float64{0, 1, 0, 0, 0, 0}},
	"gelu": {
		Num: [6]float64{-0.0012423594497499122, 0.5080497063245629, 0.41586363182937475, 0.13022718688035761, 0.024355900098993424, 0.00290283948155535},
		Den: [4]float64{-0.06675015696494944, 0.17927646217001553, 0.03746682605496631, 1.6561610853276082e-10},
	},
	"swish": {
		Num: [6]float64{3.054879741161051e-07, 0.5000007853744493, 0.24999783422824703, 0.05326628273219478, 0.005803034571292244, 0.0002751961022402342},
		Den: [4]float64{-4.111554955950634e-06, 0.10652899335007572, -1.2690007399796238e-06, 0.0005502331264140556},
	},
	"relu": {
		Num: [6]float64{0.029963801610813613, 0.6168978366891341, 2.37534759733888, 3.0659900472408443, 1.5246831881677423, 0.2528070864040542},
		Den: [4]float64{-1.191550121923625, 4.4080487697236626, 0.9110357113686055, 0.34884977946384615},
	},
}

// RationalInitNames are the known RationalInit names.
var RationalInitNames = []string{"gelu", "identity", "relu", "swish"}

// RationalInitFor returns the named fitted initialization ("gelu", "identity", "relu", "swish").
func RationalInitFor(name string) (RationalInit, error) {
	r, ok := rationalInits[name]
	if !ok {
		return RationalInit{}, fmt.Errorf("kan: rational init %q unknown; known: %v", name, RationalInitNames)
	}
	return r, nil
}

// Eval is φ(x) in float64 on the host, in the official kernels' form (see GroupRational).
func (r RationalInit) Eval(x float64) float64 {
	p, q := 0.0, 0.0
	for i := RationalNumCoeffs - 1; i >= 0; i-- {
		p = p*x + r.Num[i]
	}
	ax := math.Abs(x)
	for i := RationalDenCoeffs - 1; i >= 0; i-- {
		q = q*ax + math.Abs(r.Den[i])
	}
	return p / (1 + q*ax)
}

// Gain is KAT's variance-preserving gain of the rational unit, Var[x] / E[φ(x)²] for
// x ~ N(0, 1): a linear layer y = W·φ(x) with Var[w] = Gain/fan_in keeps Var[y] = Var[x]
// (Yang & Wang, KAT, ICLR 2025, Sec. 4.3 "variance-preserving initialization"; the official
// kat_rational/gain.py estimates it by Monte Carlo with 10⁶ samples, katransformer.py hard-codes
// 2.3568 for GELU). Here E[φ(x)²] is a trapezoid quadrature of φ(x)²·N(x; 0, 1) on [-12, 12]
// with 48001 points (exact to ~1e-9 for these smooth, polynomially bounded φ).
func (r RationalInit) Gain() float64 {
	const lo, hi, n = -12.0, 12.0, 48000
	h := (hi - lo) / n
	var s float64
	for i := 0; i <= n; i++ {
		x := lo + float64(i)*h
		f := r.Eval(x)
		w := f * f * math.Exp(-x*x/2) / math.Sqrt(2*math.Pi)
		if i == 0 || i == n {
			w /= 2
		}
		s += w
	}
	return 1 / (s * h)
}

// KAN gradient forms of GroupRational.
const (
	// KANGradFlashKAT computes the backward pass by hand: the input gradient elementwise and
	// all 10 coefficient gradients as per-group sums built from two matrix products (FlashKAT's
	// reformulation, see GroupRational).
	KANGradFlashKAT = "flashkat"
	// KANGradAutodiff lets GoMLX differentiate the forward graph (Horner chains, |b|, the
	// broadcast coefficients), which scatters each coefficient's gradient into its own
	// reduction over the broadcast axes.
	KANGradAutodiff = "autodiff"
)

// GroupRational applies KAT's group-rational unit to x [..., D]: the D channels are split into
// G contiguous groups (channel c belongs to group c / (D/G)), and every channel of group g goes
// through the same rational function
//
//	φ_g(x) = P(x) / Q_g(x),  P(x) = a0 + a1·x + ... + a5·x⁵,
//	Q_g(x) = 1 + |b_g0|·|x| + |b_g1|·|x|² + |b_g2|·|x|³ + |b_g3|·|x|⁴.
//
// num is [6] (one numerator shared by all groups, as in the released KAT_Group) or [G, 6]
// (per-group numerators, KAT_1DGroup); den is [G, 4]. The result has x's shape and dtype.
//
// Paper: Yang & Wang, "Kolmogorov-Arnold Transformer", ICLR 2025, arXiv:2409.10594, Sec. 4
// (rational base functions, Eq. (6)-(8); group-wise sharing, Sec. 4.2). Reference code:
// Adamdad/rational_kat_cu, src/rational_kernel_group.cu (forward and backward kernels) and
// kat_rational/kat_1dgroup.py (KAT_Group). FlashKAT: OSU-STARLAB/FlashKAT,
// rational_kat/kernels/flash_rational_triton.py.
//
// The denominator is the one the official CUDA/Triton kernels compute, Σ|b_i|·|x|^(i+1), not
// the paper's Safe-PAU form |b1·x + ... + b4·x⁴| (which released checkpoints do not use).
//
// grad selects the backward pass: KANGradAutodiff (GoMLX's autodiff of the forward graph) or
// KANGradFlashKAT (default when ""), the official kernel's gradients
//
//	∂φ/∂x = R/Q − S·P/Q²,  R = P'(x),  S = sign(x)·Σ (i+1)·|b_i|·|x|^i,
//	∂φ/∂a_i = x^i/Q,  ∂φ/∂b_i = −P/Q² · sign(b_i) · |x|^(i+1)   (sign(0) = +1, as copysign),
//
// with FlashKAT's reformulation of the coefficient gradients: instead of one accumulation per
// element and coefficient (the CUDA kernel's atomics; in a graph framework, one broadcast-VJP
// reduction per coefficient over the non-contiguous axes {rows, channels-in-group}), the 10
// per-element terms are laid out side by side [rows, 10, D] and reduced over the rows with one
// matrix product ones[1, rows]·T, then over the channels of each group with a second
// [10·G, D/G]·ones product: one pass over the data, exactly one write per coefficient.
//
// At b = 0 (the identity init) both forms use sign(0) = +1, as the kernels do (GoMLX v0.28's
// Abs gradient is SignPlusOrMinus), so identity-initialized denominators do move.
//
// Deviation: the coefficient sums accumulate in x's dtype (the CUDA kernel accumulates in
// float64, the Triton kernel in float32).
func GroupRational(x, num, den *graph.Node, grad string) *graph.Node {
	d := x.Shape().Dim(-1)
	if den.Rank() != 2 || den.Shape().Dim(1) != RationalDenCoeffs {
		panic(fmt.Errorf("kan: denominator shape %s must be [groups, %d]", den.Shape(), RationalDenCoeffs))
	}
	groups := den.Shape().Dim(0)
	if groups < 1 || d%groups != 0 {
		panic(fmt.Errorf("kan: groups=%d must divide the channels D=%d", groups, d))
	}
	switch {
	case num.Rank() == 1 && num.Shape().Dim(0) == RationalNumCoeffs:
	case num.Rank() == 2 && num.Shape().Dim(0) == groups && num.Shape().Dim(1) == RationalNumCoeffs:
	default:
		panic(fmt.Errorf("kan: numerator shape %s must be [%d] or [groups=%d, %d]", num.Shape(), RationalNumCoeffs, groups, RationalNumCoeffs))
	}
	switch grad {
	case "", KANGradFlashKAT:
		return groupRationalFlash(x, num, den)
	case KANGradAutodiff:
		return groupRationalForward(x, num, den)
	default:
		panic(fmt.Errorf("kan: gradient %q must be %q or %q", grad, KANGradFlashKAT, KANGradAutodiff))
	}
}

// groupCoeff returns coefficient i of c ([k] shared or [G, k]) shaped [1, G or 1, 1], to
// broadcast over x viewed as [rows, G, D/G].
func groupCoeff(c *graph.Node, i int) *graph.Node {
	if c.Rank() == 1 {
		return graph.Reshape(graph.Slice(c, graph.AxisElem(i)), 1, 1, 1)
	}
	g := c.Shape().Dim(0)
	return graph.Reshape(graph.Slice(c, graph.AxisRange(), graph.AxisElem(i)), 1, g, 1)
}

// rationalPQ returns P(x) and Q(x) for x3 [rows, G, D/G] by Horner's rule (Eq. (6)).
func rationalPQ(x3, num, absDen *graph.Node) (p, q, ax *graph.Node) {
	p = groupCoeff(num, RationalNumCoeffs-1)
	for i := RationalNumCoeffs - 2; i >= 0; i-- {
		p = graph.Add(graph.Mul(p, x3), groupCoeff(num, i)) // P = (...(a5·x + a4)·x + ...) + a0
	}
	ax = graph.Abs(x3)
	q = groupCoeff(absDen, RationalDenCoeffs-1)
	for i := RationalDenCoeffs - 2; i >= 0; i-- {
		q = graph.Add(graph.Mul(q, ax), groupCoeff(absDen, i))
	}
	q = graph.OnePlus(graph.Mul(q, ax)) // Q = 1 + |x|·(|b0| + |x|·(|b1| + ...))
	return p, q, ax
}

// groupRationalForward is φ(x) built from differentiable ops (the autodiff form).
func groupRationalForward(x, num, den *graph.Node) *graph.Node {
	shape := x.Shape()
	d, groups := shape.Dim(-1), den.Shape().Dim(0)
	x3 := graph.Reshape(x, -1, groups, d/groups) // [rows, G, D/G]
	p, q, _ := rationalPQ(x3, num, graph.Abs(den))
	return graph.Reshape(graph.Div(p, q), shape.Dimensions...)
}

// signPos is sign(v) with sign(0) = +1 (C's copysign(1, v) for v = +0).
func signPos(v *graph.Node) *graph.Node {
	s := graph.Sign(v)
	return graph.Add(s, graph.OneMinus(graph.Abs(s)))
}

// groupRationalFlash is φ(x) with the hand-written FlashKAT backward pass.
//
// GoMLX v0.28's only custom-gradient hook is graph.IdentityWithCustomGradient (one input), so
// x, num and den are packed into one vector z = [x…, a…, b…] that goes through the custom
// identity; the output is y = stopgrad(φ(x)) + (x' − stopgrad(x')) with x' the x-part of z,
// which is exactly φ(x) in value and hands dL/dy to the custom rule as the x-part of z's
// adjoint. The rule returns [dL/dx…, dL/da…, dL/db…], and Concatenate's own gradient routes
// the three parts back to x, num and den.
func groupRationalFlash(x, num, den *graph.Node) *graph.Node {
	shape := x.Shape()
	d, groups := shape.Dim(-1), den.Shape().Dim(0)
	cg := d / groups
	m := shape.Size()
	rows := m / d
	nNum, nDen := num.Shape().Size(), den.Shape().Size()

	packed := graph.Concatenate([]*graph.Node{graph.Reshape(x, m), graph.Reshape(num, nNum), graph.Reshape(den, nDen)}, 0)
	z := graph.IdentityWithCustomGradient(packed, func(_, v *graph.Node) *graph.Node {
		g := graph.Reshape(graph.Slice(v, graph.AxisRange(0, m)), rows, groups, cg) // dL/dy
		x3 := graph.Reshape(x, rows, groups, cg)
		absDen := graph.Abs(den)
		p, q, ax := rationalPQ(x3, num, absDen)
		// R = P'(x) = a1 + 2·a2·x + ... + 5·a5·x⁴ (Horner).
		r := graph.MulScalar(groupCoeff(num, RationalNumCoeffs-1), RationalNumCoeffs-1)
		for i := RationalNumCoeffs - 2; i >= 1; i-- {
			r = graph.Add(graph.Mul(r, x3), graph.MulScalar(groupCoeff(num, i), float64(i)))
		}
		// S = sign(x)·(|b0| + 2·|b1|·|x| + 3·|b2|·|x|² + 4·|b3|·|x|³) = dQ/dx.
		s := graph.MulScalar(groupCoeff(absDen, RationalDenCoeffs-1), RationalDenCoeffs)
		for i := RationalDenCoeffs - 2; i >= 0; i-- {
			s = graph.Add(graph.Mul(s, ax), graph.MulScalar(groupCoeff(absDen, i), float64(i+1)))
		}
		s = graph.Mul(s, signPos(x3)) // sign(0) = +1, as the kernels (and GoMLX's Abs gradient)
		invQ := graph.Reciprocal(q)
		y := graph.Mul(p, invQ)
		w := graph.Mul(g, invQ)                           // g/Q
		dx := graph.Mul(graph.Sub(r, graph.Mul(s, y)), w) // (R/Q − S·P/Q²)·g
		u := graph.Neg(graph.Mul(y, w))                   // −P/Q²·g
		// FlashKAT: each coefficient's per-element term is reduced over the rows by one
		// product ones[1, rows]·T[rows, D] (no [rows, 10, D] buffer), the 10 column sums are
		// stacked [10·G, D/G] and reduced over the channels of each group by a second product.
		ones := graph.Ones(x.Graph(), shapes.Make(x.DType(), 1, rows))
		colSum := func(t *graph.Node) *graph.Node {
			return graph.DotGeneral(ones, []int{1}, nil, graph.Reshape(t, rows, d), []int{0}, nil) // [1, D]
		}
		cols := make([]*graph.Node, 0, RationalNumCoeffs+RationalDenCoeffs)
		xi := w
		for i := range RationalNumCoeffs { // Σ x^i/Q·g, i = 0..5
			if i > 0 {
				xi = graph.Mul(xi, x3)
			}
			cols = append(cols, colSum(xi))
		}
		axi := u
		for range RationalDenCoeffs { // Σ −P/Q²·|x|^(i+1)·g, i = 0..3
			axi = graph.Mul(axi, ax)
			cols = append(cols, colSum(axi))
		}
		nt := len(cols)
		onesG := graph.Ones(x.Graph(), shapes.Make(x.DType(), 1, cg))
		sums := graph.DotGeneral(graph.Reshape(graph.Concatenate(cols, 0), nt*groups, cg), []int{1}, nil, onesG, []int{1}, nil)
		sums = graph.Reshape(sums, nt, groups) // [10, G]: per-group sums of each term
		da := graph.Slice(sums, graph.AxisRange(0, RationalNumCoeffs))
		if num.Rank() == 1 {
			da = graph.ReduceSum(da, 1) // shared numerator: sum over the groups too
		} else {
			da = graph.Transpose(da, 0, 1) // [G, 6]
		}
		db := graph.Mul(graph.Transpose(graph.Slice(sums, graph.AxisRange(RationalNumCoeffs, nt)), 0, 1), signPos(den)) // [G, 4]
		return graph.Concatenate([]*graph.Node{graph.Reshape(dx, m), graph.Reshape(da, nNum), graph.Reshape(db, nDen)}, 0)
	})
	xz := graph.Reshape(graph.Slice(z, graph.AxisRange(0, m)), shape.Dimensions...)
	y := graph.StopGradient(groupRationalForward(x, num, den))
	return graph.Add(y, graph.Sub(xz, graph.StopGradient(xz))) // value φ(x); gradient via the rule
}

// KANConfig configures a GR-KAN feed-forward network (KAT's "KAN" MLP replacement).
type KANConfig struct {
	// Hidden width h (0: 4·d, KAT's MLP ratio 4).
	Hidden int
	// Groups G of channels sharing one rational (0: 8, KAT's default). It must divide d and h.
	Groups int
	// Init of the second rational, after fc1: "gelu" (default, KAT's act_init), "swish",
	// "relu" or "identity". The first rational, before fc1, starts as the identity (KAT).
	Init string
	// Gradient is KANGradFlashKAT (default) or KANGradAutodiff.
	Gradient string
	// PerGroupNumerator gives every group its own numerator (KAT_1DGroup) instead of one shared
	// row (KAT_Group, the released models).
	PerGroupNumerator bool
}

// Validate reports a bad configuration (d is checked when the layer is built).
func (c KANConfig) Validate() error {
	if c.Hidden < 0 {
		return fmt.Errorf("kan: hidden=%d must be >= 0 (0: 4·d)", c.Hidden)
	}
	if c.Groups < 0 {
		return fmt.Errorf("kan: groups=%d must be >= 0 (0: 8)", c.Groups)
	}
	if c.Init != "" {
		if _, err := RationalInitFor(c.Init); err != nil {
			return err
		}
	}
	if c.Gradient != "" && c.Gradient != KANGradFlashKAT && c.Gradient != KANGradAutodiff {
		return fmt.Errorf("kan: gradient=%q must be %q or %q", c.Gradient, KANGradFlashKAT, KANGradAutodiff)
	}
	return nil
}

func (c KANConfig) withDefaults(d int) KANConfig {
	if c.Hidden == 0 {
		c.Hidden = 4 * d
	}
	if c.Groups == 0 {
		c.Groups = 8
	}
	if c.Init == "" {
		c.Init = "gelu"
	}
	if c.Gradient == "" {
		c.Gradient = KANGradFlashKAT
	}
	return c
}

// KANParams is the number of parameters of a GR-KAN FFN d -> h -> d: the two linear layers
// with biases plus the two rationals' coefficients.
func KANParams(d int, cfg KANConfig) int {
	c := cfg.withDefaults(d)
	numRows := 1
	if c.PerGroupNumerator {
		numRows = c.Groups
	}
	return 2*d*c.Hidden + c.Hidden + d + 2*(numRows*RationalNumCoeffs+c.Groups*RationalDenCoeffs)
}

// rationalUnit creates (or reuses) the coefficients num, den under scope, initialized from
// init, and applies GroupRational.
func rationalUnit(scope *model.Scope, x *graph.Node, init RationalInit, c KANConfig) *graph.Node {
	dt := x.DType()
	g := x.Graph()
	rows := 1
	if c.PerGroupNumerator {
		rows = c.Groups
	}
	numInit := make([]float64, 0, rows*RationalNumCoeffs)
	for range rows {
		numInit = append(numInit, init.Num[:]...)
	}
	denInit := make([]float64, 0, c.Groups*RationalDenCoeffs)
	for range c.Groups {
		denInit = append(denInit, init.Den[:]...)
	}
	numShape := shapes.Make(dt, RationalNumCoeffs)
	if c.PerGroupNumerator {
		numShape = shapes.Make(dt, rows, RationalNumCoeffs)
	}
	num := scope.WithInitializer(constInit(numInit)).VariableWithShape("numerator", numShape).NodeValue(g)
	den := scope.WithInitializer(constInit(denInit)).VariableWithShape("denominator", shapes.Make(dt, c.Groups, RationalDenCoeffs)).NodeValue(g)
	return GroupRational(x, num, den, c.Gradient)
}

// constInit initializes a variable with fixed values (row-major), in the variable's dtype.
func constInit(vals []float64) model.VariableInitializer {
	return func(g *graph.Graph, shape shapes.Shape) *graph.Node {
		return graph.ConvertDType(graph.Reshape(graph.Const(g, vals), shape.Dimensions...), shape.DType)
	}
}

// linear is x [..., in] · W [in, out] + b with W ~ N(0, gain/in) and b = 0.
func linear(scope *model.Scope, x *graph.Node, out int, gain float64) *graph.Node {
	in := x.Shape().Dim(-1)
	g := x.Graph()
	w := scope.WithInitializer(normalInit(scope, math.Sqrt(gain/float64(in)))).
		VariableWithShape("weights", shapes.Make(x.DType(), in, out)).NodeValue(g)
	b := scope.WithInitializer(initializer.Zero).VariableWithShape("biases", shapes.Make(x.DType(), out)).NodeValue(g)
	dims := x.Shape().Dimensions
	y := graph.DotGeneral(graph.Reshape(x, -1, in), []int{1}, nil, w, []int{0}, nil) // [rows, out]
	y = graph.Add(y, graph.InsertAxes(b, 0))
	return graph.Reshape(y, append(append([]int{}, dims[:len(dims)-1]...), out)...)
}

// KAN applies KAT's GR-KAN feed-forward network to x [..., d]:
//
//	y = fc2(φ₂(fc1(φ₁(x)))),  φ₁ = group rational initialized to the identity,
//	φ₂ = group rational initialized to the fitted cfg.Init (GELU by default),
//
// the order of katransformer.py's KAN.forward (act1 -> drop1 -> fc1 -> act2 -> drop2 -> fc2;
// dropout is left to the block). Variables: scope/rational1, fc1, rational2, fc2.
//
// Init (Yang & Wang, KAT, ICLR 2025, Sec. 4.3, variance-preserving): fc1 ~ N(0, gain(φ₁)/d)
// and fc2 ~ N(0, gain(φ₂)/h), gain = Var[x]/E[φ(x)²] of the rational at its init (1 for the
// identity, 2.36 for the GELU fit; RationalInit.Gain), biases 0.
//
// Deviation: katransformer.py's `init_weights_vit_kan` ends with a trunc_normal(std=0.02)
// branch that also re-initializes fc1/fc2; we keep the paper's variance-preserving init.
func KAN(scope *model.Scope, x *graph.Node, cfg KANConfig) *graph.Node {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	d := x.Shape().Dim(-1)
	c := cfg.withDefaults(d)
	if d%c.Groups != 0 || c.Hidden%c.Groups != 0 {
		panic(fmt.Errorf("kan: groups=%d must divide d=%d and hidden=%d", c.Groups, d, c.Hidden))
	}
	id := rationalInits["identity"]
	act, err := RationalInitFor(c.Init)
	if err != nil {
		panic(err)
	}
	h := rationalUnit(scope.In("rational1"), x, id, c)
	h = linear(scope.In("fc1"), h, c.Hidden, id.Gain())
	h = rationalUnit(scope.In("rational2"), h, act, c)
	return linear(scope.In("fc2"), h, d, act.Gain())
}

// KANFFN is the GR-KAN FFN for the transformer block's FFN slot (d -> Hidden -> d).
func KANFFN(cfg KANConfig) (FFN, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return func(scope *model.Scope, h *graph.Node, _ int, carry Carry) (*graph.Node, Carry) {
		return KAN(scope, h, cfg), carry
	}, nil
}

// FFNFactory builds a block FFN of hidden width hidden (0: the FFN's default) with the named
// activation (dense FFNs; others may ignore it).
type FFNFactory func(hidden int, activation string) (FFN, error)

var ffnKinds = registry.NewKind[FFNFactory]("ffn")

// RegisterFFN adds a block FFN under name (lower snake case), from an init function; it
// panics on a duplicate name.
func RegisterFFN(name string, f FFNFactory) { ffnKinds.Register(name, f) }

// FFNNames returns the registered FFN names, sorted.
func FFNNames() []string { return ffnKinds.Names() }

// NewFFN returns the FFN registered under name; an unknown name is an error listing the known.
func NewFFN(name string, hidden int, activation string) (FFN, error) {
	f, err := ffnKinds.Get(name)
	if err != nil {
		return nil, fmt.Errorf("layers: %w", err)
	}
	return f(hidden, activation)
}

func init() {
	RegisterFFN("dense", func(hidden int, activation string) (FFN, error) {
		if hidden < 0 {
			return nil, fmt.Errorf("layers: dense ffn hidden=%d must be >= 0", hidden)
		}
		if err := ValidActivation(activation); err != nil {
			return nil, err
		}
		return func(scope *model.Scope, h *graph.Node, layer int, carry Carry) (*graph.Node, Carry) {
			n := hidden
			if n == 0 {
				n = 4 * h.Shape().Dim(-1)
			}
			return DenseFFN(n, activation)(scope, h, layer, carry)
		}, nil
	})
	RegisterFFN("gr_kan", func(hidden int, activation string) (FFN, error) {
		fit := activation
		switch activation {
		case "", "gelu", "swish", "relu", "identity":
		case "silu":
			fit = "swish"
		default:
			return nil, fmt.Errorf("layers: gr_kan activation %q has no fitted rational; use gelu, swish, relu or identity", activation)
		}
		return KANFFN(KANConfig{Hidden: hidden, Init: fit})
	})
}
