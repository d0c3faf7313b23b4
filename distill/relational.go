package distill

import (
	"errors"
	"fmt"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/train"
)

// ATPair names one student/teacher feature-map pair of attention transfer and its weight.
type ATPair struct {
	StudentTap, TeacherTap string
	// Weight of the pair (default 1).
	Weight float64
}

// ATConfig configures attention transfer.
type ATConfig struct {
	Pairs []ATPair
	// Mode is "code" (default: torchdistill's implementation) or "paper" (the paper's
	// formula); see AT.
	Mode string
}

// AT is attention transfer: the student matches the teacher's normalized spatial attention
// maps.
//
// Paper: Zagoruyko & Komodakis, "Paying More Attention to Attention", ICLR 2017,
// arXiv:1612.03928.
// Reference code: torchdistill torchdistill/losses/mid_level.py (ATLoss, mode "code"/"paper").
//
// Rule, for NCHW maps f [B, C, H, W] of each pair:
//
//	code:  a = normalize(mean_c f², over H·W);   L_pair = mean over B·H·W of (a_s − a_t)²
//	paper: a = normalize(sum_c f², over H·W);    L_pair = (1/B)·Σ_b ‖a_s[b] − a_t[b]‖₂
//	L = Σ_pairs w·L_pair
//
// normalize is F.normalize(p=2, eps=1e-12). Student and teacher channel counts may differ;
// spatial sizes must match.
//
// Deviations: none.
type AT struct {
	pairs []ATPair
	paper bool
}

// NewAT validates cfg and returns the term.
func NewAT(cfg ATConfig) (*AT, error) {
	if len(cfg.Pairs) == 0 {
		return nil, errors.New("distill: at needs at least one pair of taps")
	}
	a := &AT{}
	switch cfg.Mode {
	case "", "code":
	case "paper":
		a.paper = true
	default:
		return nil, fmt.Errorf("distill: at mode %q must be \"code\" or \"paper\"", cfg.Mode)
	}
	for i, p := range cfg.Pairs {
		if p.StudentTap == "" || p.TeacherTap == "" {
			return nil, fmt.Errorf("distill: at pair %d needs both tap names", i)
		}
		if p.Weight < 0 {
			return nil, fmt.Errorf("distill: at pair %d weight=%g must be >= 0", i, p.Weight)
		}
		if p.Weight == 0 {
			p.Weight = 1
		}
		a.pairs = append(a.pairs, p)
	}
	return a, nil
}

// Check implements Checker.
func (a *AT) Check(info Info) error { return needTeacher(info, "at") }

func attentionMap(f *Node, paper bool) *Node {
	if f.Rank() < 3 {
		panic(fmt.Errorf("distill: attention transfer needs [B, C, spatial...] maps, got %s", f.Shape()))
	}
	var m *Node
	if paper {
		m = ReduceSum(Square(f), 1)
	} else {
		m = ReduceMean(Square(f), 1)
	}
	return L2NormalizeRows(FlattenBatch(m), -1, 1e-12)
}

// PairLoss returns one pair's loss.
func (a *AT) PairLoss(s, t *Node) *Node {
	as, at := attentionMap(s, a.paper), attentionMap(t, a.paper)
	if a.paper {
		d := Sqrt(ReduceSum(Square(Sub(as, at)), -1))
		return ReduceAllMean(d)
	}
	return ReduceAllMean(Square(Sub(as, at)))
}

// Loss implements Term.
func (a *AT) Loss(ctx *Context) *Node {
	var total *Node
	for _, p := range a.pairs {
		l := MulScalar(a.PairLoss(ctx.StudentTap(p.StudentTap), ctx.TeacherTap(p.TeacherTap)), p.Weight)
		if total == nil {
			total = l
		} else {
			total = Add(total, l)
		}
	}
	return total
}

// RKDConfig configures relational knowledge distillation.
type RKDConfig struct {
	StudentTap, TeacherTap string
	// DistFactor and AngleFactor weight the distance and angle terms (defaults 1 and 2, the
	// paper's and torchdistill's sample values; Float(0) drops a term).
	DistFactor, AngleFactor *float64
	// Reduction of the smooth-L1 terms: "mean" (default) or "sum".
	Reduction string
}

