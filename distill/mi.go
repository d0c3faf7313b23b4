package distill

import (
	"errors"
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/train"
)

// The mutual-information lower bounds of Poole et al. as Distiller computes them. scores is
// the critic matrix F [B, B] with F_ij = f(x_i, y_j), positives on the diagonal; logBaseline
// is the learned log a(y_i) [B].
//
// Paper: Poole et al., "On Variational Bounds of Mutual Information", ICML 2019,
// arXiv:1905.06922; Distiller: He et al., "Distiller: A Systematic Study of Model
// Distillation Methods in Natural Language Processing", SustaiNLP 2021, arXiv:2109.11105.
// Reference code: Cli212/Distiller src/Distiller/textbrewer/losses.py
// (interpolated_lower_bound, tuba_lower_bound, nwj_lower_bound, infonce_lower_bound, mi_loss).

// logMeanExpNoDiag is log of the mean of exp(x_ij) over the B(B−1) off-diagonal entries (the
// diagonal masked with −∞, as the code subtracts diag(∞)).
func logMeanExpNoDiag(x *Node) *Node {
	b := x.Shape().Dimensions[0]
	diag := Diagonal(x.Graph(), b)
	masked := Where(diag, BroadcastToShape(scalarLike(x, math.Inf(-1)), x.Shape()), x)
	return SubScalar(LogSumExpAll(masked), math.Log(float64(b*(b-1))))
}

func diagOf(x *Node) *Node {
	b := x.Shape().Dimensions[0]
	return ReduceSum(Mul(x, ConvertDType(Diagonal(x.Graph(), b), x.DType())), -1)
}

// TUBABound is 1 + mean_i F'_ii − exp(logmeanexp_{i≠j} F'_ij) with F' = F − log a(y_i) (row
// i) when logBaseline is not nil.
func TUBABound(scores, logBaseline *Node) *Node {
	if logBaseline != nil {
		scores = Sub(scores, ExpandAxes(logBaseline, 1))
	}
	joint := ReduceAllMean(diagOf(scores))
	marg := Exp(logMeanExpNoDiag(scores))
	return Sub(AddScalar(joint, 1), marg)
}

// NWJBound is TUBABound(F − 1) (Nguyen, Wainwright & Jordan's f-divergence bound).
func NWJBound(scores *Node) *Node { return TUBABound(SubScalar(scores, 1), nil) }

// InfoNCEBound is log B + mean_i(F_ii − logsumexp_j F_ij); it can never exceed log B.
// (Distiller's function raises a TypeError on torch.log of an int; this is its formula.)
func InfoNCEBound(scores *Node) *Node {
	b := scores.Shape().Dimensions[0]
	nll := ReduceAllMean(Sub(diagOf(scores), LogSumExp(scores, 1, false)))
	return AddScalar(nll, math.Log(float64(b)))
}

// logLooMean is compute_log_loomean: for each (i, j) the log-mean-exp of row i without
// column j, stable via softplus⁻¹.
func logLooMean(scores *Node) *Node {
	b := scores.Shape().Dimensions[1]
	maxS := StopGradient(ReduceAndKeep(scores, ReduceMax, 1))
	lseMinusMax := LogSumExp(Sub(scores, maxS), 1, true)
	d := Add(lseMinusMax, Sub(maxS, scores))
	ok := NotEqual(d, ZerosLike(d))
	safe := Where(ok, d, OnesLike(d))
	looLSE := Add(scores, softplusInverse(safe))
	return SubScalar(looLSE, math.Log(float64(b-1)))
}

// logInterpolate is log(α·e^a + (1−α)·e^b) with α = sigmoid(alphaLogit).
func logInterpolate(logA, logB *Node, alphaLogit float64) *Node {
	logAlpha := -softplus(-alphaLogit)
	log1mAlpha := -softplus(alphaLogit)
	a := AddScalar(logA, logAlpha)
	b := AddScalar(logB, log1mAlpha)
	m := StopGradient(Max(a, b))
	m = Where(IsFinite(m), m, ZerosLike(m))
	return Add(Log(Add(Exp(Sub(a, m)), Exp(Sub(b, m)))), m)
}