// RKD is relational knowledge distillation: the student matches the teacher's normalized
// pairwise distances and triplet angles between examples of the batch.
//
// Paper: Park et al., "Relational Knowledge Distillation", CVPR 2019, arXiv:1904.05068.
// Reference code: torchdistill torchdistill/losses/mid_level.py (RKDLoss).
//
// Rule, with e [B, D] the flattened features: d_ij = √max(‖e_i‖² + ‖e_j‖² − 2e_i·e_j, 1e-12),
// d_ii = 0, d ← d / mean(d over entries > 0); angles a_ijk = ⟨n(e_j − e_i), n(e_k − e_i)⟩ with
// n = F.normalize (the degenerate j = i or k = i entries are 0);
//
//	L = w_d·SmoothL1(d_s, d_t) + w_a·SmoothL1(a_s, a_t)
//
// SmoothL1 with β = 1 over all B² and B³ entries ("mean" or "sum").
//
// Deviations: none.
type RKD struct {
	cfg         RKDConfig
	dist, angle float64
}

// NewRKD validates cfg and returns the term.
func NewRKD(cfg RKDConfig) (*RKD, error) {
	r := &RKD{cfg: cfg, dist: floatOr(cfg.DistFactor, 1), angle: floatOr(cfg.AngleFactor, 2)}
	if r.dist < 0 || r.angle < 0 {
		return nil, fmt.Errorf("distill: rkd dist_factor=%g and angle_factor=%g must be >= 0", r.dist, r.angle)
	}
	switch cfg.Reduction {
	case "":
		r.cfg.Reduction = "mean"
	case "mean", "sum":
	default:
		return nil, fmt.Errorf("distill: rkd reduction %q must be \"mean\" or \"sum\"", cfg.Reduction)
	}
	return r, nil
}

// Check implements Checker.
func (r *RKD) Check(info Info) error {
	if r.cfg.StudentTap == "" || r.cfg.TeacherTap == "" {
		return errors.New("distill: rkd needs StudentTap and TeacherTap names")
	}
	return needTeacher(info, "rkd")
}

// pairDistances is torchdistill's pdist(e, squared=False, eps=1e-12) with a zero diagonal.
func pairDistances(e *Node) *Node {
	b := e.Shape().Dimensions[0]
	prod := MatMul(e, Transpose(e, 0, 1))
	sq := ReduceSum(Square(e), -1)
	res := Sub(Add(ExpandAxes(sq, 1), ExpandAxes(sq, 0)), MulScalar(prod, 2))
	res = Sqrt(Max(res, scalarLike(res, 1e-12)))
	offDiag := ConvertDType(LogicalNot(Diagonal(e.Graph(), b)), e.DType())
	return Mul(res, offDiag)
}

// normalizedDistances divides d by its mean over positive entries.
func normalizedDistances(e *Node) *Node {
	d := pairDistances(e)
	pos := maskFloat(GreaterThan(d, ZerosLike(d)), d)
	mean := Div(ReduceAllSum(Mul(d, pos)), ReduceAllSum(pos))
	return Div(d, mean)
}

// angles returns a [B·B·B] with a[i,j,k] = ⟨n(e_j − e_i), n(e_k − e_i)⟩.
func angles(e *Node) *Node {
	td := Sub(ExpandAxes(e, 0), ExpandAxes(e, 1)) // [i, j, :] = e_j − e_i
	n := L2NormalizeRows(td, -1, 1e-12)
	a := Einsum("ijd,ikd->ijk", n, n)
	return Reshape(a, a.Shape().Size())
}

// Parts returns the unweighted distance and angle terms.
func (r *RKD) Parts(student, teacher *Node) (dist, angle *Node) {
	s, t := FlattenBatch(student), FlattenBatch(teacher)
	t = StopGradient(t)
	dist = SmoothL1(normalizedDistances(s), normalizedDistances(t), r.cfg.Reduction)
	angle = SmoothL1(angles(s), angles(t), r.cfg.Reduction)
	return dist, angle
}

// Compute returns the weighted loss.
func (r *RKD) Compute(student, teacher *Node) *Node {
	d, a := r.Parts(student, teacher)
	return Add(MulScalar(d, r.dist), MulScalar(a, r.angle))
}

// Loss implements Term.
func (r *RKD) Loss(ctx *Context) *Node {
	return r.Compute(ctx.StudentTap(r.cfg.StudentTap), ctx.TeacherTap(r.cfg.TeacherTap))
}

// PKTConfig configures probabilistic knowledge transfer.
type PKTConfig struct {
	StudentTap, TeacherTap string
	// Eps (default 1e-7).
	Eps float64
}

// PKT is probabilistic knowledge transfer: the student matches the teacher's distribution of
// pairwise cosine similarities (as conditional probabilities) within the batch.
//
// Paper: Passalis & Tefas, "Learning Deep Representations with Probabilistic Knowledge
// Transfer", ECCV 2018, arXiv:1803.10837.
// Reference code: torchdistill torchdistill/losses/mid_level.py (PKTLoss).
//
// Rule, with x ← x / (‖x‖₂ + ε) per row (NaN → 0), S = (x·xᵀ + 1)/2, P = S / rowsum(S):
//
//	L = mean over all B² entries of P_t·log((P_t + ε)/(P_s + ε))
//
// Defaults: ε = 1e-7. torchdistill's sample config weights it by 30000 (a term Weight here).
//
// Deviations: none.
type PKT struct {
	cfg PKTConfig
	eps float64
}

// NewPKT validates cfg and returns the term.
func NewPKT(cfg PKTConfig) (*PKT, error) {
	eps := cfg.Eps
	if eps == 0 {
		eps = 1e-7
	}
	if !(eps > 0) {
		return nil, fmt.Errorf("distill: pkt eps=%g must be > 0", eps)
	}
	return &PKT{cfg: cfg, eps: eps}, nil
}

// Check implements Checker.
func (p *PKT) Check(info Info) error {
	if p.cfg.StudentTap == "" || p.cfg.TeacherTap == "" {
		return errors.New("distill: pkt needs StudentTap and TeacherTap names")
	}
	return needTeacher(info, "pkt")
}

func (p *PKT) condProbs(x *Node) *Node {
	x = FlattenBatch(x)
	norm := Sqrt(ReduceAndKeep(Square(x), ReduceSum, -1))
	x = Div(x, AddScalar(norm, p.eps))
	x = Where(IsNaN(x), ZerosLike(x), x)
	s := DivScalar(AddScalar(MatMul(x, Transpose(x, 0, 1)), 1), 2)
	return Div(s, ReduceAndKeep(s, ReduceSum, -1))
}

// Compute returns the PKT loss of features [B, ...].
func (p *PKT) Compute(student, teacher *Node) *Node {
	ps := p.condProbs(student)
	pt := StopGradient(p.condProbs(teacher))
	return ReduceAllMean(Mul(pt, Log(Div(AddScalar(pt, p.eps), AddScalar(ps, p.eps)))))
}

// Loss implements Term.
func (p *PKT) Loss(ctx *Context) *Node {
	return p.Compute(ctx.StudentTap(p.cfg.StudentTap), ctx.TeacherTap(p.cfg.TeacherTap))
}

func init() {
	train.DeclareParam("feature_student_tap", "hidden", "distill: student tap of the at/rkd/pkt terms")
	train.DeclareParam("feature_teacher_tap", "hidden", "distill: teacher tap of the at/rkd/pkt terms")
	taps := func(scope *model.Scope) (string, string) {
		return model.GetParamOr(scope, "feature_student_tap", "hidden"), model.GetParamOr(scope, "feature_teacher_tap", "hidden")
	}
	Register("at", func(scope *model.Scope) (Term, error) {
		s, t := taps(scope)
		return NewAT(ATConfig{Pairs: []ATPair{{StudentTap: s, TeacherTap: t}}, Mode: model.GetParamOr(scope, "at_mode", "code")})
	})
	Register("rkd", func(scope *model.Scope) (Term, error) {
		s, t := taps(scope)
		return NewRKD(RKDConfig{StudentTap: s, TeacherTap: t})
	})
	Register("pkt", func(scope *model.Scope) (Term, error) {
		s, t := taps(scope)
		return NewPKT(PKTConfig{StudentTap: s, TeacherTap: t})
	})
}