func softplus(x float64) float64 {
	if x > 30 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// AlphaLogit converts Distiller's α ∈ (0, 1) (the --alpha flag) to the logit the bound takes:
// −log(1/α − 1).
func AlphaLogit(alpha float64) float64 { return -math.Log(1/alpha - 1) }

// InterpolatedBound is the I_α bound (Distiller's interpolated_lower_bound):
//
//	m_ij = log-mean-exp of row i without column j          (InfoNCE's leave-one-out baseline)
//	b_ij = log(α·exp(m_ij) + (1−α)·a(y_i))                  (interpolated log-baseline)
//	I_α = 1 + Σ_{i≠j}(F_ii − b_ij)/(B(B−1)) − exp(logmeanexp_{i≠j}(F_ij − b_ii))
//
// α → 1 approaches InfoNCE, α → 0 TUBA with the learned baseline.
func InterpolatedBound(scores, logBaseline *Node, alphaLogit float64) *Node {
	b := scores.Shape().Dimensions[0]
	nce := logLooMean(scores)
	ib := logInterpolate(nce, BroadcastToShape(ExpandAxes(logBaseline, 1), scores.Shape()), alphaLogit)
	margCritic := Sub(scores, ExpandAxes(diagOf(ib), 1)) // F_ij − b_ii
	marg := Exp(logMeanExpNoDiag(margCritic))
	jointCritic := Sub(ExpandAxes(diagOf(scores), 1), ib) // F_ii − b_ij
	joint := DivScalar(Sub(ReduceAllSum(jointCritic), ReduceAllSum(diagOf(jointCritic))), float64(b*(b-1)))
	return Sub(AddScalar(joint, 1), marg)
}

// MIConfig configures the mutual-information term between a student and a teacher tap.
type MIConfig struct {
	StudentTap, TeacherTap string
	// Bound is "mi_alpha" (default, Distiller's "mi"), "infonce", "nwj" or "tuba".
	Bound string
	// Alpha is I_α's interpolation α ∈ (0, 1) (default 0.5, Distiller's --alpha).
	Alpha float64
	// Hidden and Out size the separable critic's MLPs g_s, g_t (defaults 512 and 64, as
	// Distiller) and the baseline MLP (Hidden → 1).
	Hidden, Out int
}

// MI maximizes a lower bound on the mutual information between the student's and the
// teacher's intermediate representations (the loss is −bound), with a separable critic
// F = g_s(h_s)·g_t(h_t)ᵀ and, for mi_alpha and tuba, a learned log-baseline a(h_t). Critic
// and baseline live under "/distill/<term>" (dropped by Export); the critic sees sg(h_t).
//
// The critic's weights start as PyTorch's nn.Linear (U(±1/√fan_in)), as Distiller's do.
//
// Deviations: Distiller trains the critic with its own optimizer group and grad-norm clip;
// here it joins the run's optimizer. The bound is evaluated in float64 from the critic scores. Distiller's critic MLPs use ReLU between two layers,
// as here.
type MI struct {
	cfg        MIConfig
	alphaLogit float64
}

// NewMI validates cfg and returns the term.
func NewMI(cfg MIConfig) (*MI, error) {
	switch cfg.Bound {
	case "":
		cfg.Bound = "mi_alpha"
	case "mi_alpha", "infonce", "nwj", "tuba":
	default:
		return nil, fmt.Errorf("distill: mi bound %q unknown: use mi_alpha, infonce, nwj or tuba", cfg.Bound)
	}
	if cfg.Alpha == 0 {
		cfg.Alpha = 0.5
	}
	if !(cfg.Alpha > 0 && cfg.Alpha < 1) {
		return nil, fmt.Errorf("distill: mi alpha=%g must be in (0, 1)", cfg.Alpha)
	}
	if cfg.Hidden == 0 {
		cfg.Hidden = 512
	}
	if cfg.Out == 0 {
		cfg.Out = 64
	}
	if cfg.Hidden < 1 || cfg.Out < 1 {
		return nil, fmt.Errorf("distill: mi critic hidden=%d and out=%d must be >= 1", cfg.Hidden, cfg.Out)
	}
	return &MI{cfg: cfg, alphaLogit: AlphaLogit(cfg.Alpha)}, nil
}

// Check implements Checker.
func (m *MI) Check(info Info) error {
	if m.cfg.StudentTap == "" || m.cfg.TeacherTap == "" {
		return errors.New("distill: mi needs StudentTap and TeacherTap names")
	}
	return needTeacher(info, "mi")
}

// Bound returns the configured bound for features x [B, Dx], y [B, Dy], building the critic
// (and baseline) in scope.
func (m *MI) Bound(scope *model.Scope, x, y *Node) *Node {
	x, y = FlattenBatch(x), FlattenBatch(y)
	if x.DType() != y.DType() {
		y = ConvertDType(y, x.DType())
	}
	mlp := layers.MLPConfig{Hidden: []int{m.cfg.Hidden}, Out: m.cfg.Out}
	scope = scope.WithInitializer(torchLinearInit(scope))
	gs := layers.MLP(scope.In("critic_student"), x, mlp)
	gt := layers.MLP(scope.In("critic_teacher"), y, mlp)
	// The bounds exponentiate critic scores: evaluate them in float64 (exp overflows float32
	// above 88, which an untrained critic reaches), and return the input dtype.
	dt := x.DType()
	scores := ConvertDType(MatMul(gs, Transpose(gt, 0, 1)), dtypes.Float64) // F [B, B]
	switch m.cfg.Bound {
	case "infonce":
		return ConvertDType(InfoNCEBound(scores), dt)
	case "nwj":
		return ConvertDType(NWJBound(scores), dt)
	}
	base := layers.MLP(scope.In("baseline"), y, layers.MLPConfig{Hidden: []int{m.cfg.Hidden}, Out: 1})
	logBase := ConvertDType(Reshape(base, base.Shape().Dimensions[0]), dtypes.Float64)
	if m.cfg.Bound == "tuba" {
		return ConvertDType(TUBABound(scores, logBase), dt)
	}
	return ConvertDType(InterpolatedBound(scores, logBase, m.alphaLogit), dt)
}

// Loss implements Term: −bound.
func (m *MI) Loss(ctx *Context) *Node {
	b := m.Bound(ctx.Scope, ctx.StudentTap(m.cfg.StudentTap), StopGradient(ctx.TeacherTap(m.cfg.TeacherTap)))
	train.Report("distill/mi_bound", b)
	return Neg(b)
}

// torchLinearInit is PyTorch's default nn.Linear weight initialization, U(±1/√fan_in), which
// Distiller's critic gets: much smaller scores at the start than He initialization, so the
// exponentiated scores of NWJ/TUBA do not overflow before the critic has learned anything.
func torchLinearInit(scope *model.Scope) model.VariableInitializer {
	return func(g *Graph, shape shapes.Shape) *Node {
		if shape.Rank() < 2 {
			return Zeros(g, shape)
		}
		bound := 1 / math.Sqrt(float64(shape.Dimensions[0]))
		u := scope.RandomUniform(g, shape)
		return MulScalar(SubScalar(MulScalar(u, 2), 1), bound)
	}
}

// GaussianMI is the true mutual information −(d/2)·log(1 − ρ²) of d independent pairs of
// standard normals with correlation ρ, and CorrelationForMI its inverse; the "mi-bounds"
// benchmark checks the estimators against it.
func GaussianMI(d int, rho float64) float64 { return -float64(d) / 2 * math.Log(1-rho*rho) }

// CorrelationForMI returns ρ such that GaussianMI(d, ρ) = mi.
func CorrelationForMI(d int, mi float64) float64 { return math.Sqrt(1 - math.Exp(-2*mi/float64(d))) }

func init() {
	train.DeclareParam("mi_bound", "mi_alpha", "distill: MI bound (mi_alpha, infonce, nwj, tuba)")
	train.DeclareParam("mi_alpha", 0.5, "distill: I_α interpolation α")
	for _, name := range []string{"mi_alpha", "infonce", "nwj", "tuba"} {
		Register(name, func(scope *model.Scope) (Term, error) {
			s := model.GetParamOr(scope, "feature_student_tap", "hidden")
			t := model.GetParamOr(scope, "feature_teacher_tap", "hidden")
			return NewMI(MIConfig{StudentTap: s, TeacherTap: t, Bound: name, Alpha: model.GetParamOr(scope, "mi_alpha", 0.5)})
		})
	}
}
